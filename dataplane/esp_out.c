/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound ESP (RFC 4303 3.3): prepare every packet of the burst (room,
 * sequence number, trailer, headers, crypto op), run one crypto burst,
 * then finish what needs the ciphertext (the IPv6 UDP checksum).
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane/esp.h"
#include "dataplane/esp_priv.h"
#include "dataplane/pkt.h"

/* RFC 4303 2.4: the default pad content, as many bytes as any pad. */
static const uint8_t pad_pattern[16] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* What prepare learnt of the plain packet. */
struct out_pkt {
	uint32_t tot;    /* IP length of the plain packet */
	uint16_t hl;     /* its IP header length (transport: stays in front) */
	uint8_t tos;     /* its DSCP + ECN */
	uint8_t proto;   /* its upper-layer protocol */
	uint8_t v6;
};

/* Validate the plain packet and trim link-layer padding past its IP length. */
static __rte_always_inline int
out_parse(struct rte_mbuf *m, struct out_pkt *p)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;

	if (unlikely(m->nb_segs != 1 || len < sizeof(struct rte_ipv4_hdr)))
		return -1;
	if ((ip[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *h = (const void *)ip;

		p->v6 = 0;
		p->hl = (uint16_t)((ip[0] & 0x0f) * 4);
		p->tot = rte_be_to_cpu_16(h->total_length);
		p->tos = h->type_of_service;
		p->proto = h->next_proto_id;
	} else if ((ip[0] >> 4) == 6 && len >= sizeof(struct rte_ipv6_hdr)) {
		const struct rte_ipv6_hdr *h = (const void *)ip;

		p->v6 = 1;
		p->hl = sizeof(*h);
		p->tot = sizeof(*h) + rte_be_to_cpu_16(h->payload_len);
		p->tos = (uint8_t)(rte_be_to_cpu_32(h->vtc_flow) >> 20);
		p->proto = h->proto;
	} else {
		return -1;
	}
	if (unlikely(p->hl < sizeof(struct rte_ipv4_hdr) || p->tot < p->hl ||
		     p->tot > len))
		return -1;
	if (p->tot < len)
		rte_pktmbuf_trim(m, (uint16_t)(len - p->tot));
	return 0;
}

/*
 * The outer IPv4 checksum (RFC 1071), from the SA's template sum
 * (esp_sa.tmpl_sum, taken at init) and this packet's TOS, length and ID,
 * all in registers. Summing the header just written would load it with
 * wide loads straight after the narrow stores that wrote it, and stall on
 * store forwarding; summing the template per packet cost its loads. The
 * template holds 0 in those fields and in the checksum; its IHL is 5.
 */
static inline rte_be16_t
out_ip4_cksum(uint32_t tmpl_sum, uint8_t tos, rte_be16_t len_be,
	      rte_be16_t id_be)
{
	uint64_t sum;

	sum = (uint64_t)tmpl_sum + len_be + id_be;
	/* The TOS byte is the second of the first 16-bit word. */
	sum += rte_cpu_to_be_16(tos);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (rte_be16_t)~sum;
}

/* Tunnel mode: the prebuilt outer header, with this packet's length, TOS
 * and (IPv4) ID and checksum. RFC 6040 normal mode: ECN is copied, CE
 * included; DSCP too unless dont-encap-dscp. With noecn the outer ECN
 * is Not-ECT, as Linux clears it: the far end then throws no CE away.
 * @p v6 and @p udp are the SA's outer_v6 and ESP_F_UDP_ENCAP, constants
 * in the fast path. */
static __rte_always_inline void
out_tunnel_hdr(const struct esp_sa *sa, uint8_t *out, uint32_t total,
	       uint8_t tos, uint16_t id, bool v6, bool udp)
{
	if (unlikely(sa->flags & (ESP_F_DONT_ENCAP_DSCP | ESP_F_NOECN))) {
		if (sa->flags & ESP_F_DONT_ENCAP_DSCP)
			tos &= ECN_MASK;
		if (sa->flags & ESP_F_NOECN)
			tos &= (uint8_t)~ECN_MASK;
	}
	if (v6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)out;

		memcpy(out, sa->hdr_tmpl, sa->tmpl_len);
		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)tos << 20);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(total - sizeof(*ip6)));
		if (udp) {
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip6 + 1);

			udp->dgram_len = ip6->payload_len;
		}
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)out;
		rte_be16_t len_be = rte_cpu_to_be_16((uint16_t)total);
		/* Without DF, so a router may fragment it: the lcore's
		 * counter (esp_ctx.ip_id). */
		rte_be16_t id_be = rte_cpu_to_be_16(id);

		/* Constant sizes, so the copies are inline moves. */
		if (udp)
			memcpy(out, sa->hdr_tmpl,
			       sizeof(*ip) + sizeof(struct rte_udp_hdr));
		else
			memcpy(out, sa->hdr_tmpl, sizeof(*ip));
		ip->type_of_service = tos;
		ip->total_length = len_be;
		ip->packet_id = id_be;
		ip->hdr_checksum = out_ip4_cksum(sa->tmpl_sum, tos, len_be, id_be);
		if (udp) {
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

			udp->dgram_len = rte_cpu_to_be_16(
				(uint16_t)(total - sizeof(*ip)));
		}
	}
}

