/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control plane's model: every port, route, neighbour, SA and policy
 * as configured, in plain structs. Commands (from the file, later from the
 * socket) change the model; model_build() compiles it into a fresh struct
 * gw_tables for the workers. Control plane (lcore 0) only: not
 * thread-safe.
 */
#ifndef ESPD_MODEL_H
#define ESPD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "dataplane/tables.h"

struct model_sa {
	struct gw_sa *gw;      /**< the worker-visible record */
	uint8_t dir;           /**< enum esp_dir */
	struct cfg_state cfg;  /**< as configured, keys wiped */
};

struct model_pol {
	struct cfg_policy cfg;
	uint32_t seq;          /**< age: ties in priority go to the older */
};

struct gw_model {
	enum crypto_engine_kind engine;
	bool has_port[GW_PORTS_MAX];
	struct cfg_port ports[GW_PORTS_MAX];
	struct cfg_route *routes;
	uint32_t n_routes, cap_routes;
	struct cfg_neigh *neighs;
	uint32_t n_neighs, cap_neighs;
	struct model_sa *sas;
	uint32_t n_sas, cap_sas;
	struct model_pol *pols;
	uint32_t n_pols, cap_pols;
	uint32_t next_pol_seq, next_index, next_sa_id;
	uint32_t acquire_expires, acquire_queue, acquire_queue_total;
};

void model_init(struct gw_model *m, enum crypto_engine_kind engine);

/** Free everything, SAs included (keys wiped). */
void model_free(struct gw_model *m);

/** A cfg_apply_fn: apply one command to the model (@p arg). */
int model_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
		unsigned int line, struct cfg_error *err);

/**
 * Compile the model into tables for the workers. Port MACs are taken from
 * @p macs (the devices' or the configured ones). @return NULL with
 * *err = -errno.
 */
struct gw_tables *model_build(const struct gw_model *m,
			      const struct rte_ether_addr macs[GW_PORTS_MAX],
			      int socket, int *err);

/** Free tables built by model_build (not the SAs they point to). */
void gw_tables_free(struct gw_tables *t);

/** ESP address from a config address. */
void model_esp_addr(struct esp_addr *out, const struct cfg_addr *in);

#endif /* ESPD_MODEL_H */
