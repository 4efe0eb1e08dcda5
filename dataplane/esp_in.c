/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound ESP (RFC 4303 3.4): parse, then for the burst: length and
 * replay checks, one crypto burst (ICV first), then window update, pad
 * check and decapsulation.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane/esp.h"
#include "dataplane/esp_priv.h"
#include "dataplane/pkt.h"

#define NAT_T_PORT 4500

static bool
natt_port(const uint64_t *udp_ports, uint16_t dport)
{
	return dport == NAT_T_PORT ||
	       (udp_ports != NULL && (udp_ports[dport >> 6] & (1ull << (dport & 63))));
}

/*
 * A broken IP header (lengths) over @p proto, its payload at @p l4 if
 * @p l4_len bytes of it are there: ESP, or UDP to a NAT-T port, is ESP
 * cut short (XfrmInHdrError, DESIGN.md "Failures along the way"); any
 * other is a malformed packet, as on a protected port.
 */
static enum esp_in_kind
broken_ip(const uint64_t *udp_ports, uint8_t proto, const uint8_t *l4, uint32_t l4_len)
{
	if (proto == IPPROTO_ESP)
		return ESP_IN_BAD;
	if (proto == IPPROTO_UDP && l4_len >= 4 &&
	    natt_port(udp_ports, (uint16_t)(l4[2] << 8 | l4[3])))
		return ESP_IN_BAD;
	return ESP_IN_MALFORMED;
}

enum esp_in_kind
esp_in_parse(struct rte_mbuf *m, const uint64_t *udp_ports, uint32_t *spi)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len, tot, hl, nh_off;
	uint8_t proto = 0;
	bool frag;

	if (unlikely(m->nb_segs != 1 || len < sizeof(struct rte_ipv4_hdr)))
		return ESP_IN_BAD;
	if ((ip[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *h = (const void *)ip;

		hl = (ip[0] & 0x0f) * 4u;
		tot = rte_be_to_cpu_16(h->total_length);
		if (unlikely(hl < sizeof(*h) || tot < hl || tot > len)) {
			uint32_t l4 = hl < sizeof(*h) ? sizeof(*h) : hl;

			return broken_ip(udp_ports, h->next_proto_id, ip + l4,
					 len > l4 ? len - l4 : 0);
		}
		proto = h->next_proto_id;
		frag = (h->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
							     RTE_IPV4_HDR_OFFSET_MASK)) != 0;
	} else if ((ip[0] >> 4) == 6 && len >= sizeof(struct rte_ipv6_hdr)) {
		const struct rte_ipv6_hdr *h = (const void *)ip;
		int off;

		tot = sizeof(*h) + rte_be_to_cpu_16(h->payload_len);
		if (unlikely(tot > len)) {
			off = pkt_ip6_skip_ext(ip, len, &proto, &nh_off);
			return off < 0 ? ESP_IN_BAD :
			       broken_ip(udp_ports, proto, ip + off, len - (uint32_t)off);
		}
		off = pkt_ip6_skip_ext(ip, tot, &proto, &nh_off);
		frag = off < 0 && proto == IPPROTO_FRAGMENT;
		/* Where ESP starts must fit the mbuf's l3_len (9 bits). */
		if ((off < 0 && !frag) || off >= 1 << RTE_MBUF_L3_LEN_BITS)
			return ESP_IN_BAD;
		hl = (uint32_t)off;
	} else {
		return ESP_IN_OTHER;
	}
	if (tot < len)
		rte_pktmbuf_trim(m, (uint16_t)(len - tot));
	/* A fragment here is someone else's, passing through (the
	 * gateway's own are put together before, in gw_inbound()): it goes
	 * on as plain traffic, to the SPD (DESIGN.md "MTU and
	 * fragmentation"). */
	if (unlikely(frag))
		return ESP_IN_OTHER;

	m->l3_len = hl;
	m->l4_len = 0;
	if (proto == IPPROTO_ESP) {
		if (unlikely(tot < hl + ESP_HDR_LEN))
			return ESP_IN_BAD;
		*spi = esp_load_be32(ip + hl);
		return ESP_IN_ESP;
	}
	if (proto == IPPROTO_UDP) {
		const struct rte_udp_hdr *udp = (const void *)(ip + hl);
		uint16_t dport;
		uint32_t plen;

		if (tot < hl + sizeof(*udp))
			return ESP_IN_OTHER;
		dport = rte_be_to_cpu_16(udp->dst_port);
		if (!natt_port(udp_ports, dport))
			return ESP_IN_OTHER;
		/* RFC 3948 2: the UDP length must be the datagram's. */
		if (rte_be_to_cpu_16(udp->dgram_len) != tot - hl)
			return ESP_IN_BAD;
		plen = tot - hl - sizeof(*udp);
		ip += hl + sizeof(*udp);
		if (plen == 1 && ip[0] == 0xff)
			return ESP_IN_KEEPALIVE;
		if (plen >= 4 && ip[0] == 0 && ip[1] == 0 && ip[2] == 0 &&
		    ip[3] == 0)
			return ESP_IN_IKE;
		if (plen < ESP_HDR_LEN)
			return ESP_IN_BAD;
		m->l4_len = sizeof(*udp);
		*spi = esp_load_be32(ip);
		return ESP_IN_ESP;
	}
	return ESP_IN_OTHER;
}