/* Where transport mode puts ESP in an IPv6 packet (@p tot bytes), and
 * what it finds there. */
struct v6_split {
	uint16_t hl;     /* ESP goes here */
	uint16_t nh_off; /* the byte that names what follows hl */
	uint8_t proto;   /* what follows hl */
};

/*
 * Transport mode over IPv6: ESP goes after the hop-by-hop and routing
 * headers, and a destination-options header before a routing header (RFC
 * 4303 3.1.1, RFC 8200 4.1: what routers on the way read; as Linux
 * places it), the rest travels inside. Out of line, and with a struct of
 * its own: the tunnel path's out_pkt stays in registers. @return -1 when
 * the chain runs past the packet.
 */
static __rte_noinline int
out_transport_v6(const uint8_t *ip, uint32_t tot, struct v6_split *s)
{
	uint32_t off = sizeof(struct rte_ipv6_hdr), n;
	uint8_t nh = ip[6];

	s->nh_off = 6;
	for (n = 0; n < IP6_EXT_MAX; n++) {
		uint32_t len;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
			break;
		if (off + 8 > tot)
			return -1;
		if (nh == IPPROTO_DSTOPTS && ip[off] != IPPROTO_ROUTING)
			break; /* for the final destination: inside */
		len = ((uint32_t)ip[off + 1] + 1) * 8;
		if (off + len > tot)
			return -1;
		s->nh_off = (uint16_t)off;
		nh = ip[off];
		off += len;
	}
	s->hl = (uint16_t)off;
	s->proto = nh;
	return 0;
}

/* Transport mode: the packet's own header (@p hl bytes; IPv6: the byte
 * at @p nh_off names what follows it) now carries ESP (or UDP). */
static void
out_transport_hdr(const struct esp_sa *sa, uint8_t *ip, uint16_t hl, uint16_t nh_off,
		  uint32_t total)
{
	uint8_t proto = (sa->flags & ESP_F_UDP_ENCAP) ? IPPROTO_UDP : IPPROTO_ESP;

	if ((ip[0] >> 4) == 6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)ip;

		ip[nh_off] = proto;
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(total - sizeof(*ip6)));
	} else {
		struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)ip;

		ip4->next_proto_id = proto;
		ip4->total_length = rte_cpu_to_be_16((uint16_t)total);
		ip4->hdr_checksum = 0;
		ip4->hdr_checksum = rte_ipv4_cksum(ip4);
	}
	if (sa->flags & ESP_F_UDP_ENCAP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + hl);

		udp->src_port = sa->udp_sport_be;
		udp->dst_port = sa->udp_dport_be;
		udp->dgram_len = rte_cpu_to_be_16((uint16_t)(total - hl));
		udp->dgram_cksum = 0;
	}
}

/*
 * Lay out one packet and fill its crypto op, with sequence number @p seq
 * (reserved by the caller). Returns 0, or the counter that names why the
 * packet is dropped. @p fast: the SA is the usual one (esp_sa.fast), a constant at
 * each call.
 */
