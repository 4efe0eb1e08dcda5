/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's loop: poll each (port, queue), hand the burst to its
 * stage (out.c on a protected port, in.c on an unprotected one; route.c
 * ends both), serve the control plane's commands about held packets,
 * send TX at the round's end (route.c), wake lcore 0 when the round gave
 * it work, report quiescence (RCU) once per round.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "dataplane/frag.h"
#include "dataplane/worker_priv.h"

#define HOLD_SCAN_DIV 20       /* every held key looked at 20 times a second */
#define HOLD_SCAN_STEP 256     /* slots a step looks at */
#define HOLD_GRACE_S 2         /* past acquire-expires, if lcore 0 never said */

/*
 * Now and then, every held key: release it if its SA is there (the
 * release command may have been lost to a full ring), announce it again if
 * its notice was, and drop it when lcore 0 has certainly forgotten it. A
 * step looks at HOLD_SCAN_STEP slots, so no poll stalls on the whole
 * table (2 MB); the steps cover it HOLD_SCAN_DIV times a second.
 */
static void
hold_scan(struct gw_worker *w, const struct gw_tables *t, uint64_t now)
{
	struct gw_hold *h = w->hold;
	uint64_t life = ((uint64_t)w->shared->acquire_expires + HOLD_GRACE_S) * w->tsc_hz;
	uint32_t i, n;

	for (n = 0, i = h->scan_pos; n < HOLD_SCAN_STEP && h->n_keys != 0;
	     n++, i = (i + 1) % GW_HOLD_SLOTS) {
		struct gw_hold_entry *e = &h->slot[i];
		struct gw_sa *sa;

		/* A removal shifts later entries back into slot i: look at
		 * it again. */
		while (e->used) {
			sa = gw_out_flow_sa(w, &e->key);
			if (sa != NULL && (!sa->has_sel ||
					   spd_sel_match(&sa->sel, &e->pkt))) {
				/* Not all released: the rest wait, announced
				 * again (born now, so not expired below). */
				if (!gw_out_release(w, t, e, sa))
					break;
				continue;
			}
			if (now - e->born_tsc > life) {
				w->cnt.c[CNT_AcquireHeldDropped] += gw_hold_drop(h, e);
				continue;
			}
			if (!e->announced)
				gw_out_announce(w, e);
			break;
		}
	}
	h->scan_pos = i;
}

unsigned int
gw_hold_poll(struct gw_worker *w, const struct gw_tables *t)
{
	struct gw_hold_cmd c[32];
	unsigned int n, i, total = 0;
	uint64_t now;

	while ((n = rte_ring_dequeue_burst_elem(w->cmd, c, sizeof(c[0]), 32, NULL)) > 0) {
		total += n;
		for (i = 0; i < n; i++) {
			struct gw_hold_entry *e = gw_hold_find(w->hold, &c[i].key,
							       gw_hold_hash(&c[i].key));
			struct gw_sa *sa;

			if (e == NULL)
				continue;
			if (c[i].op == GW_HOLD_DROP) {
				w->cnt.c[CNT_AcquireHeldDropped] += gw_hold_drop(w->hold, e);
				continue;
			}
			sa = gw_out_flow_sa(w, &e->key);
			if (sa != NULL) {
				gw_out_release(w, t, e, sa);
			} else {
				/* Gone again before we saw it: a new ACQUIRE. */
				e->born_tsc = rte_rdtsc();
				gw_out_announce(w, e);
			}
		}
	}
	if (w->hold->n_keys != 0) {
		now = rte_rdtsc();
		if (now - w->hold->scan_tsc >
		    w->tsc_hz / HOLD_SCAN_DIV / (GW_HOLD_SLOTS / HOLD_SCAN_STEP)) {
			w->hold->scan_tsc = now;
			hold_scan(w, t, now);
		}
	}
	gw_out_notices_flush(w);
	return total;
}

