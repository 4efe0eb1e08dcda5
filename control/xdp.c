/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp-steer (see xdp.h): attach, fill, keep current, detach.
 *
 * Maps are updated in place, new entries first and stale ones after, so
 * a change never opens a window where espd's traffic goes to the kernel.
 * The program reads the maps per packet; no RCU is needed on this side.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "control/publish.h"
#include "control/xdp.h"

#ifdef ESPD_HAVE_LIBXDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dataplane/xdp/steer_maps.h"
#endif

#ifndef ESPD_XDP_OBJ
#define ESPD_XDP_OBJ ""
#endif
#ifndef ESPD_XDP_OBJ_INSTALLED
#define ESPD_XDP_OBJ_INSTALLED "/usr/local/lib/espd/steer.bpf.o"
#endif

/* One line for every failure: the port, the cause, the fix. */
static int
fail(uint16_t port, const char *ifname, int err, const char *fmt, ...)
{
	char what[256], off[96];
	const char *fix;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	switch (err) {
	case EPERM:
		fix = "run espd as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN";
		break;
	case EACCES:
		/* What the verifier answers too, even to root. */
		fix = "run espd as root (or with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN); "
		      "as root, the verifier refused the program: ESPD_XDP_DEBUG=1 prints its log";
		break;
	case ENOENT:
		fix = "build it (apt-get install clang libxdp-dev libbpf-dev; ninja), "
		      "or name it with --xdp-prog FILE";
		break;
	case EEXIST:
	case EBUSY:
		snprintf(off, sizeof(off), "'ip link set dev %s xdp off' (or xdpgeneric off)",
			 ifname != NULL ? ifname : "IF");
		fix = off;
		strncat(what, "; another XDP program, not libxdp's dispatcher, holds the interface",
			sizeof(what) - strlen(what) - 1);
		break;
	case ENOTSUP:
		fix = "rebuild espd with libxdp-dev and libbpf-dev installed (scripts/setup.sh)";
		break;
	case ENODEV:
		fix = "give the port as --vdev net_af_xdpN,iface=IF";
		break;
	default:
		fix = "see README \"AF_XDP ports\"";
		break;
	}
	fprintf(stderr, "espd: port %u: xdp-steer%s%s: %s: %s (fix: %s)\n", port,
		ifname != NULL ? " on " : "", ifname != NULL ? ifname : "", what,
		strerror(err), fix);
	return -err;
}

const char *
xdp_default_obj(void)
{
	FILE *f;

	/* The build tree's copy when espd runs from it, else the installed
	 * one. */
	if (ESPD_XDP_OBJ[0] != '\0' && (f = fopen(ESPD_XDP_OBJ, "r")) != NULL) {
		fclose(f);
		return ESPD_XDP_OBJ;
	}
	return ESPD_XDP_OBJ_INSTALLED;
}

#ifndef ESPD_HAVE_LIBXDP

int
xdp_port_attach(struct pub *p, uint16_t port, const struct cfg_port *cp, const char *obj)
{
	(void)p;
	(void)cp;
	(void)obj;
	return fail(port, NULL, ENOTSUP, "this espd was built without libxdp");
}

int
xdp_sync(struct pub *p)
{
	(void)p;
	return 0;
}

void
xdp_encap_port(struct pub *p, uint16_t udp_port, bool add)
{
	(void)p;
	(void)udp_port;
	(void)add;
}

void
xdp_detach_all(struct pub *p)
{
	(void)p;
}

int
xdp_neigh_ask(struct pub *p, const struct gw_neigh_key *k, bool fresh,
	      struct rte_ether_addr *mac)
{
	(void)p;
	(void)k;
	(void)fresh;
	(void)mac;
	return -ENOTSUP;
}

#else

struct xdp_port {
	struct xdp_program *prog;
	enum xdp_attach_mode mode;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t mac[6];
	int fd_cfg, fd_local4, fd_local6, fd_encap, fd_transit4, fd_transit6;
};

