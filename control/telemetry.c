/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telemetry (see telemetry.h): the views of view.c built as JSON trees,
 * then copied into rte_tel_data, so telemetry shows what `stats -j` does.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include <rte_telemetry.h>

#include "control/telemetry.h"
#include "control/view.h"

/* A telemetry reply holds a bounded number of entries (and DPDK drops
 * what does not fit its 16 KiB; README says both). */
#define TEL_SAS_MAX 256

static pthread_mutex_t tel_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct pub *tel_pub;

void
telemetry_lock(void)
{
	pthread_mutex_lock(&tel_mutex);
}

void
telemetry_unlock(void)
{
	pthread_mutex_unlock(&tel_mutex);
}

/* The scalars of JSON object @p obj into dict @p d. */
static void
tel_dict(struct rte_tel_data *d, const json_t *obj)
{
	const char *key;
	json_t *v;
	uint64_t u;

	rte_tel_data_start_dict(d);
	json_object_foreach((json_t *)obj, key, v) {
		if (pr_json_u64(v, &u))
			rte_tel_data_add_dict_u64(d, key, u);
		else if (json_is_string(v))
			rte_tel_data_add_dict_string(d, key, json_string_value(v));
	}
}

/* `stats -j`'s "ports" array into dict @p d as "ports": a dict by port id
 * of each port's object (telemetry can nest dicts, not an array of
 * them). */
static void
tel_ports(struct rte_tel_data *d, const json_t *ports)
{
	struct rte_tel_data *pd = rte_tel_data_alloc();
	json_t *port;
	size_t i;

	if (pd == NULL)
		return;
	rte_tel_data_start_dict(pd);
	json_array_foreach((json_t *)ports, i, port) {
		struct rte_tel_data *one = rte_tel_data_alloc();
		uint64_t n = 0;
		char id[24];

		if (one == NULL)
			break;
		tel_dict(one, port);
		pr_json_u64(json_object_get(port, "id"), &n);
		snprintf(id, sizeof(id), "%" PRIu64, n);
		if (rte_tel_data_add_dict_container(pd, id, one, 0) != 0)
			rte_tel_data_free(one);
	}
	if (rte_tel_data_add_dict_container(d, "ports", pd, 0) != 0)
		rte_tel_data_free(pd);
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct pr pr;
	json_t *root;

	(void)cmd;
	(void)params;
	pr_init(&pr, true);
	pr.keep_root = true;
	telemetry_lock();
	if (tel_pub == NULL) {
		telemetry_unlock();
		pr_fini(&pr);
		return -1;
	}
	view_stats(&pr, tel_pub);
	telemetry_unlock();
	root = pr_take_json(&pr);
	pr_fini(&pr);
	if (root == NULL)
		return -1;
	/* The global counters at the top, as before; the ports beside. */
	tel_dict(d, json_object_get(root, "global"));
	tel_ports(d, json_object_get(root, "ports"));
	json_decref(root);
	return 0;
}

static int
tel_sa_list(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct gw_model *m;
	uint32_t i;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	telemetry_lock();
	if (tel_pub == NULL) {
		telemetry_unlock();
		return -1;
	}
	m = tel_pub->model;
	for (i = 0; i < m->n_sas && i < TEL_SAS_MAX; i++) {
		const struct model_sa *s = m->sas[i];
		struct rte_tel_data *sd = rte_tel_data_alloc();
		char spi[16];
		struct pr pr;
		json_t *obj;

		if (sd == NULL)
			break;
		pr_init(&pr, true);
		pr.keep_root = true;
		pr_obj_open(&pr, NULL);
		pr_str(&pr, PR_JSON, "dir", "", s->dir == CFG_DIR_OUT ? "out" : "in");
		view_sa_stats(&pr, s);
		pr_obj_close(&pr);
		obj = pr_take_json(&pr);
		pr_fini(&pr);
		if (obj == NULL) {
			rte_tel_data_free(sd);
			break;
		}
		tel_dict(sd, obj);
		json_decref(obj);
		snprintf(spi, sizeof(spi), "0x%08x", s->cfg.spi);
		if (rte_tel_data_add_dict_container(d, spi, sd, 0) != 0)
			rte_tel_data_free(sd);
	}
	telemetry_unlock();
	return 0;
}

void
telemetry_start(struct pub *p)
{
	telemetry_lock();
	tel_pub = p;
	telemetry_unlock();
	rte_telemetry_register_cmd("/espd/stats", tel_stats,
				   "espd's global counters. Takes no parameters");
	rte_telemetry_register_cmd("/espd/sa/list", tel_sa_list,
				   "espd's SAs with their counters. Takes no parameters");
}

void
telemetry_stop(void)
{
	telemetry_lock();
	tel_pub = NULL;
	telemetry_unlock();
}
