/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP and IPv6 Neighbour Discovery frames (see nd.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/icmp.h"
#include "dataplane/nd.h"
#include "dataplane/pkt.h"

#define ETH_LEN RTE_ETHER_HDR_LEN
#define ND_MIN_LEN 24     /* ICMPv6 header + reserved/flags + target */
#define ND_OPT_SLLA 1     /* RFC 4861 4.6.1 */
#define ND_OPT_TLLA 2
#define ND_HOP_LIMIT 255  /* RFC 4861 7.1: proof it was not forwarded */

static inline bool
unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/* ff02::1:ff00:0/104 (RFC 4291 2.7.1). */
static const uint8_t sol_prefix[13] = {
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff,
};

/*
 * Start a frame in the empty mbuf @p m: an Ethernet header to @p dst from
 * @p src of @p type, and room for @p len bytes after it. @return where
 * they go, or NULL with *rc -EINVAL (not empty) or -ENOSPC.
 */
static void *
eth_frame(struct rte_mbuf *m, uint32_t len, const uint8_t dst[6], const uint8_t src[6],
	  uint16_t type, int *rc)
{
	struct rte_ether_hdr *eh;

	if (m->pkt_len != 0) {
		*rc = -EINVAL;
		return NULL;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)(ETH_LEN + len));
	if (eh == NULL) {
		*rc = -ENOSPC;
		return NULL;
	}
	memcpy(&eh->dst_addr, dst, 6);
	memcpy(&eh->src_addr, src, 6);
	eh->ether_type = rte_cpu_to_be_16(type);
	m->l2_len = ETH_LEN;
	*rc = 0;
	return eh + 1;
}

/* ---- ARP ---------------------------------------------------------------- */

int
arp_parse(const struct rte_mbuf *m, struct arp_info *a)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_arp_hdr *b = (const struct rte_arp_hdr *)(eh + 1);

	if (rte_pktmbuf_data_len(m) < ETH_LEN + sizeof(*b) ||
	    eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return -1;
	/* RFC 826: hardware Ethernet, protocol IPv4, lengths 6 and 4. */
	if (b->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    b->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    b->arp_hlen != RTE_ETHER_ADDR_LEN || b->arp_plen != 4)
		return -1;
	a->op = rte_be_to_cpu_16(b->arp_opcode);
	if (a->op != RTE_ARP_OP_REQUEST && a->op != RTE_ARP_OP_REPLY)
		return -1;
	memcpy(a->sha, &b->arp_data.arp_sha, 6);
	memcpy(a->spa, &b->arp_data.arp_sip, 4);
	memcpy(a->tha, &b->arp_data.arp_tha, 6);
	memcpy(a->tpa, &b->arp_data.arp_tip, 4);
	return 0;
}

int
arp_build(struct rte_mbuf *m, uint16_t op, const uint8_t eth_dst[6],
	  const uint8_t sha[6], const uint8_t spa[4], const uint8_t tha[6],
	  const uint8_t tpa[4])
{
	struct rte_arp_hdr *b;
	int rc;

	b = eth_frame(m, sizeof(*b), eth_dst, sha, RTE_ETHER_TYPE_ARP, &rc);
	if (b == NULL)
		return rc;
	b->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	b->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	b->arp_hlen = RTE_ETHER_ADDR_LEN;
	b->arp_plen = 4;
	b->arp_opcode = rte_cpu_to_be_16(op);
	memcpy(&b->arp_data.arp_sha, sha, 6);
	memcpy(&b->arp_data.arp_sip, spa, 4);
	memcpy(&b->arp_data.arp_tha, tha, 6);
	memcpy(&b->arp_data.arp_tip, tpa, 4);
	return 0;
}

/* ---- Neighbour Discovery ------------------------------------------------ */

void
nd_mcast_mac(const uint8_t mcast[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, mcast + 12, 4);
}

void
nd_solicited_node(const uint8_t addr[16], uint8_t mcast[16], uint8_t mac[6])
{
	memcpy(mcast, sol_prefix, sizeof(sol_prefix));
	memcpy(mcast + 13, addr + 13, 3);
	nd_mcast_mac(mcast, mac);
}

/*
 * The ICMPv6 message of the IPv6 packet at @p ip (@p len bytes), bounded
 * by the payload length: its offset, with *ilen its length; -1 when it
 * is not ICMPv6, is a fragment or is malformed.
 */
static int
icmp6_find(const uint8_t *ip, uint32_t len, uint32_t *ilen)
{
	uint32_t whole, nh_off;
	uint8_t proto = 0;
	int off;

	if (len < sizeof(struct rte_ipv6_hdr) || (ip[0] >> 4) != 6)
		return -1;
	whole = sizeof(struct rte_ipv6_hdr) +
		rte_be_to_cpu_16(((const struct rte_ipv6_hdr *)ip)->payload_len);
	if (whole > len)
		return -1;
	off = pkt_ip6_skip_ext(ip, whole, &proto, &nh_off);
	if (off < 0 || proto != IPPROTO_ICMPV6 || (uint32_t)off + 4 > whole)
		return -1;
	*ilen = whole - (uint32_t)off;
	return off;
}

bool
nd_is_nd(const uint8_t *ip, uint32_t len)
{
	uint32_t ilen;
	int off = icmp6_find(ip, len, &ilen);

	return off >= 0 && ip[off] >= 133 && ip[off] <= 137;
}

