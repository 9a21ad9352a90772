/* SPDX-License-Identifier: ISC */
/*
 * The data plane: workers and their receive path (classify, decrypt,
 * unwrap ChannelData, queue STUN, write the TUN), the timer thread, setup
 * and the peer API.  The send side is tx.c; the pure parts offload.c and
 * rx.c.
 */
#define LOG_MODULE "dataplane"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "aead.h"
#include "dnspkt.h"
#include "dp_dnsres.h"
#include "dp_filter.h"
#include "dp_impl.h"
#include "dp_dnsnat.h"
#include "dp_p2p.h"
#include "fztime.h"
#include "proxymap.h"

static const char *const ctr_names[DP_COUNTERS] = {
	"tx_packets", "tx_bytes", "rx_packets", "rx_bytes",
	"drop_no_route", "drop_no_endpoint", "drop_staged_full",
	"drop_staged_expired", "drop_bad_packet", "drop_decrypt",
	"drop_src_not_allowed", "drop_unknown_packet", "drop_handshake",
	"drop_handshake_ratelimited", "drop_send", "drop_tun_write",
	"rx_channel_data", "drop_unknown_channel", "drop_channel_peer",
	"rx_stun", "drop_stun_queue_full", "drop_stun_no_consumer",
	"drop_handshake_queue_full", "drop_encrypt",
};

const char *
dp_counter_name(enum dp_counter c)
{
	return c < DP_COUNTERS ? ctr_names[c] : "?";
}

uint64_t
dp_counter(const struct dp *dp, enum dp_counter c)
{
	return atomic_load(&((struct dp *)dp)->ctr[c]);
}

void
dp_log_drops(const struct dp *dp)
{
	char line[768];
	size_t off = 0;
	enum dp_counter k;

	line[0] = '\0';
	for (k = DP_DROP_NO_ROUTE; k < DP_COUNTERS; k++) {
		uint64_t n = dp_counter(dp, k);
		int r;

		if (n == 0 || k == DP_RX_CHANNEL_DATA || k == DP_RX_STUN)
			continue;
		r = snprintf(line + off, sizeof(line) - off, "%s%s %llu",
		    off > 0 ? ", " : "", ctr_names[k], (unsigned long long)n);
		if (r < 0 || (size_t)r >= sizeof(line) - off)
			break;
		off += (size_t)r;
	}
	if (off > 0)
		log_info("data plane drops: %s", line);
}

/* --- receiving --- */

static void
tun_write(struct worker *w, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2];

	memset(&vh, 0, sizeof(vh));
	/* WireGuard authenticated it: skip the checksum check (as Linux). */
	vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = (void *)pkt;
	iov[1].iov_len = len;
	if (writev(w->tunfd, iov, 2) < 0)
		count(w->dp, DP_DROP_TUN_WRITE, 1);
}

/* off_co's flush: a coalesced flow as one GSO packet (or plainly). */
static void
co_write(struct off_coslot *s, void *arg)
{
	struct worker *w = arg;
	struct virtio_net_hdr vh;
	struct iovec iov[2];

	if (!off_co_finish(s, &vh)) {
		tun_write(w, s->buf, s->len);
		return;
	}
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = s->buf;
	iov[1].iov_len = s->len;
	if (writev(w->tunfd, iov, 2) < 0)
		count(w->dp, DP_DROP_TUN_WRITE, s->nseg);
}

/*
 * A datagram that came wrapped in ChannelData: the peer the relay channel
 * is registered for, and the channel to wrap replies in.
 */
struct relayed {
	struct wg_peer	*peer;
	uint16_t	 channel;
};

/*
 * How a message came, for the WireGuard core: a relayed one may only
 * authenticate as its channel's peer and never moves that peer's endpoint
 * to the relay (only direct messages roam; the relayed path is fz-controld's
 * choice).
 */
static void
path_of(struct wg_path *path, const union fz_sockaddr *src,
    const struct relayed *via)
{
	path->src = src;
	path->relayed = via != NULL;
	path->peer = via != NULL ? via->peer : NULL;
}

/* Keeps an initiation that came before its peer (dp_held_init). */
static void
hold_initiation(struct dp *dp, int fd, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, uint16_t channel, uint64_t at)
{
	struct dp_held_init *h = &dp->held;
	uint64_t now = time_mono_ns();
	unsigned i, slot = 0;

	if (len != WG_INITIATION_LEN)
		return;
	pthread_mutex_lock(&h->lock);
	/* a free or expired slot, else the oldest */
	for (i = 0; i < DP_HELD_INIT; i++) {
		if (h->e[i].at == 0 ||
		    h->e[i].at + DP_HELD_INIT_MS * 1000000ull < now) {
			slot = i;
			break;
		}
		if (h->e[i].at < h->e[slot].at)
			slot = i;
	}
	h->e[slot].at = at;
	h->e[slot].fd = fd;
	h->e[slot].src = *src;
	h->e[slot].channel = channel;
	memcpy(h->e[slot].msg, msg, len);
	pthread_mutex_unlock(&h->lock);
}

/*
 * After hold_initiation by a thread that looked for the initiation's peer
 * (or channel) when the retry generation was gen: a PEER_SET whose retry
 * ran in between found nothing held, so the retry is run here.
 */
static void
held_gen_check(struct dp *dp, unsigned gen)
{
	if (atomic_load(&dp->held.gen) != gen)
		(void)dp_held_init_retry(dp);
}

/*
 * A handshake message from src (through a relay: via).  w NULL: a held
 * initiation answered from the main loop (dp_held_init_retry); returns
 * -ENOENT when it is still nobody's.
 */
