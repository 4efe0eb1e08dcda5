/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * xdp-steer's decision (DESIGN.md "AF_XDP ports: xdp-steer"): which
 * frames received on a kernel interface espd owns, and which stay with
 * the kernel. One pure function over the frame's bytes and a view of the
 * port's configuration, compiled twice:
 *  - into the XDP program (steer.bpf.c, clang -target bpf), where the
 *    view is the program's maps;
 *  - natively into the unit tests (tests/unit/test_steer.c), where the
 *    view is plain arrays.
 *
 * The includer defines, before including this header, the view's
 * lookups (each returns non-zero for "yes"); @p cfg is passed through:
 *
 *     static int steer_local4(const void *cfg, __u32 addr);      network order
 *     static int steer_local6(const void *cfg, const struct steer_in6 *a);
 *     static int steer_encap_port(const void *cfg, __u16 port); host order
 *     static int steer_transit4(const void *cfg, __u32 addr);
 *     static int steer_transit6(const void *cfg, const struct steer_in6 *a);
 *     static int steer_our_mac(const void *cfg, const __u8 *mac); 6 bytes
 *     static int steer_takes_esp(const void *cfg);   an unprotected port
 *
 * espd gets (STEER_ESPD):
 *  - on an unprotected port, ESP (IP protocol 50) to one of the port's
 *    addresses, fragments included (espd reassembles ESP, DESIGN "MTU
 *    and fragmentation");
 *  - there too, UDP to one of the port's addresses on 4500 or on the
 *    local port of an inbound SA's `encap espinudp`, unless the payload
 *    is IKE (the 4-byte non-ESP marker, RFC 3948 2.2) or a NAT keepalive
 *    (one byte 0xff, RFC 3948 2.3): those belong to the IKE daemon's
 *    socket;
 *  - transit traffic: a unicast frame to the port's MAC whose IP
 *    destination is not ours and falls in a prefix espd routes or has a
 *    policy for (the view's transit sets), so espd forwards it through
 *    the SPD.
 *
 * The kernel gets everything else (STEER_KERNEL): ARP; whatever else is
 * for the gateway's own addresses (ND and other ICMP, IKE on 500 and
 * 4500, SSH, and all of it on a protected port); broadcast and
 * multicast; frames for another MAC; VLAN-tagged frames
 * (a VLAN is another kernel interface), UDP fragments to us (a later
 * fragment cannot tell IKE from ESP-in-UDP), and whatever is truncated
 * or malformed (the kernel counts and drops that).
 *
 * Bounds: every read is checked against @p end first, in the form the
 * BPF verifier accepts (pointer + constant > end), and the IPv6 header
 * chain is walked at most STEER_V6_EXT_MAX headers deep.
 */
#ifndef ESPD_XDP_STEER_H
#define ESPD_XDP_STEER_H

#include <linux/types.h>

#include "steer_maps.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

enum steer_verdict {
	STEER_KERNEL = 0,
	STEER_ESPD = 1,
};

#define STEER_V6_EXT_MAX 6
#define STEER_UDP_ENCAP 4500          /* RFC 3948: always ESP-in-UDP's port */

#define STEER_ETH_P_IP   0x0800
#define STEER_ETH_P_IPV6 0x86dd
#define STEER_PROTO_UDP  17
#define STEER_PROTO_ESP  50
#define STEER_PROTO_FRAG 44

static __always_inline __u16
steer_rd16(const __u8 *p)
{
	return (__u16)((p[0] << 8) | p[1]);
}

static __always_inline __u32
steer_rd32_raw(const __u8 *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

/* UDP to us at @p udp: ESP-in-UDP (espd) or IKE / keepalive (kernel). */
static __always_inline enum steer_verdict
steer_udp(const __u8 *udp, const __u8 *end, const void *cfg)
{
	__u16 dport, ulen;

	if (udp + 8 > end)
		return STEER_KERNEL;
	dport = steer_rd16(udp + 2);
	ulen = steer_rd16(udp + 4);
	if (dport != STEER_UDP_ENCAP && !steer_encap_port(cfg, dport))
		return STEER_KERNEL;
	/* RFC 3948 2.3: a keepalive is one byte, 0xff. */
	if (ulen == 9)
		return STEER_KERNEL;
	/* RFC 3948 2.2: four zero bytes where the SPI would be: IKE. An SPI
	 * is never 0 (RFC 4303 2.1), so this decides. */
	if (udp + 12 > end)
		return STEER_KERNEL;
	if (steer_rd32_raw(udp + 8) == 0)
		return STEER_KERNEL;
	return STEER_ESPD;
}

static __always_inline enum steer_verdict
steer_ipv4(const __u8 *ip, const __u8 *end, const void *cfg)
{
	__u32 dst;
	__u16 frag;
	__u8 ihl, proto;

	if (ip + 20 > end)
		return STEER_KERNEL;
	if ((ip[0] >> 4) != 4)
		return STEER_KERNEL;
	ihl = (__u8)((ip[0] & 0x0f) * 4);
	if (ihl < 20)
		return STEER_KERNEL;
	proto = ip[9];
	dst = steer_rd32_raw(ip + 16);
	frag = steer_rd16(ip + 6) & 0x3fff;    /* MF and the offset */
	if (!steer_local4(cfg, dst))
		return steer_transit4(cfg, dst) ? STEER_ESPD : STEER_KERNEL;
	if (!steer_takes_esp(cfg))
		return STEER_KERNEL;     /* a protected port's own traffic */
	if (proto == STEER_PROTO_ESP)
		return STEER_ESPD;
	if (proto != STEER_PROTO_UDP || frag != 0)
		return STEER_KERNEL;
	return steer_udp(ip + ihl, end, cfg);
}

static __always_inline enum steer_verdict
steer_ipv6(const __u8 *ip, const __u8 *end, const void *cfg)
{
	struct steer_in6 dst;
	const __u8 *p;
	__u8 nh;
	int i;

	if (ip + 40 > end)
		return STEER_KERNEL;
	if ((ip[0] >> 4) != 6)
		return STEER_KERNEL;
	__builtin_memcpy(dst.a, ip + 24, 16);
	if (dst.a[0] == 0xff)
		return STEER_KERNEL;           /* multicast: ND, MLD, ... */
	/* Link-local (fe80::/10) is the kernel's interface's own, never
	 * routed (RFC 4291 2.5.6): ND's unicast probes and anything else to
	 * it stay there, even under a policy or route for ::/0. */
	if (dst.a[0] == 0xfe && (dst.a[1] & 0xc0) == 0x80)
		return STEER_KERNEL;
	if (!steer_local6(cfg, &dst))
		return steer_transit6(cfg, &dst) ? STEER_ESPD : STEER_KERNEL;
	if (!steer_takes_esp(cfg))
		return STEER_KERNEL;
	nh = ip[6];
	p = ip + 40;
	/* RFC 8200 4.1: hop-by-hop, routing and destination options come
	 * before ESP; a fragment header before ESP is ESP in fragments. */
#ifdef __clang__
#ifdef __clang__
#pragma unroll
#endif
#endif
	for (i = 0; i < STEER_V6_EXT_MAX; i++) {
		if (nh == STEER_PROTO_ESP)
			return STEER_ESPD;
		if (nh == STEER_PROTO_UDP)
			return steer_udp(p, end, cfg);
		if (nh == STEER_PROTO_FRAG) {
			if (p + 8 > end)
				return STEER_KERNEL;
			return p[0] == STEER_PROTO_ESP ? STEER_ESPD : STEER_KERNEL;
		}
		if (nh != 0 && nh != 43 && nh != 60)
			return STEER_KERNEL;   /* TCP, ICMPv6, ...: the kernel's */
		if (p + 2 > end)
			return STEER_KERNEL;
		nh = p[0];
		p += ((__u32)p[1] + 1) * 8;
	}
	return STEER_KERNEL;
}

/**
 * The verdict for the Ethernet frame [@p data, @p end) under view
 * @p cfg. Reads nothing outside the frame, whatever its bytes.
 */
static __always_inline enum steer_verdict
steer_classify(const __u8 *data, const __u8 *end, const void *cfg)
{
	__u16 type;

	if (data + 14 > end)
		return STEER_KERNEL;
	/* Broadcast and multicast (the group bit) never go to espd; nor
	 * does a frame for another MAC that a bridge flooded to us. */
	if (!steer_our_mac(cfg, data))
		return STEER_KERNEL;
	type = steer_rd16(data + 12);
	if (type == STEER_ETH_P_IP)
		return steer_ipv4(data + 14, end, cfg);
	if (type == STEER_ETH_P_IPV6)
		return steer_ipv6(data + 14, end, cfg);
	return STEER_KERNEL;   /* ARP, VLAN tags, LLDP, ... */
}

#endif /* ESPD_XDP_STEER_H */
