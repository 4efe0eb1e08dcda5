/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exception path (see exc.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_ring.h>

#include "control/exc.h"
#include "control/neigh.h"
#include "dataplane/frag.h"
#include "dataplane/icmp.h"
#include "dataplane/nd.h"
#include "dataplane/pkt.h"
#include "dataplane/spd.h"

#define EXC_BURST 32
#define EXC_BUDGET 16 /* bursts of a ring a call (exc_poll()) */
#define TAP_BURST 32
#define NSEC 1000000000ull
#define IKE_PORT 500
#define NATT_PORT 4500

/* A path MTU learned for an SA's ESP (on_too_big()), until it expires. */
struct pmtu_note {
	struct cfg_addr dst;
	uint32_t spi;
	uint64_t until_ns;
};

#define PMTU_NOTES 256
#define EXC_FRAG_FLOWS 64    /* packets for the gateway in reassembly, each table */
#define EXC_FRAG_TTL_MS 2000 /* as the workers' */
#define PMTU_NS (600 * NSEC) /* RFC 8201 5.3: at least 5 minutes; Linux 10 */

struct exc {
	struct pub *pub;
	/* ICMP errors: a token bucket of icmp-ratelimit tokens a second,
	 * holding at most one second's worth. */
	double tokens;
	uint64_t tokens_ns;
	/* SAs whose path MTU a Packet Too Big lowered: given back to the
	 * port's when their time is up (the oldest note goes when full). */
	struct pmtu_note pmtu[PMTU_NOTES];
	unsigned int n_pmtu;
	uint64_t pmtu_check_ns;
	/* Fragments for our addresses (local_reassemble()): plain ones from
	 * a protected port, and those that came out of an SA, apart, so a
	 * plain fragment never completes a packet the tunnel carried. */
	struct frag_in *frag_plain, *frag_sa;
	uint64_t frag_maint_tsc;
};

static void
count_n(struct exc *x, enum espd_counter c, uint64_t n)
{
	x->pub->w0->cnt.c[c] += n;
}

static void
count(struct exc *x, enum espd_counter c)
{
	count_n(x, c, 1);
}

struct exc *
exc_new(struct pub *p)
{
	struct exc *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->pub = p;
	x->tokens_ns = p->model->now_ns();
	x->tokens = p->model->icmp_ratelimit;
	x->frag_plain = frag_in_create(EXC_FRAG_FLOWS, EXC_FRAG_TTL_MS, (int)rte_socket_id());
	x->frag_sa = frag_in_create(EXC_FRAG_FLOWS, EXC_FRAG_TTL_MS, (int)rte_socket_id());
	if (x->frag_plain == NULL || x->frag_sa == NULL) {
		frag_in_free(x->frag_plain);
		frag_in_free(x->frag_sa);
		free(x);
		return NULL;
	}
	return x;
}

/* ---- addresses ---------------------------------------------------------- */

/* The first address of @p family (4/6) on @p port, in @p out (16 bytes):
 * the first global one, where the port has an IPv6 link-local address
 * too (an error from fe80:: would not get past the next router; RFC
 * 4443 2.2, RFC 6724). */
static bool
port_addr(const struct pub *p, uint16_t port, uint8_t family, uint8_t out[16])
{
	const struct cfg_port *cp;
	uint8_t i, pass;

	if (port >= CFG_PORTS_MAX || !p->model->has_port[port])
		return false;
	cp = &p->model->ports[port];
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < cp->naddr; i++) {
			const struct cfg_addr *a = &cp->addr[i];

			if (model_family(a) != family ||
			    (pass == 0 && family == 6 && a->a[0] == 0xfe &&
			     (a->a[1] & 0xc0) == 0x80))
				continue;
			memset(out, 0, 16);
			memcpy(out, a->a, model_addr_bytes(a));
			return true;
		}
	}
	return false;
}

/* Is @p a (family 4/6) one of @p port's addresses? */
static bool
is_port_addr(const struct pub *p, uint16_t port, uint8_t family, const uint8_t *a)
{
	const struct cfg_port *cp = &p->model->ports[port];
	uint8_t i;

	for (i = 0; i < cp->naddr; i++)
		if (model_family(&cp->addr[i]) == family &&
		    memcmp(cp->addr[i].a, a, family == 6 ? 16 : 4) == 0)
			return true;
	return false;
}

