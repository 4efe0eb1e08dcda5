/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * ICMP errors a router sends (RFC 792, RFC 1812 4.3, RFC 4443) and echo
 * replies. Pure packet building blocks: no state, no rate limit (the
 * caller keeps the token bucket), no routing. Every function reads only
 * the @p len bytes it is given, so any input is safe to hand it.
 */
#ifndef ESPD_ICMP_H
#define ESPD_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

/** The errors this gateway sends. */
enum icmp_err_kind {
	/** v4: Time Exceeded (11) code 0; v6: Time Exceeded (3) code 0. */
	ICMP_ERR_TTL,
	/** v4: Destination Unreachable (3) code 4 with the next-hop MTU
	 *  (RFC 1191); v6: Packet Too Big (2) with the MTU (RFC 8201). */
	ICMP_ERR_FRAG_NEEDED,
	/** v4: Destination Unreachable (3) code 1 (host); v6: Destination
	 *  Unreachable (1) code 3 (address): the neighbour did not answer. */
	ICMP_ERR_UNREACH_HOST,
	/** v4: Destination Unreachable (3) code 0 (net); v6: Destination
	 *  Unreachable (1) code 0 (no route): RFC 1812 5.2.7.1, RFC 4443 3.1. */
	ICMP_ERR_UNREACH_NET,
	ICMP_ERR__MAX,
};

#define ICMP4_ERR_MAX 576  /**< RFC 1812 4.3.2.3: an ICMPv4 error's size at most */
#define ICMP6_ERR_MAX 1280 /**< RFC 4443 2.4(c): an ICMPv6 error's size at most */
#define ICMP_TTL 64        /**< TTL / hop limit of what we originate */

/**
 * The ICMPv6 checksum (RFC 4443 2.3) of the @p l4_len bytes at @p l4,
 * with the pseudo-header (RFC 8200 8.1) of the IPv6 header at @p ip: the
 * value to store in the checksum field while it holds 0, or 0 when the
 * message with its checksum in place is correct.
 */
static inline uint16_t
icmp6_cksum(const uint8_t *ip, const void *l4, uint32_t l4_len)
{
	const uint32_t ph[2] = {
		rte_cpu_to_be_32(l4_len),
		rte_cpu_to_be_32(IPPROTO_ICMPV6),
	};
	uint32_t sum;

	sum = __rte_raw_cksum(ip + 8, 32, 0); /* source and destination */
	sum = __rte_raw_cksum(ph, sizeof(ph), sum);
	sum = __rte_raw_cksum(l4, l4_len, sum);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

/**
 * May a router send an ICMP error about the IP packet at @p ip (@p len
 * bytes)? Not about an ICMP error (v4 types 3, 4, 5, 11, 12; v6 types
 * below 128), a non-first fragment, a packet to a broadcast or multicast
 * address, or from an address that names no single host (v4: 0/8,
 * 127/8, 224/4, 240/4; v6: ::, ff00::/8); RFC 1812 4.3.2.7, RFC 4443
 * 2.4(e). False as well for a truncated or malformed header.
 */
bool icmp_error_allowed(const uint8_t *ip, uint32_t len);

/**
 * Build into the empty mbuf @p m (appending an L3 packet, no L2) an ICMP
 * error of @p kind about the packet at @p orig (@p len bytes; bytes past
 * its IP length, such as Ethernet padding, are not quoted), from @p src
 * (16 bytes; IPv4 in the first 4; the family of @p orig) to the source
 * of @p orig. As much of @p orig is quoted as fits in ICMP4_ERR_MAX or
 * ICMP6_ERR_MAX bytes. TTL / hop limit ICMP_TTL, v4 ID 0 and DF clear,
 * v4 TOS 0xc0 (RFC 1812 4.3.2.5), checksums filled. @p mtu is reported
 * with ICMP_ERR_FRAG_NEEDED (v4: at most 65535) and ignored otherwise.
 * m->l2_len is set to 0 and m->l3_len to the IP header's length.
 * The caller owns @p m whatever the result, and @p orig is only read.
 * @return 0; -EINVAL when icmp_error_allowed() says no, @p m is not
 * empty or @p kind is unknown; -ENOSPC when @p m has no room.
 */
int icmp_error_build(struct rte_mbuf *m, const uint8_t *orig, uint32_t len,
		     enum icmp_err_kind kind, uint32_t mtu, const uint8_t src[16]);

/**
 * Turn the echo request (v4 type 8 / v6 type 128, code 0) at @p m's data
 * (L3, single segment) into its echo reply in place: addresses swapped,
 * type changed, TTL / hop limit ICMP_TTL, checksums recomputed, link
 * padding trimmed. An IPv4 request's Record Route and Timestamp options
 * come back with this hop added (RFC 1122 3.2.2.6, as Linux echoes
 * them); its other options (a source route: answered straight) and IPv6
 * extension headers are dropped from the reply. Fragments, malformed
 * IPv4 options, a bad IPv4 header or
 * ICMP checksum, or a request to a broadcast or multicast address are
 * refused. The caller owns @p m whatever the result.
 * @return 0, or -1 when it is not a well-formed echo request (the caller
 * drops it).
 */
int icmp_echo_reply(struct rte_mbuf *m);

#endif /* ESPD_ICMP_H */
