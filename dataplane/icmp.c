/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP errors and echo replies (see icmp.h). Everything here reads only
 * the bytes it is told are there: an IP length field is believed only
 * as far as the buffer goes.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/icmp.h"
#include "dataplane/pkt.h"

/* RFC 1812 4.3.2.7 / 5.3.7: a source that names one host, not 0/8,
 * loopback, multicast, class E or the limited broadcast. */
static inline bool
v4_src_unicast(uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);

	return top != 0 && top != 127 && top < 224;
}

/* Not the limited broadcast, not multicast (224/4). */
static inline bool
v4_dst_unicast(uint32_t a)
{
	return a != UINT32_MAX && (a >> 28) != 0xe;
}

static inline bool
v6_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/*
 * The upper-layer header of the IPv6 packet at @p ip (len >= 40), as
 * pkt_ip6_skip_ext() finds it but stepping over a fragment header too
 * (its offset is reported in *frag_ofs, 0 when there is none): an error
 * is about the first fragment only. An AH header (RFC 4302, transport
 * mode between two hosts) is stepped over too: what it authenticates
 * may be an ICMPv6 error, which must not be answered. @return the offset, or -1 when an
 * extension header runs past @p len or there are too many.
 */
static int
ip6_upper(const uint8_t *ip, uint32_t len, uint8_t *proto, uint16_t *frag_ofs)
{
	uint32_t off = sizeof(struct rte_ipv6_hdr);
	uint8_t nh = ip[6];
	int i;

	*frag_ofs = 0;
	for (i = 0; i < IP6_EXT_MAX; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (off + 8 > len || off + ((uint32_t)ip[off + 1] + 1) * 8 > len)
				return -1;
			nh = ip[off];
			off += ((uint32_t)ip[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			/* Payload Len: the header in 32-bit words, less 2. */
			if (off + 8 > len || off + ((uint32_t)ip[off + 1] + 2) * 4 > len)
				return -1;
			nh = ip[off];
			off += ((uint32_t)ip[off + 1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if (off + 8 > len)
				return -1;
			*frag_ofs = rte_be_to_cpu_16(((const struct rte_ipv6_fragment_ext *)
						      (ip + off))->frag_data) & RTE_IPV6_EHDR_FO_MASK;
			nh = ip[off];
			off += 8;
			break;
		default:
			*proto = nh;
			return (int)off;
		}
	}
	return -1;
}

/* ICMPv4 types that are errors (RFC 1812 4.3.2.7): unreachable, source
 * quench, redirect, time exceeded, parameter problem. */
static inline bool
icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool
allowed4(const uint8_t *ip, uint32_t len)
{
	const struct rte_ipv4_hdr *h = (const struct rte_ipv4_hdr *)ip;
	uint32_t hl, tot;

	if (len < sizeof(*h))
		return false;
	hl = rte_ipv4_hdr_len(h);
	tot = rte_be_to_cpu_16(h->total_length);
	if (hl < sizeof(*h) || hl > len || tot < hl)
		return false;
	if (h->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK))
		return false; /* not the first fragment */
	if (!v4_dst_unicast(rte_be_to_cpu_32(h->dst_addr)) ||
	    !v4_src_unicast(rte_be_to_cpu_32(h->src_addr)))
		return false;
	if (h->next_proto_id == IPPROTO_AH && len >= hl + 8 && tot >= hl + 8 &&
	    ip[hl] == IPPROTO_ICMP) {
		/* ICMP under AH (transport mode between two hosts): the same
		 * rule, past the AH header. */
		hl += ((uint32_t)ip[hl + 1] + 2) * 4;
	} else if (h->next_proto_id != IPPROTO_ICMP) {
		return true;
	}
	/* The type must be there to tell an error from a query. */
	if (len <= hl || tot <= hl)
		return false;
	return !icmp4_is_error(ip[hl]);
}

static bool
allowed6(const uint8_t *ip, uint32_t len)
{
	uint16_t frag_ofs;
	uint8_t proto;
	int off;

	if (len < sizeof(struct rte_ipv6_hdr))
		return false;
	if (ip[24] == 0xff || ip[8] == 0xff || v6_unspecified(ip + 8))
		return false;
	off = ip6_upper(ip, len, &proto, &frag_ofs);
	if (off < 0 || frag_ofs != 0)
		return false;
	if (proto == IPPROTO_ICMPV6) {
		/* RFC 4443 2.4(e.1, e.2): never about an error (type < 128)
		 * or a Redirect. */
		if ((uint32_t)off >= len)
			return false;
		return ip[off] >= 128 && ip[off] != 137;
	}
	return true;
}

bool
icmp_error_allowed(const uint8_t *ip, uint32_t len)
{
	if (len < 1)
		return false;
	switch (ip[0] >> 4) {
	case 4:
		return allowed4(ip, len);
	case 6:
		return allowed6(ip, len);
	default:
		return false;
	}
}

/* Type and code of each kind: [kind][v6][type, code]. */
static const uint8_t err_type[ICMP_ERR__MAX][2][2] = {
	[ICMP_ERR_TTL] = { { 11, 0 }, { 3, 0 } },
	[ICMP_ERR_FRAG_NEEDED] = { { 3, 4 }, { 2, 0 } },
	[ICMP_ERR_UNREACH_HOST] = { { 3, 1 }, { 1, 3 } },
	[ICMP_ERR_UNREACH_NET] = { { 3, 0 }, { 1, 0 } },
};

static int
build4(struct rte_mbuf *m, const uint8_t *orig, uint32_t len,
       enum icmp_err_kind kind, uint32_t mtu, const uint8_t src[16])
{
	const uint32_t hdr = sizeof(struct rte_ipv4_hdr) + 8;
	const struct rte_ipv4_hdr *o = (const struct rte_ipv4_hdr *)orig;
	uint32_t q = RTE_MIN(RTE_MIN(len, (uint32_t)rte_be_to_cpu_16(o->total_length)),
			     ICMP4_ERR_MAX - hdr);
	struct rte_ipv4_hdr *h;
	uint8_t *p, *icmp;

	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hdr + q));
	if (p == NULL)
		return -ENOSPC;
	h = (struct rte_ipv4_hdr *)p;
	memset(h, 0, sizeof(*h));
	h->version_ihl = RTE_IPV4_VHL_DEF;
	h->type_of_service = 0xc0; /* RFC 1812 4.3.2.5: internetwork control */
	h->total_length = rte_cpu_to_be_16((uint16_t)(hdr + q));
	h->time_to_live = ICMP_TTL;
	h->next_proto_id = IPPROTO_ICMP;
	memcpy(&h->src_addr, src, 4);
	h->dst_addr = o->src_addr;
	h->hdr_checksum = rte_ipv4_cksum(h);

	icmp = p + sizeof(*h);
	icmp[0] = err_type[kind][0][0];
	icmp[1] = err_type[kind][0][1];
	memset(icmp + 2, 0, 6);
	if (kind == ICMP_ERR_FRAG_NEEDED) { /* RFC 1191 4: next-hop MTU */
		icmp[6] = (uint8_t)(RTE_MIN(mtu, 65535u) >> 8);
		icmp[7] = (uint8_t)RTE_MIN(mtu, 65535u);
	}
	memcpy(icmp + 8, orig, q);
	{
		uint16_t ck = (uint16_t)~rte_raw_cksum(icmp, 8 + q);

		memcpy(icmp + 2, &ck, 2);
	}
	m->l2_len = 0;
	m->l3_len = sizeof(*h);
	return 0;
}

