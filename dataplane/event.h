/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What workers tell the control plane, over one rte_ring per worker
 * (single producer, single consumer): a flow key that found no SA (the
 * worker holds its packets, hold.h), an SA that crossed a byte/packet limit or ran out of sequence
 * numbers, an unknown SPI, a NAT-T peer's new mapping. A full ring drops and counts; it never blocks a
 * worker.
 */
#ifndef ESPD_EVENT_H
#define ESPD_EVENT_H

#include <stdint.h>

#include "dataplane/pkt.h"

enum gw_event_type {
	GW_EV_MISS,        /**< a new key held for ACQUIRE: policy, pkt */
	GW_EV_EXPIRE,      /**< an SA crossed a limit (hard: or seq exhausted);
			    *   spi, pkt.dst and policy (= the SA's id) name it */
	GW_EV_INVALID_SPI, /**< pkt.src/dst, spi, encap of an unknown SPI */
	GW_EV_MAPPING,     /**< an inbound NAT-T SA's peer has a new address or
			    *   port: spi, pkt.dst and policy (= the SA's id)
			    *   name the SA, pkt.src and pkt.sport are new */
};

struct gw_event {
	uint8_t type;      /**< enum gw_event_type */
	uint8_t hard;      /**< EXPIRE: hard (1) or soft (0) */
	union {
		uint8_t encap; /**< INVALID_SPI: 1 when it came in UDP */
		uint8_t pfp;   /**< MISS: the pfp bits the worker keyed the flow by
				*   (its tables'; lcore 0's model may be ahead) */
	};
	uint8_t worker;    /**< MISS: the context index of the worker holding */
	uint32_t spi;      /**< INVALID_SPI, host order */
	uint32_t policy;   /**< MISS: the policy's index; EXPIRE: the SA's id */
	struct flow_key pkt; /**< MISS, INVALID_SPI: the packet's fields */
};

_Static_assert(sizeof(struct gw_event) % 4 == 0, "rte_ring elements are 4-byte multiples");

#endif /* ESPD_EVENT_H */