/* The port a packet to @p dst would leave by, or -1. */
static int
route_port(const struct gw_tables *t, uint8_t family, const uint8_t *dst)
{
	const struct gw_nexthop *nh = gw_route_lookup(t, family, dst);

	return nh == NULL ? -1 : nh->port;
}

/* ---- frames to and from the kernel ------------------------------------- */

/* A copy of frame @p m to @p port's TAP, if it has one. */
static void
tap_copy(struct exc *x, uint16_t port, const struct rte_mbuf *m)
{
	struct tap *t = &x->pub->taps[port];

	if (t->fd < 0)
		return;
	if (tap_write(t, rte_pktmbuf_mtod(m, const void *), rte_pktmbuf_data_len(m)) == 0)
		count(x, CNT_TapTx);
	else
		count(x, CNT_TapDropped);
}

/* Frame @p m to the kernel; without a TAP it is dropped and counted. */
static void
to_tap(struct exc *x, uint16_t port, struct rte_mbuf *m)
{
	if (x->pub->taps[port].fd < 0)
		count(x, CNT_TapDropped);
	else
		tap_copy(x, port, m);
	rte_pktmbuf_free(m);
}

/* What the kernel sent out of the TAPs leaves through their ports as it
 * is (DESIGN.md: without the SPD, as Linux exempts an IKE daemon's
 * sockets from its policies). */