static int
handshake_msg(struct dp *dp, struct worker *w, int fd, uint8_t *msg,
    size_t len, const union fz_sockaddr *src, struct relayed *via)
{
	/* Room for a ChannelData header in front of the reply. */
	uint8_t out[4 + WG_INITIATION_LEN], *reply = out + 4;
	struct wg_hs_result r;
	struct wg_path path;
	size_t hdr = 0;
	unsigned gen = atomic_load(&dp->held.gen);
	int rc;

	path_of(&path, src, via);
	rc = wg_handle_handshake_via(dp->dev, msg, len, &path, reply, &r);
	if (rc == -EAGAIN) {
		count(dp, DP_DROP_HS_RATELIMITED, 1);
		return rc;
	}
	if (rc == -EPERM) {
		/* Not the channel's peer: refused before any state moved. */
		count(dp, DP_DROP_CHANNEL_PEER, 1);
		return rc;
	}
	if (rc == -ENOENT && w == NULL)
		return rc;
	if (rc != 0) {
		count(dp, DP_DROP_HANDSHAKE, 1);
		if (log_ratelimit(&dp->rl))
			log_debug("handshake message refused: %s",
			    strerror(-rc));
		/* An initiation from a key no peer has (yet). */
		if (rc == -ENOENT && dp_classify(msg, len) ==
		    DP_PKT_WG_INITIATION) {
			hold_initiation(dp, fd, msg, len, src,
			    via != NULL ? via->channel : 0, time_mono_ns());
			held_gen_check(dp, gen);
		}
		return rc;
	}
	if (r.reply_len > 0) {
		/* Back the way it came: relayed, in the same channel. */
		if (via != NULL) {
			/* 64 or 92 bytes: no padding needed. */
			out[0] = (uint8_t)(via->channel >> 8);
			out[1] = (uint8_t)via->channel;
			out[2] = (uint8_t)(r.reply_len >> 8);
			out[3] = (uint8_t)r.reply_len;
			hdr = 4;
		}
		if (sendto(fd, reply - hdr, r.reply_len + hdr, 0, &src->sa,
		    addr_len(&src->sa)) < 0)
			count(dp, DP_DROP_SEND, 1);
		else if (r.peer != NULL)
			wg_peer_data_sent(r.peer, r.reply_len, true);
	}
	if (r.established && r.peer != NULL) {
		log_info("peer %s: session established%s, as the %s",
		    wg_peer_name(r.peer), via != NULL ? " (relayed)" : "",
		    r.reply_len > 0 ? "responder" : "initiator");
		/*
		 * The initiator confirms the new session at once: its staged
		 * packets, else a keepalive (as Linux WireGuard does). The
		 * responder may not send until then; without it, crossed
		 * initiations (each side's own response superseded by the
		 * other's initiation) left both waiting 15 s for a rekey.
		 */
		if (w != NULL && tx_flush_staged(w, r.peer) == 0 &&
		    r.reply_len == 0)
			tx_keepalive(w, r.peer);
	}
	return 0;
}

/*
 * A handshake message for the handshake thread (hsq.h): the worker only
 * copies it.  Once the queue is half full, each source gets 20 a second
 * (burst 5) into it, as Linux's ratelimiter in front of its queue.
 */
static void
handshake_in(struct worker *w, int fd, uint8_t *msg, size_t len,
    const union fz_sockaddr *src, struct relayed *via)
{
	struct dp *dp = w->dp;
	uint64_t now = time_mono_ns();

	if (hsq_len(&dp->hsq) > dp->hsq.cap / 2 &&
	    !ratelimiter_allow(dp->hs_rl, &src->sa, now)) {
		count(dp, DP_DROP_HS_RATELIMITED, 1);
		return;
	}
	if (!hsq_push(&dp->hsq, fd, src, via != NULL ? via->channel : 0, msg,
	    len, now)) {
		count(dp, DP_DROP_HS_QUEUE_FULL, 1);
		return;
	}
	w->hs_pushed = true;
}

/*
 * The handshake thread: every handshake message the workers received, one
 * after another, at a lower priority than theirs (nice HS_NICE), so that a
 * flood of initiations takes what the machine has left over, not the
 * sessions' time.  The queue's length says whether we are under load.
 */
