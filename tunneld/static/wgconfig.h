/* SPDX-License-Identifier: ISC */
/*
 * wg-quick style configuration files:
 *   [Interface] PrivateKey, ListenPort, Address (several, v4/v6), MTU,
 *               DNS (addresses; other entries are search domains), Table
 *               (auto, off or a number), FwMark (number or off), PreUp,
 *               PostUp, PreDown, PostDown (each may repeat; kept verbatim,
 *               %i expanded by wgconf_hook_expand), SaveConfig (bool)
 *   [Peer]      PublicKey, PresharedKey, Endpoint, AllowedIPs,
 *               PersistentKeepalive
 * Errors name the file, the line and the problem.
 */
#ifndef FZ_WGCONFIG_H
#define FZ_WGCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wg.h"

#define WGCONF_MAX_ADDRS	16
/* No cap on peers or AllowedIPs: only on the file (a gateway's 10 000
 * peers with keys, endpoints and addresses take about 2 MiB). */
#define WGCONF_MAX_SIZE		(32 << 20)
#define WGCONF_MAX_DNS		16	/* servers, as DNSCTL_MAX_SERVERS */
#define WGCONF_MAX_SEARCH	8	/* search domains */
#define WGCONF_MAX_HOOKS	64	/* per kind */

enum wgconf_table { WGCONF_TABLE_AUTO, WGCONF_TABLE_OFF, WGCONF_TABLE_NUM };
enum wgconf_hook { WGCONF_PRE_UP, WGCONF_POST_UP, WGCONF_PRE_DOWN,
	WGCONF_POST_DOWN, WGCONF_HOOKS };

struct wgconf_peer {
	uint8_t			 pub[WG_KEY_LEN];
	uint8_t			 psk[WG_KEY_LEN];
	bool			 has_psk;
	union fz_sockaddr	 endpoint;
	bool			 has_endpoint;
	struct fz_cidr		*allowed;	/* nallowed of them */
	unsigned		 nallowed;
	unsigned		 keepalive;
};

struct wgconf {
	uint8_t			 priv[WG_KEY_LEN];
	bool			 has_priv;
	uint16_t		 listen_port;
	struct fz_cidr		 addrs[WGCONF_MAX_ADDRS];
	unsigned		 naddrs;
	int			 mtu;		/* 0: not given */
	struct wgconf_peer	*peers;
	unsigned		 npeers;
	/* wg-quick's own keys */
	union fz_sockaddr	 dns[WGCONF_MAX_DNS];	/* port 0 */
	unsigned		 ndns;
	char			 search[WGCONF_MAX_SEARCH][254];
	unsigned		 nsearch;
	enum wgconf_table	 table;
	uint32_t		 table_id;	/* WGCONF_TABLE_NUM */
	uint32_t		 fwmark;	/* 0: none */
	char			*hooks[WGCONF_HOOKS][WGCONF_MAX_HOOKS];
	unsigned		 nhooks[WGCONF_HOOKS];
	bool			 save_config;
	/* wgconf_load: the file's owner and mode (for hooks, SaveConfig) */
	bool			 from_file;
	unsigned		 file_uid;
	unsigned		 file_mode;
};

/* "PreUp" ... "PostDown" */
const char *wgconf_hook_name(enum wgconf_hook);
/*
 * The hook with every "%i" replaced by ifname (wg-quick's only
 * substitution) in a new string (free it), or NULL without memory.
 */
char	*wgconf_hook_expand(const char *hook, const char *ifname);
/* Hooks or SaveConfig are only honoured from a root-owned file that group
 * and others cannot write: false (and why in err) otherwise. */
bool	wgconf_trusted(const struct wgconf *, const char *file, char *err,
	    size_t errlen);

/*
 * Parses text; on error returns -EINVAL and writes "file:line: problem"
 * into err.  conf is written only on success; free it with wgconf_free.
 */
int	wgconf_parse(const char *text, size_t len, const char *file,
	    struct wgconf *conf, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
int	wgconf_load(const char *path, struct wgconf *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
void	wgconf_free(struct wgconf *);

#endif
