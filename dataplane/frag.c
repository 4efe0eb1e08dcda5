/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragmentation and reassembly on librte_ip_frag (see frag.h for what
 * the library does and does not do).
 */
/* rte_ip_frag_table_del_expired_entries() is still experimental in
 * 22.11; it is the only way to time packets out without a new fragment. */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dataplane/counters.h"
#include "dataplane/frag.h"
#include "dataplane/pkt.h"

#define V4_HL_MIN ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define V6_HL ((uint32_t)sizeof(struct rte_ipv6_hdr))
#define V6_FH ((uint32_t)sizeof(struct rte_ipv6_fragment_ext))
#define IP_MAX 65535u           /* RFC 791 / RFC 8200: a packet's bytes at most */
#define V4_MIN_MTU 68           /* RFC 791: every link carries 68 bytes */
#define FRAG_BUCKET_ENTRIES 16  /* associativity, as examples/ip_reassembly */
#define DR_PREFETCH 3

/* Most death-row entries one rte_ip_frag reassembly call adds: a stale
 * packet reclaimed for room, the packet the fragment belongs to, and the
 * fragment itself. */
#define DR_PER_CALL (2 * RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1)

struct frag_in {
	struct rte_ip_frag_tbl *tbl;
	/* Fragments frag_in_add() sent to the death row along with another
	 * one (its packet, or a stale packet reclaimed), not yet reported
	 * by frag_in_maintain(). */
	uint32_t failed;
	struct rte_ip_frag_death_row dr;
};

/* frag_is_fragment() for what is not IPv4 (frag.h). */
bool
frag_is_fragment6(const uint8_t *ip, uint32_t len)
{
	uint32_t nh_off;
	uint8_t proto = 0;

	if (len >= V6_HL && (ip[0] >> 4) == 6)
		return pkt_ip6_skip_ext(ip, len, &proto, &nh_off) < 0 &&
		       proto == IPPROTO_FRAGMENT;
	return false;
}

/* ---- out ---------------------------------------------------------------- */

int
frag_ipv4_out(struct rte_mbuf *m, uint16_t mtu, struct rte_mempool *pool,
	      struct rte_mbuf *out[], uint16_t max)
{
	const struct rte_ipv4_hdr *ih = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t len = rte_pktmbuf_data_len(m), hl, tot, fo, room, eff, fsz, n;
	uint16_t dl = m->data_len;
	uint32_t pl = m->pkt_len;
	int rc, i;

	if (m->nb_segs != 1 || len < V4_HL_MIN || (ih->version_ihl >> 4) != 4 || max == 0)
		return -EINVAL;
	hl = rte_ipv4_hdr_len(ih);
	tot = rte_be_to_cpu_16(ih->total_length);
	fo = rte_be_to_cpu_16(ih->fragment_offset);
	if (hl < V4_HL_MIN || tot < hl || tot > len || (fo & RTE_IPV4_HDR_DF_FLAG) ||
	    tot <= mtu)
		return -EINVAL;
	/* Each fragment must be one segment of @p pool: no larger than its
	 * buffers past the headroom, whatever the MTU says. */
	room = rte_pktmbuf_data_room_size(pool);
	room = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
	eff = RTE_MIN((uint32_t)mtu, room);
	if (eff < V4_MIN_MTU || eff < hl + 8)
		return -EINVAL;
	/* RFC 791: the offset counts 8-byte units, and no fragment may end
	 * past 65535 bytes. */
	if ((fo & RTE_IPV4_HDR_OFFSET_MASK) * 8u + tot > IP_MAX)
		return -EINVAL;
	fsz = (eff - hl) & ~7u;
	n = (tot - hl + fsz - 1) / fsz;
	if (n > max)
		return -ENOSPC;

	/* The library cuts pkt_len, not the IP length: drop link padding
	 * (put back below should anything fail). */
	m->data_len = (uint16_t)tot;
	m->pkt_len = tot;
	/* n, not max: the library multiplies it by the fragment size in an int. */
	rc = rte_ipv4_fragment_packet(m, out, (uint16_t)n, (uint16_t)eff, pool, pool);
	if (rc < 0) {
		m->data_len = dl;
		m->pkt_len = pl;
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	/* Each fragment is a header mbuf chained to an indirect mbuf on m's
	 * data: copy that into the header mbuf (freeing the indirect one
	 * drops its reference on m). */
	for (i = 0; i < rc; i++) {
		struct rte_ipv4_hdr *h;

		if (rte_pktmbuf_linearize(out[i]) != 0) {
			for (i = 0; i < rc; i++)
				rte_pktmbuf_free(out[i]);
			m->data_len = dl;
			m->pkt_len = pl;
			return -ENOMEM;
		}
		h = rte_pktmbuf_mtod(out[i], struct rte_ipv4_hdr *);
		h->hdr_checksum = rte_ipv4_cksum(h); /* left 0 by the library */
		out[i]->l2_len = 0;
		out[i]->port = m->port;
		out[i]->packet_type = m->packet_type;
	}
	rte_pktmbuf_free(m);
	return rc;
}

int
frag_ipv6_out(struct rte_mbuf *m, uint16_t mtu, uint32_t id, struct rte_mempool *pool,
	      struct rte_mbuf *out[], uint16_t max)
{
	const struct rte_ipv6_hdr *ih = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);
	uint32_t room, eff, tot, pl, fsz, n, off, len;
	uint16_t i;