#define HS_NICE		10
static void *
hs_main(void *arg)
{
	struct dp *dp = arg;
	struct worker tw;		/* its own send groups */
	struct hsq_item it;

	/* Before the sandbox: dp_start waits for this. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HS_NICE) != 0)
		log_debug("handshake thread: setpriority: %s",
		    strerror(errno));
	atomic_store(&dp->hs_ready, true);
	memset(&tw, 0, sizeof(tw));
	tw.dp = dp;
	tw.udp4 = dp->w[0].udp4;
	tw.udp6 = dp->w[0].udp6;
	if ((tw.out = malloc((size_t)GROUPS * GROUP_SIZE)) == NULL)
		return NULL;
	while (hsq_pop_wait(&dp->hsq, &it)) {
		struct relayed via;

		wg_device_set_under_load(dp->dev,
		    hsq_under_load(&dp->hsq, time_mono_ns()));
		wg_read_lock();
		memset(&via, 0, sizeof(via));
		via.channel = it.channel;
		if (it.channel != 0 && (via.peer = dp_chans_lookup(&dp->chans,
		    &it.src, it.channel)) == NULL)
			count(dp, DP_DROP_UNKNOWN_CHANNEL, 1);
		else
			(void)handshake_msg(dp, &tw, it.fd, it.msg, it.len,
			    &it.src, it.channel != 0 ? &via : NULL);
		wg_read_unlock();
	}
	free(tw.out);
	return NULL;
}

/*
 * Whether src's longest match in the allowed IPs is p: most often p's own
 * host route (one of its first two prefixes), checked without the table.
 */
static bool
src_allowed(struct dp *dp, struct wg_peer *p, int family, const uint8_t *src)
{
	struct dp_peer *d = dpp(p);

	return (d != NULL && allowedips_set_has_host(&d->aips, family, src,
	    p)) || allowedips_lookup(dp->aip, family, src) == p;
}

static void
data_in(struct worker *w, uint8_t *msg, size_t len,
    const union fz_sockaddr *src, struct relayed *via)
{
	struct dp *dp = w->dp;
	struct wg_peer *p;
	uint8_t *plain;
	size_t plen, l4off, ilen;
	uint8_t proto;
	struct wg_path path;
	int ver, rc;

	path_of(&path, src, via);
	rc = wg_decrypt_via(dp->dev, msg, len, &path, &plain, &plen, &p);
	if (rc == -EPERM) {
		/* Another peer's session on this channel. */
		count(dp, DP_DROP_CHANNEL_PEER, 1);
		return;
	}
	if (rc != 0) {
		count(dp, DP_DROP_DECRYPT, 1);
		return;
	}
	if (plen == 0)
		return;				/* keepalive */
	if ((ver = off_ip_l4(plain, plen, &l4off, &proto)) < 0 ||
	    (ilen = off_ip_len(plain, plen)) == 0) {
		count(dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	/* The p2p control protocol (§4.6, :: -> ::): never to the TUN. */
	if (p2p_is_control(plain, ilen)) {
		dp_p2p_in(w, p, plain, ilen);
		return;
	}
	/* Cryptokey routing: the inner source must belong to the sender. */
	if (!src_allowed(dp, p, ver == 4 ? AF_INET : AF_INET6,
	    ver == 4 ? plain + 12 : plain + 8)) {
		count(dp, DP_DROP_SRC_NOT_ALLOWED, 1);
		if (log_ratelimit(&dp->rl)) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(ver == 4 ? AF_INET : AF_INET6, ver == 4 ?
			    plain + 12 : plain + 8, a, sizeof(a));
			log_debug("peer %s: inner source %s is not its own",
			    wg_peer_name(p), a);
		}
		return;
	}
	/* Resource enforcement (gateway): refused never reach the TUN. */
	if (!dpf_from_peer(w, p, plain, ilen))
		return;
	/* DNS-resource NAT (gateway, §5.2 step 6): proxy -> real. */
	if (!dpn_from_peer(w, p, plain, ilen))
		return;
	/* Counted per batch (udp_readable): the counters' line is shared. */
	w->rx_packets++;
	w->rx_bytes += ilen;
	if (!w->dp->gro || !off_co_add(&w->co, plain, ilen))
		tun_write(w, plain, ilen);
}

/* STUN: for fz-controld, through the main loop (dp_stun_take). */
static void
stun_in(struct worker *w, int fd, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, const union fz_sockaddr *local)
{
	struct dp *dp = w->dp;
	uint64_t one = 1;

	if (!atomic_load_explicit(&dp->stun_on, memory_order_acquire)) {
		count(dp, DP_DROP_STUN_NO_CONSUMER, 1);
		return;
	}
	if (!dp_stunq_push(&dp->stunq, fd == w->udp6 ? DP_SOCK_UDP6 :
	    DP_SOCK_UDP4, src, local, msg, len)) {
		count(dp, DP_DROP_STUN_QUEUE_FULL, 1);
		return;
	}
	count(dp, DP_RX_STUN, 1);
	if (write(dp->stunfd, &one, sizeof(one)) < 0) {
		/* the counter saturating is harmless */
	}
}

/*
 * ChannelData: a registered relay channel's WireGuard unwrapped, as from
 * its peer.  STUN inside it, or a channel we do not know (ICE checks
 * through a relay before fz-controld set a path), goes up to fz-controld
 * whole, from the relay (its TURN client unwraps it and knows the peer by
 * the channel).
 */
static void
relayed_in(struct worker *w, int fd, uint8_t *msg, size_t len,
    const union fz_sockaddr *src, const union fz_sockaddr *local)
{
	struct dp *dp = w->dp;
	struct relayed via;
	const uint8_t *inner;
	size_t ilen;
	unsigned gen = atomic_load(&dp->held.gen);

	memset(&via, 0, sizeof(via));
	dp_channeldata(msg, len, &via.channel, &inner, &ilen);
	if ((via.peer = dp_chans_lookup(&dp->chans, src, via.channel)) ==
	    NULL) {
		count(dp, DP_DROP_UNKNOWN_CHANNEL, 1);
		if (dp_classify(inner, ilen) == DP_PKT_STUN)
			stun_in(w, fd, msg, len, src, local);
		else if (dp_classify(inner, ilen) == DP_PKT_WG_INITIATION) {
			hold_initiation(dp, fd, inner, ilen, src, via.channel,
			    time_mono_ns());
			held_gen_check(dp, gen);
		}
		return;
	}
	count(dp, DP_RX_CHANNEL_DATA, 1);
	/* inner points into msg, which is ours to decrypt in place. */
	switch (dp_classify(inner, ilen)) {
	case DP_PKT_WG_DATA:
		data_in(w, msg + 4, ilen, src, &via);
		break;
	case DP_PKT_WG_INITIATION:
	case DP_PKT_WG_RESPONSE:
	case DP_PKT_WG_COOKIE:
		handshake_in(w, fd, msg + 4, ilen, src, &via);
		break;
	case DP_PKT_STUN:
		stun_in(w, fd, msg, len, src, local);
		break;
	default:
		count(dp, DP_DROP_UNKNOWN_PACKET, 1);
		break;
	}
}

static void
datagram_in(struct worker *w, int fd, uint8_t *msg, size_t len,
    const union fz_sockaddr *src, const union fz_sockaddr *local)
{
	switch (dp_classify(msg, len)) {
	case DP_PKT_WG_DATA:
		data_in(w, msg, len, src, NULL);
		break;
	case DP_PKT_WG_INITIATION:
	case DP_PKT_WG_RESPONSE:
	case DP_PKT_WG_COOKIE:
		handshake_in(w, fd, msg, len, src, NULL);
		break;
	case DP_PKT_CHANNEL_DATA:
		relayed_in(w, fd, msg, len, src, local);
		break;
	case DP_PKT_STUN:
		stun_in(w, fd, msg, len, src, local);
		break;
	default:
		count(w->dp, DP_DROP_UNKNOWN_PACKET, 1);
		break;
	}
}

/* The local address a datagram came to (IP_PKTINFO, IPV6_PKTINFO). */
static void
local_addr(struct worker *w, struct msghdr *m, int fd,
    union fz_sockaddr *local)
{
	struct cmsghdr *c;

	memset(local, 0, sizeof(*local));
	local->sa.sa_family = fd == w->udp6 ? AF_INET6 : AF_INET;
	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->in4.sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->in6.sin6_addr = pi.ipi6_addr;
		}
	}
	addr_set_port(&local->sa, w->dp->port);
	addr_unmap_v4(local);
}

