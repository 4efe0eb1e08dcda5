/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop (see loop.h).
 */
#include <signal.h>
#include <time.h>

#include <rte_cycles.h>

#include "control/cmd.h"
#include "control/loop.h"
#include "control/telemetry.h"

#define FLUSH_WAIT_NS (200 * 1000 * 1000ull)

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Rendered events to the monitors, in order. */
static void
emit_events(struct events *ev, struct sock *s)
{
	struct event_out e;

	while (events_next(ev, &e)) {
		if (s != NULL) {
			sock_skip(s, e.lost);
			if (e.type != 0)
				sock_emit(s, e.type, e.text, e.json);
		}
		event_out_free(&e);
	}
}

/* Does any worker's exception or event ring hold something? */
static bool
rings_busy(const struct pub *p)
{
	unsigned int i;

	for (i = 0; i < pub_n_contexts(p); i++) {
		const struct gw_worker *w = pub_context(p, i);

		if (w != NULL && (rte_ring_count(w->exc) != 0 || rte_ring_count(w->events) != 0))
			return true;
	}
	return false;
}

/*
 * Nothing to do: sleep until a client or a worker wakes lcore 0, 1 ms at
 * most. The rings are looked at once more after the flag is set (struct
 * gw_wake): either that look finds a worker's work, or the worker finds
 * the flag and writes the eventfd.
 */
static void
ctl_sleep(struct pub *p, struct sock *s)
{
	struct gw_wake *k = &p->shared.ctl_wake;

	gw_wake_arm(k);
	if (!rings_busy(p))
		sock_wait(s, 1, k->fd);
	gw_wake_disarm(k);
}

void
loop_run(struct pub *p, struct events *ev, struct exc *x, struct sock *s,
	 long exit_idle_ms)
{
	struct cmd_ctx cmd = { .pub = p, .sock = s };
	uint64_t last_rx = 0, idle_since;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	telemetry_start(p);
	/* Clients that connected while the ports came up (a key manager's
	 * monitor): accepted, then served, before the first packet. */
	telemetry_lock();
	sock_poll(s, cmd_request, &cmd);
	sock_poll(s, cmd_request, &cmd);
	cmd_flush(&cmd);
	telemetry_unlock();
	pub_launch(p);

	idle_since = rte_get_timer_cycles();
	while (!stop_requested) {
		unsigned int work;
		uint64_t rx, now;

		/* The telemetry thread reads the model: change it only under
		 * the lock (workers never take it). */
		telemetry_lock();
		events_listening(ev, sock_heard(s, false), sock_heard(s, true));
		work = events_poll(ev);
		work += exc_poll(x);
		emit_events(ev, s);
		work += sock_poll(s, cmd_request, &cmd);
		/* A batch's table changes: rebuilt once it pauses, or after
		 * FLUSH_WAIT_NS of uninterrupted requests, so its held answers
		 * never wait long. */
		if (cmd.deferred && (!sock_got_input(s) ||
				     model_clock_ns() - cmd.deferred_ns > FLUSH_WAIT_NS))
			work += cmd_flush(&cmd) == 0;
		emit_events(ev, s);
		telemetry_unlock();
		/* Sleep only when idle: a key manager streaming requests or a
		 * burst of ACQUIREs keeps lcore 0 running. A client's request
		 * (a key manager's answer to an ACQUIRE) wakes it at once, and
		 * so does a worker that gave it work (ctl_sleep()). */
		if (work == 0)
			ctl_sleep(p, s);
		if (exit_idle_ms <= 0)
			continue;
		rx = pub_rx_total(p);
		now = rte_get_timer_cycles();
		if (rx != last_rx) {
			last_rx = rx;
			idle_since = now;
		} else if ((now - idle_since) * 1000 / rte_get_timer_hz() >=
			   (uint64_t)exit_idle_ms) {
			break;
		}
	}
	pub_halt(p);
	telemetry_stop();
}