/* libxdp and libbpf explain failures on stderr in several lines; espd
 * says it in one (fail()). */
static int
quiet_xdp(enum libxdp_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

static int
loud_xdp(enum libxdp_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	return vfprintf(stderr, fmt, ap);
}

static int
quiet_bpf(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

/* Is @p prog_fd espd's program: does it use a map named espd_cfg? */
static bool
prog_is_espd(int prog_fd)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info), ids[16], i, n;
	bool ours = false;

	if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
		return false;
	n = info.nr_map_ids < 16 ? info.nr_map_ids : 16;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
		return false;
	for (i = 0; i < n && !ours; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t ml = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &ml) == 0 &&
		    strncmp(mi.name, "espd_cfg", sizeof(mi.name)) == 0)
			ours = true;
		close(fd);
	}
	return ours;
}

/*
 * A dispatcher whose bpffs pins are gone looks to libxdp like a single
 * legacy program: that is what a crashed espd leaves when its bpffs was
 * private to its mount namespace (`ip netns exec` gives each process its
 * own /sys). Its component programs hang off it by freplace links; with
 * the pins gone usually none is left. @return true if every program
 * linked to dispatcher @p disp_id is espd's (or none is).
 */
static bool
orphan_dispatcher_is_espd(uint32_t disp_id)
{
	uint32_t id = 0;
	bool ours = true;

	while (ours && bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info li = { 0 };
		uint32_t len = sizeof(li);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &li, &len) == 0 &&
		    li.type == BPF_LINK_TYPE_TRACING && li.tracing.target_obj_id == disp_id) {
			int pfd = bpf_prog_get_fd_by_id(li.prog_id);

			ours = pfd >= 0 && prog_is_espd(pfd);
			if (pfd >= 0)
				close(pfd);
		}
		close(fd);
	}
	return ours;
}

/* A crashed espd (SIGKILL, a fault) leaves its program on the interface:
 * the kernel keeps an attached program without its loader. Remove it so
 * this one's XSK map is the one libxdp finds. */
static void
remove_stale(uint16_t port, const char *ifname, int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *prog = NULL;

	if (mp == NULL || libxdp_get_error(mp) != 0)
		return;
	if (xdp_multiprog__is_legacy(mp)) {
		prog = xdp_multiprog__main_prog(mp);
		if (prog != NULL &&
		    (prog_is_espd(xdp_program__fd(prog)) ||
		     (strcmp(xdp_program__name(prog), "xdp_dispatcher") == 0 &&
		      orphan_dispatcher_is_espd(xdp_program__id(prog)))) &&
		    xdp_multiprog__detach(mp) == 0)
			printf("espd: port %u: removed a stale espd XDP program (id %u) from %s\n",
			       port, xdp_program__id(prog), ifname);
		xdp_multiprog__close(mp);
		return;
	}
	while ((prog = xdp_multiprog__next_prog(prog, mp)) != NULL) {
		if (!prog_is_espd(xdp_program__fd(prog)))
			continue;
		if (xdp_program__detach(prog, ifindex, xdp_multiprog__attach_mode(mp), 0) == 0)
			printf("espd: port %u: removed a stale espd XDP program (id %u) from %s\n",
			       port, xdp_program__id(prog), ifname);
	}
	xdp_multiprog__close(mp);
}

/* Did libxdp attach through its dispatcher, or fall back to attaching
 * the program alone (a kernel without freplace support or that refuses
 * it, or no bpffs), where no other program can share the interface? */
static bool
dispatched(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	bool d;

	if (mp == NULL || libxdp_get_error(mp) != 0)
		return false;
	d = !xdp_multiprog__is_legacy(mp);
	xdp_multiprog__close(mp);
	return d;
}

static bool
has_map(struct xdp_port *x, const char *name)
{
	return bpf_object__find_map_by_name(xdp_program__bpf_obj(x->prog), name) != NULL;
}