/*
 * With thousands of peers, a batch's lookups overlap: the WireGuard core
 * prefetches every message's index slot, keypair and peer (each step for
 * the whole batch) and every peer's data-plane part beside its peer
 * (the keypair's cookie hint), whose copy of its host routes data_in
 * checks the inner source against.
 */
static void
rx_prefetch(struct dp *dp, uint8_t *const m[], const size_t len[], int n)
{
	struct wg_peer *p[RECV_MSGS];

	wg_rx_prefetch(dp->dev, m, len, n, p);
}

static void
udp_readable(struct worker *w, int fd)
{
	struct mmsghdr msgs[RECV_MSGS];
	struct iovec iov[RECV_MSGS];
	union fz_sockaddr from[RECV_MSGS], local;
	uint8_t *mp[RECV_MSGS];
	size_t ml[RECV_MSGS];
	union {
		char		buf[CMSG_SPACE(sizeof(int)) +
				    CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr	align;
	} cm[RECV_MSGS];
	int i, n, rounds;

	/* Peers and keypairs found in this batch stay valid until the end. */
	wg_read_lock();
	for (rounds = 0; rounds < RECV_ROUNDS; rounds++) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RECV_MSGS; i++) {
			iov[i].iov_base = w->rx + (size_t)i * RECV_SIZE;
			iov[i].iov_len = RECV_SIZE;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_control = cm[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
		}
		n = recvmmsg(fd, msgs, RECV_MSGS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			mp[i] = iov[i].iov_base;
			ml[i] = msgs[i].msg_len;
		}
		rx_prefetch(w->dp, mp, ml, n);
		for (i = 0; i < n; i++) {
			struct msghdr *m = &msgs[i].msg_hdr;
			struct cmsghdr *c;
			size_t seg = msgs[i].msg_len, off;
			uint8_t *base = iov[i].iov_base;

			for (c = CMSG_FIRSTHDR(m); c != NULL;
			    c = CMSG_NXTHDR(m, c)) {
				if (c->cmsg_level == SOL_UDP &&
				    c->cmsg_type == UDP_GRO) {
					int s;

					memcpy(&s, CMSG_DATA(c), sizeof(s));
					if (s > 0)
						seg = (size_t)s;
				}
			}
			addr_unmap_v4(&from[i]);
			local_addr(w, m, fd, &local);
			for (off = 0; off < msgs[i].msg_len; off += seg) {
				size_t l = msgs[i].msg_len - off < seg ?
				    msgs[i].msg_len - off : seg;

				datagram_in(w, fd, base + off, l, &from[i],
				    &local);
			}
		}
		if (n < RECV_MSGS)
			break;
	}
	off_co_flush_all(&w->co);
	tx_flush(w);
	wg_read_unlock();
	if (w->rx_packets > 0) {
		count(w->dp, DP_RX_PACKETS, w->rx_packets);
		count(w->dp, DP_RX_BYTES, w->rx_bytes);
		w->rx_packets = w->rx_bytes = 0;
	}
	if (w->hs_pushed) {
		w->hs_pushed = false;
		hsq_kick(&w->dp->hsq);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[4];
	int i, n;

	/* A flow's packets come together: keep the key set between them. */
	aead_thread_hold(true);
	for (;;) {
		aead_thread_wipe();	/* no session key kept while asleep */
		n = epoll_wait(w->ep, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == w->dp->stopfd)
				return NULL;
			if (fd == w->tunfd)
				tx_tun_readable(w);
			else
				udp_readable(w, fd);
		}
	}
	return NULL;
}

/* --- timers --- */

