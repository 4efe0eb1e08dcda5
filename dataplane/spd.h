/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The Security Policy Database as rte_acl multi-bit tries, one per address
 * family (or, for a family with few rules, a scan in rank order). Built by the control plane from a list of rules and never
 * changed after: a new SPD is built and published instead (RCU), so
 * workers classify without locks.
 */
#ifndef ESPD_SPD_H
#define ESPD_SPD_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dataplane/pkt.h"

/** A traffic selector: prefixes, protocol, port ranges. */
struct spd_sel {
	uint8_t family;           /**< 4 or 6 */
	uint8_t src_len, dst_len; /**< prefix lengths */
	int16_t proto;            /**< -1: any */
	uint8_t src[16], dst[16]; /**< network order */
	uint16_t sport_lo, sport_hi; /**< host order, inclusive */
	uint16_t dport_lo, dport_hi;
};

/** One rule: lower rank wins (the control plane ranks by priority, then
 *  by age). userdata is returned by spd_classify (never 0). */
struct spd_rule {
	const struct spd_sel *sel;
	uint32_t rank;
	uint32_t userdata;
};

#define SPD_RULES_MAX (1u << 20)

struct spd;

/** A family with at most this many rules is matched by a scan in rank
 *  order, not an rte_acl trie: cheaper per packet (one site-to-site
 *  policy is the common case), with the same answers. */
#define SPD_LINEAR_MAX 8

/**
 * Build an SPD (control plane). @return NULL with *err = -errno on
 * failure (-EINVAL for a bad rule, -ENOMEM).
 */
struct spd *spd_build(const struct spd_rule *rules, uint32_t n, int socket,
		      int *err);

/** spd_build() with rte_acl tries whatever the number of rules (tests
 *  compare the scan with it; benchmarks measure it). */
struct spd *spd_build_trie(const struct spd_rule *rules, uint32_t n, int socket,
			   int *err);
void spd_free(struct spd *spd);

/**
 * Classify with rte_acl's code path @p alg (an enum rte_acl_classify_alg:
 * scalar, SSE, AVX2, AVX-512 16 or 32 lanes; 0 the best the CPU and EAL's
 * --force-max-simd-bitwidth allow, which rte_acl picks by default), for
 * benchmarks. @return 0, or -ENOTSUP where that path cannot run here.
 */
int spd_set_classify(struct spd *spd, int alg);

/** Rules in @p spd. */
uint32_t spd_count(const struct spd *spd);

/**
 * Classify @p n (at most 64) flow keys. results[i] is the userdata of the best rule
 * matching keys[i], or 0 when none does. A NULL @p spd matches nothing.
 */
void spd_classify(const struct spd *spd, const struct flow_key *keys[],
		  uint32_t results[], uint16_t n);

/** Does @p k fall inside @p sel? (per packet, for SA selectors) */
int spd_sel_match(const struct spd_sel *sel, const struct flow_key *k);

#endif /* ESPD_SPD_H */
