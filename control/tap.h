/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * `port ... tap NAME`: a kernel TAP interface that mirrors a port (its
 * MAC, addresses and MTU), so that IKE daemons, sshd or routing daemons
 * bind to the gateway's addresses as on any Linux box. What espd does not
 * consume of the port's own traffic is written into it; what the kernel
 * sends out of it leaves through the port as it is.
 *
 * A plain /dev/net/tun device served by lcore 0 (DESIGN.md allows "DPDK's
 * net_tap or an equivalent exception path"): the exception path is
 * low-rate by nature, and a file descriptor polled by the control loop
 * needs no extra DPDK port, queue or lcore. Its addresses are set over
 * rtnetlink (IPv6 ones without DAD: they are espd's already).
 *
 * Layer: publish and ports. Non-blocking throughout.
 */
#ifndef ESPD_TAP_H
#define ESPD_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

struct tap {
	int fd;              /**< -1: none */
	int ifindex;
	char name[16];
};

/**
 * Create TAP @p cp->tap with MAC @p mac, MTU @p mtu and @p cp's
 * addresses, and set it up. @return 0 or -errno, with one line on stderr
 * naming the port, the cause and the fix.
 */
int tap_create(struct tap *t, const struct cfg_port *cp, const uint8_t mac[6], uint16_t mtu);

/** Remove the interface (closing the last descriptor deletes it). */
void tap_close(struct tap *t);

/** One frame from the kernel into @p buf. @return its length, 0 when
 *  none is waiting, -1 on an error or a frame longer than @p len (it is
 *  lost; the caller counts and goes on). */
ssize_t tap_read(struct tap *t, void *buf, size_t len);

/** One frame to the kernel. @return 0, or -1 when it did not take it. */
int tap_write(struct tap *t, const void *frame, size_t len);

#endif /* ESPD_TAP_H */
