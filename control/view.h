/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What espctl, --stats-json and telemetry show, each described once
 * through the printer (print.h), so text and JSON cannot drift apart:
 * - an SA (`state get`/`list`) and its counters, which `stats`,
 *   --stats-json and telemetry show too;
 * - a policy, a selector;
 * - the counters (`stats`).
 *
 * Shapes follow DESIGN.md "Machine-readable formats": SPIs as "0x%08x",
 * protocols by name where one exists, selector fields that are "any" left
 * out, src and dst always present.
 *
 * Layer: stats/rendering, above publish and the model.
 */
#ifndef ESPD_VIEW_H
#define ESPD_VIEW_H

#include <stdbool.h>

#include "control/model.h"
#include "control/print.h"
#include "control/publish.h"

/** A selector under @p key (JSON object; text "src A/L dst B/L ..."). */
void view_sel(struct pr *pr, const char *key, const struct cfg_sel *s);

/** An SA as `state get` shows it (keys only with @p show_keys). */
void view_sa(struct pr *pr, const struct pub *p, const struct model_sa *s,
	     bool show_keys);

/** `state list`: every SA, without keys. */
void view_sa_list(struct pr *pr, const struct pub *p);

/** A policy as `policy list` shows it. */
void view_policy(struct pr *pr, const struct model_pol *p);

/** `policy list`. */
void view_policy_list(struct pr *pr, const struct gw_model *m);

/** `neigh list`: every neighbour with its state, as `ip neigh` shows
 *  them ("172.16.1.1 port 1 lladdr 02:00:00:00:02:fe reachable"). */
void view_neigh_list(struct pr *pr, const struct pub *p);

/** `route list`: the routes given (`route add`), then each port's
 *  connected ones (its addresses' prefixes) that no given route
 *  replaces, marked connected: what the tables route by. */
void view_route_list(struct pr *pr, const struct gw_model *m);

/** `stats`: global, per port and per SA counters (--stats-json too). */
void view_stats(struct pr *pr, const struct pub *p);

/** One SA's counters, as `stats` and `state get` show them. */
void view_sa_stats(struct pr *pr, const struct model_sa *s);

/** One SA of `stats`' "sas" (and of telemetry's /espd/sa/list): an
 *  object of its spi, dir and counters, one line in text. */
void view_sa_entry(struct pr *pr, const struct model_sa *s);

#endif /* ESPD_VIEW_H */