static int
map_fd(struct xdp_port *x, const char *name)
{
	return bpf_object__find_map_fd_by_name(xdp_program__bpf_obj(x->prog), name);
}

int
xdp_port_attach(struct pub *p, uint16_t port, const struct cfg_port *cp, const char *obj)
{
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	struct xdp_port *x;
	const char *mode;
	int rc;

	if (obj == NULL)
		obj = xdp_default_obj();
	/* libxdp and libbpf explain a failure over several stderr lines,
	 * and warn about the PMD's sockets sharing espd's program; espd says
	 * what matters in one line. ESPD_XDP_DEBUG=1 keeps theirs. */
	if (getenv("ESPD_XDP_DEBUG") == NULL) {
		libxdp_set_print(quiet_xdp);
		libbpf_set_print(quiet_bpf);
	} else {
		libxdp_set_print(loud_xdp);
	}
	/* The dispatcher lives in bpffs. Where none is mounted (inside `ip
	 * netns exec`, /sys is a fresh sysfs) libxdp would silently fall
	 * back to attaching the program alone, and no other program could
	 * share the interface: let it mount one. */
	setenv("LIBXDP_BPFFS_AUTOMOUNT", "1", 0);
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return fail(port, NULL, ENOMEM, "no memory");
	rc = rte_eth_dev_info_get(port, &info);
	if (rc < 0) {
		rc = fail(port, NULL, -rc, "no device information");
		goto err;
	}
	if (info.driver_name == NULL || strcmp(info.driver_name, "net_af_xdp") != 0) {
		rc = fail(port, NULL, ENODEV, "the port is %s, not a net_af_xdp vdev",
			  info.driver_name != NULL ? info.driver_name : "unknown");
		goto err;
	}
	x->ifindex = (int)info.if_index;
	if (x->ifindex <= 0 || if_indextoname((unsigned int)x->ifindex, x->ifname) == NULL) {
		rc = fail(port, NULL, ENODEV, "the port's interface (ifindex %d) is gone",
			  x->ifindex);
		goto err;
	}
	/* The kernel answers ARP and ND for the interface with its own MAC,
	 * so frames for espd carry that MAC: espd must send with it too. */
	rte_eth_macaddr_get(port, &mac);
	memcpy(x->mac, mac.addr_bytes, 6);
	if (cp->has_mac && memcmp(cp->mac, x->mac, 6) != 0) {
		rc = fail(port, x->ifname, EINVAL,
			  "mac %02x:%02x:%02x:%02x:%02x:%02x is not the interface's "
			  "%02x:%02x:%02x:%02x:%02x:%02x, which the kernel answers ARP with; "
			  "drop `mac` from the port or set it on the interface",
			  cp->mac[0], cp->mac[1], cp->mac[2], cp->mac[3], cp->mac[4], cp->mac[5],
			  x->mac[0], x->mac[1], x->mac[2], x->mac[3], x->mac[4], x->mac[5]);
		goto err;
	}
	if (cp->queues > STEER_QUEUES_MAX) {
		rc = fail(port, x->ifname, EINVAL, "%u queues, the program serves %u",
			  cp->queues, STEER_QUEUES_MAX);
		goto err;
	}
	remove_stale(port, x->ifname, x->ifindex);

	/* Its only program, whichever section (xdp, xdp.frags) it is in. */
	x->prog = xdp_program__open_file(obj, NULL, NULL);
	rc = (int)libxdp_get_error(x->prog);
	if (rc != 0) {
		x->prog = NULL;
		rc = fail(port, x->ifname, -rc, "cannot open the XDP program %s", obj);
		goto err;
	}
	/* Before it touches the interface: the names libxdp's xsk code
	 * looks for (steer.bpf.c), and the maps espd fills. */
	if (strcmp(xdp_program__name(x->prog), "xsk_def_prog") != 0 ||
	    !has_map(x, "xsks_map") || !has_map(x, "espd_cfg") || !has_map(x, "espd_local4") ||
	    !has_map(x, "espd_local6") || !has_map(x, "espd_encap") ||
	    !has_map(x, "espd_transit4") || !has_map(x, "espd_transit6")) {
		rc = fail(port, x->ifname, EINVAL, "%s is not espd's steering program "
			  "(dataplane/xdp/steer.bpf.o)", obj);
		xdp_program__close(x->prog);
		goto err;
	}
	/* Native first; drivers without XDP support fall back to generic
	 * (skb) mode, which works everywhere AF_XDP does (in copy mode).
	 * ESPD_XDP_MODE=generic|native picks one (to measure, or where a
	 * driver's native mode misbehaves). */
	mode = getenv("ESPD_XDP_MODE");
	x->mode = mode != NULL && (strcmp(mode, "generic") == 0 || strcmp(mode, "skb") == 0) ?
		XDP_MODE_SKB : XDP_MODE_NATIVE;
	rc = xdp_program__attach(x->prog, x->ifindex, x->mode, 0);
	if ((rc == -EOPNOTSUPP || rc == -EINVAL) && x->mode == XDP_MODE_NATIVE &&
	    (mode == NULL || strcmp(mode, "native") != 0)) {
		x->mode = XDP_MODE_SKB;
		rc = xdp_program__attach(x->prog, x->ifindex, x->mode, 0);
	}
	if (rc < 0) {
		rc = fail(port, x->ifname, -rc, "cannot attach the XDP program %s", obj);
		xdp_program__close(x->prog);
		x->prog = NULL;
		goto err;
	}
	x->fd_cfg = map_fd(x, "espd_cfg");
	x->fd_local4 = map_fd(x, "espd_local4");
	x->fd_local6 = map_fd(x, "espd_local6");
	x->fd_encap = map_fd(x, "espd_encap");
	x->fd_transit4 = map_fd(x, "espd_transit4");
	x->fd_transit6 = map_fd(x, "espd_transit6");
	p->xdp[port] = x;   /* attached: from here xdp_detach_all() takes it off */
	if (x->fd_cfg < 0 || x->fd_local4 < 0 || x->fd_local6 < 0 || x->fd_encap < 0 ||
	    x->fd_transit4 < 0 || x->fd_transit6 < 0)
		return fail(port, x->ifname, EIO, "%s: its maps did not load", obj);
	printf("espd: port %u: xdp-steer on %s (ifindex %d), %s mode, program id %u, %s\n",
	       port, x->ifname, x->ifindex, x->mode == XDP_MODE_NATIVE ? "native" : "generic",
	       xdp_program__id(x->prog), dispatched(x->ifindex) ? "in libxdp's dispatcher" :
	       "alone (libxdp could not load its dispatcher here: freplace refused or no bpffs)");
	fflush(stdout);
	return 0;
err:
	free(x);
	return rc;
}