static void *
timer_main(void *arg)
{
	struct dp *dp = arg;
	/* The timer thread sends through its own group buffers. */
	struct worker tw;
	struct pollfd pfd[2];
	uint64_t v;

	memset(&tw, 0, sizeof(tw));
	tw.dp = dp;
	tw.udp4 = dp->w[0].udp4;
	tw.udp6 = dp->w[0].udp6;
	if ((tw.out = malloc((size_t)GROUPS * GROUP_SIZE)) == NULL)
		return NULL;
	pfd[0].fd = dp->stopfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = dp->wakefd;
	pfd[1].events = POLLIN;
	for (;;) {
		struct wg_peer *p = NULL;

		if (poll(pfd, 2, 100) > 0) {
			if (pfd[0].revents & POLLIN)
				break;
			if ((pfd[1].revents & POLLIN) &&
			    read(dp->wakefd, &v, sizeof(v)) < 0) {
				/* nothing to do: it is only a wake-up */
			}
		}
		/* A removed peer stays valid until the sweep ends. */
		wg_read_lock();
		while ((p = wg_peer_next(dp->dev, p)) != NULL) {
			unsigned act;
			struct dp_peer *d = dpp(p);

			if (d == NULL)
				continue;
			/*
			 * A hint only: qn changes under qlock.  Packets wait
			 * for a session: a handshake if there is none.
			 */
			if (__atomic_load_n(&d->qn, __ATOMIC_RELAXED) > 0 &&
			    !wg_peer_has_session(p))
				wg_peer_want_handshake(p);
			act = wg_peer_tick(p);
			if (act & WG_TICK_GAVE_UP)
				tx_stage_drop(dp, p);
			if (act & WG_TICK_SEND_INITIATION)
				tx_initiation(&tw, p);
			if (act & WG_TICK_SEND_KEEPALIVE)
				tx_keepalive(&tw, p);
			if (__atomic_load_n(&d->qn, __ATOMIC_RELAXED) > 0 &&
			    wg_peer_has_session(p))
				tx_flush_staged(&tw, p);
		}
		wg_read_unlock();
	}
	free(tw.out);
	return NULL;
}

/* --- setup --- */

static int
udp_socket(int family, uint16_t port, int idx)
{
	union fz_sockaddr sa;
	int fd, one = 1, bufsz = 16 << 20, sndsz = 4 << 20;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Big buffers (Firezone sizes them for 10 Gbit/s); FORCE as root. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
	    sizeof(bufsz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndsz,
	    sizeof(sndsz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndsz, sizeof(sndsz));
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	/* The local address of STUN datagrams, for fz-controld. */
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one));
	else
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sa.sa_family = (sa_family_t)family;
	addr_set_port(&sa.sa, port);
	if (bind(fd, &sa.sa, addr_len(&sa.sa)) != 0) {
		int e = errno;

		close(fd);
		/* IPv6 may be disabled: IPv4 alone is fine. */
		return family == AF_INET6 && idx >= 0 &&
		    (e == EAFNOSUPPORT || e == EADDRNOTAVAIL) ? -EAFNOSUPPORT :
		    -e;
	}
	return fd;
}

int
dp_new(struct wg_device *dev, struct tun *tun, const struct dp_config *cfg,
    struct dp **out)
{
	struct dp *dp;
	int i, fd, rc = -ENOMEM;

