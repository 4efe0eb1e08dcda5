/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "steer": xdp-steer's decision (dataplane/xdp/steer.h), the very
 * function the XDP program runs, compiled natively over a view of plain
 * arrays. Crafted frames for the unprotected port of gateway A
 * (172.16.0.1, 2001:db8::1) and for its protected port (192.168.1.1,
 * fd01::1): ESP and ESP-in-UDP to it, IKE and keepalives, ARP and ND,
 * IPv6 extension headers, fragments, VLAN, other addresses and MACs,
 * transit to the protected prefixes against SSH to the gateway; then
 * every truncation of every frame, and random bytes, each in a buffer of
 * exactly its length so ASan (the asan suite) sees any read past it.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "dataplane/xdp/steer_maps.h"
#include "unit.h"

/* ---- the view: what espd writes into the program's maps -------------- */

struct view {
	bool enabled;
	bool esp;
	uint8_t mac[6];
	uint32_t local4[4];
	unsigned int n_local4;
	struct steer_in6 local6[4];
	unsigned int n_local6;
	uint16_t encap[4];
	unsigned int n_encap;
	struct steer_lpm4 t4[4];
	unsigned int n_t4;
	struct steer_lpm6 t6[4];
	unsigned int n_t6;
	/* The other ports' own addresses: value 0 in the transit tries
	 * (xdp.c transit_sets()), their longest match there. */
	__u32 x4[2];
	unsigned int n_x4;
	struct steer_in6 x6[2];
	unsigned int n_x6;
};

static int
steer_local4(const void *cfg, __u32 addr)
{
	const struct view *v = cfg;
	unsigned int i;

	for (i = 0; i < v->n_local4; i++)
		if (v->local4[i] == addr)
			return 1;
	return 0;
}

static int
steer_local6(const void *cfg, const struct steer_in6 *a)
{
	const struct view *v = cfg;
	unsigned int i;

	for (i = 0; i < v->n_local6; i++)
		if (memcmp(v->local6[i].a, a->a, 16) == 0)
			return 1;
	return 0;
}