	if (m->nb_segs != 1 || m->data_len < V6_HL || (((const uint8_t *)ih)[0] >> 4) != 6 ||
	    max == 0)
		return -EINVAL;
	pl = rte_be_to_cpu_16(ih->payload_len);
	tot = V6_HL + pl;
	/* Nothing between the header and what it carries: no option or
	 * routing header that would have to go in front of every
	 * fragment. */
	if (tot > m->data_len || tot <= mtu ||
	    ih->proto == IPPROTO_HOPOPTS || ih->proto == IPPROTO_ROUTING ||
	    ih->proto == IPPROTO_FRAGMENT || ih->proto == IPPROTO_DSTOPTS)
		return -EINVAL;
	/* Each fragment one segment of @p pool, whatever the MTU says. */
	room = rte_pktmbuf_data_room_size(pool);
	room = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
	eff = RTE_MIN((uint32_t)mtu, room);
	if (eff < RTE_IPV6_MIN_MTU)
		return -EINVAL;
	/* Every fragment but the last carries a multiple of 8 bytes. */
	fsz = (eff - V6_HL - V6_FH) & ~7u;
	n = (pl + fsz - 1) / fsz;
	if (n > max)
		return -ENOSPC;
	for (i = 0, off = 0; i < n; i++, off += len) {
		struct rte_mbuf *f = rte_pktmbuf_alloc(pool);
		struct rte_ipv6_hdr *h;
		struct rte_ipv6_fragment_ext *fh;
		uint8_t *p;

		len = RTE_MIN(fsz, pl - off);
		p = f == NULL ? NULL :
			(uint8_t *)rte_pktmbuf_append(f, (uint16_t)(V6_HL + V6_FH + len));
		if (p == NULL) {
			rte_pktmbuf_free(f);
			while (i > 0)
				rte_pktmbuf_free(out[--i]);
			return -ENOMEM;
		}
		h = (struct rte_ipv6_hdr *)p;
		memcpy(h, ih, V6_HL);
		h->payload_len = rte_cpu_to_be_16((uint16_t)(V6_FH + len));
		h->proto = IPPROTO_FRAGMENT;
		fh = (struct rte_ipv6_fragment_ext *)(h + 1);
		fh->next_header = ih->proto;
		fh->reserved = 0;
		/* The offset in 8-byte units above the M flag. */
		fh->frag_data = rte_cpu_to_be_16((uint16_t)(off | (off + len < pl)));
		fh->id = rte_cpu_to_be_32(id);
		memcpy(p + V6_HL + V6_FH, (const uint8_t *)ih + V6_HL + off, len);
		f->l2_len = 0;
		f->l3_len = V6_HL + V6_FH;
		f->port = m->port;
		f->packet_type = 0;
		out[i] = f;
	}
	rte_pktmbuf_free(m);
	return (int)n;
}

/* ---- in ----------------------------------------------------------------- */

struct frag_in *
frag_in_create(uint32_t max_flows, uint32_t ttl_ms, int socket)
{
	uint64_t cycles = (rte_get_tsc_hz() + 999) / 1000 * ttl_ms;
	struct frag_in *f;
	int level;

	if (max_flows == 0)
		return NULL;
	f = rte_zmalloc_socket("frag_in", sizeof(*f), RTE_CACHE_LINE_SIZE, socket);
	if (f == NULL)
		return NULL;
	/* Buckets for four times max_flows entries (the table has two
	 * candidate buckets a key): a new packet is refused for want of a
	 * slot only when max_flows are in use, hardly ever for a collision. */
	/* The library logs each table it makes at INFO (as USER1): one line
	 * per worker that says nothing to a user. */
	level = rte_log_get_level(RTE_LOGTYPE_USER1);
	rte_log_set_level(RTE_LOGTYPE_USER1, RTE_LOG_WARNING);
	f->tbl = rte_ip_frag_table_create((max_flows + FRAG_BUCKET_ENTRIES / 2 - 1) /
					  (FRAG_BUCKET_ENTRIES / 2),
					  FRAG_BUCKET_ENTRIES, max_flows, cycles, socket);
	if (level >= 0)
		rte_log_set_level(RTE_LOGTYPE_USER1, (uint32_t)level);
	if (f->tbl == NULL) {
		rte_free(f);
		return NULL;
	}
	return f;
}

