/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control loop on lcore 0: the one caller of every poller. Each round
 * it takes what the workers sent (events, and the exception path: the
 * gateway's own traffic, neighbours, TAPs), hands the rendered events to
 * the monitors, serves the control socket (commands), and sleeps a
 * millisecond only when there was nothing to do.
 *
 * Layer: the top of control/ (espd.c calls it).
 */
#ifndef ESPD_LOOP_H
#define ESPD_LOOP_H

#include "control/events.h"
#include "control/exc.h"
#include "control/publish.h"
#include "control/sock.h"

/**
 * Launch the workers and run until SIGINT/SIGTERM, or until no port has
 * received anything for @p exit_idle_ms (when > 0). Returns once the
 * workers have stopped and flushed their TX buffers.
 */
void loop_run(struct pub *p, struct events *ev, struct exc *x, struct sock *s,
	      long exit_idle_ms);

#endif /* ESPD_LOOP_H */