static int
steer_encap_port(const void *cfg, __u16 port)
{
	const struct view *v = cfg;
	unsigned int i;

	for (i = 0; i < v->n_encap; i++)
		if (v->encap[i] == port)
			return 1;
	return 0;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		if (((a[i / 8] ^ p[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

static int
steer_transit4(const void *cfg, __u32 addr)
{
	const struct view *v = cfg;
	unsigned int i;

	for (i = 0; i < v->n_x4; i++)
		if (v->x4[i] == addr)
			return 0;
	for (i = 0; i < v->n_t4; i++)
		if (prefix_match((const uint8_t *)&addr, (const uint8_t *)&v->t4[i].addr,
				 v->t4[i].prefixlen))
			return 1;
	return 0;
}

static int
steer_transit6(const void *cfg, const struct steer_in6 *a)
{
	const struct view *v = cfg;
	unsigned int i;

	for (i = 0; i < v->n_x6; i++)
		if (memcmp(v->x6[i].a, a->a, 16) == 0)
			return 0;
	for (i = 0; i < v->n_t6; i++)
		if (prefix_match(a->a, v->t6[i].addr, v->t6[i].prefixlen))
			return 1;
	return 0;
}

static int
steer_our_mac(const void *cfg, const __u8 *mac)
{
	const struct view *v = cfg;

	return v->enabled && memcmp(mac, v->mac, 6) == 0;
}

static int
steer_takes_esp(const void *cfg)
{
	return ((const struct view *)cfg)->esp;
}

#include "dataplane/xdp/steer.h"

static const uint8_t MAC_GW[6] = { 0x02, 0x00, 0x00, 0x0a, 0x00, 0x02 };
static const uint8_t MAC_OTHER[6] = { 0x02, 0x00, 0x00, 0x0b, 0x00, 0x02 };
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MAC_V6MC[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x01 };

static uint32_t
ip4(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static struct steer_in6
ip6(const char *s)
{
	struct steer_in6 a;

	inet_pton(AF_INET6, s, a.a);
	return a;
}

/* Gateway A's unprotected port: 172.16.0.1, 2001:db8::1, an inbound SA
 * with `encap espinudp 4501 4501`; the sites behind the other port are
 * transit. */
static struct view
view_wan(void)
{
	struct view v = { .enabled = true, .esp = true };

	memcpy(v.mac, MAC_GW, 6);
	v.local4[v.n_local4++] = ip4("172.16.0.1");
	v.local6[v.n_local6++] = ip6("2001:db8::1");
	v.encap[v.n_encap++] = 4501;
	v.t4[v.n_t4].prefixlen = 24;
	v.t4[v.n_t4++].addr = ip4("192.168.1.0");
	v.t6[v.n_t6].prefixlen = 64;
	memcpy(v.t6[v.n_t6++].addr, ip6("fd01::").a, 16);
	return v;
}

/* Its protected port: 192.168.1.1, fd01::1; the remote site's prefixes
 * (outbound policies) and the WAN port's subnet are transit, the WAN
 * port's own address is not. */
static struct view
view_lan(void)
{
	struct view v = { .enabled = true };

	memcpy(v.mac, MAC_GW, 6);
	v.local4[v.n_local4++] = ip4("192.168.1.1");
	v.local6[v.n_local6++] = ip6("fd01::1");
	v.t4[v.n_t4].prefixlen = 24;
	v.t4[v.n_t4++].addr = ip4("192.168.2.0");
	v.t4[v.n_t4].prefixlen = 24;
	v.t4[v.n_t4++].addr = ip4("172.16.0.0");
	v.x4[v.n_x4++] = ip4("172.16.0.1");
	v.t6[v.n_t6].prefixlen = 64;
	memcpy(v.t6[v.n_t6++].addr, ip6("fd02::").a, 16);
	v.t6[v.n_t6++].prefixlen = 0;   /* a policy for ::/0 */
	return v;
}

/* ---- frames ------------------------------------------------------------ */

struct fb {
	uint8_t b[512];
	size_t n;
};

static void
put(struct fb *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void
put8(struct fb *f, uint8_t v)
{
	f->b[f->n++] = v;
}

static void
put16(struct fb *f, uint16_t v)
{
	put8(f, (uint8_t)(v >> 8));
	put8(f, (uint8_t)v);
}

static void
eth(struct fb *f, const uint8_t *dmac, uint16_t type)
{
	f->n = 0;
	put(f, dmac, 6);
	put(f, MAC_OTHER, 6);
	put16(f, type);
}

/* An IPv4 header (@p ihl words) to @p dst; @p frag is the flags and
 * offset field (0x2000 MF, low 13 bits the offset). */
static void
ipv4(struct fb *f, uint8_t proto, const char *dst, uint16_t frag, uint8_t ihl)
{
	uint32_t s = ip4("172.16.0.2"), d = ip4(dst);
	uint8_t i;

	put8(f, (uint8_t)(0x40 | ihl));
	put8(f, 0);
	put16(f, 100);
	put16(f, 1);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, &s, 4);
	put(f, &d, 4);
	for (i = 5; i < ihl; i++) {
		put16(f, 0x0101);   /* NOP options */
		put16(f, 0x0101);
	}
}

static void
ipv6(struct fb *f, uint8_t nh, const char *dst)
{
	struct steer_in6 s = ip6("2001:db8::2"), d = ip6(dst);

	put8(f, 0x60);
	put8(f, 0);
	put16(f, 0);
	put16(f, 100);
	put8(f, nh);
	put8(f, 64);
	put(f, s.a, 16);
	put(f, d.a, 16);
}

/* A generic IPv6 extension header of (@p len8 + 1) * 8 bytes. */
static void
ext6(struct fb *f, uint8_t nh, uint8_t len8)
{
	unsigned int i;

	put8(f, nh);
	put8(f, len8);
	for (i = 2; i < (len8 + 1u) * 8; i++)
		put8(f, i == 2 ? 1 : 0);   /* PadN ... */
}

static void
frag6(struct fb *f, uint8_t nh, uint16_t off, bool more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint16_t)(off << 3 | (more ? 1 : 0)));
	put16(f, 0x1234);
	put16(f, 0x5678);
}

/* ESP: SPI and sequence number, and @p n bytes of "ciphertext". */
static void
esp(struct fb *f, size_t n)
{
	put16(f, 0x0000);
	put16(f, 0x1001);
	put16(f, 0);
	put16(f, 1);
	while (n-- > 0)
		put8(f, 0xa5);
}

/* A UDP header for @p plen payload bytes. */
static void
udp(struct fb *f, uint16_t sport, uint16_t dport, size_t plen)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, (uint16_t)(8 + plen));
	put16(f, 0);
}

static void
tcp(struct fb *f, uint16_t dport)
{
	put16(f, 40000);
	put16(f, dport);
	put(f, "\0\0\0\1\0\0\0\0\x50\x02\xff\xff\0\0\0\0", 16);
}

/* IKE_SA_INIT's first bytes after the (optional) non-ESP marker. */
static void
ike(struct fb *f, bool marker)
{
	if (marker)
		put(f, "\0\0\0\0", 4);
	put(f, "\x11\x22\x33\x44\x55\x66\x77\x88\0\0\0\0\0\0\0\0\x21\x20\x22\x08", 20);
}

/* ---- the cases ----------------------------------------------------------- */

struct tcase {
	const char *name;
	bool wan;                  /* the unprotected port's view, else the lan's */
	enum steer_verdict want;
	void (*build)(struct fb *f);
};

static void
f_esp4(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 50, "172.16.0.1", 0, 5);
	esp(f, 48);
}

static void
f_esp6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 50, "2001:db8::1");
	esp(f, 48);
}

