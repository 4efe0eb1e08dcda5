/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The ESP core (RFC 4303): outbound encapsulation and inbound
 * decapsulation of bursts of rte_mbuf, tunnel or transport mode, IPv4 or
 * IPv6 on either side, optionally inside UDP (RFC 3948), with ESN.
 *
 * Packets handed to these calls start at their IP header (the caller has
 * stripped L2) and are single-segment. On return the good packets come
 * first, in their original order; the bad ones are moved behind them with
 * the reason (an enum espd_counter) in the parallel reasons[] array. The
 * caller owns and frees the bad ones. A burst may be of any length: it is
 * processed ESP_BURST_MAX packets at a time, and every packet comes back
 * either good or with a reason.
 *
 * Every SA has one writer. An inbound SA's replay window and counters:
 * the lcore its packets reach (RSS keeps an SA's packets on one queue).
 * An outbound SA's sequence numbers and counters: the lcore that owns it
 * (struct gw_sa.owner; other lcores hand it their packets). So all of
 * them are plain stores, once per run of packets.
 */
#ifndef ESPD_ESP_H
#define ESPD_ESP_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "crypto/crypto.h"
#include "dataplane/counters.h"
#include "dataplane/replay.h"

#define ESP_BURST_MAX 64 /**< packets per crypto burst; longer calls are cut into these */

enum esp_mode {
	ESP_MODE_TUNNEL,
	ESP_MODE_TRANSPORT,
};

enum esp_dir {
	ESP_DIR_IN,
	ESP_DIR_OUT,
};

/** SA flags, as ip xfrm names them (DESIGN.md "SAs"). */
enum {
	ESP_F_ESN = 1 << 0,
	ESP_F_NOECN = 1 << 1,           /**< do not propagate ECN on decap */
	ESP_F_DECAP_DSCP = 1 << 2,      /**< copy outer DSCP inward on decap */
	ESP_F_DONT_ENCAP_DSCP = 1 << 3, /**< outer DSCP 0 on encap */
	ESP_F_UDP_ENCAP = 1 << 4,       /**< RFC 3948 ESP-in-UDP */
};

/** An IPv4 or IPv6 address; v4 in network order. */
struct esp_addr {
	uint8_t family; /**< 4 or 6 */
	union {
		uint32_t v4;
		uint8_t v6[16];
	};
};

/** What an SA is built from (plain data, from the control plane). */
struct esp_sa_conf {
	uint32_t spi;  /**< host order */
	uint8_t dir;   /**< enum esp_dir */
	uint8_t mode;  /**< enum esp_mode */
	uint16_t flags;
	struct esp_addr src, dst;    /**< tunnel endpoints (outer header) */
	uint16_t udp_sport, udp_dport; /**< with ESP_F_UDP_ENCAP, host order */
	uint32_t replay_window;      /**< inbound; 0 turns anti-replay off */
	uint64_t seq_out;            /**< last number sent (replay-oseq) */
	uint64_t seq_in;             /**< highest number seen (replay-seq) */
	/** 16 bytes XORed into the counter an IV is made from, as Linux's
	 *  seqiv does, so the IV does not reveal the counter. NULL: random. */
	const uint8_t *iv_mask;
	struct crypto_algo_params algo;
};

/**
 * Per-SA counters, written by the SA's one writer (see above), once per
 * run of packets. The control plane only reads them: `stats reset` keeps a
 * baseline of its own (struct model_sa.base) instead of writing here.
 */
struct esp_sa_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t replay_drops;
	uint64_t icv_failures;
};

#define ESP_HDR_TMPL_MAX 48 /**< outer IPv6 (40) + UDP (8) */

/**
 * The fast-path record of an SA (STYLE.md habit 5): everything a packet
 * needs, decided once when the SA is installed. The crypto session (keys)
 * comes last; the first cache line is all the framing code reads. Since
 * the session may be allocated short (struct crypto_session), so may the
 * SA: esp_sa_size() bytes hold it.
 */
