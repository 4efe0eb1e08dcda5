/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The flow table: PFP flow key (struct gw_flow_key) -> SA record, one
 * writer (the control plane, lcore 0), lock-free readers (the workers).
 *
 * Why not rte_hash: with a million per-flow SAs every lookup is cold, and
 * on a machine whose 2 MB pages the TLB holds as 4 KB ones (a guest on
 * 4 KB host pages) each distinct page a packet touches costs a page walk
 * (bench/RESULTS.md, "Many SAs: one page for the flow lookup"). rte_hash
 * touches three: the primary bucket, the secondary bucket (always
 * prefetched) and the key store. Here a key, its SA and its state share
 * one 64-byte slot, found by linear probing from the key's hash: one page,
 * usually one line.
 *
 * Readers run under the workers' RCU (QSBR). A deleted slot keeps its key
 * until flowtab_free_pos(), which the writer calls after a grace period,
 * so a reader never sees a slot's key change under it; the SA pointer of
 * a live key may be replaced at any time (make before break).
 */
#ifndef ESPD_DATAPLANE_FLOWTAB_H
#define ESPD_DATAPLANE_FLOWTAB_H

#include <stdint.h>

#include "dataplane/flowkey.h"

struct flowtab;

/** A probe never goes further than this many slots past a key's home:
 *  an insert that would is refused (-ENOSPC), so a lookup stops there. */
#define FLOWTAB_PROBE_MAX 256

/** A table for @p entries keys, on NUMA socket @p socket (SOCKET_ID_ANY).
 *  @return NULL (rte_errno) when out of memory. */
struct flowtab *flowtab_create(const char *name, uint32_t entries, int socket);

void flowtab_free(struct flowtab *t);

/** Writer: map @p key to @p data (not NULL), adding it or replacing its
 *  SA in place. @return 0, or -ENOSPC when no slot near its home is
 *  free (deleted slots count once flowtab_free_pos() gave them back). */
int flowtab_add(struct flowtab *t, const struct gw_flow_key *key, void *data);

/** Writer: delete @p key. Readers may still be comparing it: its slot is
 *  free again only after flowtab_free_pos() with the position returned,
 *  once every reader moved on. @return the position, or -ENOENT. */
int32_t flowtab_del(struct flowtab *t, const struct gw_flow_key *key);

/** Writer: slot @p pos of a deleted key may hold another one now. */
void flowtab_free_pos(struct flowtab *t, int32_t pos);

/** Keys in the table (deleted ones not counted). */
uint32_t flowtab_count(const struct flowtab *t);

/** Reader: the SA of @p key. @return 0 and *data, or -ENOENT. */
int flowtab_lookup(const struct flowtab *t, const struct gw_flow_key *key, void **data);

/** Reader: flowtab_lookup() of @p n keys (at most 64) at once, the
 *  misses overlapped. Bit i of *hits is set where data[i] is key i's. */
void flowtab_lookup_bulk(const struct flowtab *t, const struct gw_flow_key *const keys[],
			 uint32_t n, uint64_t *hits, void *data[]);

#endif