/* ---- filling the maps ---------------------------------------------------- */

/* A set of keys of one size, as the map should hold it. */
struct keyset {
	uint8_t *k;
	uint32_t n, cap, size;
};

static int
ks_add(struct keyset *s, const void *key)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (memcmp(s->k + (size_t)i * s->size, key, s->size) == 0)
			return 0;
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		uint8_t *k = realloc(s->k, (size_t)cap * s->size);

		if (k == NULL)
			return -ENOMEM;
		s->k = k;
		s->cap = cap;
	}
	memcpy(s->k + (size_t)s->n++ * s->size, key, s->size);
	return 0;
}

static bool
ks_has(const struct keyset *s, const void *key)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (memcmp(s->k + (size_t)i * s->size, key, s->size) == 0)
			return true;
	return false;
}

/* Put every key of @p s in map @p fd with value @p val; a key that does
 * not go in (the map is full) is noted in @p failed. @return 0 or the
 * last error. */
static int
map_put(int fd, const struct keyset *s, uint8_t val, struct keyset *failed)
{
	uint32_t i;
	int rc = 0;

	for (i = 0; i < s->n; i++) {
		const void *k = s->k + (size_t)i * s->size;

		if (bpf_map_update_elem(fd, k, &val, BPF_ANY) != 0) {
			rc = -errno;
			if (failed != NULL && ks_add(failed, k) < 0)
				rc = -ENOMEM;
		}
	}
	return rc;
}

