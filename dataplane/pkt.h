/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Reading the fields a policy or selector looks at (struct flow_key,
 * dataplane/flowkey.h) from an IP packet.
 */
#ifndef ESPD_PKT_H
#define ESPD_PKT_H

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "dataplane/flowkey.h"

#define IP6_EXT_MAX 8 /**< extension headers walked before giving up */

/**
 * Walk IPv6 extension headers from the base header at @p ip (@p len bytes
 * valid). @return the offset of the upper-layer header, with *proto and
 * *nh_off (where the byte naming it lives) set; -1 when malformed or a
 * fragment (*proto is then IPPROTO_FRAGMENT for a fragment).
 */
static inline int
pkt_ip6_skip_ext(const uint8_t *ip, uint32_t len, uint8_t *proto,
		 uint32_t *nh_off)
{
	uint32_t off = sizeof(struct rte_ipv6_hdr);
	uint8_t nh = ip[6];
	int i;

	*nh_off = 6;
	for (i = 0; i < IP6_EXT_MAX; i++) {
		uint32_t ext_len;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (off + 8 > len)
				return -1;
			ext_len = ((uint32_t)ip[off + 1] + 1) * 8;
			if (off + ext_len > len)
				return -1;
			*nh_off = off;
			nh = ip[off];
			off += ext_len;
			break;
		case IPPROTO_FRAGMENT:
			*proto = nh;
			return -1;
		default:
			*proto = nh;
			return (int)off;
		}
	}
	return -1;
}

static inline void
pkt_ports(struct flow_key *k, const uint8_t *l4, uint32_t avail)
{
	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case 33:  /* DCCP */
	case 136: /* UDP-Lite: the ports where UDP has them (config cfg_l4_of()) */
		if (avail >= 4) {
			memcpy(&k->sport, l4, 2);
			memcpy(&k->dport, l4 + 2, 2);
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (avail >= 2) {
			k->sport = rte_cpu_to_be_16(l4[0]);
			k->dport = rte_cpu_to_be_16(l4[1]);
		}
		break;
	default:
		break;
	}
}

/**
 * The length the IP header at @p ip (@p len bytes valid) gives its packet:
 * IPv4's total length, or IPv6's 40 plus payload length. @return it, or
 * -1 when it is shorter than the header itself or the header is cut short
 * (a jumbogram's 0 included).
 */
static inline int
pkt_ip_len(const uint8_t *ip, uint32_t len)
{
	uint32_t tot;

	if (len >= sizeof(struct rte_ipv4_hdr) && (ip[0] >> 4) == 4) {
		tot = (uint32_t)ip[2] << 8 | ip[3];
		return tot < (ip[0] & 0x0fu) * 4u || tot < sizeof(struct rte_ipv4_hdr) ?
			       -1 : (int)tot;
	}
	if (len >= sizeof(struct rte_ipv6_hdr) && (ip[0] >> 4) == 6) {
		tot = (uint32_t)ip[4] << 8 | ip[5];
		return tot == 0 ? -1 : (int)(tot + sizeof(struct rte_ipv6_hdr));
	}
	return -1;
}

/**
 * The key of an IPv6 fragment: the protocol its fragment header names,
 * no ports (@p nh_off: where the byte naming the fragment header lives,
 * as pkt_ip6_skip_ext() left it).
 */
static inline void
pkt_ip6_frag_key(struct flow_key *k, const uint8_t *ip, uint32_t len,
		 uint32_t nh_off)
{
	uint32_t off = nh_off == 6 ? sizeof(struct rte_ipv6_hdr)
				   : nh_off + ((uint32_t)ip[nh_off + 1] + 1) * 8;

	if (off + 8 > len)
		return;
	k->proto = ip[off];
	k->frag = 1;
}

/**
 * Fill @p k from the IP packet at @p ip (@p len bytes). Ports of a
 * fragment (k->frag is then 1), the first one too, or of a truncated
 * header, read as 0: all of a datagram's fragments meet the same policy,
 * as in Linux (its xfrm decodes no ports of any fragment). An IPv6
 * fragment keys as the protocol it carries.
 * @return 0, or -1 when the IP header itself is malformed.
 */
static inline int
pkt_flow_key(const uint8_t *ip, uint32_t len, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	if (len >= sizeof(struct rte_ipv4_hdr) && (ip[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *h = (const void *)ip;
		uint32_t hl = (ip[0] & 0x0f) * 4u;

		if (hl < sizeof(*h) || hl > len)
			return -1;
		k->family = 4;
		k->proto = h->next_proto_id;
		memcpy(k->src, &h->src_addr, 4);
		memcpy(k->dst, &h->dst_addr, 4);
		if (!(h->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
							   RTE_IPV4_HDR_OFFSET_MASK)))
			pkt_ports(k, ip + hl, len - hl);
		else
			k->frag = 1;
		return 0;
	}
	if (len >= sizeof(struct rte_ipv6_hdr) && (ip[0] >> 4) == 6) {
		const struct rte_ipv6_hdr *h = (const void *)ip;
		uint32_t nh_off;
		uint8_t proto = h->proto;
		int off = pkt_ip6_skip_ext(ip, len, &proto, &nh_off);

		/* A chain that cannot be walked to its end (cut short, or
		 * more than IP6_EXT_MAX headers) names no protocol: were it
		 * classified as its first header, padding a packet with
		 * options would take it past a protocol or port policy. */
		if (off < 0 && proto != IPPROTO_FRAGMENT)
			return -1;
		k->family = 6;
		memcpy(k->src, h->src_addr, 16);
		memcpy(k->dst, h->dst_addr, 16);
		k->proto = proto;
		if (off >= 0)
			pkt_ports(k, ip + off, len - (uint32_t)off);
		else
			pkt_ip6_frag_key(k, ip, len, nh_off);
		return 0;
	}
	return -1;
}

#endif /* ESPD_PKT_H */