static unsigned int
from_taps(struct exc *x)
{
	struct pub *p = x->pub;
	unsigned int port, n, work = 0;

	for (port = 0; port < GW_PORTS_MAX; port++) {
		struct tap *t = &p->taps[port];

		for (n = 0; t->fd >= 0 && n < TAP_BURST; n++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
			ssize_t len;

			if (m == NULL)
				break;
			len = tap_read(t, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
			if (len <= (ssize_t)RTE_ETHER_HDR_LEN) {
				rte_pktmbuf_free(m);
				if (len == 0)
					break;
				count(x, CNT_TapDropped); /* cut short, too long, an error */
				continue;
			}
			m->data_len = (uint16_t)len;
			m->pkt_len = (uint32_t)len;
			gw_tx_frame(p->w0, (uint16_t)port, m);
			count(x, CNT_TapRx);
			work++;
		}
	}
	return work;
}

/* ---- the gateway's own traffic ------------------------------------------ */

/* ARP (RFC 826): learn the sender, answer for our address, and let the
 * kernel see it too. */
static void
on_arp(struct exc *x, struct rte_mbuf *m, uint16_t port)
{
	static const uint8_t zero[4];
	struct pub *p = x->pub;
	struct arp_info a;
	struct gw_neigh_key k = { .port = port, .family = 4 };
	struct rte_ether_addr sha;

	if (arp_parse(m, &a) < 0) {
		rte_pktmbuf_free(m);
		count(x, CNT_MalformedPacket);
		return;
	}
	memcpy(sha.addr_bytes, a.sha, 6);
	if (memcmp(a.spa, zero, 4) != 0 && rte_is_unicast_ether_addr(&sha)) {
		bool for_us = is_port_addr(p, port, 4, a.tpa);

		memcpy(k.addr, a.spa, 4);
		neigh_learn(p, &k, &sha, !for_us ? NEIGH_OVERHEARD :
			    a.op == RTE_ARP_OP_REPLY ? NEIGH_ANSWER : NEIGH_HEARD, true);
	}
	if (a.op == RTE_ARP_OP_REQUEST && is_port_addr(p, port, 4, a.tpa)) {
		struct rte_mbuf *r = rte_pktmbuf_alloc(p->pool);

		if (r != NULL && arp_build(r, RTE_ARP_OP_REPLY, a.sha,
					   p->macs[port].addr_bytes, a.tpa, a.sha,
					   a.spa) == 0)
			gw_tx_frame(p->w0, port, r);
		else
			rte_pktmbuf_free(r);
		/* Answered: the kernel's copy would answer a second time. */
		rte_pktmbuf_free(m);
		return;
	}
	tap_copy(x, port, m);
	rte_pktmbuf_free(m);
}

/* Neighbour Discovery (RFC 4861 7.2): the same for IPv6. */
static void
on_nd(struct exc *x, struct rte_mbuf *m, uint16_t port, const struct nd_info *nd)
{
	static const uint8_t unspec[16];
	struct pub *p = x->pub;
	struct gw_neigh_key k = { .port = port, .family = 6 };
	struct rte_ether_addr ll;

	memcpy(ll.addr_bytes, nd->lladdr, 6);
	if (nd->type == 135) { /* NS */
		bool for_us = is_port_addr(p, port, 6, nd->target);

		/* 7.2.3: only one for our address is ours to learn from. */
		if (for_us && nd->has_lladdr && memcmp(nd->src, unspec, 16) != 0) {
			memcpy(k.addr, nd->src, 16);
			neigh_learn(p, &k, &ll, NEIGH_HEARD, true);
		}
		if (for_us) {
			const struct rte_ether_hdr *eh =
				rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
			struct rte_mbuf *r = rte_pktmbuf_alloc(p->pool);
			bool dad = memcmp(nd->src, unspec, 16) == 0;
			/* Without a source link-layer option (a unicast NS
			 * may leave it out), answer the frame's sender. */
			const uint8_t *dst_mac = nd->has_lladdr ? nd->lladdr :
						 eh->src_addr.addr_bytes;

			/* A DAD probe (from ::) gets the all-nodes answer. */
			if (r != NULL && nd_build_na(r, p->macs[port].addr_bytes, nd->target,
						     dad ? NULL : nd->src,
						     dad ? NULL : dst_mac, nd->target,
						     true, !dad, true) == 0)
				gw_tx_frame(p->w0, port, r);
			else
				rte_pktmbuf_free(r);
			rte_pktmbuf_free(m); /* answered: not the kernel's too */
			return;
		}
	} else if (nd->type == 136 && nd->has_lladdr) { /* NA */
		memcpy(k.addr, nd->target, 16);
		neigh_learn(p, &k, &ll, nd->solicited ? NEIGH_ANSWER : NEIGH_OVERHEARD,
			    nd->override);
	} else if (nd->type == 136 && nd->solicited) {
		/* The answer to a unicast probe, as Linux sends it. */
		memcpy(k.addr, nd->target, 16);
		neigh_confirm(p, &k);
	}
	tap_copy(x, port, m);
	rte_pktmbuf_free(m);
}

/* An echo request to one of our addresses: the reply goes out through
 * the outbound walk (through the tunnel, if the pinger is behind it). */
static void
on_echo(struct exc *x, struct rte_mbuf *m)
{
	struct pub *p = x->pub;

	rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
	if (icmp_echo_reply(m) < 0) {
		rte_pktmbuf_free(m);
		count(x, CNT_MalformedPacket);
		return;
	}
	count(x, CNT_EchoReplies);
	gw_local_out(p->w0, p->shared.tables, &m, 1);
}

/* Is the destination (or, @p src, the source) of the IP packet at @p ip
 * (its header there) one of our unicast addresses? */
static bool
is_ours(const struct pub *p, const uint8_t *ip, bool src)
{
	const struct gw_tables *t = p->shared.tables;
	uint16_t i;

	if ((ip[0] >> 4) == 4) {
		uint32_t d;

		memcpy(&d, ip + (src ? 12 : 16), 4);
		for (i = 0; i < t->n_local4; i++)
			if (d == t->local4[i])
				return true;
		return false;
	}
	for (i = 0; i < t->n_local6; i++)
		if (memcmp(ip + (src ? 8 : 24), t->local6[i], 16) == 0)
			return true;
	return false;
}

/* Is the IP packet at @p ip (@p len) an echo request to one of our
 * unicast addresses? (Broadcast pings are ignored, as Linux does.) */
static bool
is_echo_to_us(const struct pub *p, const uint8_t *ip, uint32_t len)
{
	if ((ip[0] >> 4) == 4) {
		uint32_t hl = (ip[0] & 0x0f) * 4u;

		if (hl < 20 || len < hl + 8 || ip[9] != IPPROTO_ICMP || ip[hl] != 8)
			return false;
		return is_ours(p, ip, false);
	}
	if (len < 48 || ip[6] != IPPROTO_ICMPV6 || ip[40] != 128)
		return false;
	return is_ours(p, ip, false);
}

/* Is the IP packet at @p ip (@p len) IKE to one of our addresses: UDP
 * 500, or, with @p natt, 4500 with the non-ESP marker (from a protected
 * port: on an unprotected one the worker's ESP parse tells it apart and
 * counts it)? An IPv4 datagram in fragments counts once, by the first,
 * which has the UDP header. (What reaches here from an unprotected port
 * was put together already.) */
static bool
is_ike_to_us(const struct pub *p, const uint8_t *ip, uint32_t len, bool natt)
{
	const uint8_t *udp;
	uint32_t off, nh_off;
	uint16_t dport;
	uint8_t proto;
	int o;

	if (len >= sizeof(struct rte_ipv4_hdr) && (ip[0] >> 4) == 4) {
		off = (ip[0] & 0x0f) * 4u;
		if (off < sizeof(struct rte_ipv4_hdr) || ip[9] != IPPROTO_UDP ||
		    (ip[6] & 0x1f) != 0 || ip[7] != 0) /* a later fragment */
			return false;
	} else if (len >= sizeof(struct rte_ipv6_hdr) && (ip[0] >> 4) == 6) {
		o = pkt_ip6_skip_ext(ip, len, &proto, &nh_off);
		if (o < 0 || proto != IPPROTO_UDP)
			return false;
		off = (uint32_t)o;
	} else {
		return false;
	}
	if (len < off + 8) /* the UDP header */
		return false;
	udp = ip + off;
	dport = (uint16_t)(udp[2] << 8 | udp[3]);
	if (dport != IKE_PORT &&
	    !(natt && dport == NATT_PORT && len >= off + 12 &&
	      (udp[8] | udp[9] | udp[10] | udp[11]) == 0))
		return false;
	return is_ours(p, ip, false);
}

/*
 * A fragment of an IP packet for one of our addresses, the frame @p m:
 * put together first in lcore 0's table, as the worker does for what
 * reaches the gateway from an unprotected port (in.c), and as Linux
 * does before it answers (a ping larger than the MTU). @return the whole
 * frame, its Ethernet header in front again; NULL when more fragments
 * are due or it was dropped (counted).
 */
static struct rte_mbuf *
local_reassemble(struct exc *x, struct frag_in *tbl, struct rte_mbuf *m)
{
	struct rte_ether_hdr eh = *rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	uint16_t port = m->port, why = 0;

	rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
	m = frag_in_add(tbl, m, rte_rdtsc(), x->pub->big_pool, &why);
	if (m == NULL) {
		if (why != 0)
			count(x, why);
		return NULL;
	}
	count(x, CNT_ReassemblyOk);
	if (rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN) == NULL) {
		count(x, CNT_ReassemblyFailed);
		rte_pktmbuf_free(m);
		return NULL;
	}
	*rte_pktmbuf_mtod(m, struct rte_ether_hdr *) = eh;
	m->port = port;
	return m;
}