static int
build6(struct rte_mbuf *m, const uint8_t *orig, uint32_t len,
       enum icmp_err_kind kind, uint32_t mtu, const uint8_t src[16])
{
	const uint32_t hdr = sizeof(struct rte_ipv6_hdr) + 8;
	const struct rte_ipv6_hdr *o = (const struct rte_ipv6_hdr *)orig;
	uint32_t whole = sizeof(*o) + rte_be_to_cpu_16(o->payload_len);
	uint32_t q = RTE_MIN(RTE_MIN(len, whole), ICMP6_ERR_MAX - hdr);
	struct rte_ipv6_hdr *h;
	uint8_t *p, *icmp;
	uint16_t ck;

	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hdr + q));
	if (p == NULL)
		return -ENOSPC;
	h = (struct rte_ipv6_hdr *)p;
	h->vtc_flow = rte_cpu_to_be_32(6u << 28);
	h->payload_len = rte_cpu_to_be_16((uint16_t)(8 + q));
	h->proto = IPPROTO_ICMPV6;
	h->hop_limits = ICMP_TTL;
	memcpy(h->src_addr, src, 16);
	memcpy(h->dst_addr, o->src_addr, 16);

	icmp = p + sizeof(*h);
	icmp[0] = err_type[kind][1][0];
	icmp[1] = err_type[kind][1][1];
	memset(icmp + 2, 0, 6);
	if (kind == ICMP_ERR_FRAG_NEEDED) { /* RFC 4443 3.2: the MTU, 32 bits */
		uint32_t be = rte_cpu_to_be_32(mtu);

		memcpy(icmp + 4, &be, 4);
	}
	memcpy(icmp + 8, orig, q);
	ck = icmp6_cksum(p, icmp, 8 + q);
	memcpy(icmp + 2, &ck, 2);
	m->l2_len = 0;
	m->l3_len = sizeof(*h);
	return 0;
}