/*
 * Make map @p fd hold exactly @p want with value 1 and @p zero (or none)
 * with value 0: add first, then delete what is no longer wanted, so no
 * packet class is missing in between; where the map had no room for an
 * add, it gets its room from the deletes and is added again.
 */
static int
map_set(int fd, const struct keyset *want, const struct keyset *zero)
{
	uint8_t cur[sizeof(struct steer_lpm6)], next[sizeof(struct steer_lpm6)];
	struct keyset gone = { .size = want->size }, f1 = { .size = want->size };
	struct keyset f0 = { .size = want->size };
	void *prev = NULL;
	int r1, r0, rg = 0;
	uint32_t i;

	r1 = map_put(fd, want, 1, &f1);
	r0 = zero != NULL ? map_put(fd, zero, 0, &f0) : 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (!ks_has(want, next) && (zero == NULL || !ks_has(zero, next)) &&
		    ks_add(&gone, next) < 0)
			rg = -ENOMEM;
		memcpy(cur, next, want->size);
		prev = cur;
	}
	for (i = 0; i < gone.n; i++)
		(void)bpf_map_delete_elem(fd, gone.k + (size_t)i * gone.size);
	if (f1.n != 0)
		r1 = map_put(fd, &f1, 1, NULL);
	if (f0.n != 0)
		r0 = map_put(fd, &f0, 0, NULL);
	free(gone.k);
	free(f1.k);
	free(f0.k);
	return r1 < 0 ? r1 : r0 < 0 ? r0 : rg;
}

/* Transit prefix @p a (masked) into @p s4 or @p s6. */
static int
add_prefix(struct keyset *s4, struct keyset *s6, const struct cfg_addr *a)
{
	if (a->af == AF_INET) {
		struct steer_lpm4 k = { .prefixlen = a->len };

		memcpy(&k.addr, a->a, 4);
		if (a->len < 32)
			k.addr &= a->len == 0 ? 0 : htonl(~0u << (32 - a->len));
		return ks_add(s4, &k);
	} else {
		struct steer_lpm6 k = { .prefixlen = a->len };
		unsigned int i;

		memcpy(k.addr, a->a, 16);
		for (i = 0; i < 16; i++) {
			int bits = (int)a->len - (int)i * 8;

			if (bits <= 0)
				k.addr[i] = 0;
			else if (bits < 8)
				k.addr[i] &= (uint8_t)(0xff << (8 - bits));
		}
		return ks_add(s6, &k);
	}
}

/* Everything espd may forward that arrives on @p port: the other ports'
 * subnets, routes out of other ports, and every policy's destination;
 * and, in @p x4 and @p x6, the other ports' own addresses, which those
 * subnets cover but which are the kernel's (SSH or IKE to the WAN
 * address from the LAN): value 0 in the trie, their longest match.
 * This port's own are in the local sets, which steer.h asks first. */
static int
transit_sets(const struct gw_model *m, uint16_t port, struct keyset *s4, struct keyset *s6,
	     struct keyset *x4, struct keyset *x6)
{
	unsigned int i, j;
	int rc = 0;

