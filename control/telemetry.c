/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telemetry (see telemetry.h): the views of view.c built as JSON trees,
 * then copied into rte_tel_data, so telemetry shows what `stats -j` does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>

#include <rte_telemetry.h>

#include "control/telemetry.h"
#include "control/view.h"

/* SAs a page of `/espd/sa/list` holds: DPDK cuts a reply at 16 KiB
 * without a word, and one SA whose counters all have 20 digits takes
 * about 230 bytes of it. */
#define TEL_SAS_PAGE 48

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

/* START of `/espd/sa/list,START`: empty or absent 0. @return -EINVAL
 * for anything but a decimal number. */
static int
tel_start(const char *params, uint32_t *start)
{
	unsigned long v;
	char *end;

	*start = 0;
	if (params == NULL || *params == '\0')
		return 0;
	if (*params < '0' || *params > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(params, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*start = (uint32_t)v;
	return 0;
}

/*
 * `/espd/sa/list[,START]`: a page of at most TEL_SAS_PAGE SAs from the
 * START-th on, each as `stats -j` shows it under "sas" (spi, dir and its
 * counters), by its index ("sas": a dict: telemetry nests no array of
 * dicts, and an SPI may be an outbound and an inbound SA's both), with
 * "total" and, while more follow, "next": the START of the next page.
 */
static int
tel_sa_list(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct gw_model *m;
	struct rte_tel_data *sas;
	uint32_t i, start;

	(void)cmd;
	if (tel_start(params, &start) < 0)
		return -EINVAL;
	sas = rte_tel_data_alloc();
	if (sas == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(sas);
	rte_tel_data_start_dict(d);
	telemetry_lock();
	if (tel_pub == NULL) {
		telemetry_unlock();
		rte_tel_data_free(sas);
		return -1;
	}
	m = tel_pub->model;
	for (i = start; i < m->n_sas && i - start < TEL_SAS_PAGE; i++) {
		const struct model_sa *s = m->sas[i];
		struct rte_tel_data *sd = rte_tel_data_alloc();
		char key[16];
		struct pr pr;
		json_t *obj;

		if (sd == NULL)
			break;
		pr_init(&pr, true);
		pr.keep_root = true;
		view_sa_entry(&pr, s);
		obj = pr_take_json(&pr);
		pr_fini(&pr);
		if (obj == NULL) {
			rte_tel_data_free(sd);
			break;
		}
		tel_dict(sd, obj);
		json_decref(obj);
		snprintf(key, sizeof(key), "%" PRIu32, i);
		if (rte_tel_data_add_dict_container(sas, key, sd, 0) != 0) {
			rte_tel_data_free(sd);
			break;
		}
	}
	rte_tel_data_add_dict_u64(d, "total", m->n_sas);
	if (i < m->n_sas)
		rte_tel_data_add_dict_u64(d, "next", i);
	telemetry_unlock();
	if (rte_tel_data_add_dict_container(d, "sas", sas, 0) != 0)
		rte_tel_data_free(sas);
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
				   "espd's SAs with their counters, 48 a page. Parameters: the first SA's index (default 0); \"next\" says the next page's");
}

void
telemetry_stop(void)
{
	telemetry_lock();
	tel_pub = NULL;
	telemetry_unlock();
}