/* The big-endian 16-bit word at @p p. */
static inline uint16_t
be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The big-endian 32-bit word at @p p (any alignment). */
static inline uint32_t
be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

/* Set SA @p s's learned path MTU to @p mtu (0: none) and have the
 * workers work its path_mtu out again. */
static void
sa_set_pmtu(struct model_sa *s, uint16_t mtu)
{
	struct gw_sa *gw = s->dp;

	__atomic_store_n(&gw->pmtu, mtu, __ATOMIC_RELAXED);
	__atomic_store_n(&gw->path_mtu, 0, __ATOMIC_RELAXED); /* gen 0: never current */
}

/*
 * A Packet Too Big (ICMPv6 type 2) for one of our addresses, about ESP
 * (or ESP in UDP) this gateway sent through one of its outbound tunnel
 * SAs: a router on the way has a smaller MTU than our port, and IPv6
 * routers do not fragment. The SA takes the reported MTU (not below
 * 1280, RFC 8201 4; never raised by one), so the next inner packet that
 * no longer fits gets its own Packet Too Big or Fragmentation Needed from
 * us, and the sender behind the tunnel lowers its path MTU in turn, as
 * Linux's xfrm does. The error is the gateway's, not the kernel's: it is
 * consumed. @return false when it is no such error (the caller goes on
 * with it). (Outer IPv4 needs none of this: espd never sets DF there.)
 */
