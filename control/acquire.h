/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * RFC 4301 "populate from packet" on the control plane: the larval
 * entries (one per flow key, one ACQUIRE each, a bounded queue of held
 * packets), their expiry, the release of held packets when an SA covering
 * the flow is installed, and the other worker events (EXPIRE, invalid
 * SPI), plus SA time limits. Control plane (lcore 0) only.
 */
#ifndef ESPD_ACQUIRE_H
#define ESPD_ACQUIRE_H

#include <stdint.h>

struct gw_runtime;

/** Set up and hook into the model. @return 0 or -ENOMEM. */
int acq_init(struct gw_runtime *rt);

/** Drain every worker's event ring; expire what is due. Call often.
 *  @return the number of events handled. */
unsigned int acq_poll(struct gw_runtime *rt);

/** Drop every held packet (counted as AcquireHeldDropped) and free. */
void acq_fini(struct gw_runtime *rt);

/** Number of flows waiting for an SA. */
uint32_t acq_pending(const struct gw_runtime *rt);

#endif /* ESPD_ACQUIRE_H */