static __rte_always_inline int
out_prepare_one(struct crypto_op *op, uint8_t *aad, uint32_t *plain_len,
		struct rte_mbuf *m, struct esp_sa *sa, const bool fast, uint64_t seq,
		bool wrapped, uint16_t id)
{
	struct out_pkt p;
	uint32_t pl_len, padded, trailer, front, udp_len, i;
	uint16_t nh_off = 6; /* transport over IPv6: the byte naming what follows */
	uint8_t *esp, *tr, *iv, nh, pad;
	uint64_t word, mask;
	uint32_t spi;
	const bool tunnel = fast || sa->mode == ESP_MODE_TUNNEL;
	const bool udp = !fast && (sa->flags & ESP_F_UDP_ENCAP);
	const bool esn = !fast && (sa->flags & ESP_F_ESN);
	const bool aead = fast || sa->sess.is_aead;
	const uint32_t iv_len = fast ? 8 : sa->iv_len;
	const uint32_t align = fast ? 4 : sa->pad_align;
	const uint32_t tmpl_len = fast ? sizeof(struct rte_ipv4_hdr) :
				  sa->tmpl_len;

	if (unlikely(out_parse(m, &p) < 0))
		return CNT_XfrmOutError;

	if (tunnel) {
		pl_len = p.tot;
		nh = p.v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	} else {
		if (p.v6) {
			struct v6_split s;

			if (unlikely(out_transport_v6(rte_pktmbuf_mtod(m, const uint8_t *), p.tot,
						      &s) < 0))
				return CNT_XfrmOutError;
			p.hl = s.hl;
			p.proto = s.proto;
			nh_off = s.nh_off;
		}
		pl_len = p.tot - p.hl;
		nh = p.proto;
	}
	/* RFC 4303 2.4: pad so payload + 2 fills whole blocks. */
	padded = RTE_ALIGN_CEIL(pl_len + ESP_TRAILER_LEN, align);
	pad = (uint8_t)(padded - pl_len - ESP_TRAILER_LEN);
	trailer = pad + ESP_TRAILER_LEN + sa->icv_len;
	udp_len = udp ? sizeof(struct rte_udp_hdr) : 0;
	front = ESP_HDR_LEN + iv_len + (tunnel ? tmpl_len : udp_len);
	if (unlikely(rte_pktmbuf_headroom(m) < front ||
		     rte_pktmbuf_tailroom(m) < trailer ||
		     p.tot + front + trailer > UINT16_MAX))
		return CNT_XfrmOutError;

	/* RFC 4303 3.3.3: never wrap; the SA is then done. Below the top,
	 * a number past seq_stop is its successor's (the record was
	 * replaced while this worker drew from it): never twice under one
	 * key and IV mask. */
	if (unlikely(sa->exhausted))
		return CNT_XfrmOutStateSeqError;
	if (unlikely((esn && wrapped) ||
		     seq > __atomic_load_n(&sa->seq_stop, __ATOMIC_RELAXED))) {
		if ((esn && wrapped) || (!esn && seq > UINT32_MAX)) {
			sa->exhausted = 1;
			return CNT_XfrmOutStateSeqError;
		}
		return CNT_XfrmOutStateInvalid;
	}

	/* One segment with room on both sides, checked above: move its
	 * bounds directly rather than through rte_pktmbuf_append() and
	 * rte_pktmbuf_prepend(), which check it all again. */
	tr = rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len);
	m->data_off = (uint16_t)(m->data_off - front);
	m->data_len = (uint16_t)(m->data_len + front + trailer);
	m->pkt_len += front + trailer;
	if (tunnel) {
		esp = rte_pktmbuf_mtod_offset(m, uint8_t *, tmpl_len);
		out_tunnel_hdr(sa, rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
			       p.tos, id, !fast && sa->outer_v6, udp);
	} else {
		uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);

		memmove(ip, ip + front, p.hl);
		esp = ip + p.hl + udp_len;
		out_transport_hdr(sa, ip, p.hl, nh_off, m->data_len);
	}

	/* Trailer: RFC 4303 2.4 default pad content 1, 2, 3, ... The pad is
	 * shorter than pad_align (16 at most today), so one 16-byte copy of
	 * the pattern does when the trailer has room for it; what it writes
	 * past the pad, pad length, next header and the ICV overwrite. */
	if (likely(pad < sizeof(pad_pattern) &&
		   trailer >= sizeof(pad_pattern))) {
		memcpy(tr, pad_pattern, sizeof(pad_pattern));
	} else {
		for (i = 0; i < pad; i++)
			tr[i] = (uint8_t)(i + 1);
	}
	tr[pad] = pad;
	tr[pad + 1] = nh;

	/*
	 * SPI and sequence number in one 8-byte store, and the IV in 8-byte
	 * stores: the AEAD reads both (AAD, nonce) with 8-byte loads, which
	 * stall when narrower stores wrote the bytes just before.
	 */
	spi = rte_be_to_cpu_32(sa->spi_be);
	word = rte_cpu_to_be_64((uint64_t)spi << 32 | (uint32_t)seq);
	memcpy(esp, &word, 8);
	iv = esp + ESP_HDR_LEN;
	if (iv_len != 0) {
		/* RFC 4106 3.1 / RFC 7634 2: the counter is a nonce that never
		 * repeats under one key; XOR with a per-SA constant keeps it
		 * unique. For CBC the engine then makes it E_K(counter). The
		 * counter is seq (8 bytes), SPI, 4 zero bytes; the IV is its
		 * first iv_len bytes, 8 (AEAD) or 16 (CBC) (crypto.h). */
		memcpy(&mask, sa->iv_mask, 8);
		word = rte_cpu_to_be_64(seq) ^ mask;
		memcpy(iv, &word, 8);
		if (iv_len > 8) {
			memcpy(&mask, sa->iv_mask + 8, 8);
			word = rte_cpu_to_be_64((uint64_t)spi << 32) ^ mask;
			memcpy(iv + 8, &word, 8);
		}
	}

	op->sess = &sa->sess;
	op->data = esp;
	op->mbuf = m;
	op->cipher_off = ESP_HDR_LEN + iv_len;
	op->cipher_len = padded;
	op->auth_len = ESP_HDR_LEN + iv_len + padded;
	op->iv = iv;
	op->icv = tr + pad + ESP_TRAILER_LEN;
	if (aead) {
		esp_aead_aad(op, esp, esn, seq, aad);
	} else if (esn) {
		/* RFC 4303 2.2.1: the high half is hashed as if it followed
		 * the payload; it sits where the ICV goes, which overwrites
		 * it. */
		esp_store_be32(op->icv, (uint32_t)(seq >> 32));
		op->auth_len += 4;
	}
	*plain_len = p.tot; /* plain bytes, for the SA's byte count */
	return 0;
}