int
nd_parse(const uint8_t *ip, uint32_t len, struct nd_info *n)
{
	const uint8_t *icmp;
	uint32_t ilen, o;
	uint8_t want;
	int off;

	off = icmp6_find(ip, len, &ilen);
	if (off < 0)
		return -1;
	icmp = ip + off;
	/* RFC 4861 7.1.1 / 7.1.2, in their order. */
	if (ip[7] != ND_HOP_LIMIT || (icmp[0] != ND_NS && icmp[0] != ND_NA) ||
	    icmp[1] != 0 || ilen < ND_MIN_LEN || icmp6_cksum(ip, icmp, ilen) != 0 ||
	    icmp[8] == 0xff)
		return -1;

	memset(n, 0, sizeof(*n));
	n->type = icmp[0];
	memcpy(n->src, ip + 8, 16);
	memcpy(n->dst, ip + 24, 16);
	memcpy(n->target, icmp + 8, 16);
	want = n->type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	for (o = ND_MIN_LEN; o < ilen; ) {
		uint32_t olen;

		if (o + 2 > ilen)
			return -1;
		olen = icmp[o + 1] * 8u;
		if (olen == 0 || o + olen > ilen)
			return -1;
		if (icmp[o] == want && !n->has_lladdr) {
			/* Ethernet: 6 bytes after type and length (RFC 2464 8). */
			n->has_lladdr = true;
			memcpy(n->lladdr, icmp + o + 2, 6);
		}
		o += olen;
	}

	if (n->type == ND_NS) {
		if (unspecified(n->src) &&
		    (n->has_lladdr || memcmp(n->dst, sol_prefix, sizeof(sol_prefix)) != 0))
			return -1;
	} else {
		n->router = icmp[4] & 0x80;
		n->solicited = icmp[4] & 0x40;
		n->override = icmp[4] & 0x20;
		if (n->dst[0] == 0xff && n->solicited)
			return -1;
	}
	return 0;
}

/*
 * Append an NS or NA frame: Ethernet, IPv6 with hop limit 255, the
 * ICMPv6 message with @p flags in its first reserved byte, @p target,
 * and (when @p opt is not 0) a link-layer option of type @p opt holding
 * @p src_mac.
 */
static int
nd_frame(struct rte_mbuf *m, const uint8_t src_mac[6], const uint8_t dst_mac[6],
	 const uint8_t src_ip[16], const uint8_t dst_ip[16], uint8_t type,
	 uint8_t flags, const uint8_t target[16], uint8_t opt)
{
	uint32_t ilen = ND_MIN_LEN + (opt ? 8 : 0);
	struct rte_ipv6_hdr *h;
	uint8_t *ip, *icmp;
	uint16_t ck;
	int rc;

	h = eth_frame(m, sizeof(*h) + ilen, dst_mac, src_mac, RTE_ETHER_TYPE_IPV6, &rc);
	if (h == NULL)
		return rc;
	h->vtc_flow = rte_cpu_to_be_32(6u << 28);
	h->payload_len = rte_cpu_to_be_16((uint16_t)ilen);
	h->proto = IPPROTO_ICMPV6;
	h->hop_limits = ND_HOP_LIMIT;
	memcpy(h->src_addr, src_ip, 16);
	memcpy(h->dst_addr, dst_ip, 16);

	ip = (uint8_t *)h;
	icmp = ip + sizeof(struct rte_ipv6_hdr);
	memset(icmp, 0, ND_MIN_LEN);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	if (opt) {
		icmp[24] = opt;
		icmp[25] = 1;
		memcpy(icmp + 26, src_mac, 6);
	}
	ck = icmp6_cksum(ip, icmp, ilen);
	memcpy(icmp + 2, &ck, 2);
	m->l3_len = sizeof(struct rte_ipv6_hdr);
	return 0;
}

/* The MAC to send to @p dst_ip: @p dst_mac, or derived for multicast. */
static const uint8_t *
dest_mac(const uint8_t *dst_ip, const uint8_t *dst_mac, uint8_t buf[6])
{
	if (dst_mac != NULL)
		return dst_mac;
	if (dst_ip[0] != 0xff)
		return NULL;
	nd_mcast_mac(dst_ip, buf);
	return buf;
}

int
nd_build_ns(struct rte_mbuf *m, const uint8_t src_mac[6], const uint8_t src_ip[16],
	    const uint8_t target[16], const uint8_t *dst_ip, const uint8_t *dst_mac)
{
	uint8_t mcast[16], mac[6];
	const uint8_t *dmac;

	if (dst_ip == NULL) {
		nd_solicited_node(target, mcast, mac);
		dst_ip = mcast;
		dmac = mac;
	} else if ((dmac = dest_mac(dst_ip, dst_mac, mac)) == NULL) {
		return -EINVAL;
	}
	/* RFC 4861 4.3: no source link-layer option from :: (DAD). */
	return nd_frame(m, src_mac, dmac, src_ip, dst_ip, ND_NS, 0, target,
			unspecified(src_ip) ? 0 : ND_OPT_SLLA);
}

int
nd_build_na(struct rte_mbuf *m, const uint8_t src_mac[6], const uint8_t src_ip[16],
	    const uint8_t *dst_ip, const uint8_t *dst_mac, const uint8_t target[16],
	    bool router, bool solicited, bool override)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	const uint8_t *dmac;
	uint8_t mac[6];

	if (dst_ip == NULL) {
		dst_ip = all_nodes;
		dst_mac = NULL;
	}
	if ((dmac = dest_mac(dst_ip, dst_mac, mac)) == NULL)
		return -EINVAL;
	if (dst_ip[0] == 0xff)
		solicited = false;
	return nd_frame(m, src_mac, dmac, src_ip, dst_ip, ND_NA,
			(uint8_t)((router ? 0x80 : 0) | (solicited ? 0x40 : 0) |
				  (override ? 0x20 : 0)),
			target, ND_OPT_TLLA);
}
