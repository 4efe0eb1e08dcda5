/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The poll-mode worker: one per lcore other than the main one. It polls
 * its (port, queue) pairs, runs the outbound path on protected ports and
 * the inbound path on unprotected ones, and buffers TX per port, drained
 * when a buffer fills and on a TSC timer.
 *
 * All of a worker's state is in its own struct gw_worker (STYLE.md habit
 * 10); what it shares is read-only (the published tables) or a TX queue
 * lock, taken only on ports with fewer TX queues than sending lcores.
 */
#ifndef ESPD_WORKER_H
#define ESPD_WORKER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_interrupts.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "dataplane/counters.h"
#include "dataplane/esp.h"
#include "dataplane/event.h"
#include "dataplane/flowtab.h"
#include "dataplane/hold.h"
#include "dataplane/spi_limit.h"
#include "dataplane/tables.h"

#define GW_RX_BURST 32
#define GW_NOTICE_MAX 32          /**< MISS notices sent in one burst */
#define GW_HANDOFF_BUF 32         /**< packets for SA owners, sent in one burst each */
#define GW_TX_BUF 64
#define GW_RXQ_MAX 32
#define GW_MAINT_US 100          /**< reassembly table upkeep, this often */
_Static_assert(GW_PORTS_MAX <= 16, "gw_worker.tx_pending: a bit a port");
#define GW_FRAG_MAX 8             /**< fragments one packet may become before ESP */
/** ... and forwarded plain or decrypted (a reassembled packet of up to
 *  64 KB, at an MTU of 1044 or more). */
#define GW_FRAG_FWD_MAX 64
/** m->packet_type of a packet that came out of an SA (the worker's own
 *  mark: it rewrites packet_type of everything it receives). */
#define GW_PT_FROM_SA 0x80000000u
/** m->packet_type of a plain packet forwarded from an unprotected port:
 *  as one out of an SA, it meets the outbound SPD if it leaves by an
 *  unprotected port again (route.c). */
#define GW_PT_PLAIN_IN 0x40000000u
/** m->packet_type of the gateway's own packets (gw_local_out()): lcore 0
 *  fragments an IPv6 one too big for its path (control/exc.c), as a
 *  source may, where a forwarded one gets Packet Too Big. */
#define GW_PT_LOCAL 0x20000000u
/** m->packet_type of a packet relayed from an unprotected port back out
 *  of one (hub and spoke, gw_out_relay()): its ICMP errors go back from
 *  an address a tunnel's policy covers (control/exc.c). */
#define GW_PT_RELAYED 0x10000000u
#define GW_MSS_AUTO UINT32_MAX  /**< mss_clamp: fit each SA's path */
#define GW_IDLE_POLLS 1024        /**< empty polls before an adaptive worker sleeps */
#define GW_IDLE_SLEEP_MIN_US 10
#define GW_IDLE_SLEEP_MAX_US 500
/** An adaptive worker woken by its RX queues' interrupts waits this long
 *  at most (rte_epoll_wait() counts in milliseconds). */
#define GW_IDLE_WAIT_MS 1

_Static_assert(GW_RX_BURST <= ESP_BURST_MAX, "an RX burst fits the ESP calls");

/**
 * How one lcore wakes another that sleeps on an eventfd, with no write
 * while it is awake (dataplane/idle.c). The sleeper gw_wake_arm()s, looks
 * at its rings once more, sleeps on fd only if they are empty, then
 * gw_wake_disarm()s. A producer calls gw_wake() after its enqueue. Each
 * side fences between its store and its look at the other's, so one of
 * the two always sees the other; the exchange lets one producer write.
 * Used for lcore 0 (its exception and event rings) and for a worker
 * waiting on RX queue interrupts (its handoff ring).
 */
struct gw_wake {
	uint32_t asleep;
	int fd;                     /**< an eventfd; -1: none */
} __rte_cache_aligned;

/** Producer: wake @p k's sleeper, if it sleeps. @p k may be NULL. */
static inline void
gw_wake(struct gw_wake *k)
{
	uint64_t one = 1;

	if (k == NULL)
		return;
	/* Our enqueue before its flag, as its flag before its look at the
	 * rings: one of the two sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&k->asleep, __ATOMIC_RELAXED) != 0 && k->fd >= 0 &&
	    __atomic_exchange_n(&k->asleep, 0, __ATOMIC_RELAXED) != 0) {
		ssize_t rc = write(k->fd, &one, sizeof(one));

		(void)rc; /* should it fail, the sleeper wakes within 1 ms */
	}
}

