/* SPDX-License-Identifier: ISC */
/*
 * The JSON messages of the portal channels as typed C structs
 * (firezone-protocols.md §1.6 client, §1.7 gateway, §1.8 views, §1.9
 * relay), decoded from and encoded to jansson values in both directions:
 * devices decode what the portal sends and encode what they send;
 * fz-portald does the opposite with the same functions.
 *
 * Decoding follows connlib: an unknown event is -ENOENT (skip it), a
 * malformed payload -EBADMSG; inside lists an entry that is malformed or
 * of an unknown resource type is skipped.  Unknown keys are ignored.  Ids
 * are UUIDs, stored in canonical lowercase form.  Every string has a
 * bound (below) and every list a maximum length; past it the message is
 * -EBADMSG.  Structs own their lists: portal_msg_clear releases them.
 */
#ifndef FZ_PORTAL_MSG_H
#define FZ_PORTAL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifndef FZ_WUR
#define FZ_WUR __attribute__((warn_unused_result))
#endif

#define PORTAL_ID_LEN		36	/* canonical UUID text */
#define PORTAL_NAME_MAX		256	/* names, patterns, descriptions */
#define PORTAL_ADDR_MAX		256	/* resource address */
#define PORTAL_IP_MAX		64	/* an IP, IP/len or IP:port text */
#define PORTAL_KEY_MAX		44	/* base64 of 32 bytes */
#define PORTAL_CAND_MAX		512	/* one SDP candidate line */
#define PORTAL_URL_MAX		1024
#define PORTAL_TOKEN_MAX	8192	/* refs, flow-log ingest tokens */
#define PORTAL_REASON_MAX	64
#define PORTAL_MAX_RESOURCES	10000
#define PORTAL_MAX_LIST		1024	/* every other list */

typedef char portal_id[PORTAL_ID_LEN + 1];

enum portal_chan {
	PORTAL_TO_CLIENT, PORTAL_FROM_CLIENT,
	PORTAL_TO_GATEWAY, PORTAL_FROM_GATEWAY,
	PORTAL_TO_RELAY, PORTAL_FROM_RELAY,
};

/* Which side a resource view is for (§1.8). */
enum portal_view { PORTAL_VIEW_CLIENT, PORTAL_VIEW_GATEWAY };

enum portal_proto { PORTAL_PROTO_TCP, PORTAL_PROTO_UDP, PORTAL_PROTO_ICMP };

struct portal_filter {
	enum portal_proto	protocol;
	uint16_t		port_start;	/* tcp/udp; 0-65535 when absent */
	uint16_t		port_end;
};

struct portal_site {
	portal_id	id;
	char		name[PORTAL_NAME_MAX + 1];
};

struct portal_pool_device {
	portal_id	client_id;
	char		ipv4[PORTAL_IP_MAX + 1];	/* "a.b.c.d/32" */
	char		ipv6[PORTAL_IP_MAX + 1];
};

enum portal_res_type {
	PORTAL_RES_DNS, PORTAL_RES_CIDR, PORTAL_RES_INTERNET,
	PORTAL_RES_STATIC_DEVICE_POOL, PORTAL_RES_DYNAMIC_DEVICE_POOL,
};

enum portal_ip_stack {
	PORTAL_IP_STACK_NONE,		/* absent */
	PORTAL_IP_STACK_DUAL, PORTAL_IP_STACK_IPV4_ONLY,
	PORTAL_IP_STACK_IPV6_ONLY,
};

struct portal_resource {
	enum portal_res_type	 type;
	portal_id		 id;
	char			 name[PORTAL_NAME_MAX + 1];
	char			 address[PORTAL_ADDR_MAX + 1]; /* "" for internet */
	bool			 has_address_description;
	char			 address_description[PORTAL_NAME_MAX + 1];
	bool			 gateway_groups;	/* sites sent as "gateway_groups" */
	struct portal_site	*sites;
	size_t			 n_sites;
	struct portal_filter	*filters;	/* none: permit all */
	size_t			 n_filters;
	enum portal_ip_stack	 ip_stack;	/* dns only */
	bool			 can_be_disabled;	/* internet */
	struct portal_pool_device *devices;	/* static_device_pool */
	size_t			 n_devices;
};

enum portal_relay_type { PORTAL_RELAY_TURN, PORTAL_RELAY_STUN };

