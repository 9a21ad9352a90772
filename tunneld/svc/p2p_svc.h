/* SPDX-License-Identifier: ISC */
/*
 * The p2p control protocol between the data plane (dp_p2p.h) and
 * fz-controld (ipc_msg.def P2P_UP / P2P_DOWN): control packets decrypted
 * from peers go up (dropped and counted without a DGRAM channel, while
 * signed out, or when the channel is full); P2P_DOWN is checked with
 * p2p_parse and encrypted to its peer.  On a gateway also DNSNAT_SET and
 * PEER_GOODBYE, and a once-a-second sweep: NAT sessions expire
 * (dnsnat_expire), a client without access loses its NAT state.
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
/*
 * DNSNAT_SET (a gateway's): the client's NAT installed (dp_dnsnat.h), its
 * proxy and real IPs made the access's prefixes (filter.h), then the
 * domain_status encrypted to its peer.  0 (applied or logged), -EINVAL
 * for a message that does not parse or not on a gateway (a violation).
 */
int	svc_dnsnat_set(struct svc *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* PEER_GOODBYE: a goodbye encrypted to the peer now; -EINVAL bad key. */
int	svc_peer_goodbye(struct svc *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* Control packets not passed up / not sent down. */
uint64_t svc_p2p_dropped(void);

#endif