/** Sleeper: about to look at its rings a last time before it sleeps. */
static inline void
gw_wake_arm(struct gw_wake *k)
{
	__atomic_store_n(&k->asleep, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/** Sleeper: awake again (or did not sleep): clear the flag and fd. */
void gw_wake_disarm(struct gw_wake *k);

/** What every worker shares with the control plane. */
struct gw_shared {
	struct gw_tables *tables;  /**< published with a release store */
	struct rte_rcu_qsbr *qsbr;
	/** SPI (host order) -> struct gw_sa *, inbound SAs. Lock-free
	 *  readers; the control plane is the one writer. */
	struct rte_hash *sad_in;
	/** struct gw_flow_key -> struct gw_sa *, outbound. Same rules
	 *  (flowtab.h: one page a lookup, for a million cold SAs). */
	struct flowtab *flows;
	/** struct gw_neigh_key -> struct gw_neigh *. Same rules. */
	struct rte_hash *neigh;
	/** Local UDP ports of inbound SAs' encap (65536 bits); bits are set
	 *  and cleared by the control plane, read racily by workers. */
	uint64_t natt_ports[65536 / 64];
	/** Bumped (release store) by the control plane after every change
	 *  to sad_in or flows: a worker's SA caches are good while it stays. */
	uint32_t flows_gen;
	/** `set acquire-queue`, `acquire-queue-total`, `acquire-expires`,
	 *  as the workers apply them to their own held packets. */
	volatile uint32_t acquire_queue, acquire_queue_total, acquire_expires;
	/** Packets a worker may hold whatever acquire-queue-total says: a
	 *  share of the mbuf pool (set at start, at most GW_HOLD_PKTS), so
	 *  flows waiting for SAs never take the mbufs RX needs. */
	uint32_t hold_cap;
	volatile bool stop;
	/** `set worker-idle adaptive`: sleep a little after a run of empty
	 *  polls (read racily; the control plane flips it). */
	volatile bool idle_adaptive;
	/** `set icmp-unreachable on`: Destination Unreachable for a packet
	 *  with no route (and, lcore 0's, one whose neighbour never answers) */
	volatile bool icmp_unreachable;
	/** `set tcp-mss-clamp`: 0 off, GW_MSS_AUTO, or the MSS to clamp to */
	volatile uint32_t mss_clamp;
	/** Bumped by the control plane when a monitor subscribes to
	 *  invalid-spi: each worker then forgets the SPIs it reported. */
	uint32_t spi_limit_gen;
	/** Each worker context's handoff ring (index = its qsbr_id), where
	 *  other lcores put packets of the outbound SAs it owns. */
	struct rte_ring *handoff[RTE_MAX_LCORE + 1];
	uint16_t n_workers;        /**< launched workers: contexts 0 .. n-1 */
	rte_spinlock_t tx_lock[GW_PORTS_MAX];
	bool tx_shared[GW_PORTS_MAX]; /**< fewer TX queues than senders */
	/** lcore 0 sleeps up to 1 ms when it has nothing to do
	 *  (control/loop.c); a worker that put something on its exception
	 *  or event ring wakes it through this, so an ARP request, a ping
	 *  of the gateway or an ACQUIRE does not wait out the sleep. */
	struct gw_wake ctl_wake;
	/* Idle workers (worker.c, idle()), after the fields of every round. */
	/** Port p was started with RX queue interrupts, and every one of its
	 *  RX queues has one (set before the workers start). */
	bool rx_intr[GW_PORTS_MAX];
	/** Each worker context's wake-up (struct gw_wake), indexed as
	 *  handoff[]. */
	struct gw_wake *wake[RTE_MAX_LCORE + 1];
} __rte_cache_aligned;

/** Why a worker hands a packet to the exception path (lcore 0). */
enum gw_exc_reason {
	GW_EXC_LOCAL,   /**< for the gateway itself (ARP, ND, ping, IKE, TCP...),
			 *   m at its Ethernet header; port: received on;
			 *   from_sa: it came out of an SA (only ping is
			 *   answered then) */
	GW_EXC_RESOLVE, /**< m (L3, ready to send) waits for the MAC of next
			 *   hop nh on port */
	GW_EXC_ICMP,    /**< send ICMP error kind (enum icmp_err_kind) about m
			 *   (L3), received on port; from_sa: it came out of an SA */
};

/** One element of a worker's exception ring. */
struct gw_exc {
	struct rte_mbuf *m;
	uint8_t reason;      /**< enum gw_exc_reason */
	uint8_t kind;        /**< ICMP: enum icmp_err_kind */
	uint16_t port;
	uint32_t mtu;        /**< ICMP: the MTU to report (frag needed) */
	uint8_t from_sa;
	uint8_t nh_family;   /**< RESOLVE: 4 or 6 */
	uint8_t pad[2];
	uint8_t nh[16];      /**< RESOLVE: the next hop's address */
};

_Static_assert(sizeof(struct gw_exc) % 4 == 0, "rte_ring elements are 4-byte multiples");

/** What the control plane tells a worker about a key it holds packets
 *  for (the worker's `cmd` ring; struct gw_hold_cmd). */
enum gw_hold_op {
	GW_HOLD_RELEASE, /**< an SA for the key is published: send them */
	GW_HOLD_DROP,    /**< the ACQUIRE expired or went unheard: drop them */
};

struct gw_hold_cmd {
	struct gw_flow_key key;
	uint32_t op;     /**< enum gw_hold_op */
};

_Static_assert(sizeof(struct gw_hold_cmd) % 4 == 0, "rte_ring elements are 4-byte multiples");

/** A packet handed to the lcore that owns its outbound SA (struct
 *  gw_sa.owner): L3, classified, its TTL spent; the owner looks the SA up
 *  again (a pointer could be freed before it dequeues). */
struct gw_handoff {
	struct rte_mbuf *m;
	uint32_t policy;  /**< outbound: the policy's index */
	uint8_t pfp;      /**< outbound: its PFP fields */
	uint8_t in;       /**< inbound ESP (an L3 packet) for the SA's owner */
	uint8_t pad[2];
};

_Static_assert(sizeof(struct gw_handoff) % 4 == 0, "rte_ring elements are 4-byte multiples");

/** The worker (its qsbr_id) an SA nobody owns yet goes to: one picked
 *  by the SA's id, which takes it (struct gw_sa.owner is that + 1). */
static inline uint16_t
gw_sa_first_owner(const struct gw_sa *sa, unsigned int n_workers)
{
	return (uint16_t)(sa->id % RTE_MAX(n_workers, 1u));
}

/** Per-lcore caches in front of the shared hashes, for the keys that
 *  name one SA whatever the packet (a non-PFP policy; an inbound SPI).
 *  Direct-mapped; valid while the shared table's generation is. */
#define GW_SA_CACHE 256

struct gw_sa_cache {
	uint32_t gen;                      /**< gw_shared.flows_gen it is for */
	uint32_t tag[GW_SA_CACHE];         /**< policy index / SPI, + 1 */
	struct gw_sa *sa[GW_SA_CACHE];
};

struct frag_in;

struct gw_port_stats {
	uint64_t rx, tx, drop;
};

struct gw_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[GW_TX_BUF];
};

struct gw_worker {
	unsigned int lcore_id;
	unsigned int qsbr_id;
	struct gw_shared *shared;
	uint16_t n_rxq;
	struct { uint16_t port, queue; } rxq[GW_RXQ_MAX];
	uint16_t txq[GW_PORTS_MAX];  /**< this lcore's TX queue per port */
	struct rte_ring *exc;        /**< struct gw_exc to the exception path */
	struct rte_ring *events;     /**< struct gw_event to the control plane */
	struct rte_ring *cmd;        /**< struct gw_hold_cmd from the control plane */
	struct rte_ring *handoff;    /**< struct gw_handoff from other lcores */
	struct gw_hold *hold;        /**< packets waiting for an SA (hold.h) */
	uint16_t n_notice;           /**< MISS notices waiting for one enqueue */
	struct gw_event notice[GW_NOTICE_MAX];
	struct gw_flow_key notice_key[GW_NOTICE_MAX];
	uint16_t n_handoff;          /**< packets for other lcores, not yet enqueued */
	uint16_t handoff_to[GW_HANDOFF_BUF]; /**< each one's owner (qsbr_id) */
	struct gw_handoff handoff_buf[GW_HANDOFF_BUF];
	struct gw_sa_cache out_cache; /**< non-PFP policy index -> SA */
	struct gw_sa_cache in_cache;  /**< SPI -> inbound SA */
	uint64_t tsc_hz;
	struct spi_limit spi_seen;   /**< invalid-spi events raised */
	uint32_t spi_gen;            /**< shared->spi_limit_gen it follows */
	uint64_t maint_tsc;          /**< last reassembly table upkeep */
	uint32_t idle_polls;         /**< polls in a row that found nothing */
	/** Bit p: tx[p] holds packets. */
	uint16_t tx_pending;
	/** Bit p: tx[p] held packets at the last round's end too. */
	uint16_t tx_waited;
	/** This round sent through a shared SA (`set out-sa shared`). */
	uint8_t tx_now;
	/** This round put something on exc or events (gw_ctl_ring()). */
	uint8_t ctl_note;
	struct rte_mempool *pool;    /**< for fragments */
	struct rte_mempool *big_pool; /**< reassembled packets beyond one mbuf */
	struct frag_in *frag;        /**< this worker's reassembly table */
	struct esp_ctx esp;
	struct espd_counters cnt;
	struct gw_port_stats port[GW_PORTS_MAX];
	struct gw_txbuf tx[GW_PORTS_MAX];
	/* Idle (worker.c, idle()): out of the way of the per-round fields. */
	/** Its RX queues' interrupts wake it (`set worker-idle adaptive`
	 *  on ports that have them): it waits on them, not in naps. */
	bool rx_intr;
	bool rx_armed;               /**< those interrupts are enabled */
	uint16_t n_rx_tap;           /**< its net_tap queues (rx_wait()) */
	struct pollfd rx_tap[GW_RXQ_MAX];
	struct gw_wake wake;         /**< its wake-up (shared->wake[qsbr_id]) */
	struct rte_epoll_event wake_ev; /**< wake.fd in its epoll set */
	uint64_t idle_sleeps;        /**< naps and waits, since start */
	uint64_t idle_woken;         /**< waits a packet ended */
	uint32_t frag6_id;           /**< the next IPv6 fragment ID it sends */
} __rte_cache_aligned;

/** The lcore entry point (rte_eal_remote_launch); @p arg is the worker. */
int gw_worker_main(void *arg);

/**
 * Run one poll round (receive, process, maybe drain). Exposed so tests
 * and benchmarks can drive a worker without launching an lcore.
 * @return how much it found to do (0: nothing).
 */
unsigned int gw_worker_poll(struct gw_worker *w);

/**
 * Take back what this worker's asynchronous crypto engine finished
 * (struct esp_ctx.async) and send it on: outbound packets are routed,
 * inbound ones go through the rest of the inbound stage. gw_worker_poll()
 * calls it once per round; @p all waits until nothing is pending (before
 * a quiescent report, at exit; tests). @return packets taken back.
 */
unsigned int gw_esp_collect(struct gw_worker *w, const struct gw_tables *t, bool all);

/** Send everything buffered (also at shutdown). */
void gw_worker_drain(struct gw_worker *w);

/** The end of a poll round: send the TX buffers that should not wait
 *  (route.c). @p backlog: an RX queue gave a full burst this round. */
void gw_worker_round_sent(struct gw_worker *w, bool backlog);

/**
 * The two packet paths on a burst of frames received on @p port, as the
 * poll loop calls them. Every mbuf is consumed: sent, buffered, handed
 * to the exception path, or freed and counted.
 */
void gw_outbound(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
		 struct rte_mbuf *pkts[], uint16_t n);
void gw_inbound(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
		struct rte_mbuf *pkts[], uint16_t n);

/**
 * The gateway's own IP packets (L3; at most GW_RX_BURST): echo replies,
 * ICMP errors. They go through the outbound SPD like forwarded traffic
 * (so an error about a tunnelled packet goes back through the tunnel),
 * without a TTL decrement. The exception path calls it, on lcore 0.
 */
void gw_local_out(struct gw_worker *w, const struct gw_tables *t,
		  struct rte_mbuf *pkts[], uint16_t n);

/** Route @p n L3 packets and buffer them for TX (the last step of both
 *  paths; the exception path uses it for packets it resolved). */
void gw_route_send(struct gw_worker *w, const struct gw_tables *t,
		   struct rte_mbuf *pkts[], uint16_t n);

/** Buffer a whole frame for TX on @p port as it is (the exception path's
 *  ARP, ND and kernel frames). */
void gw_tx_frame(struct gw_worker *w, uint16_t port, struct rte_mbuf *m);

/**
 * Serve the control plane's commands about held packets (release through
 * the SA now published, or drop), and now and then retry what could not
 * be announced, release what an SA appeared for, and drop what waited
 * past acquire-expires. Every worker runs it once per poll; the exception
 * path runs it for lcore 0's context. @return commands served.
 */
unsigned int gw_hold_poll(struct gw_worker *w, const struct gw_tables *t);

/**
 * Serve what other lcores handed this one: packets of outbound SAs it
 * owns, sent, and ESP of inbound SAs it owns, decrypted. Every worker
 * runs it once per poll. @return packets served.
 */
unsigned int gw_handoff_poll(struct gw_worker *w, const struct gw_tables *t);

/** Drop every held packet, counted (AcquireHeldDropped), and every
 *  packet handed to this lcore (SaHandoffDropped): at shutdown, after the
 *  worker stopped. */
void gw_hold_drop_all(struct gw_worker *w);

#endif /* ESPD_WORKER_H */
