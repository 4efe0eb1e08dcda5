/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How an idle worker sleeps on its RX queues' interrupts (worker.c,
 * idle(), with `set worker-idle adaptive`), and how one lcore wakes
 * another that sleeps (struct gw_wake: lcore 0, or a worker handed
 * packets). Apart from worker.c: none of it runs while packets flow.
 */
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_interrupts.h>

#include "dataplane/worker_priv.h"

__rte_cold void
gw_wake_disarm(struct gw_wake *k)
{
	uint64_t v;
	ssize_t rc;

	__atomic_store_n(&k->asleep, 0, __ATOMIC_RELAXED);
	if (k->fd >= 0) {
		rc = read(k->fd, &v, sizeof(v)); /* EAGAIN when nobody wrote */
		(void)rc;
	}
}

/*
 * RX queue interrupts (as l3fwd-power and VPP's adaptive mode use them):
 * a worker whose every RX queue has one adds them to its thread's epoll
 * set once, and arms them only for a wait. rx_intr_del() takes the
 * first @p n back out.
 */
static __rte_cold void
rx_intr_del(struct gw_worker *w, uint16_t n)
{
	while (n-- > 0)
		(void)rte_eth_dev_rx_intr_ctl_q(w->rxq[n].port, w->rxq[n].queue,
						RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_DEL, NULL);
}

__rte_cold bool
gw_rx_intr_add(struct gw_worker *w)
{
	uint16_t i;

	if (w->n_rxq == 0)
		return false;
	for (i = 0; i < w->n_rxq; i++)
		if (!w->shared->rx_intr[w->rxq[i].port])
			return false;
	for (i = 0; i < w->n_rxq; i++)
		if (rte_eth_dev_rx_intr_ctl_q(w->rxq[i].port, w->rxq[i].queue,
					      RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD,
					      NULL) < 0) {
			rx_intr_del(w, i);
			return false;
		}
	/* Other lcores' handoffs wake it too. */
	if (w->wake.fd >= 0) {
		w->wake_ev.epdata.event = EPOLLIN | EPOLLET;
		if (rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, w->wake.fd,
				  &w->wake_ev) < 0) {
			rx_intr_del(w, w->n_rxq);
			return false;
		}
	}
	w->n_rx_tap = 0;
	for (i = 0; i < w->n_rxq; i++) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(w->rxq[i].port, &info) == 0 &&
		    strcmp(info.driver_name, "net_tap") == 0) {
			w->rx_tap[w->n_rx_tap].fd =
				rte_eth_dev_rx_intr_ctl_q_get_fd(w->rxq[i].port, w->rxq[i].queue);
			w->rx_tap[w->n_rx_tap++].events = POLLIN;
		}
	}
	return true;
}

/* Enable or disable the interrupts. Some PMDs (net_tap) have no switch:
 * their queue's descriptor is always armed, so -ENOTSUP is no error. */
__rte_cold void
gw_rx_arm(struct gw_worker *w, bool on)
{
	uint16_t i;

	for (i = 0; i < w->n_rxq; i++) {
		if (on)
			(void)rte_eth_dev_rx_intr_enable(w->rxq[i].port, w->rxq[i].queue);
		else
			(void)rte_eth_dev_rx_intr_disable(w->rxq[i].port, w->rxq[i].queue);
	}
	w->rx_armed = on;
}

/* Sleep until a packet comes, GW_IDLE_WAIT_MS at most. The interrupts
 * were armed before the last (empty) round, so whatever came after that
 * round's look fires them. */
__rte_cold void
gw_rx_wait(struct gw_worker *w)
{
	struct rte_epoll_event ev[GW_RXQ_MAX + 1];
	int n;

	/* net_tap reads a queue only once the SIGIO that says it has data
	 * came, to any thread: a packet the round missed for that has
	 * fired its (edge-triggered) interrupt already. Poll on. */
	if (w->n_rx_tap != 0 && poll(w->rx_tap, w->n_rx_tap, 0) > 0) {
		w->idle_polls = 0;
		return;
	}
	gw_wake_arm(&w->wake);
	if (rte_ring_count(w->handoff) != 0) {
		gw_wake_disarm(&w->wake);
		w->idle_polls = 0;
		return;
	}
	w->idle_sleeps++;
	n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, GW_RXQ_MAX + 1, GW_IDLE_WAIT_MS);
	gw_rx_arm(w, false);
	gw_wake_disarm(&w->wake);
	if (n > 0) {
		/* Poll flat out again, a full run of rounds: a packet
		 * rarely comes alone. */
		w->idle_woken++;
		w->idle_polls = 0;
	} else {
		/* The next empty round arms them again, the one after
		 * waits. */
		w->idle_polls = GW_IDLE_POLLS - 1;
	}
}

__rte_cold void
gw_rx_intr_fini(struct gw_worker *w)
{
	if (w->rx_armed)
		gw_rx_arm(w, false);
	if (!w->rx_intr)
		return;
	rx_intr_del(w, w->n_rxq);
	if (w->wake.fd >= 0)
		(void)rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_DEL, w->wake.fd, &w->wake_ev);
}
