/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The tables workers read: SPD tries, policies, SAD, routes, neighbours,
 * ports. The control plane builds a whole new struct gw_tables for every
 * change and publishes it with one pointer store; workers load the pointer
 * once per burst and report quiescent once per loop, so the old one is
 * freed only after an rte_rcu_qsbr grace period (STYLE.md habit 7).
 *
 * SAs (struct gw_sa) live outside the tables and survive rebuilds, so
 * sequence numbers, replay windows and counters carry over.
 */
#ifndef ESPD_TABLES_H
#define ESPD_TABLES_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "dataplane/esp.h"
#include "dataplane/spd.h"

#define GW_PORTS_MAX 16
#define GW_POLICY_SAS_MAX 8 /**< SAs one protect policy may choose from */

enum gw_role {
	GW_ROLE_PROTECTED,
	GW_ROLE_UNPROTECTED,
};

enum gw_action {
	GW_BYPASS,
	GW_DISCARD,
	GW_PROTECT,
};

/** An SA as the gateway keeps it: the ESP fast-path record first, then
 *  what policy and selector checks need. */
struct gw_sa {
	struct esp_sa esp;
	struct spd_sel sel;  /**< traffic the SA carries */
	uint8_t has_sel;
	uint8_t dead;        /**< deleted: unpublished, freed after grace */
	uint32_t reqid;
	uint32_t id;         /**< control-plane handle */
	struct esp_addr src, dst;
};

/** A policy's IPsec template (RFC 4301 SPD entry "protect"). */
struct gw_tmpl {
	struct esp_addr src, dst;
	uint32_t reqid;      /**< 0: any */
	uint8_t mode;        /**< enum esp_mode */
	uint8_t level_use;   /**< level use: the SA is optional */
};

struct gw_policy {
	uint8_t action;      /**< enum gw_action */
	uint8_t dir;         /**< 0 in, 1 out, 2 fwd */
	uint8_t n_sas;
	uint32_t index;
	struct gw_tmpl tmpl;
	/** Outbound: SAs that satisfy the template, newest first; a packet
	 *  takes the first whose selector it falls in. */
	struct gw_sa *sas[GW_POLICY_SAS_MAX];
};

struct gw_nexthop {
	uint16_t port;
	uint8_t has_gw;
	struct esp_addr gw;  /**< with has_gw; else the destination itself */
};

/** Neighbour key: port, family and address (zero-padded). */
struct gw_neigh_key {
	uint16_t port;
	uint8_t family;
	uint8_t pad;
	uint8_t addr[16];
};

struct gw_port {
	uint8_t configured;
	uint8_t role;        /**< enum gw_role */
	struct rte_ether_addr mac;
};

struct gw_tables {
	struct spd *spd_out;       /**< dir out */
	struct spd *spd_in;        /**< dir in and fwd: every decrypted packet */
	struct gw_policy *pols;    /**< spd userdata u is pols[u - 1] */
	uint32_t n_pols;
	struct rte_hash *sad_in;   /**< SPI (host order) -> struct gw_sa * */
	uint64_t natt_ports[65536 / 64]; /**< local ports of inbound SAs */
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6;
	struct gw_nexthop *nh;
	uint32_t n_nh;
	struct rte_hash *neigh;    /**< gw_neigh_key -> MAC (as uint64_t) */
	struct gw_port ports[GW_PORTS_MAX];
};

#endif /* ESPD_TABLES_H */
