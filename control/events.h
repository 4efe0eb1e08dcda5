/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What the workers tell the control plane, and what comes of it:
 * - a packet with no SA: one larval entry and one ACQUIRE per flow key,
 *   the packet held until an SA comes (or acquire-expires passes);
 * - an SA that crossed a byte/packet limit or ran out of sequence
 *   numbers, and the time limits the control plane times itself: EXPIRE,
 *   and for a hard one the SA goes;
 * - an unknown SPI: a rate-limited INVALID_SPI;
 * - a NAT-T peer's new address or port: MAPPING (the SA stays as it is).
 * (IKE and the gateway's other own traffic take the exception path,
 * control/exc.h.)
 *
 * The events are rendered (text and JSON) into a queue that the loop
 * hands to the socket's monitors (events_next()).
 *
 * Layer: events, above stats and publish; below the socket, commands and
 * the loop.
 */
#ifndef ESPD_EVENTS_H
#define ESPD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "control/publish.h"

struct events;

/** One event for the monitors: its CFG_MON_* type, the text line and
 *  the JSON object (compact, without "id"), neither with a newline. A
 *  form no monitor took when the event happened is NULL (both may be:
 *  the event still takes an id). @c lost events went just before it,
 *  lost here (a full queue, out of memory; counted
 *  MonitorEventsDropped): each still takes an id, so monitors see the
 *  gap. Type 0 carries only such losses, those after the last event
 *  queued. Release with event_out_free(). */
struct event_out {
	uint32_t type;
	char *text;
	char *json;
	uint64_t lost;
};

void event_out_free(struct event_out *e);

/** Start listening to @p p's workers; hooks into @p p's model (ACQUIRE
 *  release before an SA is published). @return NULL on ENOMEM. */
struct events *events_new(struct pub *p);

/**
 * Drain every worker's event ring, expire larval entries and time
 * limits, reclaim retired SA records. @return how many worker events it
 * handled (0: idle).
 */
unsigned int events_poll(struct events *ev);

/**
 * Which events (CFG_MON_*) some monitor takes now, as text (@p text) and
 * as JSON (@p json): the loop says, before each poll; without a word,
 * all are heard both ways. An event is rendered only in the forms
 * heard. Events go only to the
 * monitors there when they happen, so when a monitor subscribes to:
 * - acquire: an ACQUIRE raised while none took them reached nobody and
 *   cannot be answered. It expires at once (held packets counted
 *   AcquireHeldDropped), and the flow's next packet raises it again;
 * - invalid-spi: the rate limit forgets the SPIs it saw, so the next
 *   packet of an unknown SPI raises one at once.
 * So a key manager that connects after espd starts under traffic is kept
 * waiting neither acquire-expires nor the invalid-spi limit.
 */
void events_listening(struct events *ev, uint32_t text, uint32_t json);

/** The next rendered event, oldest first. @return false when none. */
bool events_next(struct events *ev, struct event_out *out);

/** Drop every held packet (counted AcquireHeldDropped), including those
 *  released to workers that will not run again; unhook from the model;
 *  free. Workers must be stopped. */
void events_free(struct events *ev);

#endif /* ESPD_EVENTS_H */
