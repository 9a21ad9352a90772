/* SPDX-License-Identifier: ISC */
/*
 * dp_p2p.h: control packets decrypted from peers, queued for the main
 * loop (or, on a client, domain_status handed to the client hook), and
 * control packets from the main loop staged for a peer.
 */
#define LOG_MODULE "dataplane"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_impl.h"
#include "dp_p2p.h"

struct dp_p2p {
	enum dp_p2p_mode	 mode;
	int			 fd;		/* eventfd: packets wait */
	pthread_mutex_t		 lock;
	struct dp_p2p_up	*ring;
	unsigned		 head, n;
	_Atomic(dp_p2p_client_hook) hook;
	void			*hook_arg;
	_Atomic uint64_t	 ctr[DP_P2P_COUNTERS];
};

static const char *const names[DP_P2P_COUNTERS] = {
	"p2p_up", "drop_p2p_queue_full", "drop_p2p_off", "drop_p2p_no_hook",
	"p2p_hooked", "p2p_down",
};

static struct dp_p2p *
p2p_of(const struct dp *dp)
{
	return atomic_load_explicit(&((struct dp *)dp)->p2p,
	    memory_order_acquire);
}

static void
bump(struct dp_p2p *q, enum dp_p2p_counter c)
{
	atomic_fetch_add_explicit(&q->ctr[c], 1, memory_order_relaxed);
}

