/* SPDX-License-Identifier: ISC */
/*
 * The data plane's send side: packets from the TUN routed to their peer,
 * checksums completed, super-packets segmented (offload.c), encrypted
 * straight into per-worker GSO groups and sent with sendmmsg; packets for
 * a peer without a session staged until its handshake; keepalives and
 * initiations for the timer thread.
 */
#define LOG_MODULE "dataplane"

#include <errno.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dp_dnsnat.h"
#include "dp_dnsres.h"
#include "dp_impl.h"
#include "fztime.h"
#include "proxymap.h"

/* --- staging (packets waiting for a session) --- */

void
tx_stage(struct dp *dp, struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	struct dp_peer *d = dpp(p);
	struct staged *copy, *old = NULL;

	/* Too big to send: see send_packet. */
	if (WG_SEALED_LEN(len) > WG_UDP_PAYLOAD_MAX) {
		count(dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	if (d == NULL || (copy = malloc(sizeof(*copy) + len)) == NULL) {
		count(dp, DP_DROP_STAGED_FULL, 1);
		return;
	}
	memcpy(copy->pkt, pkt, len);
	copy->len = len;
	copy->next = NULL;
	pthread_mutex_lock(&d->qlock);
	if (d->qn == STAGE_MAX) {
		/* Full: drop the oldest (design brief), keep the newest. */
		old = d->qhead;
		d->qhead = old->next;
		d->qn--;
		count(dp, DP_DROP_STAGED_FULL, 1);
	}
	if (d->qhead == NULL)
		d->qhead = copy;
	else
		d->qtail->next = copy;
	d->qtail = copy;
	d->qn++;
	pthread_mutex_unlock(&d->qlock);
	free(old);
	/* Wake the timer thread: it sends the initiation right away. */
	{
		uint64_t one = 1;

		if (write(dp->wakefd, &one, sizeof(one)) < 0) {
			/* the counter saturating is harmless */
		}
	}
}

/* Takes the whole queue out (the caller frees or sends it). */
static struct staged *
stage_take(struct dp_peer *d, unsigned *n)
{
	struct staged *q;

	pthread_mutex_lock(&d->qlock);
	q = d->qhead;
	*n = d->qn;
	d->qhead = d->qtail = NULL;
	d->qn = 0;
	pthread_mutex_unlock(&d->qlock);
	return q;
}

static void
staged_free(struct staged *q)
{
	struct staged *next;

	for (; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
}

void
tx_stage_drop(struct dp *dp, struct wg_peer *p)
{
	struct dp_peer *d = dpp(p);
	unsigned n;

	if (d == NULL)
		return;
	staged_free(stage_take(d, &n));
	count(dp, DP_DROP_STAGED_EXPIRED, n);
}

/* The wg_peer's destructor (after a grace period: no worker holds it). */
void
dp_peer_free(void *arg)
{
	struct dp_peer *d = arg;
	unsigned n;

	staged_free(stage_take(d, &n));
	pthread_mutex_destroy(&d->qlock);
	free(d);
}

/* --- destinations without a peer --- */

void
tx_no_route(struct dp *dp, int family, const uint8_t *dst,
    const uint8_t *pkt, size_t len)
{
	uint64_t one = 1;

	if (!atomic_load_explicit(&dp->wanted_on, memory_order_acquire) ||
	    !dp_wanted_hit(&dp->wanted, family, dst, time_mono_ns(), pkt,
	    len))
		return;
	if (write(dp->wantedfd, &one, sizeof(one)) < 0) {
		/* the counter saturating is harmless */
	}
}

/* --- sending --- */

static int
sock_for(struct worker *w, const union fz_sockaddr *to)
{
	return to->sa.sa_family == AF_INET6 ? w->udp6 : w->udp4;
}

void
tx_flush(struct worker *w)
{
	struct mmsghdr msgs[GROUPS];
	struct iovec iov[GROUPS];
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	} cm[GROUPS];
	unsigned i, sent = 0, n4 = 0;
	int fds[GROUPS];

	if (w->ng == 0)
		return;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < w->ng; i++) {
		struct group *g = &w->g[i];
		struct msghdr *m = &msgs[i].msg_hdr;

		iov[i].iov_base = w->out + (size_t)i * GROUP_SIZE;
		iov[i].iov_len = g->len;
		m->msg_iov = &iov[i];
		m->msg_iovlen = 1;
		m->msg_name = &g->to;
		m->msg_namelen = addr_len(&g->to.sa);
		if (g->nseg > 1) {
			struct cmsghdr *c;

			memset(&cm[i], 0, sizeof(cm[i]));
			m->msg_control = cm[i].buf;
			m->msg_controllen = sizeof(cm[i].buf);
			c = CMSG_FIRSTHDR(m);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			*(uint16_t *)(void *)CMSG_DATA(c) = (uint16_t)g->seg;
		}
		fds[i] = sock_for(w, &g->to);
		n4 += fds[i] == w->udp4;
	}
	/* One sendmmsg per run of groups on the same socket. */
	while (sent < w->ng) {
		unsigned j = sent;
		int r;

		while (j < w->ng && fds[j] == fds[sent])
			j++;
		r = sendmmsg(fds[sent], msgs + sent, j - sent, 0);
		if (r <= 0) {
			if (log_ratelimit(&w->dp->rl))
				log_warn("sendmmsg");
			count(w->dp, DP_DROP_SEND, w->g[sent].nseg);
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
	for (i = 0; i < w->ng; i++)
		wg_peer_data_sent(w->g[i].peer, w->g[i].len, false);
	w->ng = 0;
	(void)n4;
}

/*
 * Returns where the next encrypted segment of size seg for peer/to goes,
 * continuing the current GSO group when possible, and in *cap the bytes
 * left in that group's buffer from there (what the segment may use).
 */
static uint8_t *
group_slot(struct worker *w, struct wg_peer *p, const struct tx_path *path,
    size_t seg, size_t full, size_t *cap)
{
	struct group *g = w->ng > 0 ? &w->g[w->ng - 1] : NULL;

	if (g != NULL && g->peer == p && !g->closed && g->seg == full &&
	    seg <= full && g->nseg < GSO_MAX_SEGS &&
	    g->len + seg <= GSO_MAX_BYTES && g->chan == path->chan &&
	    addr_eq(&g->to.sa, &path->to.sa)) {
		/* fits: a shorter segment must be the last one */
	} else {
		if (w->ng == GROUPS)
			tx_flush(w);
		g = &w->g[w->ng++];
		g->peer = p;
		g->to = path->to;
		g->chan = path->chan;
		g->len = 0;
		g->seg = full;
		g->nseg = 0;
		g->closed = false;
	}
	*cap = GROUP_SIZE - g->len;
	return w->out + (size_t)(g - w->g) * GROUP_SIZE + g->len;
}

static void
group_commit(struct worker *w, size_t len)
{
	struct group *g = &w->g[w->ng - 1];

	g->len += len;
	g->nseg++;
	if (len != g->seg)
		g->closed = true;
	if (g->nseg == 1)
		g->seg = len;
}

/* The 4-byte ChannelData header (RFC 8656 §12.4; no padding over UDP). */
void
tx_channel_header(uint8_t *dst, uint16_t chan, size_t len)
{
	dst[0] = (uint8_t)(chan >> 8);
	dst[1] = (uint8_t)chan;
	dst[2] = (uint8_t)(len >> 8);
	dst[3] = (uint8_t)len;
}

/*
 * Encrypts one IP packet (already at dst + hdr + WG_DATA_HDR_LEN) for p;
 * cap is what group_slot gave for dst; hdr (TX_HDR) bytes of ChannelData
 * header go first.
 */
static int
seal_one(struct worker *w, struct wg_keypair *k, const struct tx_path *path,
    uint8_t *dst, size_t len, size_t cap)
{
	size_t out, hdr = TX_HDR(path);
	int rc;

	if ((rc = wg_encrypt(k, dst + hdr, len, cap - hdr, &out)) != 0) {
		count(w->dp, DP_DROP_ENCRYPT, 1);
		return rc;
	}
	if (hdr != 0)
		tx_channel_header(dst, path->chan, out);
	group_commit(w, hdr + out);
	count(w->dp, DP_TX_PACKETS, 1);
	count(w->dp, DP_TX_BYTES, len);
	return 0;
}

static size_t
sealed_size(size_t len)
{
	return WG_SEALED_LEN(len);
}

/*
 * Sends one plain IP packet (from any thread with its own worker w).  The
 * MTU keeps packets within WG_MTU_MAX; anything larger (which would not fit
 * a UDP datagram, nor a group buffer) is dropped.
 */
void
tx_send_packet(struct worker *w, struct wg_peer *p, struct wg_keypair *k,
    const struct tx_path *path, const uint8_t *pkt, size_t len)
{
	size_t hdr = TX_HDR(path), full = hdr + sealed_size(len), cap;
	uint8_t *dst;

	if (full > WG_UDP_PAYLOAD_MAX) {
		count(w->dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	dst = group_slot(w, p, path, full, full, &cap);
	if (full > cap) {
		count(w->dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	memcpy(dst + hdr + WG_DATA_HDR_LEN, pkt, len);
	(void)seal_one(w, k, path, dst, len, cap);
}

/*
 * Splits a TSO/USO super-packet into MTU-sized packets, each encrypted
 * straight into a GSO group: segments are built in place, so the payload
 * is copied once and encrypted in place.  On a relayed path every segment
 * carries its ChannelData header, so the GSO segment size includes it.
 */
int
tx_segment_and_send(struct worker *w, struct wg_peer *p, struct wg_keypair *k,
    const struct tx_path *path, const struct virtio_net_hdr *vh,
    uint8_t *pkt, size_t len)
{
	struct off_seg plan;
	size_t full, hdr = TX_HDR(path);
	unsigned i;
	int rc;

	if ((rc = off_seg_plan(vh, pkt, len, 65535, &plan)) != 0)
		return rc;
	/* A segment's sealed size must fit one UDP datagram. */
	if ((full = hdr + sealed_size(plan.hlen + plan.mss)) >
	    WG_UDP_PAYLOAD_MAX)
		return -EMSGSIZE;
	for (i = 0; i < plan.nseg; i++) {
		size_t tot = off_seg_len(&plan, i), cap;
		uint8_t *dst;

		dst = group_slot(w, p, path, hdr + sealed_size(tot), full,
		    &cap);
		if (hdr + sealed_size(tot) > cap)
			return -EMSGSIZE;
		(void)off_seg_build(&plan, pkt, i,
		    dst + hdr + WG_DATA_HDR_LEN);
		if ((rc = seal_one(w, k, path, dst, tot, cap)) != 0)
			return rc;
	}
	return 0;
}

/* One read from the TUN: route, complete checksums, segment, encrypt. */
static void
from_tun(struct worker *w, uint8_t *buf, size_t n)
{
	struct dp *dp = w->dp;
	struct virtio_net_hdr vh;
	uint8_t *pkt = buf + TUN_VNET_HDR_LEN;
	size_t len = n - TUN_VNET_HDR_LEN, l4off;
	const uint8_t *dst;
	struct wg_peer *p;
	struct wg_keypair *k;
	struct tx_path path;
	uint8_t proto;
	int ver;

	if (off_vnet_parse(buf, n, &vh) != 0 ||
	    (ver = off_ip_l4(pkt, len, &l4off, &proto)) < 0) {
		count(dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	/* Gateway: the DNS-resource NAT's way back (real -> proxy). */
	if (!dpn_from_tun(w, &vh, pkt, len))
		return;
	/* §4.3 step 4: a resource's filters answer locally. */
	if (!dpf_from_tun(w, pkt, len))
		return;
	dst = ver == 4 ? pkt + 16 : pkt + 24;
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE && dp_dns_intercept(dp,
	    ver == 4 ? AF_INET : AF_INET6, dst, pkt, len))
		return;
	p = allowedips_lookup(dp->aip, ver == 4 ? AF_INET : AF_INET6, dst);
	if (p == NULL) {
		const uint8_t *held = NULL;

		count(dp, DP_DROP_NO_ROUTE, 1);
		/* Held (not a super-packet) until a peer covers dst. */
		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			len = off_ip_len(pkt, len) != 0 ?
			    off_ip_len(pkt, len) : len;
			if (off_csum_complete(&vh, pkt, len) == 0)
				held = pkt;
		}
		tx_no_route(dp, ver == 4 ? AF_INET : AF_INET6, dst, held,
		    len);
		return;
	}
	if (!wg_peer_path(p, &path.to, &path.chan)) {
		count(dp, DP_DROP_NO_ENDPOINT, 1);
		return;
	}
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		len = off_ip_len(pkt, len) != 0 ? off_ip_len(pkt, len) : len;
		if (off_csum_complete(&vh, pkt, len) != 0) {
			count(dp, DP_DROP_BAD_PACKET, 1);
			return;
		}
	}
	/* §4.6: a DNS resource's proxy IP waits for the gateway's NAT. */
	if (proxymap_in_range(ver == 6, dst) && dpr_from_tun(w, p, &vh,
	    ver == 6, dst, pkt, len))
		return;
	if ((k = wg_peer_send_keypair(p)) == NULL) {
		/* No session: keep it (segmented) until the handshake. */
		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE)
			tx_stage(dp, p, pkt, len);
		else
			count(dp, DP_DROP_STAGED_FULL, 1);
		return;
	}
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		tx_send_packet(w, p, k, &path, pkt, len);
	else if (tx_segment_and_send(w, p, k, &path, &vh, pkt, len) != 0)
		count(dp, DP_DROP_BAD_PACKET, 1);
	wg_keypair_put(k);
}

/* The destination of a TUN read (header and packet), for prefetching. */
static int
tun_dst(const uint8_t *buf, size_t n, const uint8_t **dst)
{
	const uint8_t *pkt = buf + TUN_VNET_HDR_LEN;

	if (n >= TUN_VNET_HDR_LEN + 20 && pkt[0] >> 4 == 4) {
		*dst = pkt + 16;
		return AF_INET;
	}
	if (n >= TUN_VNET_HDR_LEN + 40 && pkt[0] >> 4 == 6) {
		*dst = pkt + 24;
		return AF_INET6;
	}
	return 0;
}

void
tx_prefetch_batch(struct dp *dp, uint8_t *const buf[], const size_t len[],
    int n)
{
	const uint8_t *dst[TUN_BATCH];
	int af[TUN_BATCH], i, c, m;
	void *peer[TUN_BATCH];
	struct wg_peer *wp[TUN_BATCH];

	for (c = 0; c < n; c += m) {
		m = n - c < TUN_BATCH ? n - c : TUN_BATCH;
		for (i = 0; i < m; i++)
			af[i] = tun_dst(buf[c + i], len[c + i], &dst[i]);
		allowedips_prefetch(dp->aip, af, dst, m, peer);
		for (i = 0; i < m; i++)
			wp[i] = peer[i];
		wg_tx_prefetch(wp, m);
	}
}

void
tx_tun_readable(struct worker *w)
{
	uint8_t *buf[TUN_BATCH];
	size_t len[TUN_BATCH];
	int i = 0, j, nb;
	bool more = true;
	ssize_t n;

	/* The peers the groups point to stay valid until they are sent. */
	wg_read_lock();
	while (more && i < TUN_READS) {
		for (nb = 0; nb < TUN_BATCH && i < TUN_READS; nb++, i++) {
			buf[nb] = w->tunbuf + (size_t)nb * TUN_BUF;
			n = read(w->tunfd, buf[nb], TUN_BUF);
			if (n <= (ssize_t)TUN_VNET_HDR_LEN) {
				more = false;
				break;
			}
			len[nb] = (size_t)n;
		}
		tx_prefetch_batch(w->dp, buf, len, nb);
		for (j = 0; j < nb; j++)
			from_tun(w, buf[j], len[j]);
	}
	tx_flush(w);
	wg_read_unlock();
}

/* Sends everything that waited for p's session; returns how many. */
unsigned
tx_flush_staged(struct worker *w, struct wg_peer *p)
{
	struct dp_peer *d = dpp(p);
	struct wg_keypair *k;
	struct tx_path path;
	struct staged *q, *s;
	unsigned n = 0;

	if (d == NULL || !wg_peer_path(p, &path.to, &path.chan) ||
	    (k = wg_peer_send_keypair(p)) == NULL)
		return 0;
	q = stage_take(d, &n);
	for (s = q; s != NULL; s = s->next)
		tx_send_packet(w, p, k, &path, s->pkt, s->len);
	staged_free(q);
	wg_keypair_put(k);
	tx_flush(w);
	return n;
}

void
tx_keepalive(struct worker *w, struct wg_peer *p)
{
	struct wg_keypair *k;
	struct tx_path path;
	uint8_t *dst;
	size_t cap, full;

	if (!wg_peer_path(p, &path.to, &path.chan))
		return;
	if ((k = wg_peer_send_keypair(p)) == NULL)
		return;		/* a handshake has been asked for */
	full = TX_HDR(&path) + WG_DATA_MIN_LEN;
	dst = group_slot(w, p, &path, full, full, &cap);
	(void)seal_one(w, k, &path, dst, 0, cap);
	wg_keypair_put(k);
	tx_flush(w);
}

void
tx_initiation(struct worker *w, struct wg_peer *p)
{
	uint8_t msg[4 + WG_INITIATION_LEN];
	struct tx_path path;
	size_t hdr;

	if (!wg_peer_path(p, &path.to, &path.chan))
		return;
	hdr = TX_HDR(&path);
	if (wg_create_initiation(p, msg + hdr) != 0)
		return;
	if (hdr != 0)
		tx_channel_header(msg, path.chan, WG_INITIATION_LEN);
	if (sendto(sock_for(w, &path.to), msg, hdr + WG_INITIATION_LEN, 0,
	    &path.to.sa, addr_len(&path.to.sa)) < 0)
		count(w->dp, DP_DROP_SEND, 1);
	else
		log_debug("peer %s: handshake initiation sent",
		    wg_peer_name(p));
}