/* One entry per address family, as on the wire (same id twice). */
struct portal_relay {
	enum portal_relay_type	type;
	portal_id		id;
	char			addr[PORTAL_IP_MAX + 1];	/* ip:port, [ip6]:port */
	char			username[PORTAL_NAME_MAX + 1];	/* turn */
	char			password[PORTAL_NAME_MAX + 1];	/* turn */
	uint64_t		expires_at;			/* turn, unix s */
};

struct portal_interface {
	char	ipv4[PORTAL_IP_MAX + 1];
	char	ipv6[PORTAL_IP_MAX + 1];
	/* client view only: */
	bool	has_search_domain;
	char	search_domain[PORTAL_NAME_MAX + 1];
	char	(*do53)[PORTAL_IP_MAX + 1];	/* upstream_do53[].ip */
	size_t	n_do53;
	char	(*doh)[PORTAL_URL_MAX + 1];	/* upstream_doh[].url */
	size_t	n_doh;
	char	(*dns)[PORTAL_IP_MAX + 1];	/* legacy upstream_dns ip:port */
	size_t	n_dns;
};

struct portal_flow_logs {
	char		api_url[PORTAL_URL_MAX + 1];
	uint64_t	upload_interval_secs;	/* 0: uploads off */
	uint64_t	upload_batch_size;
};

struct portal_authorization {
	portal_id	client_id;
	portal_id	resource_id;
	uint64_t	expires_at;
};

struct portal_ice_pair {
	char	username[PORTAL_NAME_MAX + 1];
	char	password[PORTAL_NAME_MAX + 1];
};

/* Candidates for one peer (n_ids == 1) or a broadcast (client_ids). */
struct portal_candidates {
	portal_id	*ids;
	size_t		 n_ids;
	char		(*candidates)[PORTAL_CAND_MAX + 1];
	size_t		 n_candidates;
};

enum portal_msg_type {
	/* portal -> client */
	PM_CLIENT_INIT,
	PM_CONFIG_CHANGED,
	PM_RESOURCE_CREATED_OR_UPDATED,
	PM_RESOURCE_DELETED,
	PM_CLIENT_RELAYS_PRESENCE,
	PM_AUTHORIZATION_CREATED,
	PM_AUTHORIZATION_CREATION_FAILED,
	PM_GATEWAY_ICE_CANDIDATES,		/* ice_candidates {gateway_id} */
	PM_GATEWAY_INVALIDATE_ICE_CANDIDATES,
	PM_CLIENT_ICE_CANDIDATES,		/* client_ice_candidates */
	PM_CLIENT_INVALIDATE_ICE_CANDIDATES,
	PM_RESOURCE_FILTERS_UPDATED,
	PM_CLIENT_REJECT_ACCESS,
	PM_CLIENT_DISCONNECT,
	PM_CLIENT_DEVICE_ACCESS_AUTHORIZED,	/* client<->client */
	PM_CLIENT_DEVICE_ACCESS_DENIED,
	PM_CLIENT_ICE_CANDIDATE_ERROR,
	PM_DEVICE_POOL_DOMAIN_RESOLVED,
	PM_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED,
	PM_CLIENT_ACCESS_AUTHORIZATION_EXPIRY_UPDATED,	/* obsolete */
	/* client -> portal */
	PM_REQUEST_AUTHORIZATION,
	PM_NEW_GATEWAY_ICE_CANDIDATES,
	PM_INVALIDATE_GATEWAY_ICE_CANDIDATES,
	PM_NEW_CLIENT_ICE_CANDIDATES,
	PM_INVALIDATE_CLIENT_ICE_CANDIDATES,
	PM_CLIENT_SET_SNOWNET_CAPABILITIES,
	PM_CLIENT_NO_RELAYS,
	PM_RESOLVE_DEVICE_POOL_DOMAIN,
	/* portal -> gateway */
	PM_GATEWAY_INIT,
	PM_CREATE_AUTHORIZATION,
	PM_ICE_CANDIDATES,			/* ice_candidates {client_id} */
	PM_INVALIDATE_ICE_CANDIDATES,
	PM_GATEWAY_RELAYS_PRESENCE,
	PM_GATEWAY_REJECT_ACCESS,
	PM_RESOURCE_UPDATED,
	PM_GATEWAY_DISCONNECT,
	PM_GATEWAY_ACCESS_AUTHORIZATION_EXPIRY_UPDATED,	/* obsolete */
	/* gateway -> portal */
	PM_GATEWAY_AUTHORIZATION_CREATED,	/* {ref} */
	PM_BROADCAST_ICE_CANDIDATES,
	PM_BROADCAST_INVALIDATED_ICE_CANDIDATES,
	PM_GATEWAY_SET_SNOWNET_CAPABILITIES,
	PM_GATEWAY_NO_RELAYS,
	/* relay */
	PM_RELAY_JOIN,				/* phx_join payload, from relay */
	PM_RELAY_INIT,				/* to relay: {} */
	PM__COUNT
};