static bool
on_too_big(struct exc *x, struct rte_mbuf *m, const uint8_t *ip, uint32_t len)
{
	const uint8_t *q = ip + 48;
	struct cfg_addr dst = { .af = AF_INET6, .len = 128 };
	struct model_sa *s;
	struct gw_sa *gw;
	uint32_t mtu, spi, cur, qlen, sum, i, l4;
	uint16_t learned;
	uint64_t now;
	uint8_t nh;

	if (len < 48 + 40 + 8 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_ICMPV6 || ip[40] != 2 ||
	    ip[41] != 0 || (uint32_t)(ip[4] << 8 | ip[5]) + 40 > len)
		return false;
	qlen = len - 48;
	if ((q[0] >> 4) != 6 || !is_ours(x->pub, q, true))
		return false;
	nh = q[6];
	l4 = 40;
	/* The first fragment of an ESP packet out_small_v6() cut. */
	if (nh == IPPROTO_FRAGMENT && qlen >= 48 + 4 && (be16_at(q + 42) & 0xfff8) == 0) {
		nh = q[40];
		l4 = 48;
	}
	if (nh == IPPROTO_ESP)
		spi = be32_at(q + l4);
	else if (nh == IPPROTO_UDP && qlen >= l4 + 8 + 4)
		spi = be32_at(q + l4 + 8);
	else
		return false;
	sum = rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)ip, 0) +
	      rte_raw_cksum(ip + 40, (size_t)(ip[4] << 8 | ip[5]));
	sum = (sum & 0xffff) + (sum >> 16);
	if ((sum & 0xffff) + (sum >> 16) != 0xffff)
		return false; /* ICMPv6 checksum */
	memcpy(dst.a, q + 24, 16);
	s = spi != 0 ? model_sa_find(x->pub->model, &dst, spi) : NULL;
	gw = s != NULL ? s->dp : NULL;
	if (gw == NULL || s->dir != CFG_DIR_OUT || gw->esp.mode != ESP_MODE_TUNNEL ||
	    !!(gw->esp.flags & ESP_F_UDP_ENCAP) != (nh == IPPROTO_UDP))
		return false;
	mtu = RTE_MAX(be32_at(ip + 44), 1280u);
	learned = __atomic_load_n(&gw->pmtu, __ATOMIC_RELAXED);
	cur = (uint32_t)__atomic_load_n(&gw->path_mtu, __ATOMIC_RELAXED);
	rte_pktmbuf_free(m);
	if (learned != 0 ? mtu > learned : cur != 0 && mtu >= cur)
		return true; /* a raise, or no lower than the port: ignored */
	/* Set again when known already: a worker working path_mtu out as
	 * it was learned may have stored the old one. */
	sa_set_pmtu(s, (uint16_t)RTE_MIN(mtu, 65535u));
	if (mtu != learned)
		count(x, CNT_PmtuLowered);
	/* Noted to be given back later: the note of the same SA, or a free
	 * one, or the soonest due, whose SA gets its port's MTU back now. */
	now = x->pub->model->now_ns();
	for (i = 0; i < x->n_pmtu; i++)
		if (x->pmtu[i].spi == spi && memcmp(x->pmtu[i].dst.a, dst.a, 16) == 0)
			break;
	if (i == x->n_pmtu && x->n_pmtu < PMTU_NOTES) {
		x->n_pmtu++;
	} else if (i == x->n_pmtu) {
		struct model_sa *old;
		unsigned int k;

		for (i = 0, k = 1; k < x->n_pmtu; k++)
			if (x->pmtu[k].until_ns < x->pmtu[i].until_ns)
				i = k;
		old = model_sa_find(x->pub->model, &x->pmtu[i].dst, x->pmtu[i].spi);
		if (old != NULL && old->dp != NULL)
			sa_set_pmtu(old, 0);
	}
	x->pmtu[i] = (struct pmtu_note){ .dst = dst, .spi = spi, .until_ns = now + PMTU_NS };
	return true;
}

/* Path MTUs whose time is up go back to their port's (checked once a
 * second). */
static void
pmtu_expire(struct exc *x)
{
	uint64_t now = x->pub->model->now_ns();
	unsigned int i = 0;

	if (x->n_pmtu == 0 || now < x->pmtu_check_ns)
		return;
	x->pmtu_check_ns = now + NSEC;
	while (i < x->n_pmtu) {
		struct pmtu_note *n = &x->pmtu[i];
		struct model_sa *s;

		if (now < n->until_ns) {
			i++;
			continue;
		}
		s = model_sa_find(x->pub->model, &n->dst, n->spi);
		if (s != NULL && s->dp != NULL)
			sa_set_pmtu(s, 0);
		*n = x->pmtu[--x->n_pmtu];
	}
}