static void
f_espudp4(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4500, 4500, 56);
	esp(f, 48);
}

static void
f_espudp6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 17, "2001:db8::1");
	udp(f, 4500, 4500, 56);
	esp(f, 48);
}

static void
f_espudp_sa(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4501, 4501, 56);
	esp(f, 48);
}

static void
f_udp_other(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4502, 4502, 56);
	esp(f, 48);
}

static void
f_ike500(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 500, 500, 20);
	ike(f, false);
}

static void
f_ike4500(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4500, 4500, 24);
	ike(f, true);
}

static void
f_ike4500_6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 17, "2001:db8::1");
	udp(f, 4500, 4500, 24);
	ike(f, true);
}

static void
f_ike_sa_port(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4501, 4501, 24);
	ike(f, true);
}

static void
f_keepalive(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 5);
	udp(f, 4500, 4500, 1);
	put8(f, 0xff);
}

/* As it arrives: padded to Ethernet's 60 bytes, so the bytes after the
 * 0xff are there and not zero-checked by length alone. */
static void
f_keepalive_padded(struct fb *f)
{
	f_keepalive(f);
	while (f->n < 60)
		put8(f, 0);
	f->b[14 + 20 + 8 + 1] = 0x5a;
}

static void
f_keepalive6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 17, "2001:db8::1");
	udp(f, 4500, 4500, 1);
	put8(f, 0xff);
}

static void
f_arp_req(struct fb *f)
{
	uint32_t s = ip4("172.16.0.2"), t = ip4("172.16.0.1");

	eth(f, MAC_BCAST, 0x0806);
	put(f, "\0\1\x08\0\6\4\0\1", 8);
	put(f, MAC_OTHER, 6);
	put(f, &s, 4);
	put(f, "\0\0\0\0\0\0", 6);
	put(f, &t, 4);
}

static void
f_arp_reply(struct fb *f)
{
	uint32_t s = ip4("172.16.0.2"), t = ip4("172.16.0.1");

	eth(f, MAC_GW, 0x0806);
	put(f, "\0\1\x08\0\6\4\0\2", 8);
	put(f, MAC_OTHER, 6);
	put(f, &s, 4);
	put(f, MAC_GW, 6);
	put(f, &t, 4);
}

