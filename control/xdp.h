/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * `port ... xdp-steer` (DESIGN.md "AF_XDP ports: xdp-steer"): espd's XDP
 * program on the kernel interface behind a net_af_xdp port, attached
 * through libxdp's dispatcher so other XDP programs can share the
 * interface, and its maps kept equal to the model.
 *
 * How the net_af_xdp PMD of DPDK 22.11 comes to use the program's XSK
 * map: the PMD creates its AF_XDP sockets when a queue is set up, through
 * libxdp's xsk_socket__create(), which looks among the dispatcher's
 * programs for one called xsk_def_prog and puts the socket into its
 * "xsks_map" (see dataplane/xdp/steer.bpf.c). So xdp_port_attach() must
 * run between the EAL's probe and rte_eth_rx_queue_setup().
 *
 * Layer: publish (with publish.h). Control plane (lcore 0) only.
 */
#ifndef ESPD_XDP_H
#define ESPD_XDP_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct pub;
struct xdp_port;

/**
 * Attach the steering program to port @p port's interface: after the
 * EAL's probe, before its queues are set up. First removes a program a
 * crashed espd left there. The object is @p obj, or the one built with
 * espd when NULL. On failure prints one line (the port, the cause, the
 * fix) and @return -errno.
 */
int xdp_port_attach(struct pub *p, uint16_t port, const struct cfg_port *cp,
		    const char *obj);

/** Fill every attached port's maps from the model (addresses, transit
 *  prefixes, encap ports) and enable steering. @return 0 or -errno. */
int xdp_sync(struct pub *p);

/** A local `encap espinudp` port came (@p add) or went. */
void xdp_encap_port(struct pub *p, uint16_t udp_port, bool add);

struct gw_neigh_key;
struct rte_ether_addr;

/**
 * On an xdp-steer port ARP and ND are the kernel's (its interface has the
 * port's addresses and answers for them), so espd resolves next hops
 * through the kernel's neighbour table instead of on the wire.
 * @return 1 with @p mac when the kernel has @p k (reachable, or any
 * usable state unless @p fresh); 0 when it has not, after asking it to
 * resolve (or, with @p fresh, to confirm) it; -ENOTSUP when @p k's port
 * is not an xdp-steer port; another -errno on a netlink failure.
 */
int xdp_neigh_ask(struct pub *p, const struct gw_neigh_key *k, bool fresh,
		  struct rte_ether_addr *mac);

/** Detach every port's program (idempotent; also on error paths). */
void xdp_detach_all(struct pub *p);

/** The default object path, for messages. */
const char *xdp_default_obj(void);

#endif /* ESPD_XDP_H */
