/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The layout of the steering program's maps (steer.bpf.c), shared with
 * espd, which fills them (control/xdp.c). Keys and values are as the
 * program reads them: IPv4 addresses in network order, UDP ports in host
 * order.
 */
#ifndef ESPD_XDP_STEER_MAPS_H
#define ESPD_XDP_STEER_MAPS_H

#include <linux/types.h>

#define STEER_QUEUES_MAX 64     /**< xsks_map: one socket per RX queue */
#define STEER_ADDRS_MAX 64      /**< the port's addresses, per family */
#define STEER_ENCAP_MAX 1024    /**< local ports of `encap espinudp` */
#define STEER_PREFIXES_MAX 4096 /**< transit prefixes, per family */
/** Before libxdp's own xsk program (20), should one be there too: the
 *  dispatcher runs the lower number first. */
#define STEER_PRIORITY 10

/** An IPv6 address (espd_local6's key). */
struct steer_in6 {
	__u8 a[16];
};

/** espd_cfg[0]. */
struct steer_cfg {
	__u8 mac[6];     /**< the port's MAC: only unicast to it is ours */
	__u8 enabled;    /**< 0 until espd has filled the other maps */
	__u8 esp;        /**< an unprotected port: ESP to its addresses is espd's */
};

struct steer_lpm4 {
	__u32 prefixlen;
	__u32 addr;      /**< network order */
};

struct steer_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif /* ESPD_XDP_STEER_MAPS_H */