int
icmp_error_build(struct rte_mbuf *m, const uint8_t *orig, uint32_t len,
		 enum icmp_err_kind kind, uint32_t mtu, const uint8_t src[16])
{
	if ((unsigned int)kind >= ICMP_ERR__MAX || m->pkt_len != 0 ||
	    !icmp_error_allowed(orig, len))
		return -EINVAL;
	if ((orig[0] >> 4) == 4)
		return build4(m, orig, len, kind, mtu, src);
	return build6(m, orig, len, kind, mtu, src);
}

/* Milliseconds since midnight UT, network order (RFC 791 Timestamp). */
static uint32_t
ts_now_be(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return rte_cpu_to_be_32((uint32_t)((t.tv_sec % 86400) * 1000 + t.tv_nsec / 1000000));
}

/*
 * The options an echo reply carries back from the request's @p n bytes
 * at @p o, into @p out (RFC 1122 3.2.2.6, as Linux's ip_options_echo()):
 * Record Route and Timestamp, each with this hop (@p us) added where it
 * has room (RFC 791; a full Timestamp counts an overflow). Nothing else
 * is echoed: source routes, which Linux refuses by default
 * (accept_source_route), are answered straight. @return the bytes, EOL
 * padded to 4 bytes (0: none), or -1 for malformed options.
 */
static int
echo4_opts(const uint8_t *o, uint32_t n, const uint8_t us[4], uint8_t *out)
{
	uint32_t i = 0, k = 0;

	while (i < n && o[i] != 0 /* EOL */) {
		uint8_t *c = out + k, l;

		if (o[i] == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 1 >= n || (l = o[i + 1]) < 2 || i + l > n)
			return -1;
		if (o[i] == 7 && l >= 3) { /* Record Route */
			memcpy(c, o + i, l);
			if (c[2] >= 4 && c[2] + 3u <= l) {
				memcpy(c + c[2] - 1, us, 4);
				c[2] += 4;
			}
			k += l;
		} else if (o[i] == 68 && l >= 4) { /* Timestamp */
			uint8_t flag = o[i + 3] & 0x0f, need = flag == 0 ? 4 : 8;
			uint32_t ts = ts_now_be();

			memcpy(c, o + i, l);
			if (c[2] < 5 || (flag != 0 && flag != 1 && flag != 3)) {
				/* as it came */
			} else if (c[2] + need - 1u > l) {
				if ((c[3] >> 4) < 15)
					c[3] += 0x10; /* no room: overflow */
			} else if (flag == 0) {
				memcpy(c + c[2] - 1, &ts, 4);
				c[2] += 4;
			} else if (flag == 1) {
				memcpy(c + c[2] - 1, us, 4);
				memcpy(c + c[2] + 3, &ts, 4);
				c[2] += 8;
			} else if (memcmp(c + c[2] - 1, us, 4) == 0) { /* 3: prespecified */
				memcpy(c + c[2] + 3, &ts, 4);
				c[2] += 8;
			}
			k += l;
		}
		i += l;
	}
	while (k % 4 != 0)
		out[k++] = 0;
	return (int)k;
}