/* out_prepare_one() for any SA but the usual kind (transport, UDP, ESN,
 * CBC...), out of line: the loops that call it keep only the fast
 * layout's code, whatever the rare ones need. */
static __rte_noinline int
out_prepare_slow(struct crypto_op *op, uint8_t *aad, uint32_t *plain_len,
		 struct rte_mbuf *m, struct esp_sa *sa, uint64_t seq, bool wrapped,
		 uint16_t id)
{
	return out_prepare_one(op, aad, plain_len, m, sa, false, seq, wrapped, id);
}

/* The IPv6 UDP checksum covers the ciphertext (RFC 3948 keeps it
 * mandatory over IPv6); over IPv4 it stays 0. */
static inline void
out_finish_one(struct rte_mbuf *m, const struct esp_sa *sa)
{
	if (sa->flags & ESP_F_UDP_ENCAP) {
		uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);

		if ((ip[0] >> 4) == 6) {
			struct rte_ipv6_hdr *ip6 = (void *)ip;
			struct rte_udp_hdr *udp = (void *)(ip6 + 1);

			udp->dgram_cksum = 0;
			udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
		}
	}
}

/*
 * Reserve sequence numbers for the run of SA sas[i] that starts at i
 * (one lcore alone sends through an outbound SA, its owner,
 * dataplane/worker.h, so this is a plain add: STYLE.md habit 6; a shared
 * SA's run takes its numbers with one atomic add, as librte_ipsec does
 * for ipsec-secgw -a). A packet dropped later leaves a gap, which
 * receivers accept. @return the first.
 */
static inline uint64_t
out_reserve(struct esp_sa *sas[], uint16_t i, uint16_t n)
{
	struct esp_sa *sa = sas[i];
	uint64_t first;
	uint16_t j;

	for (j = i + 1; j < n && sas[j] == sa; j++)
		;
	if (unlikely(sa->shared)) {
		first = __atomic_fetch_add(&sa->seq, (uint64_t)(j - i), __ATOMIC_RELAXED) + 1;
	} else {
		first = sa->seq + 1;
		sa->seq += (uint64_t)(j - i);
	}
	/* The 64-bit counter wrapped (ESN: RFC 4303 3.3.3). Done here, not
	 * per packet: were the packet that drew the wrap dropped before its
	 * check, the next would go out with a low number, and a nonce
	 * again. */
	if (unlikely(first - 1 + (uint64_t)(j - i) < first - 1))
		__atomic_store_n(&sa->exhausted, 1, __ATOMIC_RELAXED);
	return first;
}

static uint16_t
out_chunk(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
	  struct esp_sa *sas[], uint16_t n, uint16_t reasons[])
{
	struct esp_bad bad;
	struct esp_sa *cur = NULL, *shaped = NULL;
	uint64_t cur_bytes = 0, first = 0, seq = 0;
	uint16_t i, k = 0, good = 0, cur_start = 0;
	bool fast = false;

