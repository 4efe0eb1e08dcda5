/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The keys a packet is classified by, in plain C (no DPDK): the fields
 * selectors match (struct flow_key, from which the SPD builds its rte_acl
 * input), and
 * the key of the outbound flow table (struct gw_flow_key), which the
 * control plane's model computes too. Every layer includes this header,
 * so both sides build the same bytes.
 */
#ifndef ESPD_FLOWKEY_H
#define ESPD_FLOWKEY_H

#include <stdint.h>
#include <string.h>

/** Fields of a packet that selectors match. Addresses and ports in network
 *  order; an IPv4 address sits in the first 4 bytes. The SPD copies them
 *  into its own rte_acl input (dataplane/spd.c, acl_in()); out.c compares
 *  keys as five 8-byte words, so the size stays 40 bytes. */
struct flow_key {
	uint8_t proto;  /**< upper-layer protocol */
	uint8_t family; /**< 4 or 6 */
	uint8_t frag;   /**< 1: a fragment (any, the first too, as Linux):
			 *  its ports are unknown (RFC 4301 OPAQUE), read as 0 */
	uint8_t pad;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport; /**< ports; ICMP type / code, as Linux's xfrm */
	uint16_t dport;
};

/**
 * Is the source of @p k one no router forwards from (a martian: RFC 1812
 * 5.3.7, RFC 6890)? IPv4 0.0.0.0/8, 127.0.0.0/8 (Linux's default, without
 * route_localnet), multicast 224.0.0.0/4 and the reserved 240.0.0.0/4 with
 * the limited broadcast; IPv6 ::, ::1, IPv4-mapped ::ffff:0:0/96 and
 * multicast ff00::/8, as Linux's ip_route_input() and ip6_rcv_core()
 * drop them. And link-local sources, 169.254.0.0/16 and fe80::/10, which
 * a router must not forward to another link (RFC 3927 7, RFC 4291
 * 2.5.6). One compare or two for most packets: the first byte.
 */
static inline int
flow_key_src_martian(const struct flow_key *k)
{
	const uint8_t *b = k->src;
	uint64_t w0;

	if (k->family == 4)
		return b[0] == 0 || b[0] == 127 || b[0] >= 224 || (b[0] == 169 && b[1] == 254);
	if (b[0] != 0)
		return b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
	memcpy(&w0, b, 8);
	if (w0 != 0 || (b[8] | b[9]) != 0)
		return 0;
	if (b[10] == 0xff && b[11] == 0xff)
		return 1; /* ::ffff:a.b.c.d */
	return (b[10] | b[11] | b[12] | b[13] | b[14]) == 0 && b[15] <= 1; /* ::, ::1 */
}

/**
 * The fields a `pfp` policy takes from the packet (RFC 4301 4.4.1.2
 * "populate from packet"): one definition for the grammar, the model and
 * the workers.
 */
enum pfp_field {
	PFP_SRC = 1u << 0,
	PFP_DST = 1u << 1,
	PFP_PROTO = 1u << 2,
	PFP_SPORT = 1u << 3,
	PFP_DPORT = 1u << 4,
};

#define PFP_ALL 0x1fu

/**
 * Key of the outbound flow table: which SA a protected packet takes. It is
 * the policy's index plus, for a PFP policy, the packet's values of the
 * PFP fields; the other fields are zero. A non-PFP policy has one key: its
 * index alone.
 */
struct gw_flow_key {
	uint32_t policy;     /**< the policy's index (stable across rebuilds) */
	uint8_t family;
	uint8_t proto;
	uint16_t sport, dport; /**< network order */
	uint8_t pad[2];
	uint8_t src[16], dst[16];
	/* To 48 bytes: the flow table (flowtab.c) compares keys as six
	 * 8-byte words and keeps one in a 64-byte slot with its SA. */
	uint8_t pad_end[4];
};

_Static_assert(sizeof(struct gw_flow_key) == 48, "flow key: 48 bytes for flowtab");

/** The flow-table key of packet @p k under policy @p index with PFP
 *  fields @p pfp (enum pfp_field bits). */
static inline void
gw_flow_key_make(struct gw_flow_key *fk, uint32_t index, uint8_t pfp,
		 const struct flow_key *k)
{
	memset(fk, 0, sizeof(*fk));
	fk->policy = index;
	if (pfp == 0)
		return;
	fk->family = k->family;
	if (pfp & PFP_SRC)
		memcpy(fk->src, k->src, 16);
	if (pfp & PFP_DST)
		memcpy(fk->dst, k->dst, 16);
	if (pfp & PFP_PROTO)
		fk->proto = k->proto;
	if (pfp & PFP_SPORT)
		fk->sport = k->sport;
	if (pfp & PFP_DPORT)
		fk->dport = k->dport;
}

#endif /* ESPD_FLOWKEY_H */
