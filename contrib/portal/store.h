/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's device state: external_id -> device id, tunnel addresses,
 * psk_base, name, public key, last seen.  The JSON config stays the source
 * of policy; this is what must survive a restart.  A small ops table keeps
 * the backend (SQLite today) behind one interface, so a later step can put
 * it in PostgreSQL for several portal instances.
 *
 * Tunnel addresses come from 100.64.0.0/11 and fd00:2021:1111::/107, are
 * stable per (role, external_id) and never handed out twice.
 */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <arpa/inet.h>
#include <stdint.h>

/* The stored key: external_id, for gateways "<site id>/<external_id>". */
#define PD_EXTID_MAX	300
#define PD_EXTID_IN_MAX	255	/* external_id as a device sends it */
#define PD_NAME_MAX	255
#define PD_PUBKEY_LEN	44	/* base64 of 32 bytes, padded */
#define PD_PSK_BASE_LEN	32
#define PD_STORE_MAX_DEVICES ((1u << 21) - 2)	/* per family range */

enum pd_role { PD_ROLE_CLIENT = 1, PD_ROLE_GATEWAY = 2 };

struct pd_device {
	char		 id[37];
	enum pd_role	 role;
	char		 external_id[PD_EXTID_MAX + 1];
	char		 name[PD_NAME_MAX + 1];
	char		 public_key[PD_PUBKEY_LEN + 1];
	char		 ipv4[INET_ADDRSTRLEN];
	char		 ipv6[INET6_ADDRSTRLEN];
	unsigned char	 psk_base[PD_PSK_BASE_LEN];	/* secret */
	int64_t		 last_seen;	/* unix seconds */
};

/*
 * An authorization the portal gave a gateway (create_authorization), kept
 * so that a restarted fz-portald still lists it in the gateway's `init`
 * (the gateway re-syncs its accesses from that list, §1.7).
 */
struct pd_store_authz {
	char		 client_owner[37];	/* config client id */
	char		 client_id[37];
	char		 gateway_id[37];
	char		 resource_id[37];
	int64_t		 expires_at;		/* unix seconds */
};

struct pd_store;

struct pd_store_ops {
	int	(*device_upsert)(struct pd_store *, enum pd_role,
		    const char *external_id, const char *name,
		    const char *public_key, int64_t now, struct pd_device *);
	int	(*device_seen)(struct pd_store *, const char *id, int64_t now);
	/* Optional (NULL: authorizations are not kept). */
	int	(*authz_put)(struct pd_store *, const struct pd_store_authz *);
	int	(*authz_del)(struct pd_store *, const char *client_id,
		    const char *gateway_id, const char *resource_id);
	int	(*authz_each)(struct pd_store *, int64_t now,
		    int (*)(void *, const struct pd_store_authz *), void *);
	void	(*close)(struct pd_store *);
};

struct pd_store {
	const struct pd_store_ops *ops;
};

/* Opens (creating if needed) the SQLite database at path. */
int	pd_store_open_sqlite(const char *path, struct pd_store **out)
	    __attribute__((warn_unused_result));
/*
 * Finds the device (role, external_id), creating it with fresh addresses
 * and psk_base on first sight, and records name, public key and now.
 * Writes the row to *out.  -ENOSPC when the address range is exhausted.
 */
int	pd_store_device_upsert(struct pd_store *, enum pd_role,
	    const char *external_id, const char *name, const char *public_key,
	    int64_t now, struct pd_device *out)
	    __attribute__((warn_unused_result));
int	pd_store_device_seen(struct pd_store *, const char *id, int64_t now)
	    __attribute__((warn_unused_result));
/* Kept authorizations; each calls back for the unexpired ones only. */
int	pd_store_authz_put(struct pd_store *, const struct pd_store_authz *)
	    __attribute__((warn_unused_result));
int	pd_store_authz_del(struct pd_store *, const char *client_id,
	    const char *gateway_id, const char *resource_id)
	    __attribute__((warn_unused_result));
int	pd_store_authz_each(struct pd_store *, int64_t now,
	    int (*)(void *, const struct pd_store_authz *), void *)
	    __attribute__((warn_unused_result));
void	pd_store_free(struct pd_store *);	/* NULL-safe */

/* The n-th (1-based) tunnel addresses; -ERANGE past the range. */
int	pd_store_addresses(uint32_t n, char ipv4[INET_ADDRSTRLEN],
	    char ipv6[INET6_ADDRSTRLEN]) __attribute__((warn_unused_result));

#endif
