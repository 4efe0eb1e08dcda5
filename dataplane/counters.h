/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Global counters, defined once. The list yields the enum used as a
 * per-packet drop reason on the fast path and the names printed by
 * espctl, telemetry and --stats-json. The names are Linux's
 * /proc/net/xfrm_stat names plus espd's own (DESIGN.md "Counters"), and
 * after those the forwarding drops DESIGN.md leaves unnamed: no route, no
 * neighbour, not IP, malformed IP, IKE punt queue full, TX queue full;
 * then the live gateway's own paths (fragments, ICMP, neighbours, the
 * exception path to the kernel, MSS clamping).
 */
#ifndef ESPD_COUNTERS_H
#define ESPD_COUNTERS_H

#include <stdint.h>

#define foreach_espd_counter(_)                                               \
	_(XfrmInError)                                                        \
	_(XfrmInBufferError)                                                  \
	_(XfrmInHdrError)                                                     \
	_(XfrmInNoStates)                                                     \
	_(XfrmInStateProtoError)                                              \
	_(XfrmInStateModeError)                                               \
	_(XfrmInStateSeqError)                                                \
	_(XfrmInStateExpired)                                                 \
	_(XfrmInStateMismatch)                                                \
	_(XfrmInStateInvalid)                                                 \
	_(XfrmInTmplMismatch)                                                 \
	_(XfrmInNoPols)                                                       \
	_(XfrmInPolBlock)                                                     \
	_(XfrmInPolError)                                                     \
	_(XfrmOutError)                                                       \
	_(XfrmOutBundleGenError)                                              \
	_(XfrmOutNoStates)                                                    \
	_(XfrmOutStateProtoError)                                             \
	_(XfrmOutStateModeError)                                              \
	_(XfrmOutStateSeqError)                                               \
	_(XfrmOutStateExpired)                                                \
	_(XfrmOutPolBlock)                                                    \
	_(XfrmOutPolError)                                                    \
	_(XfrmOutStateInvalid)                                                \
	_(XfrmAcquireError)                                                   \
	_(AcquireSent)                                                        \
	_(AcquireHeld)                                                        \
	_(AcquireHeldReleased)                                                \
	_(AcquireHeldDropped)                                                 \
	_(InvalidSpiEvents)                                                   \
	_(NatKeepalive)                                                       \
	_(IkePunted)                                                          \
	_(PfpFlows)                                                           \
	_(Bypass)                                                             \
	_(Protect)                                                            \
	_(InDummy)                                                            \
	_(TtlExceeded)                                                        \
	_(NoRoute)                                                            \
	_(NoNeighbour)                                                        \
	_(NotIp)                                                              \
	_(MalformedPacket)                                                    \
	_(IkePuntDropped)                                                     \
	_(TxDropped)                                                          \
	_(EventRingFull)                                                      \
	_(MonitorEventsDropped)                                               \
	_(ReassemblyOk)                                                       \
	_(ReassemblyFailed)                                                   \
	_(FragNeeded)                                                         \
	_(Fragmented)                                                         \
	_(IcmpErrorsSent)                                                     \
	_(IcmpRateLimited)                                                    \
	_(EchoReplies)                                                        \
	_(NeighQueued)                                                        \
	_(NeighFailed)                                                        \
	_(ExceptionRingFull)                                                  \
	_(TapRx)                                                              \
	_(TapTx)                                                              \
	_(TapDropped)                                                         \
	_(MssClamped)                                                         \
	_(MappingEvents)                                                      \
	_(SaHandoff)                                                          \
	_(SaHandoffDropped)                                                   \
	_(CryptoQueueFull)                                                    \
	_(LinkBroadcast)                                                      \
	_(FragFailed)                                                         \
	_(PmtuLowered)                                                        \
	_(MartianSource)

enum espd_counter {
#define _(name) CNT_##name,
	foreach_espd_counter(_)
#undef _
	CNT__MAX
};

/** Printed name of counter @p c, or NULL when out of range. */
const char *espd_counter_name(enum espd_counter c);

/**
 * Per-lcore counter block. Each worker owns one and is its only writer
 * (lcore 0 has its own, for the control plane's counts); readers sum over
 * lcores when asked and rely on 64-bit loads not tearing. `stats reset`
 * never writes here: it keeps the totals as a baseline to subtract.
 */
struct espd_counters {
	uint64_t c[CNT__MAX];
};

#endif /* ESPD_COUNTERS_H */