static void
f_nd_ns(struct fb *f)
{
	struct steer_in6 t = ip6("2001:db8::1");

	eth(f, MAC_V6MC, 0x86dd);
	ipv6(f, 58, "ff02::1:ff00:1");
	put(f, "\x87\0\0\0\0\0\0\0", 8);
	put(f, t.a, 16);
}

static void
f_nd_na(struct fb *f)
{
	struct steer_in6 t = ip6("2001:db8::2");

	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 58, "2001:db8::1");
	put(f, "\x88\0\0\0\x60\0\0\0", 8);
	put(f, t.a, 16);
}

static void
f_ping4(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 1, "172.16.0.1", 0, 5);
	put(f, "\x08\0\0\0\0\1\0\1", 8);
}

static void
f_ssh4(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "172.16.0.1", 0, 5);
	tcp(f, 22);
}

static void
f_ssh6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 6, "2001:db8::1");
	tcp(f, 22);
}

static void
f_hbh_dst_esp(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 0, "2001:db8::1");
	ext6(f, 60, 0);
	ext6(f, 50, 1);
	esp(f, 48);
}

static void
f_rh_udp(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 43, "2001:db8::1");
	ext6(f, 17, 0);
	udp(f, 4500, 4500, 56);
	esp(f, 48);
}

static void
f_hbh_tcp(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 0, "2001:db8::1");
	ext6(f, 6, 0);
	tcp(f, 22);
}

static void
f_ext_too_deep(struct fb *f)
{
	int i;

	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 60, "2001:db8::1");
	for (i = 0; i < STEER_V6_EXT_MAX; i++)
		ext6(f, i == STEER_V6_EXT_MAX - 1 ? 50 : 60, 0);
	esp(f, 16);
}

static void
f_frag6_esp(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 44, "2001:db8::1");
	frag6(f, 50, 0, true);
	esp(f, 48);
}

static void
f_frag6_esp_later(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 44, "2001:db8::1");
	frag6(f, 50, 185, false);
	put(f, "\xa5\xa5\xa5\xa5", 4);
}

static void
f_frag6_udp(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 44, "2001:db8::1");
	frag6(f, 17, 0, true);
	udp(f, 4500, 4500, 56);
	esp(f, 48);
}

static void
f_frag4_esp(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 50, "172.16.0.1", 0x2000, 5);
	esp(f, 48);
}

static void
f_frag4_esp_later(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 50, "172.16.0.1", 185, 5);
	put(f, "\xa5\xa5\xa5\xa5", 4);
}

static void
f_frag4_udp(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0x2000, 5);
	udp(f, 4500, 4500, 1400);
	esp(f, 48);
}

static void
f_frag4_udp_later(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 185, 5);
	put(f, "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\1\1\1\1", 12);
}

static void
f_ipopts_udp(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "172.16.0.1", 0, 7);
	udp(f, 4500, 4500, 56);
	esp(f, 48);
}

static void
f_bad_ihl(struct fb *f)
{
	f_esp4(f);
	f->b[14] = 0x44;
}

static void
f_bad_version(struct fb *f)
{
	f_esp4(f);
	f->b[14] = 0x65;
}

static void
f_vlan_esp(struct fb *f)
{
	eth(f, MAC_GW, 0x8100);
	put16(f, 100);
	put16(f, 0x0800);
	ipv4(f, 50, "172.16.0.1", 0, 5);
	esp(f, 48);
}

static void
f_esp_other_addr(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 50, "172.16.0.9", 0, 5);
	esp(f, 48);
}

static void
f_esp6_other_addr(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 50, "2001:db8::9");
	esp(f, 48);
}

static void
f_esp_other_mac(struct fb *f)
{
	eth(f, MAC_OTHER, 0x0800);
	ipv4(f, 50, "172.16.0.1", 0, 5);
	esp(f, 48);
}

static void
f_esp_bcast(struct fb *f)
{
	eth(f, MAC_BCAST, 0x0800);
	ipv4(f, 50, "172.16.0.1", 0, 5);
	esp(f, 48);
}

static void
f_mcast6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 50, "ff02::1");
	esp(f, 48);
}

