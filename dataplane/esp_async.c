/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP on an asynchronous engine (a cryptodev): esp_out_submit() and
 * esp_in_submit() prepare packets into this lcore's ring of pending
 * slots and hand them over; esp_collect() takes back what the engine
 * finished, in the order it was prepared, and runs each packet's second
 * half. The ring keeps what the device queue refused, so a full queue
 * costs a wait, not a packet, until ESP_PENDING_MAX are pending.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "dataplane/esp.h"
#include "dataplane/esp_priv.h"

_Static_assert(offsetof(struct esp_pending, op) == 0,
	       "a collected op is its pending slot");

int
esp_ctx_async_init(struct esp_ctx *ctx, unsigned int slots, int socket)
{
	if (slots == 0 || slots > ESP_PENDING_MAX || (slots & (slots - 1)) != 0)
		return -EINVAL;
	ctx->async = rte_zmalloc_socket("esp_async", sizeof(*ctx->async) +
					slots * sizeof(ctx->async->slot[0]),
					RTE_CACHE_LINE_SIZE, socket);
	if (ctx->async == NULL)
		return -ENOMEM;
	ctx->async->mask = slots - 1;
	return 0;
}

void
esp_ctx_async_free(struct esp_ctx *ctx)
{
	struct esp_done d[ESP_BURST_MAX];
	uint16_t n, i;

	if (ctx->async == NULL)
		return;
	/* A caller that did not collect (a test, a failed start): the
	 * device is waited for and the packets freed, never leaked. */
	while (esp_pending(ctx) != 0) {
		n = esp_collect(ctx, d, ESP_BURST_MAX);
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(d[i].m);
	}
	ctx->n_map = 0;
	/* The slots may hold AADs and ICVs of packets long gone. */
	explicit_bzero(ctx->async, sizeof(*ctx->async) +
		       (ctx->async->mask + 1) * sizeof(ctx->async->slot[0]));
	rte_free(ctx->async);
	ctx->async = NULL;
}

void
esp_async_push(struct esp_ctx *ctx)
{
	struct esp_async *a = ctx->async;
	struct crypto_op *ops[ESP_BURST_MAX];

	while (a->sub != a->tail) {
		uint8_t dir = a->slot[a->sub & a->mask].dir;
		uint16_t n = 0, taken;

		/* One call per run of one direction (the engine's burst is
		 * either encrypt or decrypt). */
		while (n < ESP_BURST_MAX && a->sub + n != a->tail) {
			struct esp_pending *p = &a->slot[(a->sub + n) & a->mask];

			if (p->dir != dir)
				break;
			ops[n++] = &p->op;
		}
		taken = crypto_submit_burst(ctx->engine, ops, n, dir == ESP_DIR_OUT);
		a->sub += taken;
		if (taken < n)
			return; /* full: the rest wait for the next push */
	}
}

uint16_t
esp_collect(struct esp_ctx *ctx, struct esp_done done[], uint16_t max)
{
	struct esp_async *a = ctx->async;
	struct crypto_op *ops[ESP_BURST_MAX];
	uint16_t n, i;

	ctx->n_map = 0;
	if (a == NULL || a->head == a->tail)
		return 0;
	n = crypto_collect_burst(ctx->engine, ops, RTE_MIN(max, (uint16_t)ESP_BURST_MAX));
	for (i = 0; i < n; i++) {
		struct esp_pending *p = &a->slot[a->head & a->mask];

		/* The engine gives ops back in submission order, which is
		 * the ring's. */
		RTE_ASSERT(ops[i] == &p->op);
		done[i].m = p->m;
		done[i].sa = p->sa;
		done[i].dir = p->dir;
		done[i].why = (uint16_t)(p->dir == ESP_DIR_OUT ? esp_out_finish(p) :
					 esp_in_finish(ctx, p));
		a->head++;
	}
	esp_async_push(ctx);
	return n;
}
