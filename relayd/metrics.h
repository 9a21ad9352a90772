/* SPDX-License-Identifier: ISC */
/*
 * The relay's HTTP endpoint on its own thread: GET /metrics (Prometheus
 * text), GET /healthz, and POST /log_filter?directives=SPEC to change the
 * log filter at runtime (400 if invalid), as Firezone's relay offers.
 */
#ifndef FZ_RELAY_METRICS_H
#define FZ_RELAY_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "addr.h"
#include "turn_shared.h"

struct relay;

struct metrics_gauges {
	_Atomic unsigned	allocations, channels, permissions;
	_Atomic uint64_t	xdp_packets, xdp_bytes;	/* the XDP path */
	_Atomic uint64_t	xdp_outcome[FZ_XS_COUNT];
	_Atomic bool		xdp;			/* attached */
};

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