/* Plain traffic from the WAN to a protected host: espd's (the SPD drops
 * it as XfrmInTmplMismatch), not the kernel's. */
static void
f_wan_to_site(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "192.168.1.10", 0, 5);
	tcp(f, 80);
}

/* On the protected port. */
static void
f_site_transit4(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "192.168.2.10", 0, 5);
	tcp(f, 5001);
}

static void
f_site_transit6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 17, "fd02::10");
	udp(f, 1, 53, 8);
	put(f, "12345678", 8);
}

static void
f_site_transit_frag(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "192.168.2.10", 185, 5);
	put(f, "12345678", 8);
}

static void
f_site_ssh(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "192.168.1.1", 0, 5);
	tcp(f, 22);
}

static void
f_site_ssh6(struct fb *f)
{
	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 6, "fd01::1");
	tcp(f, 22);
}

static void
f_site_ssh_wan(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "172.16.0.1", 0, 5);
	tcp(f, 22);
}

static void
f_site_to_wan_net(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "172.16.0.9", 0, 5);
	tcp(f, 22);
}

static void
f_site_elsewhere(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 6, "10.9.9.9", 0, 5);
	tcp(f, 443);
}

static void
f_site_esp_gw(struct fb *f)
{
	eth(f, MAC_GW, 0x0800);
	ipv4(f, 17, "192.168.1.1", 0, 5);
	udp(f, 1000, 4500, 56);
	esp(f, 48);
}

/* A unicast NS to the kernel's link-local address; the lan view below
 * gets a ::/0 transit prefix for it (a catch-all policy). */
static void
f_nd_ns_ll(struct fb *f)
{
	struct steer_in6 t = ip6("fe80::1");

	eth(f, MAC_GW, 0x86dd);
	ipv6(f, 58, "fe80::1");
	put(f, "\x87\0\0\0\0\0\0\0", 8);
	put(f, t.a, 16);
}

