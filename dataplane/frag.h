/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * IP fragments, on DPDK's librte_ip_frag: RFC 4459 pre-fragmentation of
 * IPv4 before ESP, and reassembly of what arrives in fragments for the
 * gateway itself (ESP from peers that fragment after encapsulation, as
 * Linux does). Packets here start at their IP header (l2_len 0) and are
 * single-segment, in and out: ESP works on single segments.
 *
 * What librte_ip_frag (DPDK 22.11) does, and what this wrapper adds:
 * - It never frees an mbuf itself: whatever it drops (a bad fragment, a
 *   packet whose time ran out, one reclaimed for room) goes on a death
 *   row, freed here by frag_in_maintain() (and by frag_in_add() when the
 *   row gets near full). Each mbuf is freed exactly once.
 * - It needs l2_len / l3_len set on every fragment (it cuts l2_len +
 *   l3_len off all but the first); frag_in_add() sets them (0, and the
 *   IPv4 header / IPv6 header + fragment header).
 * - It returns chained mbufs and leaves the IPv4 checksum 0;
 *   frag_in_add() makes one segment and fills the checksum.
 * - It checks little: no fragment alignment, no 64 KB limit, no length
 *   against the buffer; frag_in_add() checks those first.
 * - Its IPv6 code wants the fragment header right after the IPv6 header
 *   (no per-fragment extension headers before it); others are dropped.
 * - Its IPv4 key is (source, destination, ID), without the protocol.
 * - Overlapping fragments: a second first or last fragment (offset 0, or
 *   MF clear) drops the whole packet at once; any other overlap or
 *   duplicate makes the byte count overshoot, or leaves a hole when the
 *   chain is put together, and the whole packet is dropped then. An
 *   overlap never yields a packet (RFC 5722 for IPv6, and the safe
 *   choice for IPv4) and never leaks.
 */
#ifndef ESPD_FRAG_H
#define ESPD_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* frag_is_fragment() for anything but IPv4: IPv6's extension headers. */
bool frag_is_fragment6(const uint8_t *ip, uint32_t len);

/**
 * Is the IP packet at @p ip (@p len bytes) a fragment: IPv4 with MF set
 * or a non-zero offset, or IPv6 with a fragment header (an atomic one
 * included, RFC 6946) after any other extension headers? False when the
 * IP header or an extension header before the fragment header is cut
 * short; the rest is frag_in_add()'s to check.
 */
static inline bool
frag_is_fragment(const uint8_t *ip, uint32_t len)
{
	/* IPv4 inline: every ESP packet for the gateway asks. */
	if (len >= sizeof(struct rte_ipv4_hdr) && (ip[0] >> 4) == 4)
		return rte_ipv4_frag_pkt_is_fragmented((const struct rte_ipv4_hdr *)ip);
	return frag_is_fragment6(ip, len);
}

/**
 * RFC 4459 pre-fragmentation: cut the IPv4 packet @p m (data at L3,
 * single segment), larger than @p mtu and without DF, into fragments of
 * at most @p mtu bytes (fewer when @p pool's buffers are smaller: each
 * fragment is one segment), with rte_ipv4_fragment_packet(). Options
 * marked copied (RFC 791) go into every fragment. Each fragment comes
 * from @p pool with valid IPv4 checksum, l2_len 0, l3_len, and m's port
 * and packet_type.
 * @return the number of fragments, in @p out[0..ret), and @p m freed;
 * or -EINVAL (DF set, not IPv4, fits already, @p mtu below 68,
 * malformed), -ENOSPC (more than @p max fragments), -ENOMEM: @p m is
 * then as it was and still the caller's.
 */
int frag_ipv4_out(struct rte_mbuf *m, uint16_t mtu, struct rte_mempool *pool,
		  struct rte_mbuf *out[], uint16_t max);

/**
 * Cut the IPv6 packet @p m (data at L3, single segment, no extension
 * header: the ESP packets this gateway makes), larger than @p mtu, into
 * fragments of at most @p mtu bytes (RFC 8200 4.5) under fragment ID
 * @p id, each copied into an mbuf from @p pool with l2_len 0, l3_len 48
 * and m's port. packet_type is 0.
 * @return the number of fragments, in @p out[0..ret), and @p m freed;
 * or -EINVAL (not such a packet, fits already, @p mtu below 1280 or past
 * @p pool's buffers), -ENOSPC (more than @p max fragments), -ENOMEM: @p m
 * is then as it was and still the caller's.
 */
int frag_ipv6_out(struct rte_mbuf *m, uint16_t mtu, uint32_t id, struct rte_mempool *pool,
		  struct rte_mbuf *out[], uint16_t max);

/** Reassembly state of one lcore: an rte_ip_frag_tbl and its death row. */
struct frag_in;

/**
 * Reassembly for one lcore: up to @p max_flows packets being put back
 * together at once, each of up to RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments,
 * dropped @p ttl_ms after their first fragment arrived. Memory comes
 * from @p socket. @return NULL on ENOMEM (or @p max_flows 0).
 */
struct frag_in *frag_in_create(uint32_t max_flows, uint32_t ttl_ms, int socket);

/** Free @p f and every fragment it holds (NULL is fine). */
void frag_in_free(struct frag_in *f);

/**
 * Offer the fragment @p m (data at L3, single segment, IPv4 or IPv6),
 * arrived at @p tsc (rte_rdtsc()). @p m is taken whatever happens.
 * @return the whole packet when @p m completed it: one segment (copied
 * into an mbuf from @p big_pool when it does not fit the first
 * fragment's buffer), l2_len 0, l3_len the IP header (IPv6: 40), v4
 * total length, flags and checksum, v6 payload length and next header
 * set, the fragment header gone, first fragment's port and packet_type.
 * An IPv6 atomic fragment (offset 0, M clear) comes back at once without
 * its fragment header (RFC 6946); @p m when it is no fragment at all.
 * NULL when more fragments are needed (*why 0) or @p m was dropped
 * (*why CNT_ReassemblyFailed: malformed, overlapping, too many
 * fragments, table full, more than 65535 bytes, no @p big_pool mbuf).
 * Other fragments this call drops are counted by frag_in_maintain().
 */
struct rte_mbuf *frag_in_add(struct frag_in *f, struct rte_mbuf *m, uint64_t tsc,
			     struct rte_mempool *big_pool, uint16_t *why);

/**
 * Drop the packets whose time ran out by @p tsc
 * (rte_ip_frag_table_del_expired_entries) and free the death row. Call
 * once per poll loop.
 * @return how many fragments were freed as failures since the last call
 * (timed out, or dropped by frag_in_add() along with another fragment):
 * add it to ReassemblyFailed.
 */
uint32_t frag_in_maintain(struct frag_in *f, uint64_t tsc);

#endif /* ESPD_FRAG_H */
