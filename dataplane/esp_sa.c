/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building an SA's fast-path record: every per-SA decision (mode, outer
 * family, UDP encap, alignment) is taken here once, so the per-packet
 * code only reads flags and copies a prebuilt header.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "dataplane/esp.h"
#include "dataplane/esp_priv.h"

#define OUTER_TTL 64

static void
build_tmpl(struct esp_sa *sa, const struct esp_sa_conf *c)
{
	uint8_t *p = sa->hdr_tmpl;
	uint8_t proto = (c->flags & ESP_F_UDP_ENCAP) ? IPPROTO_UDP : IPPROTO_ESP;

	memset(sa->hdr_tmpl, 0, sizeof(sa->hdr_tmpl));
	if (sa->outer_v6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip6->proto = proto;
		ip6->hop_limits = OUTER_TTL;
		memcpy(ip6->src_addr, c->src.v6, 16);
		memcpy(ip6->dst_addr, c->dst.v6, 16);
		p += sizeof(*ip6);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->time_to_live = OUTER_TTL;
		ip->next_proto_id = proto;
		ip->src_addr = c->src.v4;
		ip->dst_addr = c->dst.v4;
		p += sizeof(*ip);
	}
	if (c->flags & ESP_F_UDP_ENCAP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)p;

		udp->src_port = sa->udp_sport_be;
		udp->dst_port = sa->udp_dport_be;
		p += sizeof(*udp);
	}
	sa->tmpl_len = (uint8_t)(p - sa->hdr_tmpl);
	if (!sa->outer_v6) {
		uint32_t w[5];
		uint64_t sum;

		memcpy(w, sa->hdr_tmpl, sizeof(w));
		sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
		sum = (sum & 0xffffffff) + (sum >> 32);
		sa->tmpl_sum = (uint32_t)((sum & 0xffffffff) + (sum >> 32));
	}
}

int
esp_sa_init(struct esp_sa *sa, const struct esp_sa_conf *c,
	    enum crypto_engine_kind kind)
{
	int rc;

	memset(sa, 0, offsetof(struct esp_sa, sess));
	if (c->dir > ESP_DIR_OUT || c->mode > ESP_MODE_TRANSPORT)
		return -EINVAL;
	if (c->mode == ESP_MODE_TUNNEL &&
	    (c->src.family != c->dst.family ||
	     (c->src.family != 4 && c->src.family != 6)))
		return -EINVAL;
	if (c->replay_window > REPLAY_WINDOW_MAX)
		return -EINVAL;
	/* ESN needs a window to infer the high half from (RFC 4303 A). */
	if (c->dir == ESP_DIR_IN && (c->flags & ESP_F_ESN) &&
	    c->replay_window == 0)
		return -EINVAL;
	if (!(c->flags & ESP_F_ESN) &&
	    (c->seq_out > UINT32_MAX || c->seq_in > UINT32_MAX))
		return -EINVAL;

	rc = crypto_session_init(&sa->sess, kind, &c->algo);
	if (rc < 0)
		return rc;
	/* ESN's high half travels in the ICV's place while it is computed
	 * (RFC 4303 2.2.1): an SA with integrity of fewer than 4 bytes, or
	 * none, has nothing to hide it in, and nothing to authenticate it. */
	if ((c->flags & ESP_F_ESN) && !sa->sess.is_aead && sa->sess.icv_len < 4) {
		crypto_session_wipe(&sa->sess);
		return -EINVAL;
	}

	sa->spi_be = rte_cpu_to_be_32(c->spi);
	sa->dir = c->dir;
	sa->mode = c->mode;
	sa->flags = c->flags;
	sa->iv_len = sa->sess.iv_len;
	sa->icv_len = sa->sess.icv_len;
	/* RFC 4303 2.4: the trailer ends on a 4-byte boundary, and on the
	 * cipher's block boundary. */
	sa->pad_align = RTE_MAX(sa->sess.block_size, (uint8_t)4);
	sa->outer_v6 = c->src.family == 6;
	sa->udp_sport_be = rte_cpu_to_be_16(c->udp_sport);
	sa->udp_dport_be = rte_cpu_to_be_16(c->udp_dport);
	/* Inbound without a replay window, seq is the highest authentic
	 * number seen (what `state get` reports; the window keeps it
	 * otherwise). */
	sa->seq = c->dir == ESP_DIR_IN ? c->seq_in : c->seq_out;
	sa->seq_stop = (c->flags & ESP_F_ESN) ? UINT64_MAX : UINT32_MAX;
	if (c->iv_mask != NULL) {
		memcpy(sa->iv_mask, c->iv_mask, sizeof(sa->iv_mask));
	} else {
		/* Uniqueness comes from the counter; the mask only hides it. */
		uint64_t r[2] = { rte_rand(), rte_rand() };

		memcpy(sa->iv_mask, r, sizeof(sa->iv_mask));
	}
	build_tmpl(sa, c);
	sa->fast = esp_sa_usual(sa);
	sa->shared = 0; /* one lcore sends through it; publish.c may share it */
	/* The peer of an inbound SA is its src; with UDP encapsulation, new
	 * mappings are measured against it (esp_in.c). */
	memcpy(sa->peer_addr, sa->outer_v6 ? (const void *)c->src.v6 :
	       (const void *)&c->src.v4, sa->outer_v6 ? 16 : 4);
	memcpy(sa->map_addr, sa->peer_addr, sizeof(sa->map_addr));
	sa->map_sport_be = sa->udp_sport_be;

	if (c->dir == ESP_DIR_IN && c->replay_window > 0) {
		sa->replay = rte_zmalloc("esp_replay",
					 replay_window_bytes(c->replay_window),
					 RTE_CACHE_LINE_SIZE);
		if (sa->replay == NULL) {
			crypto_session_wipe(&sa->sess);
			return -ENOMEM;
		}
		replay_window_init(sa->replay, c->replay_window, c->seq_in);
	}
	return 0;
}

void
esp_sa_fini(struct esp_sa *sa)
{
	rte_free(sa->replay);
	sa->replay = NULL;
	crypto_session_wipe(&sa->sess);
	/* Not sizeof(*sa): the session may have been allocated short. */
	explicit_bzero(sa, offsetof(struct esp_sa, sess));
}