/* Lengths and replay; fill the crypto op. Returns 0 or a drop reason.
 * @p fast: the SA is the usual one (esp_sa.fast), a constant at each
 * call, so its choices fold away. */
static __rte_always_inline int
in_prepare_one(struct crypto_op *op, uint8_t *aad, uint8_t *icv, uint64_t *seq_out,
	       uint32_t *ct_out, struct rte_mbuf *m, struct esp_sa *sa, const bool fast)
{
	const uint32_t iv_len = fast ? 8 : sa->iv_len;
	const uint32_t align = fast ? 4 : sa->pad_align;
	const bool esn = !fast && (sa->flags & ESP_F_ESN);
	const bool aead = fast || sa->sess.is_aead;
	uint32_t esp_off = (uint32_t)m->l3_len + m->l4_len;
	uint32_t fixed = ESP_HDR_LEN + iv_len + sa->icv_len;
	uint8_t *esp = rte_pktmbuf_mtod_offset(m, uint8_t *, esp_off);
	uint32_t esp_len, ct_len, seq_lo;
	uint64_t seq;

	if (unlikely(m->nb_segs != 1 || m->data_len < esp_off + fixed))
		return CNT_XfrmInHdrError;
	esp_len = m->data_len - esp_off;
	ct_len = esp_len - fixed;
	/* RFC 4303 2.4: whole cipher blocks that end 4-byte aligned.
	 * pad_align is 4 or 16 (esp_sa_init), a power of two: a mask, not
	 * a division. */
	if (unlikely(ct_len < align || (ct_len & (align - 1u)) != 0))
		return CNT_XfrmInHdrError;

	seq_lo = esp_load_be32(esp + 4);
	seq = seq_lo;
	if (sa->replay != NULL) {
		if (esn) {
			if (!replay_esn_infer(sa->replay, seq_lo, &seq))
				goto replayed;
		}
		/* RFC 4303 3.4.3: reject replays before spending the ICV. */
		if (unlikely(!replay_check(sa->replay, seq)))
			goto replayed;
	}
	*seq_out = seq;
	*ct_out = ct_len;

	op->sess = &sa->sess;
	op->data = esp;
	op->mbuf = m;
	op->cipher_off = ESP_HDR_LEN + iv_len;
	op->cipher_len = ct_len;
	op->auth_len = ESP_HDR_LEN + iv_len + ct_len;
	op->iv = esp + ESP_HDR_LEN;
	op->icv = esp + ESP_HDR_LEN + iv_len + ct_len;
	if (aead) {
		esp_aead_aad(op, esp, esn, seq, aad);
	} else if (esn) {
		/* RFC 4303 2.2.1: hash the high half as if it followed the
		 * payload. It goes where the ICV is, so keep the ICV aside. */
		memcpy(icv, op->icv, sa->icv_len);
		esp_store_be32(op->icv, (uint32_t)(seq >> 32));
		op->icv = icv;
		op->auth_len += 4;
	}
	return 0;

replayed:
	sa->stats.replay_drops++;
	return CNT_XfrmInStateSeqError;
}

/* RFC 6040 normal mode decap (its figure 4), plus the decap-dscp flag.
 * Returns the new inner TOS, or -1 to drop (CE over a not-ECT packet). */
static int
in_tunnel_tos(const struct esp_sa *sa, uint8_t outer, uint8_t inner)
{
	if (!(sa->flags & ESP_F_NOECN)) {
		if ((outer & ECN_MASK) == ECN_CE) {
			if ((inner & ECN_MASK) == ECN_NOT_ECT)
				return -1;
			inner |= ECN_CE;
		} else if ((outer & ECN_MASK) == ECN_ECT1 && (inner & ECN_MASK) == ECN_ECT0) {
			inner = (uint8_t)((inner & ~ECN_MASK) | ECN_ECT1);
		}
	}
	if (sa->flags & ESP_F_DECAP_DSCP)
		inner = (uint8_t)((outer & ~ECN_MASK) | (inner & ECN_MASK));
	return inner;
}