int
dp_p2p_enable(struct dp *dp, enum dp_p2p_mode mode, int *fd)
{
	struct dp_p2p *q = p2p_of(dp), *expect = NULL;

	if (q != NULL) {
		if (q->mode != mode)
			return -EEXIST;
		*fd = q->fd;
		return 0;
	}
	if (mode != DP_P2P_GATEWAY && mode != DP_P2P_CLIENT)
		return -EINVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	if ((q->ring = calloc(DP_P2P_QUEUE, sizeof(*q->ring))) == NULL) {
		free(q);
		return -ENOMEM;
	}
	if ((q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		int rc = -errno;

		free(q->ring);
		free(q);
		return rc;
	}
	q->mode = mode;
	pthread_mutex_init(&q->lock, NULL);
	if (!atomic_compare_exchange_strong(&dp->p2p, &expect, q)) {
		pthread_mutex_destroy(&q->lock);
		close(q->fd);
		free(q->ring);
		free(q);
		if (expect->mode != mode)
			return -EEXIST;
		q = expect;
	}
	*fd = q->fd;
	return 0;
}

void
dp_p2p_set_client_hook(struct dp *dp, dp_p2p_client_hook fn, void *arg)
{
	struct dp_p2p *q = p2p_of(dp);

	if (q == NULL)
		return;
	q->hook_arg = arg;
	atomic_store_explicit(&q->hook, fn, memory_order_release);
}

static bool
push(struct dp_p2p *q, struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	struct dp_p2p_up *e;

	pthread_mutex_lock(&q->lock);
	if (q->n == DP_P2P_QUEUE) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	e = &q->ring[(q->head + q->n) % DP_P2P_QUEUE];
	wg_peer_public_key(p, e->pub);
	e->len = len;
	memcpy(e->pkt, pkt, len);
	q->n++;
	pthread_mutex_unlock(&q->lock);
	return true;
}

void
dp_p2p_in(struct worker *w, struct wg_peer *p, const uint8_t *pkt,
    size_t len)
{
	struct dp_p2p *q = p2p_of(w->dp);
	dp_p2p_client_hook hook;
	uint64_t one = 1;

	if (q == NULL) {
		/* Nobody counts them in struct dp: a static-mode tunnel. */
		count(w->dp, DP_DROP_BAD_PACKET, 1);
		return;
	}
	/* Header byte 0 of the body: the type (p2p.h); parsed later. */
	if (q->mode == DP_P2P_CLIENT && len > P2P_IP6_HLEN &&
	    pkt[P2P_IP6_HLEN] == P2P_DOMAIN_STATUS) {
		hook = atomic_load_explicit(&q->hook, memory_order_acquire);
		if (hook == NULL) {
			bump(q, DP_P2P_DROP_NO_HOOK);
			return;
		}
		bump(q, DP_P2P_HOOKED);
		hook(q->hook_arg, w, p, pkt, len);
		return;
	}
	if (len > P2P_MAX_PKT || !push(q, p, pkt, len)) {
		bump(q, DP_P2P_DROP_FULL);
		return;
	}
	bump(q, DP_P2P_UP);
	if (write(q->fd, &one, sizeof(one)) < 0) {
		/* the counter saturating is harmless */
	}
}

bool
dp_p2p_take(struct dp *dp, struct dp_p2p_up *out)
{
	struct dp_p2p *q = p2p_of(dp);
	bool got = false;

	if (q == NULL)
		return false;
	pthread_mutex_lock(&q->lock);
	if (q->n > 0) {
		*out = q->ring[q->head];
		q->head = (q->head + 1) % DP_P2P_QUEUE;
		q->n--;
		got = true;
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

/* Encrypted and sent at once, when p has a session; -EAGAIN otherwise. */
static int
send_now(struct dp *dp, struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	uint8_t buf[4 + WG_SEALED_LEN(P2P_MAX_PKT)];
	struct wg_keypair *k;
	struct tx_path path;
	size_t hdr, out;
	int fd, rc;

	if (dp->nworkers < 1 || !wg_peer_path(p, &path.to, &path.chan))
		return -EAGAIN;
	if ((k = wg_peer_send_keypair(p)) == NULL)
		return -EAGAIN;
	hdr = TX_HDR(&path);
	memcpy(buf + hdr + WG_DATA_HDR_LEN, pkt, len);
	rc = wg_encrypt(k, buf + hdr, len, sizeof(buf) - hdr, &out);
	wg_keypair_put(k);
	if (rc != 0)
		return rc;
	if (hdr != 0)
		tx_channel_header(buf, path.chan, out);
	fd = path.to.sa.sa_family == AF_INET6 ? dp->w[0].udp6 : dp->w[0].udp4;
	if (fd < 0 || sendto(fd, buf, hdr + out, 0, &path.to.sa,
	    addr_len(&path.to.sa)) < 0) {
		count(dp, DP_DROP_SEND, 1);
		return 0;		/* lost like any datagram */
	}
	wg_peer_data_sent(p, hdr + out, false);
	return 0;
}

/*
 * From the thread that adds and removes peers (wg.h: its wg_peer_find
 * pointers stay valid): encrypted and sent now when a session exists (so
 * a goodbye leaves before the peer's removal), else staged like a packet
 * waiting for a session (the timer thread sends it after the handshake).
 */
int
dp_p2p_send(struct dp *dp, const uint8_t pub[WG_KEY_LEN], const uint8_t *pkt,
    size_t len)
{
	struct dp_p2p *q = p2p_of(dp);
	struct wg_peer *p;
	int rc;

	if (q == NULL)
		return -ENOTCONN;
	if (len > P2P_MAX_PKT)
		return -EMSGSIZE;
	if ((p = wg_peer_find(dp->dev, pub)) == NULL)
		return -ENOENT;
	wg_read_lock();
	rc = send_now(dp, p, pkt, len);
	wg_read_unlock();
	if (rc == -EAGAIN)
		tx_stage(dp, p, pkt, len);
	else if (rc != 0)
		return rc;
	bump(q, DP_P2P_DOWN);
	return 0;
}

uint64_t
dp_p2p_counter(const struct dp *dp, enum dp_p2p_counter c)
{
	struct dp_p2p *q = p2p_of(dp);

	if (q == NULL || (unsigned)c >= DP_P2P_COUNTERS)
		return 0;
	return atomic_load_explicit(&q->ctr[c], memory_order_relaxed);
}

const char *
dp_p2p_counter_name(enum dp_p2p_counter c)
{
	return (unsigned)c < DP_P2P_COUNTERS ? names[c] : "?";
}

void
dp_p2p_free(struct dp *dp)
{
	struct dp_p2p *q = p2p_of(dp);

	if (q == NULL)
		return;
	atomic_store(&dp->p2p, NULL);
	pthread_mutex_destroy(&q->lock);
	close(q->fd);
	free(q->ring);
	free(q);
}