/* Is the frame @p m an IP fragment? */
static bool
is_fragment(struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	return (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
		eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) &&
	       frag_is_fragment((const uint8_t *)(eh + 1),
				rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN);
}

static void
on_local(struct exc *x, struct rte_mbuf *m, uint16_t port)
{
	const struct rte_ether_hdr *eh;
	const uint8_t *ip;
	uint32_t len;
	struct nd_info nd;

	if (is_fragment(m) && (m = local_reassemble(x, x->frag_plain, m)) == NULL)
		return;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	ip = (const uint8_t *)(eh + 1);
	len = rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		on_arp(x, m, port);
		return;
	}
	if (is_echo_to_us(x->pub, ip, len)) {
		on_echo(x, m);
		return;
	}
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
	    nd_parse(ip, len, &nd) == 0 && (nd.type == 135 || nd.type == 136)) {
		on_nd(x, m, port, &nd);
		return;
	}
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
	    on_too_big(x, m, ip, len))
		return;
	/* DESIGN.md: IKE is counted whether or not a TAP takes it. */
	if (is_ike_to_us(x->pub, ip, len,
			 x->pub->shared.tables->ports[port].role == GW_ROLE_PROTECTED))
		count(x, CNT_IkePunted);
	to_tap(x, port, m);
}

/* What came out of an SA for one of our addresses: a ping is answered
 * through the outbound walk, so the reply goes back through the tunnel.
 * Nothing else goes to the TAP: the kernel's answer would leave through
 * the port as it is, outside the SPD, in the clear. */
static void
on_local_sa(struct exc *x, struct rte_mbuf *m)
{
	const uint8_t *ip;

	if (is_fragment(m) && (m = local_reassemble(x, x->frag_sa, m)) == NULL)
		return;
	ip = rte_pktmbuf_mtod_offset(m, const uint8_t *, RTE_ETHER_HDR_LEN);
	if (is_echo_to_us(x->pub, ip, rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN)) {
		on_echo(x, m);
		return;
	}
	count(x, CNT_TapDropped);
	rte_pktmbuf_free(m);
}

/* ---- ICMP errors -------------------------------------------------------- */

static bool
bucket_take(struct exc *x)
{
	uint32_t rate = x->pub->model->icmp_ratelimit;
	uint64_t now = x->pub->model->now_ns();

	if (rate == 0)
		return true; /* as net.ipv4.icmp_ratelimit = 0: no limit */
	x->tokens += (double)(now - x->tokens_ns) * rate / NSEC;
	x->tokens_ns = now;
	if (x->tokens > rate)
		x->tokens = rate;
	if (x->tokens < 1.0)
		return false;
	x->tokens -= 1.0;
	return true;
}

/*
 * The gateway's own IPv6 packet (an echo reply to `ping -s 3000`) that a
 * worker found too big for its path (@p e: Packet Too Big, the room it
 * has). A source fragments (RFC 8200 4.5), as Linux's own output does,
 * where a router answers Packet Too Big: fragments that fit, or of 1280
 * bytes, which any IPv6 path and tunnel carries, go out again through
 * the outbound walk. The worker counted FragNeeded already.
 */
static void
own_too_big6(struct exc *x, const struct gw_exc *e)
{
	struct pub *p = x->pub;
	struct rte_mbuf *frags[GW_FRAG_FWD_MAX];
	uint32_t mtu = RTE_MIN(RTE_MAX(e->mtu, (uint32_t)RTE_IPV6_MIN_MTU), 65535u);
	int nf, i, k;

	nf = frag_ipv6_out(e->m, (uint16_t)mtu, p->w0->frag6_id++, p->pool, frags,
			   RTE_DIM(frags));
	if (nf < 0) {
		rte_pktmbuf_free(e->m);
		count(x, CNT_FragFailed);
		return;
	}
	count(x, CNT_Fragmented);
	for (i = 0; i < nf; i += k) {
		k = RTE_MIN(nf - i, GW_RX_BURST);
		gw_local_out(p->w0, p->shared.tables, frags + i, (uint16_t)k);
	}
}