struct portal_client_init {
	struct portal_interface		 interface;
	struct portal_resource		*resources;
	size_t				 n_resources;
	struct portal_relay		*relays;
	size_t				 n_relays;
	struct portal_authorization	*authorizations;
	size_t				 n_authorizations;
	struct portal_flow_logs		 flow_logs;
};

struct portal_gateway_init {
	struct portal_interface		 interface;	/* ipv4, ipv6 */
	bool				 ipv4_masquerade;
	bool				 ipv6_masquerade;
	struct portal_relay		*relays;
	size_t				 n_relays;
	bool				 has_account_slug;
	char				 account_slug[PORTAL_NAME_MAX + 1];
	struct portal_authorization	*authorizations;
	size_t				 n_authorizations;
	struct portal_flow_logs		 flow_logs;
};

struct portal_relays_presence {
	portal_id		*disconnected_ids;
	size_t			 n_disconnected;
	struct portal_relay	*connected;
	size_t			 n_connected;
};

struct portal_authorization_created {	/* to client */
	portal_id		resource_id;
	portal_id		gateway_id;
	portal_id		site_id;
	bool			gateway_group_id;	/* site sent as legacy key */
	char			gateway_public_key[PORTAL_KEY_MAX + 1];
	char			gateway_ipv4[PORTAL_IP_MAX + 1];
	char			gateway_ipv6[PORTAL_IP_MAX + 1];
	char			preshared_key[PORTAL_KEY_MAX + 1];
	struct portal_ice_pair	client_ice;
	struct portal_ice_pair	gateway_ice;
	bool			use_iceless;
	char			*flow_logs_ingest_token;	/* malloc'd */
};

struct portal_authorization_creation_failed {
	portal_id	resource_id;
	char		reason[PORTAL_REASON_MAX + 1];	/* verbatim */
	char		(*violated)[PORTAL_REASON_MAX + 1];
	size_t		n_violated;
};

struct portal_gateway_client {
	portal_id	id;
	char		public_key[PORTAL_KEY_MAX + 1];
	char		preshared_key[PORTAL_KEY_MAX + 1];
	char		ipv4[PORTAL_IP_MAX + 1];
	char		ipv6[PORTAL_IP_MAX + 1];
	char		version[PORTAL_REASON_MAX + 1];	/* "" when absent */
};

struct portal_create_authorization {
	char			*ref;		/* malloc'd, echoed verbatim */
	struct portal_resource	 resource;	/* gateway view */
	struct portal_gateway_client client;
	struct portal_ice_pair	 gateway_ice;
	struct portal_ice_pair	 client_ice;
	bool			 has_expires_at;
	uint64_t		 expires_at;
	bool			 use_iceless;
	char			*flow_logs_ingest_token;	/* malloc'd */
};

struct portal_request_authorization {
	portal_id	 resource_id;
	portal_id	*connected_gateway_ids;
	size_t		 n_connected_gateway_ids;
	char		 ipv4[PORTAL_IP_MAX + 1];	/* "" when absent */
	char		 ipv6[PORTAL_IP_MAX + 1];
};

struct portal_reject_access {
	portal_id	client_id;
	portal_id	resource_id;
};

struct portal_filters_updated {
	portal_id		 id;
	struct portal_filter	*filters;
	size_t			 n_filters;
};

/* client_device_access_authorized: a client<->client authorization. */
struct portal_device_access {
	portal_id		 client_id;
	char			 client_name[PORTAL_NAME_MAX + 1];
	char			 client_public_key[PORTAL_KEY_MAX + 1];
	char			 client_ipv4[PORTAL_IP_MAX + 1];
	char			 client_ipv6[PORTAL_IP_MAX + 1];
	char			 preshared_key[PORTAL_KEY_MAX + 1];
	struct portal_ice_pair	 local_ice;
	struct portal_ice_pair	 remote_ice;
	bool			 ice_controlling;	/* ice_role */
	bool			 use_iceless;
	bool			 has_resource;
	portal_id		 resource_id;
	struct portal_filter	*filters;		/* resource.filters */
	size_t			 n_filters;
	bool			 has_expires_at;
	uint64_t		 expires_at;
	char			*flow_logs_ingest_token;	/* malloc'd */
};

