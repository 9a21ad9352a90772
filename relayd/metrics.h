/* SPDX-License-Identifier: ISC */
/*
 * The relay's HTTP endpoint on its own thread: GET /metrics (Prometheus
 * text), GET /healthz (always 200), GET /readyz (200 with the version as
 * body when joined to the portal or when no portal is configured, else
 * 503), and POST /log_filter?directives=SPEC to change the log filter at
 * runtime (400 if invalid), as Firezone's relay offers.
 */
#ifndef FZ_RELAY_METRICS_H
#define FZ_RELAY_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "addr.h"
#include "turn_shared.h"

struct relay;

/* The portal connection, as /readyz and the metrics report it. */
enum metrics_portal {
	MP_NONE,		/* no portal configured: ready */
	MP_CONNECTING,		/* not joined yet: not ready */
	MP_JOINED,		/* ready */
	MP_RECONNECTING,	/* was joined, lost it: not ready */
	MP_COUNT
};

struct metrics_gauges {
	_Atomic unsigned	allocations, channels, permissions;
	_Atomic uint64_t	xdp_packets, xdp_bytes;	/* the XDP path */
	_Atomic uint64_t	xdp_outcome[FZ_XS_COUNT];
	_Atomic bool		xdp;			/* attached */
	_Atomic int		portal;			/* enum metrics_portal */
	_Atomic uint64_t	portal_joins;		/* joins so far */
};

const char *metrics_portal_name(enum metrics_portal);

struct metrics;

/*
 * Binds the listener (before the privilege drop); metrics_run then serves
 * it on a thread of its own (after the drop, so the thread is born with
 * the dropped credentials: capabilities are per thread).
 */
int	metrics_start(const union fz_sockaddr *, struct relay *,
	    struct metrics_gauges *, struct metrics **) FZ_WUR;
int	metrics_run(struct metrics *) FZ_WUR;
void	metrics_stop(struct metrics *);
/* The port actually bound (for ADDR:0). */
uint16_t metrics_port(const struct metrics *);

#endif