struct esp_sa {
	alignas(RTE_CACHE_LINE_SIZE) uint32_t spi_be;
	uint8_t dir;
	uint8_t mode;
	uint16_t flags;
	uint8_t iv_len;
	uint8_t icv_len;
	uint8_t pad_align;   /**< payload alignment: max(cipher block, 4) */
	uint8_t outer_v6;    /**< tunnel: outer header is IPv6 */
	uint8_t tmpl_len;    /**< tunnel: bytes of hdr_tmpl (IP [+ UDP]) */
	uint8_t exhausted;   /**< outbound: sequence space used up */
	/** The usual SA, decided at init (esp_sa_usual()): tunnel, IPv4
	 *  outside, no UDP, no ESN, an AEAD. The ESP stages pick their
	 *  specialised code for it by this flag, once per packet, as DPDK's
	 *  ipsec_sa_pkt_func_select picks functions per SA. */
	uint8_t fast;
	/** Outbound, `set out-sa shared`: any lcore may send through it, so
	 *  seq and stats change by atomic adds (a run of packets at a time);
	 *  otherwise one lcore alone does, with plain stores. Fixed for the
	 *  record's life: a change of mode makes new records. */
	uint8_t shared;
	uint16_t udp_sport_be, udp_dport_be;
	/** Tunnel, IPv4 outside: hdr_tmpl's 32-bit words summed and folded
	 *  to 32 bits, so a packet's header checksum adds only its TOS,
	 *  length and ID (esp_out.c out_ip4_cksum()). */
	uint32_t tmpl_sum;
	/** Outbound: last number reserved, a run at a time by the owning
	 *  lcore (by any, with an atomic add, when shared); past the limit
	 *  the SA is exhausted and the value may overshoot
	 *  (esp_sa_last_seq()). Inbound without a replay window: the highest
	 *  authentic number seen (with one, replay->top is). */
	uint64_t seq;
	/** Outbound: the last number this record may send. The top of the
	 *  sequence space (2^32 - 1, ESN: 2^64 - 1) until a successor is made
	 *  (publish.c seq_handover()), then where the successor's start: a
	 *  packet that draws past it is dropped, XfrmOutStateSeqError at the
	 *  top, else XfrmOutStateInvalid. One compare a packet for both. */
	uint64_t seq_stop;
	struct replay_window *replay; /**< inbound; NULL when off */
	uint8_t iv_mask[16];
	struct esp_sa_stats stats;
	/** Tunnel: prebuilt outer IPv4/IPv6 header (+ UDP), with lengths,
	 *  TOS and checksum left to fill per packet. Up to here (IPv4 outer)
	 *  is what an outbound packet reads: two lines, then the session's. */
	alignas(8) uint8_t hdr_tmpl[ESP_HDR_TMPL_MAX];
	/** Inbound with UDP encapsulation: the peer as configured (the SA's
	 *  src, 4 or 16 bytes by outer_v6, and udp_sport_be), and the last
	 *  other source reported as a new mapping (struct esp_mapping), so
	 *  one change gives one report. Written only by the lcore the SA's
	 *  packets reach, as the replay window is. */
	uint8_t peer_addr[16];
	uint8_t map_addr[16];
	uint16_t map_sport_be;
	struct crypto_session sess; /**< last: its priv may be cut short */
};

#ifndef __cplusplus /* C++ spells it static_assert */
_Static_assert(offsetof(struct esp_sa, hdr_tmpl) + 20 /* outer IPv4 */ <=
	       2 * RTE_CACHE_LINE_SIZE, "an outbound packet reads two lines of its SA");
_Static_assert(offsetof(struct esp_sa, sess) + sizeof(struct crypto_session) ==
	       sizeof(struct esp_sa), "the crypto session ends the ESP record");
#endif

/** Bytes an SA of @p conf needs (its crypto session sized for its
 *  algorithm), at most sizeof(struct esp_sa). */
static inline size_t
esp_sa_size(const struct esp_sa_conf *conf, enum crypto_engine_kind kind)
{
	return offsetof(struct esp_sa, sess) + crypto_session_size(kind, &conf->algo);
}

/**
 * Build @p sa, which has room for esp_sa_size(conf, kind) bytes, from
 * @p conf (control plane). Allocates the replay window
 * for an inbound SA with a window. @return 0 or -errno (-EINVAL for a bad
 * conf, -ENOMEM).
 */
int esp_sa_init(struct esp_sa *sa, const struct esp_sa_conf *conf,
		enum crypto_engine_kind kind);

/** Free what esp_sa_init allocated and wipe the keys (explicit_bzero). */
void esp_sa_fini(struct esp_sa *sa);

/** The last sequence number an outbound SA can have used. */
static inline uint64_t
esp_sa_last_seq(const struct esp_sa *sa)
{
	uint64_t seq = __atomic_load_n(&sa->seq, __ATOMIC_RELAXED);
	uint64_t top = (sa->flags & ESP_F_ESN) ? UINT64_MAX : UINT32_MAX;

	/* Spent: the top, whatever a wrapped counter says since. */
	return __atomic_load_n(&sa->exhausted, __ATOMIC_RELAXED) || seq > top ? top : seq;
}

/**
 * What ESP adds to an inner packet at most (DESIGN.md "MTU and
 * fragmentation"): the outer header (tunnel) or UDP encapsulation
 * (transport), the ESP header, IV, worst-case padding, trailer and ICV.
 */
