/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * DPDK telemetry: `/espd/stats` (the global counters, and "ports": each
 * port's counts by id) and `/espd/sa/list` (each SA's counters, as
 * `stats` shows them, for at most 256 SAs and as many as DPDK's 16 KiB
 * reply holds; `state list` has them all). The callbacks run on
 * DPDK's telemetry thread, so they read the model under telemetry_lock(),
 * which the control loop holds while it changes anything.
 *
 * Layer: stats/rendering.
 */
#ifndef ESPD_TELEMETRY_H
#define ESPD_TELEMETRY_H

#include "control/publish.h"

/** Serve @p p's counters (until telemetry_stop()). */
void telemetry_start(struct pub *p);

/** Stop serving (the callbacks answer with an error from then on). */
void telemetry_stop(void);

void telemetry_lock(void);
void telemetry_unlock(void);

#endif /* ESPD_TELEMETRY_H */
