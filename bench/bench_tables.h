/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Between bench_tables.cc (Google Benchmark) and bench_tables_impl.c (the
 * calls into espd's table code, in C).
 */
#ifndef ESPD_BENCH_TABLES_H
#define ESPD_BENCH_TABLES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BT_BURST 32u           /* keys per classify / lookup call */
#define BT_REPLAY_PASS 4096u   /* sequence numbers per bt_replay_pass */

/** N random policies of @p family (4: /8 to /32; 6: /16 to /64, an eighth
 *  /128) and 8192 flow keys, half inside some policy. */
struct bt_spd *bt_spd_new(uint32_t n, int family);
/** spd_build() of the N policies (replacing any built one). 0 or -errno. */
int bt_spd_build(struct bt_spd *b);
/* rte_acl's classify path (enum rte_acl_classify_alg); 0 or -ENOTSUP. */
int bt_spd_set_alg(struct bt_spd *b, int alg);
/** spd_free() of the built SPD. */
void bt_spd_drop(struct bt_spd *b);
/** spd_classify() of BT_BURST keys from @p off. @return keys matched. */
uint32_t bt_spd_classify(struct bt_spd *b, uint32_t off);
void bt_spd_free(struct bt_spd *b);

/** With @p n keys in it, by @p mode: 0 a lock-free rte_hash of
 *  gw_flow_key (espd's flow table before flowtab.h), 1 one of 4-byte SPIs
 *  like the SAD, 2 espd's flow table (dataplane/flowtab.h). */
struct bt_hash *bt_hash_new(uint32_t n, int mode);
/** rte_hash_lookup_bulk_data() of BT_BURST random keys. @return hits. */
uint32_t bt_hash_lookup(struct bt_hash *b, uint32_t off, uint64_t *sum);
void bt_hash_free(struct bt_hash *b);

/** A replay window of @p window; @p ooo: blocks of 32 shuffled. */
struct bt_replay *bt_replay_new(uint32_t window, int ooo);
/** replay_check() + replay_update() of the next BT_REPLAY_PASS numbers.
 *  @return how many were accepted. */
uint32_t bt_replay_pass(struct bt_replay *b);
void bt_replay_free(struct bt_replay *b);

#ifdef __cplusplus
}
#endif

#endif /* ESPD_BENCH_TABLES_H */