static inline uint32_t
esp_sa_overhead(const struct esp_sa *sa)
{
	uint32_t front = sa->mode == ESP_MODE_TUNNEL ? sa->tmpl_len :
			 (sa->flags & ESP_F_UDP_ENCAP) ? 8 : 0;

	return front + 8 + sa->iv_len + (sa->pad_align - 1u) + 2 + sa->icv_len;
}

/**
 * An inbound UDP-encapsulated packet that passed the ICV and anti-replay
 * checks came from another address or UDP source port than its SA's peer
 * (a NAT rebinding, or a peer that moved): what Linux reports as
 * XFRM_MSG_MAPPING. The SA is not changed; the key manager decides.
 */
struct esp_mapping {
	struct esp_sa *sa;
	uint8_t family;     /**< 4 or 6 */
	uint8_t addr[16];   /**< the new source address, network order */
	uint16_t sport;     /**< the new UDP source port, host order */
	/** What the SA had noted before (esp_sa.map_*), put back if the
	 *  report cannot be sent, so a later packet notes it again. */
	uint8_t prev_addr[16];
	uint16_t prev_sport_be;
};

#define ESP_MAP_MAX ESP_BURST_MAX /**< reports kept per esp_in_process() */

#define ESP_PENDING_MAX 1024 /**< packets one lcore may have in an async engine */

/**
 * One packet in an asynchronous engine's hands, from esp_out_submit() or
 * esp_in_submit() to esp_collect(): its crypto op and whatever the finish
 * step needs of what prepare learnt, which a synchronous burst keeps on
 * the stack of one call.
 */
struct esp_pending {
	struct crypto_op op; /**< first: the engine hands back &op */
	struct rte_mbuf *m;
	struct esp_sa *sa;
	uint64_t seq;        /**< inbound: the full sequence number */
	uint32_t len;        /**< plain bytes (out), ciphertext bytes (in) */
	uint8_t dir;         /**< enum esp_dir */
	uint8_t aad[12];
	uint8_t icv[CRYPTO_ICV_MAX];
};

/** A packet esp_collect() gives back. */
struct esp_done {
	struct rte_mbuf *m;
	struct esp_sa *sa;
	uint16_t why; /**< 0: good; else the counter that names the drop */
	uint8_t dir;  /**< enum esp_dir */
};

/**
 * The ring of packets an lcore has in an asynchronous engine, in the
 * order they were prepared: [head, sub) are the engine's, [sub, tail)
 * are prepared but not yet taken (the device queue was full), and go
 * first at the next submit or collect, so an SA's packets never pass
 * each other.
 */
struct esp_async {
	uint32_t head, sub, tail;
	uint32_t mask; /**< slots - 1, slots a power of two */
	struct esp_pending slot[];
};

/** Per-lcore scratch for the ESP calls. */
struct esp_ctx {
	struct crypto_engine *engine;
	struct crypto_op ops[ESP_BURST_MAX];
	uint64_t seq[ESP_BURST_MAX];  /**< inbound: full sequence numbers */
	uint32_t len[ESP_BURST_MAX];  /**< bytes: plain (out), ciphertext (in) */
	uint8_t aad[ESP_BURST_MAX][12];
	uint8_t icv[ESP_BURST_MAX][CRYPTO_ICV_MAX];
	/** Inbound: the new mappings the last esp_in_process() call found,
	 *  at most one per SA and change. When more than ESP_MAP_MAX come in
	 *  one call the rest are found again by a later packet. */
	struct esp_mapping map[ESP_MAP_MAX];
	uint16_t n_map;
	/** The next outer IPv4 ID this lcore sends (tunnel mode): one
	 *  counter for all its SAs, from a random start, so the packets of
	 *  SAs to one peer (per-flow SAs all begin at sequence number 1) do
	 *  not share IDs that routers fragmenting them would mix up (RFC
	 *  6864 4.1). */
	uint16_t ip_id;
	/** Set (esp_ctx_async_init()): this lcore submits to its engine and
	 *  collects later, instead of one synchronous burst per call. */
	struct esp_async *async;
};

/**
 * Encapsulate and encrypt. sas[i] is the SA for pkts[i]. Drops:
 * XfrmOutStateSeqError (sequence space used up; the SA is then marked
 * exhausted), XfrmOutError (no room, multi-segment, not IP),
 * XfrmOutStateProtoError (crypto failure).
 * @return the number of good packets, now ESP, at pkts[0..ret).
 */
uint16_t esp_out_process(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
			 struct esp_sa *sas[], uint16_t n, uint16_t reasons[]);