	for (i = 0; i < CFG_PORTS_MAX; i++) {
		if (!m->has_port[i] || i == port)
			continue;
		for (j = 0; j < m->ports[i].naddr; j++) {
			struct cfg_addr host = m->ports[i].addr[j];

			rc |= add_prefix(s4, s6, &host);
			host.len = host.af == AF_INET ? 32 : 128;
			rc |= add_prefix(x4, x6, &host);
		}
	}
	for (i = 0; i < m->n_routes; i++)
		if (m->routes[i].port != port)
			rc |= add_prefix(s4, s6, &m->routes[i].prefix);
	for (i = 0; i < m->n_pols; i++)
		rc |= add_prefix(s4, s6, &m->pols[i].cfg.sel.dst);
	return rc < 0 ? -ENOMEM : 0;
}

static int
port_sync(struct pub *p, uint16_t port, struct xdp_port *x)
{
	const struct cfg_port *cp = &p->model->ports[port];
	struct keyset l4 = { .size = 4 }, l6 = { .size = 16 }, enc = { .size = 2 };
	struct keyset t4 = { .size = sizeof(struct steer_lpm4) };
	struct keyset t6 = { .size = sizeof(struct steer_lpm6) };
	struct keyset x4 = { .size = sizeof(struct steer_lpm4) };
	struct keyset x6 = { .size = sizeof(struct steer_lpm6) };
	struct steer_cfg c = { .enabled = 1, .esp = cp->role == CFG_ROLE_UNPROTECTED };
	uint32_t zero = 0, u;
	unsigned int i;
	int rc = 0;

	for (i = 0; i < cp->naddr; i++)
		rc |= ks_add(cp->addr[i].af == AF_INET ? &l4 : &l6, cp->addr[i].a);
	for (u = 0; u < 65536; u++) {
		uint16_t up = (uint16_t)u;

		if (p->natt_refs[u] != 0)
			rc |= ks_add(&enc, &up);
	}
	rc |= transit_sets(p->model, port, &t4, &t6, &x4, &x6);
	if (rc == 0) {
		/* Each map whatever another's fate: one that failed must not
		 * leave the rest as they were. */
		int r[5] = {
			map_set(x->fd_local4, &l4, NULL),
			map_set(x->fd_local6, &l6, NULL),
			map_set(x->fd_encap, &enc, NULL),
			map_set(x->fd_transit4, &t4, &x4),
			map_set(x->fd_transit6, &t6, &x6),
		};

		for (i = 0; i < 5; i++)
			if (r[i] < 0)
				rc = r[i];
	}
	memcpy(c.mac, x->mac, 6);
	if (rc == 0 && bpf_map_update_elem(x->fd_cfg, &zero, &c, BPF_ANY) != 0)
		rc = -errno;
	free(l4.k);
	free(l6.k);
	free(enc.k);
	free(t4.k);
	free(t6.k);
	free(x4.k);
	free(x6.k);
	if (rc < 0)
		fprintf(stderr, "espd: port %u: xdp-steer on %s: maps not updated: %s\n",
			port, x->ifname, strerror(rc == -1 ? ENOMEM : -rc));
	return rc;
}

int
xdp_sync(struct pub *p)
{
	unsigned int port;
	int rc = 0;

	for (port = 0; port < GW_PORTS_MAX; port++)
		if (p->xdp[port] != NULL && port_sync(p, (uint16_t)port, p->xdp[port]) < 0)
			rc = -EIO;
	return rc;
}

void
xdp_encap_port(struct pub *p, uint16_t udp_port, bool add)
{
	unsigned int port;
	uint8_t one = 1;

	for (port = 0; port < GW_PORTS_MAX; port++) {
		struct xdp_port *x = p->xdp[port];

		if (x == NULL)
			continue;
		if (add && bpf_map_update_elem(x->fd_encap, &udp_port, &one, BPF_ANY) != 0)
			fprintf(stderr, "espd: port %u: xdp-steer on %s: encap port %u not "
				"steered: %s\n", port, x->ifname, udp_port, strerror(errno));
		else if (!add)
			(void)bpf_map_delete_elem(x->fd_encap, &udp_port);
	}
}