/* Does the outbound SPD of @p t protect the packet at @p r? */
static bool
protected_out(const struct gw_tables *t, const struct rte_mbuf *r)
{
	struct flow_key k;
	const struct flow_key *kp = &k;
	uint32_t res;

	if (pkt_flow_key(rte_pktmbuf_mtod(r, const uint8_t *), rte_pktmbuf_data_len(r), &k) < 0)
		return false;
	spd_classify(t->spd_out, &kp, &res, 1);
	return res != 0 && t->pols[res - 1].action == GW_PROTECT;
}

/*
 * The error @p r (built from @p src) about relayed packet @p ip (hub and
 * spoke: out of one spoke's tunnel, on its way into another's). Its
 * source sits behind a tunnel whose policy covers the hub's protected
 * addresses, not the port the packet came in by, so an error from that
 * port would leave in the clear (or meet a block policy) and never reach
 * it: Fragmentation Needed would black-hole the spokes' path MTU
 * discovery. So, unless the outbound SPD protects it as built, the
 * error takes the first of the gateway's addresses (protected ports
 * first) that it does protect it from, and goes back through that
 * tunnel. With none, it stays as built.
 */
static int
relayed_src(const struct pub *p, const struct gw_tables *t, struct rte_mbuf *r,
	    const uint8_t *ip, uint32_t len, const struct gw_exc *e, uint8_t family,
	    const uint8_t src[16])
{
	uint8_t cand[16];
	unsigned int pass, q;

	if (protected_out(t, r))
		return 0;
	for (pass = 0; pass < 2; pass++) {
		for (q = 0; q < CFG_PORTS_MAX; q++) {
			if (!p->model->has_port[q] ||
			    (p->model->ports[q].role == CFG_ROLE_PROTECTED) != (pass == 0) ||
			    !port_addr(p, (uint16_t)q, family, cand) || memcmp(cand, src, 16) == 0)
				continue;
			rte_pktmbuf_reset(r);
			if (icmp_error_build(r, ip, len, e->kind, e->mtu, cand) == 0 &&
			    protected_out(t, r))
				return 0;
		}
	}
	rte_pktmbuf_reset(r);
	return icmp_error_build(r, ip, len, e->kind, e->mtu, src);
}