static int
in_decap_tunnel(struct rte_mbuf *m, const struct esp_sa *sa, uint32_t start,
		uint32_t pl_len, uint8_t nh)
{
	uint8_t *outer = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *in = outer + start;
	uint8_t otos, itos;
	uint32_t tot;
	int tos;

	otos = (outer[0] >> 4) == 4 ?
		((struct rte_ipv4_hdr *)outer)->type_of_service :
		(uint8_t)(rte_be_to_cpu_32(
			((struct rte_ipv6_hdr *)outer)->vtc_flow) >> 20);

	if (nh == IPPROTO_IPIP) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)in;
		uint32_t hl;

		if (pl_len < sizeof(*ip) || (in[0] >> 4) != 4)
			return -1;
		hl = (in[0] & 0x0f) * 4u;
		tot = rte_be_to_cpu_16(ip->total_length);
		if (hl < sizeof(*ip) || tot < hl || tot > pl_len)
			return -1;
		itos = ip->type_of_service;
		tos = in_tunnel_tos(sa, otos, itos);
		if (tos < 0)
			return -1;
		if (tos != itos) {
			ip->type_of_service = (uint8_t)tos;
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
	} else if (nh == IPPROTO_IPV6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)in;
		uint32_t vtc;

		if (pl_len < sizeof(*ip6) || (in[0] >> 4) != 6)
			return -1;
		tot = sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
		if (tot > pl_len)
			return -1;
		vtc = rte_be_to_cpu_32(ip6->vtc_flow);
		itos = (uint8_t)(vtc >> 20);
		tos = in_tunnel_tos(sa, otos, itos);
		if (tos < 0)
			return -1;
		vtc = (vtc & ~(0xffu << 20)) | (uint32_t)tos << 20;
		ip6->vtc_flow = rte_cpu_to_be_32(vtc);
	} else {
		return -1;
	}
	/* What lies past the inner length is TFC padding (RFC 4303 2.7).
	 * One segment (in_prepare_one), start + tot within it: set the
	 * bounds directly, as rte_pktmbuf_adj() then _trim() would. */
	m->data_off = (uint16_t)(m->data_off + start);
	m->data_len = (uint16_t)tot;
	m->pkt_len = tot;
	return 0;
}

/*
 * RFC 3948 3.1.2: transport mode through a NAT. The sender summed its TCP
 * or UDP checksum over its own address, which the NAT has since rewritten
 * in the one IP header the packet keeps: sum it again over that header
 * (the NAT's original address, NAT-OA, is not kept to do it
 * incrementally). A UDP checksum of 0 (none, over IPv4) stays 0, and a
 * fragment is left alone: its checksum covers what it lacks.
 */
static void
natt_l4_resum(uint8_t *ip, uint32_t len, uint32_t l4_off, uint8_t nh)
{
	uint8_t *l4 = ip + l4_off;
	uint32_t l4_len = len - l4_off, sum;
	uint16_t *ck, v;

	if (nh == IPPROTO_TCP && l4_len >= 20)
		ck = (uint16_t *)(l4 + 16);
	else if (nh == IPPROTO_UDP && l4_len >= 8 && (l4[6] | l4[7]) != 0)
		ck = (uint16_t *)(l4 + 6);
	else
		return;
	if ((ip[0] >> 4) == 4 && ((ip[6] & 0x3f) != 0 || ip[7] != 0))
		return; /* (IPv6: in_decap_transport() walked the chain, no fragment) */
	*ck = 0;
	sum = (ip[0] >> 4) == 4 ? rte_raw_cksum(ip + 12, 8) : rte_raw_cksum(ip + 8, 32);
	sum += rte_raw_cksum(l4, l4_len);
	sum += rte_cpu_to_be_16((uint16_t)nh) + rte_cpu_to_be_16((uint16_t)l4_len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	if (v == 0 && nh == IPPROTO_UDP)
		v = 0xffff; /* 0 would say "none" (RFC 768) */
	*ck = v;
}

static int
in_decap_transport(struct rte_mbuf *m, uint32_t start, uint32_t pl_len,
		   uint8_t nh, bool natt)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t hl = m->l3_len, nh_off;
	uint8_t proto;

	/* The packet's own header moves up against the payload. */
	memmove(ip + start - hl, ip, hl);
	rte_pktmbuf_adj(m, (uint16_t)(start - hl));
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - hl - pl_len));
	ip = rte_pktmbuf_mtod(m, uint8_t *);
	if ((ip[0] >> 4) == 4) {
		struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)ip;

		ip4->next_proto_id = nh;
		ip4->total_length = rte_cpu_to_be_16((uint16_t)(hl + pl_len));
		ip4->hdr_checksum = 0;
		ip4->hdr_checksum = rte_ipv4_cksum(ip4);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)ip;

		ip6->payload_len = rte_cpu_to_be_16(
			(uint16_t)(hl - sizeof(*ip6) + pl_len));
		if (pkt_ip6_skip_ext(ip, m->data_len, &proto, &nh_off) < 0)
			return -1;
		ip[nh_off] = nh;
	}
	if (natt)
		natt_l4_resum(ip, hl + pl_len, hl, nh);
	return 0;
}