/** What an inbound packet on an unprotected port turned out to be. */
enum esp_in_kind {
	ESP_IN_ESP,       /**< ESP, plain or in UDP: SPI found */
	ESP_IN_KEEPALIVE, /**< RFC 3948 NAT keepalive (one 0xff byte) */
	ESP_IN_IKE,       /**< UDP with the non-ESP marker: IKE */
	ESP_IN_OTHER,     /**< not ESP at all, or an IP fragment: plain traffic */
	ESP_IN_BAD,       /**< a malformed ESP or ESP-in-UDP header, or IP header
			   *   around one (or a chain of mbufs): XfrmInHdrError */
	ESP_IN_MALFORMED, /**< a broken IP header over anything else:
			   *   MalformedPacket, as on a protected port */
};

/**
 * Classify an inbound packet (starting at its IP header) and, for ESP,
 * note where ESP starts: l3_len = outer IP header with extensions, l4_len
 * = 8 when in UDP. Trims link-layer padding past the IP length. ESP-in-UDP
 * is recognised on port 4500 and on the ports set in @p udp_ports (a
 * 65536-bit map indexed by host-order port; NULL = 4500 only). An IPv4
 * or IPv6 fragment, whatever it carries, is plain: ESP that comes in
 * fragments is reassembled before this (frag_in_add()).
 * @return the kind; *spi (host order) is set for ESP_IN_ESP.
 */
enum esp_in_kind esp_in_parse(struct rte_mbuf *m, const uint64_t *udp_ports,
			      uint32_t *spi);

/** Mark @p port in a 65536-bit port map. */
static inline void
esp_port_map_set(uint64_t *map, uint16_t port)
{
	map[port >> 6] |= 1ull << (port & 63);
}

/**
 * Check, decrypt and decapsulate ESP that esp_in_parse() accepted, with
 * sas[i] the SA its SPI names. RFC 4303 3.4.3 order: replay check, ICV
 * check, window update, then pad check and decap. An authentic
 * UDP-encapsulated packet from a new source address or port is noted,
 * after the window update, in ctx->map[0..ctx->n_map), once per change.
 * Drops:
 * XfrmInHdrError, XfrmInStateSeqError, XfrmInStateProtoError (bad ICV,
 * pad length or pad content), XfrmInStateModeError (inner header wrong for
 * the mode, or CE over not-ECT), InDummy (next header 59).
 * @return the number of good packets, now plain, at pkts[0..ret).
 */
uint16_t esp_in_process(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
			struct esp_sa *sas[], uint16_t n, uint16_t reasons[]);

/**
 * Asynchronous use (DESIGN.md "Workers and crypto engines": a cryptodev's
 * enqueue/dequeue). Give @p ctx its ring of @p slots pending packets (a
 * power of two, at most ESP_PENDING_MAX), on NUMA @p socket. @return 0,
 * -EINVAL or -ENOMEM. esp_ctx_async_free() frees it, after waiting for
 * the engine and freeing what was not collected.
 */
int esp_ctx_async_init(struct esp_ctx *ctx, unsigned int slots, int socket);
void esp_ctx_async_free(struct esp_ctx *ctx);

/** Packets of @p ctx in its engine or waiting to be taken. The owning
 *  lcore's count; another thread (`stats`) reads a snapshot. */
static inline unsigned int
esp_pending(const struct esp_ctx *ctx)
{
	const struct esp_async *a = ctx->async;

	return a == NULL ? 0 : __atomic_load_n(&a->tail, __ATOMIC_RELAXED) -
				       __atomic_load_n(&a->head, __ATOMIC_RELAXED);
}

/**
 * esp_out_process() and esp_in_process() in two halves, for a ctx with
 * esp_ctx_async_init(): prepare each packet (the same checks, sequence
 * numbers, replay check and layout) and hand it to the engine. The taken
 * ones, pkts[0..ret), are the engine's until esp_collect() gives them
 * back, in this order; the rest follow with their reasons, as the
 * synchronous calls return them, plus CryptoQueueFull when the ring's
 * slots are all pending already.
 */
uint16_t esp_out_submit(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
			struct esp_sa *sas[], uint16_t n, uint16_t reasons[]);
uint16_t esp_in_submit(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
		       struct esp_sa *sas[], uint16_t n, uint16_t reasons[]);

/**
 * Up to @p max packets the engine is done with, oldest first, each
 * finished as the synchronous call would (outbound: the IPv6 UDP checksum
 * and the SA's counters; inbound: window update, pad check, decap, and
 * new NAT-T mappings in ctx->map[0..ctx->n_map), which this call resets),
 * with why = 0 or the drop reason. Then hands the engine what waits.
 */
uint16_t esp_collect(struct esp_ctx *ctx, struct esp_done done[], uint16_t max);

#endif /* ESPD_ESP_H */