static void
on_icmp(struct exc *x, const struct gw_exc *e)
{
	struct pub *p = x->pub;
	const struct gw_tables *t = p->shared.tables;
	const uint8_t *ip = rte_pktmbuf_mtod(e->m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(e->m);
	uint8_t family = (ip[0] >> 4) == 6 ? 6 : 4;
	uint8_t src[16];
	struct rte_mbuf *r;
	bool relayed;
	int port;

	/* Not about a packet from the gateway's own address either (its
	 * ESP, its echo replies): the error would only come back to it. An
	 * IPv6 one of those is cut to fit instead. */
	if ((e->m->packet_type & GW_PT_LOCAL) && family == 6 &&
	    len >= sizeof(struct rte_ipv6_hdr) && e->kind == ICMP_ERR_FRAG_NEEDED &&
	    is_ours(p, ip, true)) {
		own_too_big6(x, e);
		return;
	}
	if (!icmp_error_allowed(ip, len) || is_ours(p, ip, true)) {
		rte_pktmbuf_free(e->m);
		return;
	}
	/* The source: the port it came in on; for a packet that came out of
	 * an SA, the port it was going out of (inside the policy, so the
	 * error goes back through the tunnel). Without one, no error, and
	 * no token spent on it. */
	port = e->from_sa ? route_port(t, family, ip + (family == 6 ? 24 : 16)) : e->port;
	if (port < 0 || !port_addr(p, (uint16_t)port, family, src)) {
		rte_pktmbuf_free(e->m);
		return;
	}
	/* Path MTU discovery is never rate limited, as Linux exempts it
	 * (icmp_xrlim_allow()): a flood of expiring TTLs must not leave
	 * DF senders black-holed behind the tunnel. */
	if (e->kind != ICMP_ERR_FRAG_NEEDED && !bucket_take(x)) {
		rte_pktmbuf_free(e->m);
		count(x, CNT_IcmpRateLimited);
		return;
	}
	/* Relayed (hub and spoke): marked so on its way back out, or out of
	 * an SA and bound for an unprotected port when its TTL ran out. */
	relayed = (e->m->packet_type & GW_PT_RELAYED) ||
		  (e->from_sa && p->model->ports[port].role == CFG_ROLE_UNPROTECTED);
	r = rte_pktmbuf_alloc(p->pool);
	if (r == NULL || icmp_error_build(r, ip, len, e->kind, e->mtu, src) < 0 ||
	    (relayed && relayed_src(p, t, r, ip, len, e, family, src) < 0)) {
		rte_pktmbuf_free(r);
		rte_pktmbuf_free(e->m);
		return;
	}
	rte_pktmbuf_free(e->m);
	count(x, CNT_IcmpErrorsSent);
	gw_local_out(p->w0, t, &r, 1);
}

/* ---- the poller --------------------------------------------------------- */

static void
on_exc(struct exc *x, const struct gw_exc *e)
{
	struct gw_neigh_key k = { .port = e->port, .family = e->nh_family };

	switch (e->reason) {
	case GW_EXC_LOCAL:
		if (e->from_sa)
			on_local_sa(x, e->m);
		else
			on_local(x, e->m, e->port);
		break;
	case GW_EXC_RESOLVE:
		memcpy(k.addr, e->nh, sizeof(k.addr));
		neigh_resolve(x->pub, &k, e->m);
		break;
	case GW_EXC_ICMP:
		on_icmp(x, e);
		break;
	default:
		rte_pktmbuf_free(e->m);
		break;
	}
}

unsigned int
exc_poll(struct exc *x)
{
	struct pub *p = x->pub;
	struct gw_exc e[EXC_BURST];
	unsigned int i, n, k, work = 0;

	/* Every worker's ring, and lcore 0's own (its echo replies and
	 * errors may wait for a neighbour too): EXC_BUDGET bursts of each a
	 * call, so that a flood of traffic to the gateway cannot keep lcore
	 * 0 from its socket, timers and lifetimes (the loop comes back at
	 * once while there is work). */
	for (i = 0; i < pub_n_contexts(p); i++) {
		struct gw_worker *w = pub_context(p, i);
		unsigned int b = 0;

		if (w == NULL)
			continue;
		while (b++ < EXC_BUDGET &&
		       (n = rte_ring_dequeue_burst_elem(w->exc, e, sizeof(e[0]), EXC_BURST,
							NULL)) > 0) {
			work += n;
			for (k = 0; k < n; k++)
				on_exc(x, &e[k]);
		}
	}
	work += from_taps(x);
	work += neigh_timers(p, p->model->now_ns());
	pmtu_expire(x);
	{
		uint64_t now = rte_rdtsc();

		/* Local fragments that never completed (local_reassemble()),
		 * as often as the workers see to theirs. */
		if (now - x->frag_maint_tsc > rte_get_tsc_hz() / 1000000 * GW_MAINT_US) {
			count_n(x, CNT_ReassemblyFailed, frag_in_maintain(x->frag_plain, now) +
							 frag_in_maintain(x->frag_sa, now));
			x->frag_maint_tsc = now;
		}
	}
	if (p->w0 != NULL) {
		if (p->w0->hold->n_keys != 0 || rte_ring_count(p->w0->cmd) != 0)
			work += gw_hold_poll(p->w0, p->shared.tables);
		/* Offline ports (tests) have no device to send to: what
		 * lcore 0 sent stays in its buffers for the test to take. */
		if (!p->ports_offline)
			gw_worker_drain(p->w0);
	}
	return work;
}

void
exc_drop_fragments(struct exc *x)
{
	count_n(x, CNT_ReassemblyFailed, frag_in_maintain(x->frag_plain, UINT64_MAX) +
					 frag_in_maintain(x->frag_sa, UINT64_MAX));
}

void
exc_free(struct exc *x)
{
	struct gw_exc e;
	unsigned int i;

	if (x == NULL)
		return;
	/* The workers are stopped: drop what they left. A packet on its
	 * way out that waited for a neighbour's MAC is a forwarded packet
	 * lost, counted as the neighbour queue's are at exit
	 * (neigh_drop_queued()). */
	for (i = 0; i < pub_n_contexts(x->pub); i++) {
		struct gw_worker *w = pub_context(x->pub, i);

		while (w != NULL && rte_ring_dequeue_elem(w->exc, &e, sizeof(e)) == 0) {
			if (e.reason == GW_EXC_RESOLVE)
				count(x, CNT_NeighFailed);
			rte_pktmbuf_free(e.m);
		}
	}
	neigh_drop_queued(x->pub);
	exc_drop_fragments(x);
	frag_in_free(x->frag_plain);
	frag_in_free(x->frag_sa);
	free(x);
}
