/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * TCP MSS clamping (RFC 879, RFC 6691): lowering the MSS a SYN announces
 * so that the peer's segments fit the path through the tunnel, for hosts
 * behind a firewall that eats ICMP Fragmentation Needed.
 */
#ifndef ESPD_MSS_H
#define ESPD_MSS_H

#include <stdint.h>

/**
 * If the IP packet at @p ip (@p len bytes; IPv4, or IPv6 with extension
 * headers walked) is a TCP segment with SYN set (SYN-ACK included) whose
 * MSS option is above @p mss, lower it to @p mss and update the TCP
 * checksum incrementally (RFC 1624). A SYN without an MSS option is left
 * alone (none is inserted), as is a fragment. The options are checked
 * whole before anything is written.
 * @return 1 changed, 0 unchanged, -1 malformed (an IP header or TCP
 * option running past the packet, a bad data offset, an MSS option whose
 * length is not 4).
 */
int tcp_mss_clamp(uint8_t *ip, uint32_t len, uint16_t mss);

#endif /* ESPD_MSS_H */