void
xdp_detach_all(struct pub *p)
{
	unsigned int port;

	for (port = 0; port < GW_PORTS_MAX; port++) {
		struct xdp_port *x = p->xdp[port];
		int rc;

		if (x == NULL)
			continue;
		rc = xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
		if (rc < 0 && rc != -ENOENT)
			fprintf(stderr, "espd: port %u: xdp-steer: detaching from %s: %s\n",
				port, x->ifname, strerror(-rc));
		xdp_program__close(x->prog);
		free(x);
		p->xdp[port] = NULL;
	}
}

/* ---- next hops through the kernel's neighbour table ------------------------ */

/* One rtnetlink request about @p k on @p ifindex: RTM_GETNEIGH (the
 * answer's state and lladdr into *state and @p lladdr), or RTM_NEWNEIGH
 * with NTF_USE, which makes the kernel start resolving (or re-probing)
 * the entry as if it had a packet for it. */
static int
nl_neigh(int type, int ifindex, const struct gw_neigh_key *k, uint16_t *state,
	 uint8_t lladdr[6])
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
		char attrs[32];
	} req = { 0 };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t alen = k->family == 4 ? 4 : 16;
	union {
		struct nlmsghdr h;
		char b[1024];
	} ans;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	struct rtattr *rta;
	ssize_t n;
	int s, rc;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.nh.nlmsg_type = (uint16_t)type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (type == RTM_NEWNEIGH)
		req.nh.nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	req.nh.nlmsg_seq = 1;
	req.nd.ndm_family = k->family == 4 ? AF_INET : AF_INET6;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_flags = type == RTM_NEWNEIGH ? NTF_USE : 0;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = NDA_DST;
	rta->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), k->addr, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	/* The control loop must not hang on the kernel. */
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(s, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		rc = -errno;
		close(s);
		return rc;
	}
	rc = -EIO;
	while ((n = recv(s, &ans, sizeof(ans), 0)) > 0) {
		const struct nlmsghdr *h = &ans.h;
		size_t left = (size_t)n;
		bool done = false;

		for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				/* The ACK after an answer carries 0. */
				if (e->error != 0 || rc == -EIO)
					rc = e->error;
				done = true;
			} else if (h->nlmsg_type == RTM_NEWNEIGH && state != NULL) {
				const struct ndmsg *nd = NLMSG_DATA(h);
				const struct rtattr *a = (const struct rtattr *)
					((const char *)nd + NLMSG_ALIGN(sizeof(*nd)));
				int alen2 = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));

				*state = nd->ndm_state;
				memset(lladdr, 0, 6);
				for (; RTA_OK(a, alen2); a = RTA_NEXT(a, alen2))
					if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
						memcpy(lladdr, RTA_DATA(a), 6);
				rc = 0;
			}
		}
		if (done)
			break;
	}
	if (n < 0 && rc == -EIO)
		rc = -errno;
	close(s);
	return rc;
}

int
xdp_neigh_ask(struct pub *p, const struct gw_neigh_key *k, bool fresh,
	      struct rte_ether_addr *mac)
{
	static const uint8_t zero[6];
	const struct xdp_port *x = k->port < GW_PORTS_MAX ? p->xdp[k->port] : NULL;
	uint16_t state = 0;
	uint8_t ll[6];
	int rc;

	if (x == NULL)
		return -ENOTSUP;
	rc = nl_neigh(RTM_GETNEIGH, x->ifindex, k, &state, ll);
	if (rc == 0 && memcmp(ll, zero, 6) != 0 &&
	    (state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP) ||
	     (!fresh && state & (NUD_STALE | NUD_DELAY | NUD_PROBE)))) {
		memcpy(mac->addr_bytes, ll, 6);
		return 1;
	}
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = nl_neigh(RTM_NEWNEIGH, x->ifindex, k, NULL, NULL);
	return rc < 0 ? rc : 0;
}

#endif /* ESPD_HAVE_LIBXDP */