static const struct tcase cases[] = {
	{ "ESP over IPv4 to us", true, STEER_ESPD, f_esp4 },
	{ "ESP over IPv6 to us", true, STEER_ESPD, f_esp6 },
	{ "ESP-in-UDP 4500, IPv4", true, STEER_ESPD, f_espudp4 },
	{ "ESP-in-UDP 4500, IPv6", true, STEER_ESPD, f_espudp6 },
	{ "ESP-in-UDP to an SA's encap port", true, STEER_ESPD, f_espudp_sa },
	{ "UDP to a port no SA has", true, STEER_KERNEL, f_udp_other },
	{ "IKE on 500", true, STEER_KERNEL, f_ike500 },
	{ "IKE on 4500 (non-ESP marker), IPv4", true, STEER_KERNEL, f_ike4500 },
	{ "IKE on 4500 (non-ESP marker), IPv6", true, STEER_KERNEL, f_ike4500_6 },
	{ "IKE on an SA's encap port", true, STEER_KERNEL, f_ike_sa_port },
	{ "NAT keepalive, IPv4", true, STEER_KERNEL, f_keepalive },
	{ "NAT keepalive, IPv6", true, STEER_KERNEL, f_keepalive6 },
	{ "NAT keepalive padded to 60 bytes", true, STEER_KERNEL, f_keepalive_padded },
	{ "ARP request (broadcast)", true, STEER_KERNEL, f_arp_req },
	{ "ARP reply to us", true, STEER_KERNEL, f_arp_reply },
	{ "ND neighbour solicitation", true, STEER_KERNEL, f_nd_ns },
	{ "ND neighbour advertisement to us", true, STEER_KERNEL, f_nd_na },
	{ "ping to us", true, STEER_KERNEL, f_ping4 },
	{ "SSH to us, IPv4", true, STEER_KERNEL, f_ssh4 },
	{ "SSH to us, IPv6", true, STEER_KERNEL, f_ssh6 },
	{ "hop-by-hop + destination options + ESP", true, STEER_ESPD, f_hbh_dst_esp },
	{ "routing header + ESP-in-UDP", true, STEER_ESPD, f_rh_udp },
	{ "hop-by-hop + TCP", true, STEER_KERNEL, f_hbh_tcp },
	{ "extension headers deeper than the walk", true, STEER_KERNEL, f_ext_too_deep },
	{ "IPv6 fragment of ESP (first)", true, STEER_ESPD, f_frag6_esp },
	{ "IPv6 fragment of ESP (later)", true, STEER_ESPD, f_frag6_esp_later },
	{ "IPv6 fragment of UDP", true, STEER_KERNEL, f_frag6_udp },
	{ "IPv4 fragment of ESP (first)", true, STEER_ESPD, f_frag4_esp },
	{ "IPv4 fragment of ESP (later)", true, STEER_ESPD, f_frag4_esp_later },
	{ "IPv4 fragment of UDP 4500 (first)", true, STEER_KERNEL, f_frag4_udp },
	{ "IPv4 fragment of UDP (later)", true, STEER_KERNEL, f_frag4_udp_later },
	{ "IPv4 options + ESP-in-UDP", true, STEER_ESPD, f_ipopts_udp },
	{ "IPv4 header length under 20", true, STEER_KERNEL, f_bad_ihl },
	{ "IP version 6 in an IPv4 frame", true, STEER_KERNEL, f_bad_version },
	{ "VLAN-tagged ESP", true, STEER_KERNEL, f_vlan_esp },
	{ "ESP to another address", true, STEER_KERNEL, f_esp_other_addr },
	{ "ESP to another IPv6 address", true, STEER_KERNEL, f_esp6_other_addr },
	{ "ESP to another MAC (flooded)", true, STEER_KERNEL, f_esp_other_mac },
	{ "ESP to the broadcast MAC", true, STEER_KERNEL, f_esp_bcast },
	{ "IPv6 multicast", true, STEER_KERNEL, f_mcast6 },
	{ "plain TCP from the WAN to a site host", true, STEER_ESPD, f_wan_to_site },
	{ "protected port: TCP to the remote site", false, STEER_ESPD, f_site_transit4 },
	{ "protected port: UDP to the remote IPv6 site", false, STEER_ESPD, f_site_transit6 },
	{ "protected port: a later fragment to the remote site", false, STEER_ESPD,
	  f_site_transit_frag },
	{ "protected port: SSH to the gateway", false, STEER_KERNEL, f_site_ssh },
	{ "protected port: SSH to the gateway over IPv6", false, STEER_KERNEL, f_site_ssh6 },
	{ "protected port: SSH to the gateway's WAN address", false, STEER_KERNEL, f_site_ssh_wan },
	{ "protected port: TCP to a host on the WAN subnet", false, STEER_ESPD, f_site_to_wan_net },
	{ "protected port: no route or policy for it", false, STEER_KERNEL, f_site_elsewhere },
	{ "protected port: ESP-in-UDP to the gateway (no SA ends there)", false, STEER_KERNEL,
	  f_site_esp_gw },
	{ "protected port: ARP", false, STEER_KERNEL, f_arp_req },
	{ "protected port: unicast NS to link-local under ::/0", false, STEER_KERNEL,
	  f_nd_ns_ll },
};

/* Classify @p len bytes of @p b from a heap buffer of exactly that size,
 * so a read past the frame is a heap overflow under ASan. */
static enum steer_verdict
classify(const uint8_t *b, size_t len, const struct view *v)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum steer_verdict r;

	memcpy(copy, b, len);
	r = steer_classify(copy, copy + len, v);
	free(copy);
	return r;
}

