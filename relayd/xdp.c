/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "xdp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/turn_router.skel.h"
#include "fztime.h"
#include "log.h"
#include "relay.h"
#include "xdp.h"

struct relay_xdp {
	struct turn_router	*skel;
	int			 ifindex;
	int			 link;		/* the attachment, or -1 */
	int			 ncpus;
};

static const char *const stat_names[FZ_XS_COUNT] = {
	[FZ_XS_C2P] = "client_to_peer", [FZ_XS_P2C] = "peer_to_client",
	[FZ_XS_SELF] = "relay_to_self", [FZ_XS_PASS_NOT_IP] = "pass_not_ip",
	[FZ_XS_PASS_NOT_UDP] = "pass_not_udp",
	[FZ_XS_PASS_IP_OPTIONS] = "pass_ip_options",
	[FZ_XS_PASS_FRAGMENT] = "pass_fragment",
	[FZ_XS_PASS_SHORT] = "pass_short",
	[FZ_XS_PASS_OTHER_PORT] = "pass_other_port",
	[FZ_XS_PASS_STUN] = "pass_stun",
	[FZ_XS_PASS_BAD_LENGTH] = "pass_bad_length",
	[FZ_XS_PASS_NO_CHANNEL] = "pass_no_channel",
	[FZ_XS_PASS_NO_INT_ADDR] = "pass_no_interface_address",
	[FZ_XS_PASS_ZERO_CSUM] = "pass_zero_checksum",
	[FZ_XS_PASS_TTL] = "pass_ttl",
	[FZ_XS_PASS_ADJUST] = "pass_adjust_failed",
	[FZ_XS_DROP_LOOP] = "drop_loop",
	[FZ_XS_PASS_EXPIRED] = "pass_expired",
	[FZ_XS_DROP_SHORT] = "drop_short",
};

const char *
relay_xdp_stat_name(int i)
{
	return i >= 0 && i < FZ_XS_COUNT ? stat_names[i] : "?";
}

static int
libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static void
ip_bytes(const union fz_sockaddr *a, volatile uint8_t *out, size_t n)
{
	const uint8_t *p = a->sa.sa_family == AF_INET ?
	    (const uint8_t *)&a->in4.sin_addr :
	    (const uint8_t *)&a->in6.sin6_addr;
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = p[i];
}

int
relay_xdp_open(const struct relay_xdp_config *c, struct relay_xdp **out,
    char *err, size_t errlen)
{
	struct relay_xdp *x;
	int rc;

	libbpf_set_print(libbpf_quiet);
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -ENOMEM;
	x->link = -1;
	x->ncpus = libbpf_num_possible_cpus();
	if (c->ifname != NULL &&
	    (x->ifindex = (int)if_nametoindex(c->ifname)) == 0) {
		snprintf(err, errlen, "--ebpf-offloading %s: no such interface",
		    c->ifname);
		free(x);
		return -ENODEV;
	}
	if ((x->skel = turn_router__open()) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s",
		    strerror(-rc));
		free(x);
		return rc;
	}
	x->skel->rodata->cfg_relay_port = c->relay_port;
	x->skel->rodata->cfg_port_lo = c->port_lo;
	x->skel->rodata->cfg_port_hi = c->port_hi;
	if (c->have_int4) {
		x->skel->rodata->cfg_has_int4 = 1;
		ip_bytes(&c->int4, x->skel->rodata->cfg_int4, 4);
	}
	if (c->have_int6) {
		x->skel->rodata->cfg_has_int6 = 1;
		ip_bytes(&c->int6, x->skel->rodata->cfg_int6, 16);
	}
	if (c->have_pub4) {
		x->skel->rodata->cfg_has_pub4 = 1;
		ip_bytes(&c->pub4, x->skel->rodata->cfg_pub4, 4);
	}
	if (c->have_pub6) {
		x->skel->rodata->cfg_has_pub6 = 1;
		ip_bytes(&c->pub6, x->skel->rodata->cfg_pub6, 16);
	}
	if ((rc = turn_router__load(x->skel)) != 0) {
		snprintf(err, errlen, "loading the XDP program failed: %s "
		    "(needs root or CAP_BPF + CAP_NET_ADMIN)", strerror(-rc));
		relay_xdp_close(x);
		return rc;
	}
	if (c->ifname != NULL) {
		/*
		 * A BPF link, not a netlink attachment: it goes away when its
		 * descriptor is closed, so detaching needs no CAP_NET_ADMIN
		 * after the privilege drop, and a relay that dies leaves no
		 * program relaying for channels nobody tracks any more.
		 */
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = c->generic ?
		    XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		x->link = bpf_link_create(
		    bpf_program__fd(x->skel->progs.fz_turn_router), x->ifindex,
		    BPF_XDP, &lo);
		if (x->link < 0) {
			rc = x->link;
			x->link = -1;
			snprintf(err, errlen, "attaching XDP to %s in %s mode "
			    "failed: %s%s", c->ifname, c->generic ? "generic" :
			    "driver", strerror(-rc), rc == -EBUSY ? " (another "
			    "XDP program is attached there)" : "");
			relay_xdp_close(x);
			return rc;
		}
		log_info("XDP fast path attached to %s (%s mode)", c->ifname,
		    c->generic ? "generic" : "driver");
	}
	*out = x;
	return 0;
}