static int
echo4(struct rte_mbuf *m, uint8_t *ip, uint32_t len)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
	uint32_t hl, tot, a;
	uint16_t ck;

	if (len < sizeof(*h))
		return -1;
	hl = rte_ipv4_hdr_len(h);
	tot = rte_be_to_cpu_16(h->total_length);
	if (hl < sizeof(*h) || hl > len || tot < hl + 8 || tot > len ||
	    rte_raw_cksum(ip, hl) != 0xffff)
		return -1;
	if (h->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return -1; /* a fragment: its checksum covers bytes not here */
	if (h->next_proto_id != IPPROTO_ICMP || ip[hl] != 8 || ip[hl + 1] != 0 ||
	    rte_raw_cksum(ip + hl, tot - hl) != 0xffff)
		return -1;
	if (!v4_dst_unicast(rte_be_to_cpu_32(h->dst_addr)) ||
	    !v4_src_unicast(rte_be_to_cpu_32(h->src_addr)))
		return -1;

	rte_pktmbuf_trim(m, (uint16_t)(len - tot));
	if (hl > sizeof(*h)) {
		/* The options the reply carries (no more bytes than came):
		 * the base header moves up to them. */
		uint8_t opts[40];
		int ol = echo4_opts(ip + sizeof(*h), hl - (uint32_t)sizeof(*h), ip + 16, opts);
		uint32_t drop;

		if (ol < 0)
			return -1;
		drop = hl - (uint32_t)sizeof(*h) - (uint32_t)ol;
		memmove(ip + drop, ip, sizeof(*h));
		ip = (uint8_t *)rte_pktmbuf_adj(m, (uint16_t)drop);
		memcpy(ip + sizeof(*h), opts, (size_t)ol);
		ip[0] = (uint8_t)(0x40 | (sizeof(*h) + (uint32_t)ol) / 4);
		tot -= drop;
		hl = (uint32_t)sizeof(*h) + (uint32_t)ol;
	}
	h = (struct rte_ipv4_hdr *)ip;
	h->total_length = rte_cpu_to_be_16((uint16_t)tot);
	a = h->src_addr;
	h->src_addr = h->dst_addr;
	h->dst_addr = a;
	h->time_to_live = ICMP_TTL;
	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);

	ip[hl] = 0; /* echo reply */
	ip[hl + 2] = 0;
	ip[hl + 3] = 0;
	ck = (uint16_t)~rte_raw_cksum(ip + hl, tot - hl);
	memcpy(ip + hl + 2, &ck, 2);
	m->l2_len = 0;
	m->l3_len = (uint8_t)hl;
	return 0;
}

static int
echo6(struct rte_mbuf *m, uint8_t *ip, uint32_t len)
{
	const uint32_t hl = sizeof(struct rte_ipv6_hdr);
	struct rte_ipv6_hdr *h = (struct rte_ipv6_hdr *)ip;
	uint32_t whole, ilen, nh_off;
	uint8_t proto = 0, a[16];
	uint16_t ck;
	int off;

	if (len < hl)
		return -1;
	whole = hl + rte_be_to_cpu_16(h->payload_len);
	if (whole > len)
		return -1;
	off = pkt_ip6_skip_ext(ip, whole, &proto, &nh_off);
	if (off < 0 || proto != IPPROTO_ICMPV6)
		return -1;
	ilen = whole - (uint32_t)off;
	if (ilen < 8 || ip[off] != 128 || ip[off + 1] != 0 ||
	    icmp6_cksum(ip, ip + off, ilen) != 0)
		return -1;
	if (ip[24] == 0xff || ip[8] == 0xff || v6_unspecified(ip + 8))
		return -1;

	rte_pktmbuf_trim(m, (uint16_t)(len - whole));
	if ((uint32_t)off > hl) {
		/* Drop the extension headers. */
		memmove(ip + off - hl, ip, hl);
		ip = (uint8_t *)rte_pktmbuf_adj(m, (uint16_t)(off - hl));
		h = (struct rte_ipv6_hdr *)ip;
		h->proto = IPPROTO_ICMPV6;
	}
	h->payload_len = rte_cpu_to_be_16((uint16_t)ilen);
	memcpy(a, h->src_addr, 16);
	memcpy(h->src_addr, h->dst_addr, 16);
	memcpy(h->dst_addr, a, 16);
	h->hop_limits = ICMP_TTL;

	ip[hl] = 129; /* echo reply */
	ip[hl + 2] = 0;
	ip[hl + 3] = 0;
	ck = icmp6_cksum(ip, ip + hl, ilen);
	memcpy(ip + hl + 2, &ck, 2);
	m->l2_len = 0;
	m->l3_len = hl;
	return 0;
}

int
icmp_echo_reply(struct rte_mbuf *m)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);

	if (m->nb_segs != 1 || len < 1)
		return -1;
	switch (ip[0] >> 4) {
	case 4:
		return echo4(m, ip, len);
	case 6:
		return echo6(m, ip, len);
	default:
		return -1;
	}
}
