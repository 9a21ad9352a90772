/* SPDX-License-Identifier: ISC */
/* p2p_svc.h: P2P_UP from the data plane's queue, P2P_DOWN into it. */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "dataplane.h"
#include "dp_p2p.h"
#include "p2p.h"
#include "p2p_svc.h"
#include "svc.h"

static struct event	*p2p_ev;	/* one service per process */
static uint64_t		 p2p_dropped, p2p_unsent;

static void
p2p_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	struct dp_p2p_up u;
	struct ipc_msg m;
	char pub64[45];
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* a wake-up for packets an earlier call took */
	}
	while (dp_p2p_take(s->dp, &u)) {
		if (s->dconn == NULL || s->state == SVC_SIGNED_OUT) {
			p2p_dropped++;
			continue;
		}
		wg_key_to_base64(u.pub, pub64);
		ipc_msg_init(&m, IPC_P2P_UP);
		m.u.p2p_up.public_key = pub64;
		m.u.p2p_up.packet = u.pkt;
		m.u.p2p_up.packet_len = (uint32_t)u.len;
		if (ipc_send(s->dconn, &m) != 0)
			p2p_dropped++;
	}
}

int
svc_p2p_start(struct svc *s)
{
	int fd, rc;

	if ((rc = dp_p2p_enable(s->dp, s->st.gateway ? DP_P2P_GATEWAY :
	    DP_P2P_CLIENT, &fd)) != 0)
		return rc;
	if ((p2p_ev = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    p2p_up_cb, s)) == NULL || event_add(p2p_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

void
svc_p2p_stop(void)
{
	if (p2p_ev != NULL)
		event_free(p2p_ev);
	p2p_ev = NULL;
	if (p2p_dropped + p2p_unsent > 0)
		log_info("p2p control packets: %" PRIu64 " not passed to "
		    "fz-controld, %" PRIu64 " not sent to a peer", p2p_dropped,
		    p2p_unsent);
}

int
svc_p2p_down(struct svc *s, const struct ipc_msg *m)
{
	const struct ipc_p2p_down *d = &m->u.p2p_down;
	uint8_t pub[WG_KEY_LEN];
	struct p2p_msg pm;
	int rc;

	if (wg_key_from_base64(d->public_key, pub) != 0 ||
	    p2p_parse(d->packet, d->packet_len, &pm) != 0)
		return -EINVAL;
	if (s->dp == NULL || (rc = dp_p2p_send(s->dp, pub, d->packet,
	    d->packet_len)) != 0) {
		p2p_unsent++;
		return 0;	/* the peer went meanwhile */
	}
	return 0;
}

uint64_t
svc_p2p_dropped(void)
{
	return p2p_dropped + p2p_unsent;
}