/* client_device_access_denied, client_ice_candidate_error. */
struct portal_device_denied {
	char		ipv4[PORTAL_IP_MAX + 1];	/* "" when absent */
	char		ipv6[PORTAL_IP_MAX + 1];
	char		reason[PORTAL_REASON_MAX + 1];
	bool		has_client_id;
	portal_id	client_id;
};

/*
 * resolve_device_pool_domain {resource_id, domain},
 * device_pool_domain_resolved {+ ipv4, ipv6 (an address, or address/len:
 * see firezone-protocols.md §8)}, device_pool_domain_resolution_failed
 * {+ reason}.
 */
struct portal_pool_domain {
	portal_id	resource_id;
	char		domain[PORTAL_NAME_MAX + 1];
	char		ipv4[PORTAL_IP_MAX + 1];
	char		ipv6[PORTAL_IP_MAX + 1];
	char		reason[PORTAL_REASON_MAX + 1];
};

struct portal_msg {
	enum portal_msg_type	type;
	union {
		struct portal_client_init		client_init;
		struct portal_interface			config_changed;
		struct portal_resource			resource;	/* created_or_updated, updated */
		portal_id				resource_deleted;
		struct portal_relays_presence		relays_presence;
		struct portal_authorization_created	authorization_created;
		struct portal_authorization_creation_failed authorization_creation_failed;
		struct portal_candidates		candidates;	/* every candidate message */
		struct portal_filters_updated		filters_updated;
		struct portal_reject_access		reject_access;
		char					disconnect_reason[PORTAL_REASON_MAX + 1];
		struct portal_request_authorization	request_authorization;
		bool					iceless;	/* set_snownet_capabilities */
		struct portal_gateway_init		gateway_init;
		struct portal_create_authorization	create_authorization;
		char					*ref;		/* gateway authorization_created */
		char					stamp_secret[PORTAL_NAME_MAX + 1]; /* relay join */
		struct portal_device_access		device_access;
		struct portal_device_denied		device_denied;	/* + candidate error */
		struct portal_pool_domain		pool_domain;
		struct portal_authorization		expiry_updated;
	} u;
};

/*
 * Decodes event + payload received on chan into *out (zeroed first; on
 * success portal_msg_clear it).  -ENOENT for an event not handled on that
 * channel (skip it), -EBADMSG for a malformed payload, -ENOMEM.
 */
int	portal_msg_decode(enum portal_chan, const char *event,
	    const json_t *payload, struct portal_msg *out) FZ_WUR;
/*
 * Encodes *msg: *event borrowed (static), *payload a new reference.
 * -EINVAL for a struct that would not decode (bad id, over a bound),
 * -ENOMEM.
 */
int	portal_msg_encode(const struct portal_msg *, const char **event,
	    json_t **payload) FZ_WUR;
void	portal_msg_clear(struct portal_msg *);
/* The channel a type travels on, and its event name. */
enum portal_chan portal_msg_chan(enum portal_msg_type);
const char *portal_msg_event(enum portal_msg_type);

/* The views on their own (fz-portald builds lists of them). */
int	portal_resource_decode(enum portal_view, const json_t *,
	    struct portal_resource *) FZ_WUR;	/* -ENOENT: unknown type */
json_t	*portal_resource_encode(enum portal_view, const struct portal_resource *);
void	portal_resource_clear(struct portal_resource *);
int	portal_relay_decode(const json_t *, struct portal_relay *) FZ_WUR;
json_t	*portal_relay_encode(const struct portal_relay *);
int	portal_interface_decode(enum portal_view, const json_t *,
	    struct portal_interface *) FZ_WUR;
json_t	*portal_interface_encode(enum portal_view, const struct portal_interface *);
void	portal_interface_clear(struct portal_interface *);
int	portal_filter_decode(const json_t *, struct portal_filter *) FZ_WUR;
json_t	*portal_filter_encode(const struct portal_filter *);

#endif