/*
 * NAT-T (RFC 3948, RFC 7296 2.23): an authentic packet whose outer source
 * address or UDP source port is not the SA's peer means the peer's NAT
 * mapping changed (or the peer moved). Note it once per change (the last
 * one noted is kept in the SA) for the key manager, as Linux raises
 * XFRM_MSG_MAPPING; the SA itself stays as it is.
 */
static inline void
in_mapping(struct esp_ctx *ctx, const struct rte_mbuf *m, struct esp_sa *sa)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t alen = sa->outer_v6 ? 16 : 4;
	const uint8_t *src = ip + (sa->outer_v6 ? 8 : 12);
	struct esp_mapping *mp;
	uint16_t sport_be;

	memcpy(&sport_be, ip + m->l3_len, sizeof(sport_be));
	if (likely(sport_be == sa->udp_sport_be && memcmp(src, sa->peer_addr, alen) == 0))
		return;
	if (sport_be == sa->map_sport_be && memcmp(src, sa->map_addr, alen) == 0)
		return; /* noted already */
	/* An SA is found by SPI alone: a packet of the other family than
	 * the SA's peer is nothing to compare. */
	if (unlikely((ip[0] >> 4) != (sa->outer_v6 ? 6 : 4)))
		return;
	if (unlikely(ctx->n_map == ESP_MAP_MAX))
		return; /* a later packet notes it */
	mp = &ctx->map[ctx->n_map++];
	mp->sa = sa;
	mp->family = sa->outer_v6 ? 6 : 4;
	memset(mp->addr, 0, sizeof(mp->addr));
	memcpy(mp->addr, src, alen);
	mp->sport = rte_be_to_cpu_16(sport_be);
	memcpy(mp->prev_addr, sa->map_addr, sizeof(mp->prev_addr));
	mp->prev_sport_be = sa->map_sport_be;
	memcpy(sa->map_addr, src, alen);
	sa->map_sport_be = sport_be;
}

/* Window update, pad check, decap. Returns 0 or a drop reason. @p fast
 * as in in_prepare_one(). */
static __rte_always_inline int
in_finish_one(struct esp_ctx *ctx, const struct crypto_op *op, uint64_t seq,
	      uint32_t ct_len, struct rte_mbuf *m, struct esp_sa *sa, const bool fast)
{
	const uint32_t iv_len = fast ? 8 : sa->iv_len;
	const bool tunnel = fast || sa->mode == ESP_MODE_TUNNEL;
	uint32_t start = (uint32_t)m->l3_len + m->l4_len + ESP_HDR_LEN + iv_len;
	const uint8_t *pl = op->data + ESP_HDR_LEN + iv_len;
	uint32_t pl_len, i;
	uint8_t pad, nh;

	if (unlikely(op->status != CRYPTO_OK)) {
		if (op->status == CRYPTO_ICV_FAIL)
			sa->stats.icv_failures++;
		return CNT_XfrmInStateProtoError;
	}
	/* RFC 4303 3.4.3: only an authentic packet moves the window. */
	if (sa->replay != NULL) {
		if (unlikely(!replay_update(sa->replay, seq))) {
			sa->stats.replay_drops++;
			return CNT_XfrmInStateSeqError;
		}
	} else if (seq > sa->seq) {
		sa->seq = seq;
	}
	if (!fast && m->l4_len != 0 && (sa->flags & ESP_F_UDP_ENCAP))
		in_mapping(ctx, m, sa);

	pad = pl[ct_len - 2];
	nh = pl[ct_len - 1];
	if (unlikely((uint32_t)pad + ESP_TRAILER_LEN > ct_len))
		return CNT_XfrmInStateProtoError;
	pl_len = ct_len - ESP_TRAILER_LEN - pad;
	/* RFC 4303 2.4: we only ever send 1, 2, 3, ...: insist on it. */
	for (i = 0; i < pad; i++)
		if (unlikely(pl[pl_len + i] != (uint8_t)(i + 1)))
			return CNT_XfrmInStateProtoError;

	/* Bytes of the plain packet, as outbound counts them. */
	sa->stats.packets++;
	sa->stats.bytes += pl_len + (tunnel ? 0 : m->l3_len);
	if (nh == IPPROTO_NONE_DUMMY)
		return CNT_InDummy;

	if (tunnel) {
		if (unlikely(in_decap_tunnel(m, sa, start, pl_len, nh) < 0))
			return CNT_XfrmInStateModeError;
	} else {
		if (unlikely(in_decap_transport(m, start, pl_len, nh, m->l4_len != 0) < 0))
			return CNT_XfrmInStateModeError;
	}
	return 0;
}