void
gw_hold_drop_all(struct gw_worker *w)
{
	struct gw_hold_cmd c;
	struct gw_handoff h;
	uint32_t i;

	if (w->hold != NULL) {
		for (i = 0; i < GW_HOLD_SLOTS && w->hold->n_keys != 0; i++)
			while (w->hold->slot[i].used)
				w->cnt.c[CNT_AcquireHeldDropped] +=
					gw_hold_drop(w->hold, &w->hold->slot[i]);
	}
	while (w->cmd != NULL && rte_ring_dequeue_elem(w->cmd, &c, sizeof(c)) == 0)
		;
	while (w->handoff != NULL && rte_ring_dequeue_elem(w->handoff, &h, sizeof(h)) == 0) {
		rte_pktmbuf_free(h.m);
		w->cnt.c[CNT_SaHandoffDropped]++;
	}
}

unsigned int
gw_esp_collect(struct gw_worker *w, const struct gw_tables *t, bool all)
{
	struct esp_done d[GW_RX_BURST];
	struct rte_mbuf *out[GW_RX_BURST], *in[GW_RX_BURST];
	struct esp_sa *in_sa[GW_RX_BURST], *out_sa[GW_RX_BURST];
	unsigned int total = 0;
	uint16_t n, i, no, ni;

	while (esp_pending(&w->esp) != 0) {
		n = esp_collect(&w->esp, d, GW_RX_BURST);
		if (n == 0) {
			/* An op the device holds may still write into its
			 * mbuf: it is always waited for, never given up. */
			if (!all)
				break;
			rte_pause();
			continue;
		}
		total += n;
		no = ni = 0;
		for (i = 0; i < n; i++) {
			if (unlikely(d[i].why != 0)) {
				drop(w, d[i].m, (enum espd_counter)d[i].why);
			} else if (d[i].dir == ESP_DIR_OUT) {
				out_sa[no] = d[i].sa;
				out[no++] = d[i].m;
			} else {
				in[ni] = d[i].m;
				in_sa[ni++] = d[i].sa;
			}
		}
		/* Their SAs' counters moved only now (esp_out_finish()):
		 * the limits are checked against them here, as the
		 * synchronous engine checks them after its burst. */
		sa_runs_done(w, out_sa, no);
		gw_route_send(w, t, out, no);
		if (ni != 0 || w->esp.n_map != 0)
			gw_in_decrypted(w, t, in, in_sa, ni);
	}
	return total;
}

unsigned int
gw_worker_poll(struct gw_worker *w)
{
	struct gw_shared *sh = w->shared;
	struct rte_mbuf *pkts[GW_RX_BURST];
	const struct gw_tables *t;
	unsigned int total = 0;
	bool backlog = false;
	uint64_t now;
	uint16_t q, n;

	if (unlikely(w->hold->n_keys != 0 || rte_ring_count(w->cmd) != 0)) {
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		total += gw_hold_poll(w, t);
	}
	if (unlikely(rte_ring_count(w->handoff) != 0)) {
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		total += gw_handoff_poll(w, t);
	}
	for (q = 0; q < w->n_rxq; q++) {
		uint16_t port = w->rxq[q].port;

		n = rte_eth_rx_burst(port, w->rxq[q].queue, pkts, GW_RX_BURST);
		if (n == 0)
			continue;
		total += n;
		backlog |= n == GW_RX_BURST;
		w->port[port].rx += n;
		/* One load of the tables per burst (RCU reader). */
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		if (t->ports[port].role == GW_ROLE_PROTECTED)
			gw_outbound(w, t, port, pkts, n);
		else
			gw_inbound(w, t, port, pkts, n);
	}
	/* After the queues, so the device had the whole round to work. */
	if (esp_pending(&w->esp) != 0) {
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		total += gw_esp_collect(w, t, false);
	}
	gw_worker_round_sent(w, backlog);
	if (unlikely(w->ctl_note)) {
		/* This round put something on lcore 0's rings. */
		w->ctl_note = 0;
		gw_wake(&sh->ctl_wake);
	}
	if (w->frag != NULL) {
		now = rte_rdtsc();
		if (now - w->maint_tsc > w->tsc_hz / 1000000 * GW_MAINT_US) {
			w->cnt.c[CNT_ReassemblyFailed] += frag_in_maintain(w->frag, now);
			w->maint_tsc = now;
		}
	}
	return total;
}

