/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to dataplane/: helpers shared by esp_out.c and esp_in.c. */
#ifndef ESPD_ESP_PRIV_H
#define ESPD_ESP_PRIV_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dataplane/esp.h"

#define ESP_HDR_LEN 8
#define ESP_TRAILER_LEN 2
#define IPPROTO_NONE_DUMMY 59 /* RFC 4303 2.6: a dummy packet */
#define ECN_MASK 0x03
#define ECN_NOT_ECT 0x00
#define ECN_CE 0x03

_Static_assert(ESP_BURST_MAX <= UINT16_MAX, "burst index fits uint16_t");

/*
 * The lists a stage sorts its burst into: the good ones keep their order
 * in pkts/sas; the bad ones are collected with their reason and put back
 * behind the good ones at the end (DPDK's move_bad_mbufs).
 */
struct esp_bad {
	struct rte_mbuf *pkts[ESP_BURST_MAX];
	struct esp_sa *sas[ESP_BURST_MAX];
	uint16_t why[ESP_BURST_MAX];
	uint16_t n;
};

static inline void
esp_bad_add(struct esp_bad *b, struct rte_mbuf *m, struct esp_sa *sa,
	    enum espd_counter why)
{
	b->pkts[b->n] = m;
	b->sas[b->n] = sa;
	b->why[b->n] = (uint16_t)why;
	b->n++;
}

/* Put the bad ones behind the @p good good ones; returns @p good. */
static inline uint16_t
esp_bad_flush(const struct esp_bad *b, struct rte_mbuf *pkts[],
	      struct esp_sa *sas[], uint16_t good, uint16_t reasons[])
{
	uint16_t i;

	for (i = 0; i < b->n; i++) {
		pkts[good + i] = b->pkts[i];
		sas[good + i] = b->sas[i];
		reasons[good + i] = b->why[i];
	}
	return good;
}

#endif /* ESPD_ESP_PRIV_H */
