/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP MSS clamping (see mss.h).
 */
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "dataplane/mss.h"
#include "dataplane/pkt.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

/*
 * Where the TCP header of the IP packet at @p ip starts, with *end where
 * the segment ends (the IP length, cut to @p len): -1 malformed, -2 not
 * TCP or a fragment (nothing to do).
 */
static int
tcp_find(const uint8_t *ip, uint32_t len, uint32_t *end)
{
	uint32_t hl, nh_off;
	uint8_t proto = 0;
	int off;

	if (len >= sizeof(struct rte_ipv4_hdr) && (ip[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *h = (const struct rte_ipv4_hdr *)ip;

		hl = rte_ipv4_hdr_len(h);
		*end = RTE_MIN((uint32_t)rte_be_to_cpu_16(h->total_length), len);
		if (hl < sizeof(*h) || hl > *end)
			return -1;
		if (h->next_proto_id != IPPROTO_TCP ||
		    (h->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
			return -2;
		return (int)hl;
	}
	if (len >= sizeof(struct rte_ipv6_hdr) && (ip[0] >> 4) == 6) {
		const struct rte_ipv6_hdr *h = (const struct rte_ipv6_hdr *)ip;

		*end = RTE_MIN((uint32_t)sizeof(*h) + rte_be_to_cpu_16(h->payload_len), len);
		off = pkt_ip6_skip_ext(ip, *end, &proto, &nh_off);
		if (off < 0)
			return proto == IPPROTO_FRAGMENT ? -2 : -1;
		return proto == IPPROTO_TCP ? off : -2;
	}
	return -1;
}

int
tcp_mss_clamp(uint8_t *ip, uint32_t len, uint16_t mss)
{
	uint32_t end, doff, o, at = 0, sum;
	uint16_t old, m_old, m_new;
	struct rte_tcp_hdr *th;
	uint8_t *tcp;
	int off;

	off = tcp_find(ip, len, &end);
	if (off < 0)
		return off == -2 ? 0 : -1;
	if ((uint32_t)off + sizeof(*th) > end)
		return -1;
	tcp = ip + off;
	th = (struct rte_tcp_hdr *)tcp;
	if (!(th->tcp_flags & RTE_TCP_SYN_FLAG))
		return 0;
	doff = (th->data_off >> 4) * 4u;
	if (doff < sizeof(*th) || (uint32_t)off + doff > end)
		return -1;
	/* Walk every option first (RFC 9293 3.1): a bad length anywhere
	 * means we do not know where the MSS is. */
	for (o = sizeof(*th); o < doff; ) {
		uint32_t olen;

		if (tcp[o] == TCPOPT_EOL)
			break;
		if (tcp[o] == TCPOPT_NOP) {
			o++;
			continue;
		}
		if (o + 2 > doff)
			return -1;
		olen = tcp[o + 1];
		if (olen < 2 || o + olen > doff)
			return -1;
		if (tcp[o] == TCPOPT_MSS) {
			if (olen != 4)
				return -1;
			if (at == 0)
				at = o + 2;
		}
		o += olen;
	}
	if (at == 0)
		return 0;
	old = (uint16_t)(tcp[at] << 8 | tcp[at + 1]);
	if (old <= mss)
		return 0;
	tcp[at] = (uint8_t)(mss >> 8);
	tcp[at + 1] = (uint8_t)mss;
	/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). The checksum sums 16-bit
	 * words from the start of the TCP header: a value at an odd offset
	 * counts byte-swapped. */
	m_old = (at & 1) ? rte_bswap16(old) : old;
	m_new = (at & 1) ? rte_bswap16(mss) : mss;
	sum = (uint16_t)~rte_be_to_cpu_16(th->cksum) + (uint32_t)(uint16_t)~m_old + m_new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	th->cksum = rte_cpu_to_be_16((uint16_t)~sum);
	return 1;
}