static void
test_cases(void)
{
	struct view wan = view_wan(), lan = view_lan();
	unsigned int i, bad = 0;

	_Static_assert(sizeof(cases) / sizeof(cases[0]) >= 20, "at least 20 frames");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fb f;
		enum steer_verdict got;

		cases[i].build(&f);
		got = classify(f.b, f.n, cases[i].wan ? &wan : &lan);
		if (got != cases[i].want) {
			fprintf(stderr, "\n  steer: %s: got %s, want %s", cases[i].name,
				got == STEER_ESPD ? "espd" : "kernel",
				cases[i].want == STEER_ESPD ? "espd" : "kernel");
			bad++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* What the maps say moves the verdict: the same frames with an empty
 * view, with steering not yet enabled, and after the SA's encap port
 * went away. */
static void
test_view_changes(void)
{
	struct view empty = { .enabled = true, .esp = true };
	struct view off = view_wan(), noenc = view_wan();
	unsigned int i;
	struct fb f;

	memcpy(empty.mac, MAC_GW, 6);
	off.enabled = false;
	noenc.n_encap = 0;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].build(&f);
		CU_ASSERT_EQUAL(classify(f.b, f.n, &empty), STEER_KERNEL);
		CU_ASSERT_EQUAL(classify(f.b, f.n, &off), STEER_KERNEL);
	}
	f_espudp_sa(&f);
	CU_ASSERT_EQUAL(classify(f.b, f.n, &noenc), STEER_KERNEL);
	f_espudp4(&f);
	CU_ASSERT_EQUAL(classify(f.b, f.n, &noenc), STEER_ESPD);   /* 4500 always */
}

/* Every frame cut at every length: never espd's unless what decides is
 * all there, and nothing read past the end. */
static void
test_truncated(void)
{
	struct view wan = view_wan(), lan = view_lan();
	unsigned int i, bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct view *v = cases[i].wan ? &wan : &lan;
		struct fb f;
		size_t len;

		cases[i].build(&f);
		for (len = 0; len < f.n; len++) {
			enum steer_verdict got = classify(f.b, len, v);

			/* Shorter than the Ethernet and IP headers: always
			 * the kernel's. */
			if (len < 14 + 20 && got != STEER_KERNEL) {
				fprintf(stderr, "\n  steer: %s cut at %zu: espd's", cases[i].name, len);
				bad++;
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	{
		/* The decisive bytes just missing. */
		struct fb f;

		f_espudp4(&f);
		CU_ASSERT_EQUAL(classify(f.b, 14 + 20 + 8 + 3, &wan), STEER_KERNEL);
		CU_ASSERT_EQUAL(classify(f.b, 14 + 20 + 8 + 4, &wan), STEER_ESPD);
		f_esp6(&f);
		CU_ASSERT_EQUAL(classify(f.b, 14 + 39, &wan), STEER_KERNEL);
		f_frag6_esp(&f);
		CU_ASSERT_EQUAL(classify(f.b, 14 + 40 + 7, &wan), STEER_KERNEL);
		f_hbh_dst_esp(&f);
		CU_ASSERT_EQUAL(classify(f.b, 14 + 40 + 8 + 1, &wan), STEER_KERNEL);
	}
}

/* Random bytes behind a header that gets far: no crash, no overread. */
static void
test_random(void)
{
	struct view wan = view_wan();
	unsigned int i, espd = 0;

	srand(14);
	for (i = 0; i < 20000; i++) {
		struct fb f;
		size_t len, j;

		switch (i % 4) {
		case 0:
			f_esp4(&f);
			break;
		case 1:
			f_hbh_dst_esp(&f);
			break;
		case 2:
			f_espudp6(&f);
			break;
		default:
			f.n = 0;
			break;
		}
		len = (size_t)rand() % 160;
		for (j = i % 4 == 3 ? 0 : 14 + (size_t)rand() % 40; j < len; j++)
			f.b[j] = (uint8_t)rand();
		if (len > f.n && i % 4 != 3)
			len = f.n;
		espd += classify(f.b, len, &wan) == STEER_ESPD;
	}
	CU_ASSERT_TRUE(espd > 0);  /* some survive the noise: the walk ran */
}

int
test_steer_register(void)
{
	CU_pSuite s = CU_add_suite("steer", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "crafted frames, both ports", test_cases) ||
	    !CU_add_test(s, "the maps decide", test_view_changes) ||
	    !CU_add_test(s, "every truncation", test_truncated) ||
	    !CU_add_test(s, "random bytes", test_random))
		return CU_get_error();
	return 0;
}
