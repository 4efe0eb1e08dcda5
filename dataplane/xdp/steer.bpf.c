/* SPDX-License-Identifier: (GPL-2.0 OR BSD-3-Clause) */
/*
 * espd's XDP program for `port ... xdp-steer` (DESIGN.md "AF_XDP ports:
 * xdp-steer"): frames espd owns go to the port's AF_XDP socket, the rest
 * to the kernel. The decision is steer.h's; this file is only its view
 * over the maps that espd fills (control/xdp.c) and the redirect.
 *
 * Names that are an interface, not a choice:
 *  - the function is "xsk_def_prog" and the XSKMAP "xsks_map", with
 *    xsk_prog_version in the xdp_metadata section: libxdp's
 *    xsk_socket__create() (which DPDK 22.11's net_af_xdp calls when a
 *    queue is set up) looks for exactly that program among those the
 *    dispatcher runs, and puts its socket into that map instead of
 *    loading its own program. There is no refcount (.data) map, so
 *    libxdp never detaches the program: espd does.
 *  - the map "espd_cfg" marks the program as espd's, so a later espd can
 *    find and remove one that a crash left behind.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "steer_maps.h"

#ifndef XDP_METADATA_SECTION
#define XDP_METADATA_SECTION "xdp_metadata"  /* libxdp's xsk_def_xdp_prog.h */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
	__uint(max_entries, STEER_QUEUES_MAX);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct steer_cfg);
	__uint(max_entries, 1);
} espd_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, STEER_ADDRS_MAX);
} espd_local4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct steer_in6);
	__type(value, __u8);
	__uint(max_entries, STEER_ADDRS_MAX);
} espd_local6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u8);
	__uint(max_entries, STEER_ENCAP_MAX);
} espd_encap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct steer_lpm4);
	__type(value, __u8);
	__uint(max_entries, STEER_PREFIXES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} espd_transit4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct steer_lpm6);
	__type(value, __u8);
	__uint(max_entries, STEER_PREFIXES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} espd_transit6 SEC(".maps");

static __always_inline int
steer_local4(const void *cfg, __u32 addr)
{
	(void)cfg;
	return bpf_map_lookup_elem(&espd_local4, &addr) != NULL;
}

static __always_inline int
steer_local6(const void *cfg, const struct steer_in6 *a)
{
	(void)cfg;
	return bpf_map_lookup_elem(&espd_local6, a) != NULL;
}

static __always_inline int
steer_encap_port(const void *cfg, __u16 port)
{
	(void)cfg;
	return bpf_map_lookup_elem(&espd_encap, &port) != NULL;
}

static __always_inline int
steer_transit4(const void *cfg, __u32 addr)
{
	struct steer_lpm4 k = { .prefixlen = 32, .addr = addr };
	const __u8 *v;

	(void)cfg;
	v = bpf_map_lookup_elem(&espd_transit4, &k);
	return v != NULL && *v != 0; /* 0: another port's own address */
}

static __always_inline int
steer_transit6(const void *cfg, const struct steer_in6 *a)
{
	struct steer_lpm6 k = { .prefixlen = 128 };
	const __u8 *v;

	(void)cfg;
	__builtin_memcpy(k.addr, a->a, 16);
	v = bpf_map_lookup_elem(&espd_transit6, &k);
	return v != NULL && *v != 0;
}

static __always_inline int
steer_our_mac(const void *cfg, const __u8 *mac)
{
	__u32 zero = 0;
	const struct steer_cfg *c = bpf_map_lookup_elem(&espd_cfg, &zero);

	(void)cfg;
	/* Not configured yet (espd fills the maps right after attaching):
	 * nothing is ours. */
	if (c == NULL || !c->enabled)
		return 0;
	return mac[0] == c->mac[0] && mac[1] == c->mac[1] && mac[2] == c->mac[2] &&
	       mac[3] == c->mac[3] && mac[4] == c->mac[4] && mac[5] == c->mac[5];
}

static __always_inline int
steer_takes_esp(const void *cfg)
{
	__u32 zero = 0;
	const struct steer_cfg *c = bpf_map_lookup_elem(&espd_cfg, &zero);

	(void)cfg;
	return c != NULL && c->esp;
}

#include "steer.h"

struct {
	__uint(priority, STEER_PRIORITY);
	/* Frames left to the kernel go on to the next program on the
	 * interface, as libxdp's own programs do. */
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xsk_def_prog);

SEC("xdp")
int xsk_def_prog(struct xdp_md *ctx)
{
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;

	if (steer_classify(data, end, NULL) == STEER_ESPD)
		/* No socket on this queue (espd not up yet, or going
		 * down): the kernel's after all. */
		return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
/* libxdp's xsk code accepts a program of this version or lower. */
__uint(xsk_prog_version, 1) SEC(XDP_METADATA_SECTION);