static uint16_t
in_chunk(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
	 struct esp_sa *sas[], uint16_t n, uint16_t reasons[])
{
	struct esp_bad bad;
	uint16_t i, k = 0, good = 0;

	bad.n = 0;
	for (i = 0; i < n; i++) {
		int why = likely(sas[i]->fast) ?
			in_prepare_one(&ctx->ops[k], ctx->aad[k], ctx->icv[k], &ctx->seq[k],
				       &ctx->len[k], pkts[i], sas[i], true) :
			in_prepare_one(&ctx->ops[k], ctx->aad[k], ctx->icv[k], &ctx->seq[k],
				       &ctx->len[k], pkts[i], sas[i], false);

		esp_sort(&bad, pkts, sas, i, &k, why);
	}

	crypto_decrypt_burst(ctx->engine, ctx->ops, k);

	for (i = 0; i < k; i++) {
		int why = likely(sas[i]->fast) ?
			in_finish_one(ctx, &ctx->ops[i], ctx->seq[i], ctx->len[i], pkts[i],
				      sas[i], true) :
			in_finish_one(ctx, &ctx->ops[i], ctx->seq[i], ctx->len[i], pkts[i],
				      sas[i], false);

		esp_sort(&bad, pkts, sas, i, &good, why);
	}
	return esp_bad_flush(&bad, pkts, sas, good, reasons);
}

uint16_t
esp_in_process(struct esp_ctx *ctx, struct rte_mbuf *pkts[], struct esp_sa *sas[],
		uint16_t n, uint16_t reasons[])
{
	ctx->n_map = 0;
	return esp_process_chunks(in_chunk, ctx, pkts, sas, n, reasons);
}

/* esp_in_submit() over at most ESP_BURST_MAX packets: in_chunk()'s
 * first half, into pending slots. */
static uint16_t
in_submit_chunk(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
		struct esp_sa *sas[], uint16_t n, uint16_t reasons[])
{
	struct esp_async *a = ctx->async;
	struct esp_bad bad;
	uint16_t i, k = 0;

	bad.n = 0;
	for (i = 0; i < n; i++) {
		struct esp_pending *p = esp_slot_free(a);
		int why;

		if (unlikely(p == NULL))
			why = CNT_CryptoQueueFull;
		else if (likely(sas[i]->fast))
			why = in_prepare_one(&p->op, p->aad, p->icv, &p->seq, &p->len, pkts[i],
					     sas[i], true);
		else
			why = in_prepare_one(&p->op, p->aad, p->icv, &p->seq, &p->len, pkts[i],
					     sas[i], false);
		if (why == 0)
			esp_slot_fill(a, p, pkts[i], sas[i], ESP_DIR_IN);
		esp_sort(&bad, pkts, sas, i, &k, why);
	}
	esp_async_push(ctx);
	return esp_bad_flush(&bad, pkts, sas, k, reasons);
}

uint16_t
esp_in_submit(struct esp_ctx *ctx, struct rte_mbuf *pkts[], struct esp_sa *sas[],
	      uint16_t n, uint16_t reasons[])
{
	return esp_process_chunks(in_submit_chunk, ctx, pkts, sas, n, reasons);
}

int
esp_in_finish(struct esp_ctx *ctx, struct esp_pending *p)
{
	return likely(p->sa->fast) ?
		in_finish_one(ctx, &p->op, p->seq, p->len, p->m, p->sa, true) :
		in_finish_one(ctx, &p->op, p->seq, p->len, p->m, p->sa, false);
}
