/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The exception path, on lcore 0: what the workers hand over because it
 * is the gateway's own business, not forwarding.
 *
 * - Frames for the gateway (GW_EXC_LOCAL): ARP and ND are answered and
 *   learned from (control/neigh.h), and copied to the port's TAP; echo
 *   requests are answered; everything else (IKE, TCP, UDP, other ICMP)
 *   goes to the TAP, or without one is dropped (TapDropped); fragments
 *   are put together first; a Packet Too Big about our own ESP over IPv6
 *   lowers that SA's path MTU (and is not the kernel's). IKE on UDP
 *   500 to one of our addresses is counted IkePunted here, either way
 *   (IKE on 4500, behind the non-ESP marker, the worker counts).
 * - Packets waiting for a neighbour (GW_EXC_RESOLVE).
 * - ICMP errors a worker asked for (GW_EXC_ICMP): built here, at most
 *   `set icmp-ratelimit` per second (0: no limit), from the address of
 *   the port the packet came in on, or for a packet that came out of an
 *   SA, the address of the port it was going out of, so the error goes
 *   back through the tunnel.
 * - Frames the kernel sends out of a TAP: out of the port as they are,
 *   without the SPD.
 *
 * The gateway's own IP packets (echo replies, errors) go through
 * gw_local_out() on lcore 0's own worker context (pub->w0), the outbound
 * walk every forwarded packet takes.
 *
 * Layer: beside events (above stats and publish, below the socket).
 */
#ifndef ESPD_EXC_H
#define ESPD_EXC_H

#include "control/publish.h"

struct exc;

/** @return NULL on ENOMEM. */
struct exc *exc_new(struct pub *p);

/** Drain the workers' exception rings and the TAPs, run the neighbour
 *  timers, send what lcore 0 has buffered. @return work done (0: idle). */
unsigned int exc_poll(struct exc *x);

/** Drop the fragments for the gateway still waiting for the rest of
 *  their packet, counted ReassemblyFailed (at exit; the fuzzer, after
 *  each input). */
void exc_drop_fragments(struct exc *x);

/** Free (what is still queued is dropped and counted). */
void exc_free(struct exc *x);

#endif /* ESPD_EXC_H */