/*
 * `set worker-idle adaptive`, as VPP's adaptive mode: after a run of
 * empty polls the worker sleeps. Where its RX queues have interrupts it
 * waits on them, and a packet wakes it at once; else it naps, a little
 * longer each time up to GW_IDLE_SLEEP_MAX_US. Either way it goes back
 * to polling flat out at the first packet, and costs nothing while
 * traffic flows. Held packets and an asynchronous engine's pending ops
 * need the worker without a packet coming: it naps then.
 */
static void
idle(struct gw_worker *w, unsigned int work)
{
	uint32_t us;

	if (work != 0 || !w->shared->idle_adaptive) {
		if (unlikely(w->rx_armed))
			gw_rx_arm(w, false);
		w->idle_polls = 0;
		return;
	}
	if (++w->idle_polls < GW_IDLE_POLLS)
		return;
	if (w->rx_intr && (w->hold == NULL || w->hold->n_keys == 0) &&
	    esp_pending(&w->esp) == 0) {
		if (w->rx_armed)
			gw_rx_wait(w);
		else
			gw_rx_arm(w, true); /* one more round looks first */
		return;
	}
	if (w->rx_armed)
		gw_rx_arm(w, false);
	w->idle_sleeps++;
	us = GW_IDLE_SLEEP_MIN_US << RTE_MIN((w->idle_polls - GW_IDLE_POLLS) / 16, 6u);
	rte_delay_us_sleep(RTE_MIN(us, (uint32_t)GW_IDLE_SLEEP_MAX_US));
}

/*
 * Report a quiescent state (RCU), once per round. The packets in an
 * asynchronous engine point at their SAs and device sessions, which must
 * outlive them: so with packets pending the worker reports only when a
 * writer waits for it (the token moved past this thread's count), and
 * first collects every one of them. That is the drain an SA's deletion
 * and the tables' replacement wait for. @return how many it collected:
 * work, so that the worker does not nap with them in its TX buffers (the
 * next round sends them).
 */
static unsigned int
quiesce(struct gw_worker *w)
{
	struct rte_rcu_qsbr *v = w->shared->qsbr;
	unsigned int n = 0;

	if (unlikely(esp_pending(&w->esp) != 0)) {
		if (__atomic_load_n(&v->token, __ATOMIC_ACQUIRE) ==
		    __atomic_load_n(&v->qsbr_cnt[w->qsbr_id].cnt, __ATOMIC_RELAXED))
			return 0;
		n = gw_esp_collect(w, __atomic_load_n(&w->shared->tables, __ATOMIC_ACQUIRE),
				   true);
	}
	rte_rcu_qsbr_quiescent(v, w->qsbr_id);
	return n;
}

int
gw_worker_main(void *arg)
{
	struct gw_worker *w = arg;
	struct gw_shared *sh = w->shared;

	rte_rcu_qsbr_thread_register(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_online(sh->qsbr, w->qsbr_id);
	w->rx_intr = gw_rx_intr_add(w);
	while (!sh->stop) {
		unsigned int work = gw_worker_poll(w);

		work += quiesce(w);
		idle(w, work);
	}
	gw_esp_collect(w, __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE), true);
	gw_worker_drain(w);
	gw_hold_drop_all(w);
	gw_rx_intr_fini(w);
	rte_rcu_qsbr_thread_offline(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_unregister(sh->qsbr, w->qsbr_id);
	return 0;
}