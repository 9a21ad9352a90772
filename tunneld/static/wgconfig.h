/* SPDX-License-Identifier: ISC */
/*
 * wg-quick style configuration files:
 *   [Interface] PrivateKey, ListenPort, Address (several, v4/v6), MTU
 *   [Peer]      PublicKey, PresharedKey, Endpoint, AllowedIPs,
 *               PersistentKeepalive
 * wg-quick's own keys that fz does not act on (DNS, Table, PreUp, PostUp,
 * PreDown, PostDown, SaveConfig, FwMark) are accepted and reported.
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
	unsigned		 ignored;	/* wg-quick keys not acted on */
};

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
