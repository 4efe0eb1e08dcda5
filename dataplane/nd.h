/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Neighbour resolution on the wire: ARP (RFC 826) for IPv4 and Neighbour
 * Discovery (RFC 4861) for IPv6, parsed and built. No neighbour table
 * here (control/neigh.c keeps it): only frames. Parsers read only the
 * bytes they are given; builders append to an empty mbuf the caller
 * allocated and still owns, whatever they return.
 */
#ifndef ESPD_ND_H
#define ESPD_ND_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_arp.h> /* RTE_ARP_OP_REQUEST, RTE_ARP_OP_REPLY */
#include <rte_mbuf.h>

#define ND_NS 135 /**< ICMPv6 Neighbor Solicitation */
#define ND_NA 136 /**< ICMPv6 Neighbor Advertisement */

/** An Ethernet/IPv4 ARP packet's fields. */
struct arp_info {
	uint16_t op;   /**< RTE_ARP_OP_REQUEST (1), RTE_ARP_OP_REPLY (2); host order */
	uint8_t sha[6], spa[4], tha[6], tpa[4];
};

/**
 * Parse the Ethernet + ARP frame at @p m (data at the Ethernet header;
 * Ethernet/IPv4 ARP only: hardware type 1, protocol 0x0800, lengths 6
 * and 4, operation 1 or 2; bytes past the 28-byte body, such as padding,
 * are ignored). @return 0, or -1 when it is anything else or truncated.
 */
int arp_parse(const struct rte_mbuf *m, struct arp_info *a);

/**
 * Append a whole Ethernet frame to the empty mbuf @p m: Ethernet
 * destination @p eth_dst, source @p sha, type ARP, then the ARP body
 * (42 bytes, unpadded). @return 0, -EINVAL when @p m is not empty,
 * -ENOSPC when it has no room.
 */
int arp_build(struct rte_mbuf *m, uint16_t op, const uint8_t eth_dst[6],
	      const uint8_t sha[6], const uint8_t spa[4], const uint8_t tha[6],
	      const uint8_t tpa[4]);

/** A Neighbor Solicitation or Advertisement's fields. */
struct nd_info {
	uint8_t type;  /**< ND_NS or ND_NA */
	uint8_t src[16], dst[16], target[16];
	bool has_lladdr;
	uint8_t lladdr[6]; /**< NS: source link-layer option; NA: target's */
	bool router, solicited, override; /**< NA flags */
};

/**
 * Parse an NS or NA at the IPv6 header @p ip (@p len bytes; extension
 * headers are walked, but a fragment is refused, RFC 6980 5). The
 * validity checks of RFC 4861 7.1.1 (NS) and 7.1.2 (NA): hop limit 255,
 * ICMPv6 code 0, a valid checksum, ICMPv6 length 24 or more, a target
 * that is not multicast, every option of non-zero length and within the
 * packet; an NS from :: carries no source link-layer option and goes to
 * a solicited-node multicast address; an NA to a multicast address has
 * S clear. @return 0, or -1 when invalid or not an NS or NA.
 */
int nd_parse(const uint8_t *ip, uint32_t len, struct nd_info *n);

/**
 * Is the IPv6 packet at @p ip (@p len bytes) an ND message (ICMPv6
 * types 133 to 137, after any extension headers; not a fragment)?
 */
bool nd_is_nd(const uint8_t *ip, uint32_t len);

/** The solicited-node multicast address of @p addr (ff02::1:ffXX:XXXX,
 *  RFC 4291 2.7.1) and its Ethernet MAC (33:33:ff:XX:XX:XX). */
void nd_solicited_node(const uint8_t addr[16], uint8_t mcast[16], uint8_t mac[6]);

/** The Ethernet MAC of the IPv6 multicast address @p mcast (RFC 2464 7:
 *  33:33 and its last 4 bytes). */
void nd_mcast_mac(const uint8_t mcast[16], uint8_t mac[6]);

/**
 * Append a Neighbor Solicitation frame (Ethernet + IPv6 + ICMPv6) to the
 * empty mbuf @p m, from @p src_mac / @p src_ip, asking for @p target,
 * hop limit 255. With @p dst_ip NULL it is for address resolution: to
 * the target's solicited-node address and its MAC. Otherwise it is a
 * unicast probe (RFC 4861 7.3.3) to @p dst_ip at @p dst_mac (NULL is
 * accepted for a multicast @p dst_ip only, whose MAC is derived). A
 * source link-layer option carries @p src_mac, except from :: (DAD,
 * RFC 4861 4.3). @return 0, -EINVAL (not empty, no MAC for a unicast
 * @p dst_ip), -ENOSPC.
 */
int nd_build_ns(struct rte_mbuf *m, const uint8_t src_mac[6], const uint8_t src_ip[16],
		const uint8_t target[16], const uint8_t *dst_ip, const uint8_t *dst_mac);

/**
 * Append a Neighbor Advertisement frame to the empty mbuf @p m, from
 * @p src_mac / @p src_ip, for @p target, with a target link-layer option
 * (@p src_mac) and the R, S, O flags as given, hop limit 255; to
 * @p dst_ip at @p dst_mac, or unsolicited to ff02::1 at 33:33:00:00:00:01
 * when @p dst_ip is NULL. S is cleared for a multicast destination
 * (RFC 4861 7.1.2 would have the receiver drop it). @p dst_mac NULL is
 * accepted for a multicast @p dst_ip only. @return 0, -EINVAL, -ENOSPC.
 */
int nd_build_na(struct rte_mbuf *m, const uint8_t src_mac[6], const uint8_t src_ip[16],
		const uint8_t *dst_ip, const uint8_t *dst_mac, const uint8_t target[16],
		bool router, bool solicited, bool override);

#endif /* ESPD_ND_H */