void
frag_in_free(struct frag_in *f)
{
	if (f == NULL)
		return;
	rte_ip_frag_table_destroy(f->tbl); /* frees what it holds at once */
	rte_ip_frag_free_death_row(&f->dr, 0);
	rte_free(f);
}

/* Mbufs (segments) on the death row from entry @p from on; *mine when
 * @p m is one of them. */
static uint32_t
dr_count(const struct frag_in *f, uint32_t from, const struct rte_mbuf *m, bool *mine)
{
	const struct rte_mbuf *s;
	uint32_t i, n = 0;

	for (i = from; i < f->dr.cnt; i++)
		for (s = f->dr.row[i]; s != NULL; s = s->next) {
			n++;
			if (s == m)
				*mine = true;
		}
	return n;
}

/*
 * Check an IPv4 packet offered for reassembly. @return 1 a fragment the
 * library may take, 0 not a fragment, -1 malformed: a bad header or
 * checksum (RFC 1812 5.2.2), a length past the buffer, a non-last
 * fragment not a multiple of 8 bytes, an end past 65535 bytes.
 */
static int
check4(const uint8_t *ip, uint32_t len)
{
	const struct rte_ipv4_hdr *h = (const struct rte_ipv4_hdr *)ip;
	uint32_t hl, tot, fo;

	if (len < V4_HL_MIN)
		return -1;
	hl = rte_ipv4_hdr_len(h);
	tot = rte_be_to_cpu_16(h->total_length);
	fo = rte_be_to_cpu_16(h->fragment_offset);
	if (hl < V4_HL_MIN || hl > len)
		return -1;
	if (!(fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		return 0;
	if (tot <= hl || tot > len || rte_raw_cksum(ip, hl) != 0xffff)
		return -1;
	if ((fo & RTE_IPV4_HDR_MF_FLAG) && ((tot - hl) & 7))
		return -1;
	if ((fo & RTE_IPV4_HDR_OFFSET_MASK) * 8u + tot > IP_MAX)
		return -1;
	return 1;
}

/*
 * The same for IPv6 (RFC 8200 4.5): 2 an atomic fragment, 1 a fragment
 * with its header right after the IPv6 header, 0 not a fragment, -1
 * malformed or a fragment header after other extension headers (which
 * DPDK 22.11 cannot put back together), or a packet that would not fit
 * one mbuf (65535 bytes, IPv6 header included).
 */
static int
check6(const uint8_t *ip, uint32_t len)
{
	const struct rte_ipv6_hdr *h = (const struct rte_ipv6_hdr *)ip;
	const struct rte_ipv6_fragment_ext *fh = (const struct rte_ipv6_fragment_ext *)(h + 1);
	uint32_t whole, fd, flen, nh_off;
	uint8_t proto = 0;

	if (len < V6_HL)
		return -1;
	whole = V6_HL + rte_be_to_cpu_16(h->payload_len);
	if (whole > len)
		return -1;
	if (h->proto != IPPROTO_FRAGMENT)
		return pkt_ip6_skip_ext(ip, whole, &proto, &nh_off) < 0 &&
		       proto == IPPROTO_FRAGMENT ? -1 : 0;
	if (whole <= V6_HL + V6_FH)
		return -1;
	fd = rte_be_to_cpu_16(fh->frag_data);
	flen = whole - V6_HL - V6_FH;
	if ((fd & RTE_IPV6_EHDR_FO_MASK) == 0 && !RTE_IPV6_GET_MF(fd))
		return 2;
	if (RTE_IPV6_GET_MF(fd) && (flen & 7))
		return -1;
	if ((fd & RTE_IPV6_EHDR_FO_MASK) + flen + V6_HL > IP_MAX)
		return -1;
	return 1;
}

/* RFC 6946: an atomic fragment is a whole packet; take the header out. */
static struct rte_mbuf *
unwrap_atomic(struct rte_mbuf *m)
{
	struct rte_ipv6_hdr *h = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	uint32_t whole = V6_HL + rte_be_to_cpu_16(h->payload_len);
	uint8_t nh = ((const struct rte_ipv6_fragment_ext *)(h + 1))->next_header;

	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - whole));
	memmove((uint8_t *)h + V6_FH, h, V6_HL);
	h = (struct rte_ipv6_hdr *)rte_pktmbuf_adj(m, V6_FH);
	h->proto = nh;
	h->payload_len = rte_cpu_to_be_16((uint16_t)(whole - V6_HL - V6_FH));
	m->l2_len = 0;
	m->l3_len = V6_HL;
	return m;
}

/*
 * Make the reassembled chain @p r one segment: in place when the first
 * buffer has room, else copied into a @p big_pool mbuf. Fill in what
 * the library leaves: the IPv4 checksum, l3_len. NULL (and @p r freed)
 * when it is too long or no mbuf is to be had.
 */