	if (wg_mtu_check(cfg->mtu) != 0) {
		log_warnx("MTU %d out of range %d..%d (the encapsulated packet "
		    "must fit one UDP datagram)", cfg->mtu, WG_MTU_MIN,
		    WG_MTU_MAX);
		return -EINVAL;
	}
	if ((dp = calloc(1, sizeof(*dp))) == NULL)
		return -ENOMEM;
	dp->dev = dev;
	dp->tun = tun;
	dp->mtu = cfg->mtu;
	dp->port = cfg->port;
	dp->stopfd = dp->wakefd = -1;
	dp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	pthread_mutex_init(&dp->peers_lock, NULL);
	dp_chans_init(&dp->chans);
	dp->stunfd = dp->wantedfd = dp->dnsfd = -1;
	dp_wanted_init(&dp->wanted);
	pthread_mutex_init(&dp->held.lock, NULL);
	if ((rc = allowedips_new(&dp->aip)) != 0 ||
	    (rc = hsq_init(&dp->hsq, 0)) != 0 ||
	    (rc = ratelimiter_new(0, &dp->hs_rl)) != 0)
		goto fail;
	dp->nworkers = tun->nqueues;
	/* Coalesced writes need the TUN to accept TSO (and FZ_NO_GRO off). */
	dp->gro = (tun->offloads & (TUN_F_TSO4 | TUN_F_TSO6)) ==
	    (TUN_F_TSO4 | TUN_F_TSO6) && getenv("FZ_NO_GRO") == NULL;
	/* The AEAD backend (and OpenSSL's loading) before any sandbox. */
	(void)aead_backend();
	if ((dp->w = calloc((size_t)dp->nworkers, sizeof(*dp->w))) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < dp->nworkers; i++)
		dp->w[i].udp4 = dp->w[i].udp6 = dp->w[i].ep = -1;
	if ((dp->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (dp->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (dp->stunfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (dp->wantedfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	for (i = 0; i < dp->nworkers; i++) {
		struct worker *w = &dp->w[i];

		w->dp = dp;
		w->idx = i;
		w->tunfd = tun->fds[i];
		if ((fd = udp_socket(AF_INET, dp->port, i)) < 0) {
			rc = fd;
			goto fail;
		}
		w->udp4 = fd;
		if (dp->port == 0) {
			union fz_sockaddr sa;
			socklen_t sl = sizeof(sa);

			/* The first socket picks the port; the rest share it. */
			if (getsockname(fd, &sa.sa, &sl) != 0) {
				rc = -errno;
				goto fail;
			}
			dp->port = addr_port(&sa.sa);
		}
		fd = udp_socket(AF_INET6, dp->port, i);
		if (fd < 0 && fd != -EAFNOSUPPORT) {
			rc = fd;
			goto fail;
		}
		w->udp6 = fd;
		w->tunbuf = malloc((size_t)TUN_BATCH * TUN_BUF);
		w->out = malloc((size_t)GROUPS * GROUP_SIZE);
		w->rx = malloc((size_t)RECV_MSGS * RECV_SIZE);
		bool co_ok = true;
		w->co.flush = co_write;
		w->co.arg = w;
		/* UDP coalescing needs the TUN to accept USO (FZ_NO_USO off). */
		w->co.uso = (tun->offloads & (TUN_F_USO4 | TUN_F_USO6)) ==
		    (TUN_F_USO4 | TUN_F_USO6) && getenv("FZ_NO_USO") == NULL;
		for (int j = 0; j < OFF_CO_SLOTS; j++)
			if ((w->co.slot[j].buf = malloc(OFF_CO_MAX)) == NULL)
				co_ok = false;
		if (w->tunbuf == NULL || w->out == NULL || w->rx == NULL ||
		    !co_ok) {
			rc = -ENOMEM;
			goto fail;
		}
		if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
			rc = -errno;
			goto fail;
		}
		{
			int fds[4] = { w->tunfd, w->udp4, w->udp6, dp->stopfd };
			int j;

			for (j = 0; j < 4; j++) {
				struct epoll_event ev = { .events = EPOLLIN };

				if (fds[j] < 0)
					continue;
				ev.data.fd = fds[j];
				if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fds[j],
				    &ev) != 0) {
					rc = -errno;
					goto fail;
				}
			}
		}
	}
	*out = dp;
	return 0;
fail:
	dp_free(dp);
	return rc;
}

int
dp_start(struct dp *dp)
{
	int i, rc;

	for (i = 0; i < dp->nworkers; i++) {
		if ((rc = pthread_create(&dp->w[i].th, NULL, worker_main,
		    &dp->w[i])) != 0)
			return -rc;
		dp->w[i].started = true;
	}
	if ((rc = pthread_create(&dp->timer, NULL, timer_main, dp)) != 0)
		return -rc;
	dp->timer_started = true;
	if ((rc = pthread_create(&dp->hs_th, NULL, hs_main, dp)) != 0)
		return -rc;
	dp->hs_started = true;
	/* Its setpriority before the caller's sandbox. */
	while (!atomic_load(&dp->hs_ready)) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
	return 0;
}

void
dp_free(struct dp *dp)
{
	int i;

	if (dp == NULL)
		return;
	if (dp->stopfd >= 0) {
		uint64_t one = 1;

		if (write(dp->stopfd, &one, sizeof(one)) < 0)
			log_warn("stopping workers");
	}
	for (i = 0; i < dp->nworkers && dp->w != NULL; i++)
		if (dp->w[i].started)
			pthread_join(dp->w[i].th, NULL);
	if (dp->timer_started)
		pthread_join(dp->timer, NULL);
	hsq_stop(&dp->hsq);
	if (dp->hs_started)
		pthread_join(dp->hs_th, NULL);
	hsq_destroy(&dp->hsq);
	ratelimiter_free(dp->hs_rl);
	/* Each dp_peer goes with its wg_peer (dp_peer_free). */
	for (i = 0; i < dp->nworkers && dp->w != NULL; i++) {
		struct worker *w = &dp->w[i];

		if (w->udp4 >= 0)
			close(w->udp4);
		if (w->udp6 >= 0)
			close(w->udp6);
		if (w->ep >= 0)
			close(w->ep);
		free(w->tunbuf);
		free(w->out);
		free(w->rx);
		for (int j = 0; j < OFF_CO_SLOTS; j++)
			free(w->co.slot[j].buf);
	}
	free(dp->w);
	if (dp->stopfd >= 0)
		close(dp->stopfd);
	if (dp->wakefd >= 0)
		close(dp->wakefd);
	if (dp->stunfd >= 0)
		close(dp->stunfd);
	if (dp->wantedfd >= 0)
		close(dp->wantedfd);
	if (dp->dnsfd >= 0)
		close(dp->dnsfd);
	dp_stunq_destroy(&dp->dnsq);
	dp_wanted_destroy(&dp->wanted);
	dp_stunq_destroy(&dp->stunq);
	dp_chans_destroy(&dp->chans);
	allowedips_free(dp->aip);
	dp_filter_free(dp);
	dpr_free(dp);
	dp_p2p_free(dp);
	dp_dnsnat_free(dp);
	pthread_mutex_destroy(&dp->peers_lock);
	pthread_mutex_destroy(&dp->held.lock);
	free(dp);
}

uint16_t
dp_port(const struct dp *dp)
{
	return dp->port;
}

struct allowedips *
dp_allowedips(struct dp *dp)
{
	return dp->aip;
}

struct wg_device *
dp_device(struct dp *dp)
{
	return dp->dev;
}

int
dp_peer_add(struct dp *dp, const uint8_t pub[WG_KEY_LEN], struct wg_peer **out)
{
	struct dp_peer *d;
	struct wg_peer *p;
	int rc;

	if ((d = aligned_alloc(64, DP_PEER_SIZE)) == NULL)
		return -ENOMEM;
	memset(d, 0, DP_PEER_SIZE);
	pthread_mutex_init(&d->qlock, NULL);
	pthread_mutex_lock(&dp->peers_lock);
	if ((rc = wg_peer_add(dp->dev, pub, &p)) != 0) {
		pthread_mutex_unlock(&dp->peers_lock);
		pthread_mutex_destroy(&d->qlock);
		free(d);
		return rc;
	}
	d->wg = p;
	wg_peer_set_cookie(p, d, dp_peer_free);
	pthread_mutex_unlock(&dp->peers_lock);
	*out = p;
	return 0;
}

void
dp_peer_remove(struct dp *dp, struct wg_peer *p)
{
	struct dp_peer *d = dpp(p);

	pthread_mutex_lock(&dp->peers_lock);
	dp_chans_remove_peer(&dp->chans, p);
	if (d != NULL) {
		allowedips_remove_set(dp->aip, &d->aips);
		tx_stage_drop(dp, p);
	}
	dpr_forget(dp, p);
	/* Unlinked now; p and d are freed once no worker can hold them. */
	wg_peer_remove(dp->dev, p);
	pthread_mutex_unlock(&dp->peers_lock);
}

int
dp_peer_allow(struct dp *dp, struct wg_peer *p, const struct fz_cidr *c)
{
	struct dp_peer *d = dpp(p);

	if (d == NULL)
		return -EINVAL;
	return allowedips_insert(dp->aip, c, p, &d->aips);
}

void
dp_peer_clear_allowed(struct dp *dp, struct wg_peer *p)
{
	struct dp_peer *d = dpp(p);

	if (d != NULL)
		allowedips_remove_set(dp->aip, &d->aips);
}

void
dp_peer_walk_allowed(struct dp *dp, struct wg_peer *p,
    void (*fn)(const struct fz_cidr *, void *), void *arg)
{
	struct dp_peer *d = dpp(p);

	if (d != NULL)
		allowedips_walk(dp->aip, &d->aips, fn, arg);
}

int
dp_relay_channel_add(struct dp *dp, const union fz_sockaddr *relay,
    uint16_t channel, struct wg_peer *p)
{
	union fz_sockaddr r = *relay;

	addr_unmap_v4(&r);		/* as sources are compared */
	return dp_chans_add(&dp->chans, &r, channel, p);
}

int
dp_relay_channel_remove(struct dp *dp, const union fz_sockaddr *relay,
    uint16_t channel)
{
	union fz_sockaddr r = *relay;

	addr_unmap_v4(&r);
	return dp_chans_remove(&dp->chans, &r, channel);
}

int
dp_stun_enable(struct dp *dp, int *fd)
{
	int rc;

	if (!atomic_load(&dp->stun_on)) {
		if ((rc = dp_stunq_init(&dp->stunq, DP_STUN_QUEUE)) != 0)
			return rc;
		/* The workers see the queue only once it is whole. */
		atomic_store_explicit(&dp->stun_on, true,
		    memory_order_release);
	}
	*fd = dp->stunfd;
	return 0;
}

bool
dp_stun_take(struct dp *dp, struct dp_stun *out)
{
	if (!atomic_load_explicit(&dp->stun_on, memory_order_acquire))
		return false;
	return dp_stunq_pop(&dp->stunq, out);
}

int
dp_wanted_enable(struct dp *dp, int *fd)
{
	atomic_store_explicit(&dp->wanted_on, true, memory_order_release);
	*fd = dp->wantedfd;
	return 0;
}

bool
dp_wanted_take(struct dp *dp, int *family, uint8_t addr[16])
{
	return dp_wanted_pop(&dp->wanted, family, addr);
}

/* A held packet whose destination a peer now covers: staged for it. */
static bool
wanted_take(void *arg, int family, const uint8_t *dst, const uint8_t *pkt,
    size_t len)
{
	struct dp *dp = arg;
	struct wg_peer *p = allowedips_lookup(dp->aip, family, dst);

	if (p == NULL)
		return false;
	if (!proxymap_in_range(family == AF_INET6, dst) ||
	    !dpr_held(dp, p, family == AF_INET6, dst, pkt, len))
		tx_stage(dp, p, pkt, len);
	return true;
}

size_t
dp_wanted_release_all(struct dp *dp)
{
	size_t n;

	wg_read_lock();
	n = dp_wanted_release(&dp->wanted, wanted_take, dp);
	wg_read_unlock();
	return n;
}

size_t
dp_held_init_retry(struct dp *dp)
{
	struct dp_held_init *h = &dp->held;
	uint64_t now = time_mono_ns();
	uint8_t msg[WG_INITIATION_LEN];
	union fz_sockaddr src;
	struct relayed via;
	uint64_t at;
	size_t n = 0;
	uint16_t ch;
	unsigned i;
	int fd;

	atomic_fetch_add(&h->gen, 1);	/* before looking: held_gen_check */
	wg_read_lock();
	for (i = 0; i < DP_HELD_INIT; i++) {
		pthread_mutex_lock(&h->lock);
		if (h->e[i].at == 0 ||
		    h->e[i].at + DP_HELD_INIT_MS * 1000000ull < now) {
			h->e[i].at = 0;
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		at = h->e[i].at;
		fd = h->e[i].fd;
		src = h->e[i].src;
		ch = h->e[i].channel;
		memcpy(msg, h->e[i].msg, sizeof(msg));
		h->e[i].at = 0;
		pthread_mutex_unlock(&h->lock);
		memset(&via, 0, sizeof(via));
		via.channel = ch;
		if (ch != 0 && (via.peer = dp_chans_lookup(&dp->chans, &src,
		    ch)) == NULL) {
			hold_initiation(dp, fd, msg, sizeof(msg), &src, ch, at);
			continue;
		}
		switch (handshake_msg(dp, NULL, fd, msg, sizeof(msg), &src,
		    ch != 0 ? &via : NULL)) {
		case 0:
			n++;
			break;
		case -ENOENT:	/* another peer's, maybe set next */
			hold_initiation(dp, fd, msg, sizeof(msg), &src, ch, at);
			break;
		default:
			break;
		}
	}
	wg_read_unlock();
	return n;
}

/*
 * The path fz-controld chose for p: direct to remote (channel 0), or
 * through relay on channel; the old channel bindings keep receiving for
 * DP_CHAN_RETIRE_MS (a handshake reply or the last data the peer sent
 * before it saw the change is still on its way through them), the new
 * one is registered.  Sessions stay (roaming).
 */
int
dp_peer_set_path(struct dp *dp, struct wg_peer *p,
    const union fz_sockaddr *to, uint16_t channel)
{
	union fz_sockaddr r = *to;
	int rc = 0;

	addr_unmap_v4(&r);
	if (channel != 0 && (channel < DP_CHANNEL_MIN ||
	    channel > DP_CHANNEL_MAX))
		return -EINVAL;
	pthread_mutex_lock(&dp->peers_lock);
	dp_chans_retire_peer(&dp->chans, p, time_mono_ns() +
	    DP_CHAN_RETIRE_MS * 1000000ull);
	if (channel != 0)
		rc = dp_chans_add(&dp->chans, &r, channel, p);
	if (rc == 0)
		wg_peer_set_path(p, &r, channel);
	pthread_mutex_unlock(&dp->peers_lock);
	return rc;
}

/*
 * A datagram from fz-controld (STUN, TURN) out of the data plane's socket
 * of family sock (DP_SOCK_UDP4 / DP_SOCK_UDP6): -EBADF without that
 * socket, -EAFNOSUPPORT when to is of the other family, else what sendto
 * said.
 */
int
dp_send_dgram(struct dp *dp, uint32_t sock, const union fz_sockaddr *to,
    const uint8_t *p, size_t len)
{
	int fd;

	if (dp->nworkers < 1)
		return -EBADF;
	fd = sock == DP_SOCK_UDP4 ? dp->w[0].udp4 : sock == DP_SOCK_UDP6 ?
	    dp->w[0].udp6 : -1;
	if (fd < 0)
		return -EBADF;
	if (to->sa.sa_family != (sock == DP_SOCK_UDP4 ? AF_INET : AF_INET6))
		return -EAFNOSUPPORT;
	if (sendto(fd, p, len, 0, &to->sa, addr_len(&to->sa)) < 0)
		return -errno;
	return 0;
}

bool
dp_has_sock(const struct dp *dp, uint32_t sock)
{
	if (dp->nworkers < 1)
		return false;
	return sock == DP_SOCK_UDP4 ? dp->w[0].udp4 >= 0 :
	    sock == DP_SOCK_UDP6 ? dp->w[0].udp6 >= 0 : false;
}

/* --- DNS to the sentinels (dnspkt.h) --- */

int
dp_dns_enable(struct dp *dp, int *fd)
{
	int rc;

	if (!atomic_load(&dp->dns_on)) {
		if ((dp->dnsfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			return -errno;
		if ((rc = dp_stunq_init(&dp->dnsq, DP_STUN_QUEUE)) != 0)
			return rc;
		atomic_store_explicit(&dp->dns_on, true, memory_order_release);
	}
	*fd = dp->dnsfd;
	return 0;
}

bool
dp_dns_take(struct dp *dp, struct dp_stun *out)
{
	if (!atomic_load_explicit(&dp->dns_on, memory_order_acquire))
		return false;
	return dp_stunq_pop(&dp->dnsq, out);
}

/* A worker's packet to a sentinel: queued if it is a query, else dropped. */
bool
dp_dns_intercept(struct dp *dp, int family, const uint8_t *dst,
    const uint8_t *pkt, size_t len)
{
	union fz_sockaddr from, to;
	struct dnspkt_tcp tcp;
	const uint8_t *q;
	size_t qlen;
	uint64_t one = 1;

	if (!atomic_load_explicit(&dp->dns_on, memory_order_acquire) ||
	    !dnspkt_is_sentinel(family, dst))
		return false;
	if (dnspkt_parse_tcp(pkt, len, &tcp) == 0) {	/* DNS over TCP */
		memset(&from, 0, sizeof(from));
		if (!dp_stunq_push(&dp->dnsq, DP_SOCK_DNS_TCP, &from, &from,
		    pkt, off_ip_len(pkt, len))) {
			count(dp, DP_DROP_BAD_PACKET, 1);
			return true;
		}
		goto wake;
	}
	if (dnspkt_parse(pkt, len, &from, &to, &q, &qlen) != 0 ||
	    !dp_stunq_push(&dp->dnsq, DP_SOCK_DNS, &from, &to, q, qlen)) {
		count(dp, DP_DROP_BAD_PACKET, 1);
		return true;
	}
wake:
	if (write(dp->dnsfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the reader is awake anyway */
	}
	return true;
}

int
dp_tun_inject(struct dp *dp, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2];

	memset(&vh, 0, sizeof(vh));
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = (void *)pkt;
	iov[1].iov_len = len;
	if (writev(dp->tun->fds[0], iov, 2) < 0) {
		count(dp, DP_DROP_TUN_WRITE, 1);
		return -errno;
	}
	return 0;
}

int
dp_set_fwmark(struct dp *dp, uint32_t mark)
{
	int i;

	for (i = 0; i < dp->nworkers; i++) {
		const int fd[2] = { dp->w[i].udp4, dp->w[i].udp6 };

		for (int j = 0; j < 2; j++)
			if (fd[j] >= 0 && setsockopt(fd[j], SOL_SOCKET,
			    SO_MARK, &mark, sizeof(mark)) != 0)
				return -errno;
	}
	return 0;
}