void
relay_xdp_close(struct relay_xdp *x)
{
	if (x == NULL)
		return;
	if (x->link >= 0) {
		close(x->link);		/* detaches */
		log_info("XDP fast path detached");
	}
	turn_router__destroy(x->skel);
	free(x);
}

/*
 * Until when the channel may be used, on the program's clock
 * (bpf_ktime_get_ns is CLOCK_MONOTONIC): the earlier of the channel's and
 * its permission's expiry, carried over from the relay's clock (which is
 * fake in tests) as the time left.
 */
static uint64_t
usable_until(const struct relay_channel *ch)
{
	uint64_t until = ch->expires < ch->perm_expires ? ch->expires :
	    ch->perm_expires, now = time_mono_ns();
	struct timespec ts;
	uint64_t k;

	if (until == UINT64_MAX)
		return UINT64_MAX;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	k = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return until > now ? k + (until - now) : 0;
}

static void
channel_keys(const struct relay_channel *ch, struct fz_xdp_client *ck,
    struct fz_xdp_peer *pk)
{
	const struct relay_alloc *a = ch->alloc;

	memset(ck, 0, sizeof(*ck));
	memset(pk, 0, sizeof(*pk));
	memcpy(ck->ip, a->client.ip, 16);
	ck->port = a->client.port;
	ck->chan = htons(ch->number);
	ck->fam = a->client.fam;
	memcpy(pk->ip, ch->peer.ip, 16);
	pk->alloc_port = htons(a->port);
	pk->peer_port = ch->peer.port;
	pk->fam = ch->peer.fam;
}

int
relay_xdp_channel_up(struct relay_xdp *x, const struct relay_channel *ch)
{
	struct fz_xdp_client_val cv;
	struct fz_xdp_peer_val pv;
	int f1 = bpf_map__fd(x->skel->maps.fz_chan_to_peer);
	int f2 = bpf_map__fd(x->skel->maps.fz_peer_to_chan);

	memset(&cv, 0, sizeof(cv));
	memset(&pv, 0, sizeof(pv));
	channel_keys(ch, &cv.client, &pv.peer);
	cv.expires = pv.expires = usable_until(ch);
	if (bpf_map_update_elem(f1, &cv.client, &pv, BPF_ANY) != 0)
		return -errno;
	if (bpf_map_update_elem(f2, &pv.peer, &cv, BPF_ANY) != 0) {
		int rc = -errno;

		bpf_map_delete_elem(f1, &cv.client);	/* both or neither */
		return rc;
	}
	return 0;
}

int
relay_xdp_channel_down(struct relay_xdp *x, const struct relay_channel *ch)
{
	struct fz_xdp_client ck;
	struct fz_xdp_peer pk;

	channel_keys(ch, &ck, &pk);
	bpf_map_delete_elem(bpf_map__fd(x->skel->maps.fz_chan_to_peer), &ck);
	bpf_map_delete_elem(bpf_map__fd(x->skel->maps.fz_peer_to_chan), &pk);
	return 0;
}

int
relay_xdp_stats(struct relay_xdp *x, struct fz_xdp_stat_val out[FZ_XS_COUNT])
{
	struct fz_xdp_stat_val *v;
	int fd = bpf_map__fd(x->skel->maps.fz_stats), c;
	uint32_t k;

	if ((v = calloc((size_t)x->ncpus, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (k = 0; k < FZ_XS_COUNT; k++) {
		out[k].packets = out[k].bytes = 0;
		if (bpf_map_lookup_elem(fd, &k, v) != 0)
			continue;
		for (c = 0; c < x->ncpus; c++) {
			out[k].packets += v[c].packets;
			out[k].bytes += v[c].bytes;
		}
	}
	free(v);
	return 0;
}

int
relay_xdp_probe_maps(struct relay_xdp *x)
{
	struct fz_xdp_client k;
	struct fz_xdp_peer_val v;

	memset(&k, 0, sizeof(k));
	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.fz_chan_to_peer),
	    &k, &v) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
relay_xdp_prog_fd(const struct relay_xdp *x)
{
	return bpf_program__fd(x->skel->progs.fz_turn_router);
}