	bad.n = 0;
	for (i = 0; i < n; i++) {
		bool wrapped;
		int why;

		if (sas[i] != shaped) {
			/* Sequence numbers for the whole run of this SA at
			 * once. */
			shaped = sas[i];
			fast = shaped->fast;
			first = seq = out_reserve(sas, i, n);
		}
		/* ESN: a 64-bit counter is spent when it wraps to 0. */
		wrapped = seq == 0 || seq < first;
		if (likely(fast))
			why = out_prepare_one(&ctx->ops[k], ctx->aad[k], &ctx->len[k], pkts[i],
					      sas[i], true, seq, wrapped,
					      (uint16_t)(ctx->ip_id + i));
		else
			why = out_prepare_slow(&ctx->ops[k], ctx->aad[k], &ctx->len[k], pkts[i],
					       sas[i], seq, wrapped, (uint16_t)(ctx->ip_id + i));
		seq++;
		esp_sort(&bad, pkts, sas, i, &k, why);
	}
	ctx->ip_id = (uint16_t)(ctx->ip_id + n);

	crypto_encrypt_burst(ctx->engine, ctx->ops, k);

	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		struct esp_sa *sa = sas[i];

		if (unlikely(ctx->ops[i].status != CRYPTO_OK)) {
			esp_bad_add(&bad, m, sa, CNT_XfrmOutStateProtoError);
			continue;
		}
		out_finish_one(m, sa);
		/* Counted once per run of one SA: a burst is mostly one SA,
		 * and adding to its counters per packet chains every packet
		 * on the previous one's store. The run's packets are counted
		 * by position, not by an increment: the compiler packed a
		 * count and the bytes into one vector register, a chain of
		 * inserts and extracts through every packet. */
		if (sa != cur) {
			if (cur != NULL)
				esp_stats_add(cur, good - cur_start, cur_bytes);
			cur = sa;
			cur_start = good;
			cur_bytes = 0;
		}
		cur_bytes += ctx->len[i];
		pkts[good] = m;
		sas[good] = sa;
		good++;
	}
	if (cur != NULL)
		esp_stats_add(cur, good - cur_start, cur_bytes);
	return esp_bad_flush(&bad, pkts, sas, good, reasons);
}

uint16_t
esp_out_process(struct esp_ctx *ctx, struct rte_mbuf *pkts[], struct esp_sa *sas[],
		uint16_t n, uint16_t reasons[])
{
	return esp_process_chunks(out_chunk, ctx, pkts, sas, n, reasons);
}

/* esp_out_submit() over at most ESP_BURST_MAX packets: out_chunk() with
 * the crypto op and scratch of each packet in its pending slot. */
static uint16_t
out_submit_chunk(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
		 struct esp_sa *sas[], uint16_t n, uint16_t reasons[])
{
	struct esp_async *a = ctx->async;
	struct esp_bad bad;
	struct esp_sa *shaped = NULL;
	uint64_t first = 0, seq = 0;
	uint16_t i, k = 0, id = ctx->ip_id;

	bad.n = 0;
	for (i = 0; i < n; i++) {
		struct esp_pending *p = esp_slot_free(a);
		bool wrapped;
		int why;

		if (sas[i] != shaped) {
			shaped = sas[i];
			first = seq = out_reserve(sas, i, n);
		}
		wrapped = seq == 0 || seq < first;
		if (unlikely(p == NULL))
			why = CNT_CryptoQueueFull;
		else if (likely(shaped->fast))
			why = out_prepare_one(&p->op, p->aad, &p->len, pkts[i], sas[i], true, seq,
					      wrapped, id);
		else
			why = out_prepare_slow(&p->op, p->aad, &p->len, pkts[i], sas[i], seq,
					       wrapped, id);
		seq++;
		id++;
		if (why == 0)
			esp_slot_fill(a, p, pkts[i], sas[i], ESP_DIR_OUT);
		esp_sort(&bad, pkts, sas, i, &k, why);
	}
	ctx->ip_id = id;
	esp_async_push(ctx);
	return esp_bad_flush(&bad, pkts, sas, k, reasons);
}

uint16_t
esp_out_submit(struct esp_ctx *ctx, struct rte_mbuf *pkts[], struct esp_sa *sas[],
	       uint16_t n, uint16_t reasons[])
{
	return esp_process_chunks(out_submit_chunk, ctx, pkts, sas, n, reasons);
}

int
esp_out_finish(struct esp_pending *p)
{
	if (unlikely(p->op.status != CRYPTO_OK))
		return CNT_XfrmOutStateProtoError;
	out_finish_one(p->m, p->sa);
	esp_stats_add(p->sa, 1, p->len);
	return 0;
}
