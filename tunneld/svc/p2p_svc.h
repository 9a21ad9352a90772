/* SPDX-License-Identifier: ISC */
/*
 * The p2p control protocol between the data plane (dp_p2p.h) and
 * fz-controld (ipc_msg.def P2P_UP / P2P_DOWN): control packets decrypted
 * from peers go up (dropped and counted without a DGRAM channel, while
 * signed out, or when the channel is full); P2P_DOWN is checked with
 * p2p_parse and encrypted to its peer.
 */
#ifndef FZ_SVC_P2P_H
#define FZ_SVC_P2P_H

#include <stdint.h>

struct svc;
struct ipc_msg;

/* The data plane's queue on (gateway or client mode) and its reader. */
int	svc_p2p_start(struct svc *) __attribute__((warn_unused_result));
void	svc_p2p_stop(void);
/*
 * P2P_DOWN: 0 (sent, or counted as not sent: no such peer any more),
 * -EINVAL for a key or packet that does not parse (a violation).
 */
int	svc_p2p_down(struct svc *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* Control packets not passed up / not sent down. */
uint64_t svc_p2p_dropped(void);

#endif