static struct rte_mbuf *
finish(struct rte_mbuf *r, bool v6, struct rte_mempool *big_pool)
{
	struct rte_mbuf *n, *s;
	uint8_t *ip, *p;

	if (r->pkt_len > IP_MAX)
		goto drop;
	if (rte_pktmbuf_linearize(r) != 0) {
		n = big_pool != NULL ? rte_pktmbuf_alloc(big_pool) : NULL;
		if (n == NULL || n->buf_len < r->pkt_len) {
			rte_pktmbuf_free(n);
			goto drop;
		}
		/* Up to 65535 bytes in a 65535-byte buffer: the headroom gives
		 * way (decapsulation, which comes next, makes room again). */
		n->data_off = (uint16_t)RTE_MIN((uint32_t)RTE_PKTMBUF_HEADROOM,
						n->buf_len - r->pkt_len);
		p = (uint8_t *)rte_pktmbuf_append(n, (uint16_t)r->pkt_len);
		for (s = r; s != NULL; s = s->next) {
			memcpy(p, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
			p += s->data_len;
		}
		n->port = r->port;
		n->packet_type = r->packet_type;
		rte_pktmbuf_free(r);
		r = n;
	}
	/* The first fragment's L4 checksum verdict says nothing of the whole. */
	r->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
	r->l2_len = 0;
	ip = rte_pktmbuf_mtod(r, uint8_t *);
	if (v6) {
		r->l3_len = V6_HL;
	} else {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;

		r->l3_len = rte_ipv4_hdr_len(h);
		h->hdr_checksum = 0;
		h->hdr_checksum = rte_ipv4_cksum(h);
	}
	return r;
drop:
	rte_pktmbuf_free(r);
	return NULL;
}

struct rte_mbuf *
frag_in_add(struct frag_in *f, struct rte_mbuf *m, uint64_t tsc,
	    struct rte_mempool *big_pool, uint16_t *why)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), from, n;
	struct rte_mbuf *r;
	bool v6, mine = false;
	int kind;

	*why = 0;
	if (m->nb_segs != 1 || len < 1)
		goto bad;
	v6 = (ip[0] >> 4) == 6;
	if ((ip[0] >> 4) == 4)
		kind = check4(ip, len);
	else if (v6)
		kind = check6(ip, len);
	else
		kind = -1;
	if (kind < 0)
		goto bad;
	if (kind == 0)
		return m;
	if (kind == 2)
		return unwrap_atomic(m);

	/* Room on the death row for the worst this call can add. */
	if (f->dr.cnt + DR_PER_CALL > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN)
		rte_ip_frag_free_death_row(&f->dr, DR_PREFETCH);
	from = f->dr.cnt;
	m->l2_len = 0;
	if (v6) {
		m->l3_len = V6_HL + V6_FH;
		r = rte_ipv6_frag_reassemble_packet(f->tbl, &f->dr, m, tsc,
						    (struct rte_ipv6_hdr *)ip,
						    (struct rte_ipv6_fragment_ext *)(ip + V6_HL));
	} else {
		m->l3_len = rte_ipv4_hdr_len((const struct rte_ipv4_hdr *)ip);
		r = rte_ipv4_frag_reassemble_packet(f->tbl, &f->dr, m, tsc,
						    (struct rte_ipv4_hdr *)ip);
	}
	/* Whatever went to the death row failed: m itself (alone, or
	 * chained into its packet's fragments) is this call's reason, the
	 * rest is frag_in_maintain()'s to report. */
	n = dr_count(f, from, m, &mine);
	if (mine) {
		*why = CNT_ReassemblyFailed;
		n--;
	}
	f->failed += n;
	if (r == NULL)
		return NULL;
	r = finish(r, v6, big_pool);
	if (r == NULL)
		*why = CNT_ReassemblyFailed;
	return r;
bad:
	rte_pktmbuf_free(m);
	*why = CNT_ReassemblyFailed;
	return NULL;
}

uint32_t
frag_in_maintain(struct frag_in *f, uint64_t tsc)
{
	uint32_t n = f->failed;
	bool full, mine = false;

	f->failed = 0;
	rte_ip_frag_free_death_row(&f->dr, DR_PREFETCH);
	/* The library stops when the death row cannot take the next
	 * packet: go round again until it stopped for want of work. */
	do {
		rte_ip_frag_table_del_expired_entries(f->tbl, &f->dr, tsc);
		full = f->dr.cnt + RTE_LIBRTE_IP_FRAG_MAX_FRAG > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN;
		n += dr_count(f, 0, NULL, &mine);
		rte_ip_frag_free_death_row(&f->dr, DR_PREFETCH);
	} while (full);
	return n;
}
