/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kernel_ipsec_t on espd's control socket (see kernel_espd_ipsec.h).
 *
 * Calls from charon become commands:
 *   get_spi     state allocspi ... min 0xc0000000 max 0xcfffffff
 *   add_sa      state add, or state update for an SPI from get_spi
 *   update_sa   state migrate (MOBIKE, NAT rebinding)
 *   query_sa    state get: bytes, packets and `current.use_time`
 *   del_sa      state del (an SA espd already expired is not an error)
 *   add_policy  policy update, for the best of the entries charon holds
 *   del_policy  on a selector (charon installs one selector several
 *               times: trap, SA, rekeyed SA; the entries are counted)
 *   flush_*     what this plugin installed, nothing else
 *
 * espd's events, read by a thread of ours on a `monitor` connection:
 *   acquire      a `pfp` policy's ACQUIRE starts one CHILD_SA for exactly
 *                the ACQUIRE's `sel`, on the trap's peer config with the
 *                policy's reqid (stock charon would give one CHILD_SA per
 *                trap); any other ACQUIRE goes to charon's trap manager
 *   expire       charon's rekeys and deletes
 *   mapping      a NAT-T peer's new address or port
 *   invalid-spi  from a peer that a trap covers, with no IKE_SA to it:
 *                a new IKE_SA (INITIAL_CONTACT makes the peer drop its
 *                stale SAs), at most once per peer per holdoff
 * When espd comes back after a restart, the policies are installed again
 * and every SA we had is soft-expired, so charon rekeys them all.
 *
 * Settings (strongswan.conf, charon.plugins.kernel-espd.):
 *   socket = /run/espd/espd.sock
 *   invalid_spi_recovery = yes  heal a peer's restart from its invalid-spi
 *   invalid_spi_holdoff = 2     seconds between recoveries for one peer
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <daemon.h>
#include <library.h>
#include <collections/hashtable.h>
#include <collections/linked_list.h>
#include <config/child_cfg.h>
#include <processing/jobs/callback_job.h>
#include <sa/trap_manager.h>
#include <threading/mutex.h>

#include "espd_conn.h"
#include "kernel_espd_ipsec.h"

#define DEFAULT_SOCKET "/run/espd/espd.sock"
/* Seconds of silence before a request fails: more than a 100k-policy SPD
 * rebuild takes (bench/RESULTS.md), which espd finishes before it
 * answers a batch. */
#define DEFAULT_TIMEOUT_S 30
#define SPI_MIN 0xc0000000u
#define SPI_MAX 0xcfffffffu
#define PRIO_BASE 200000u

typedef struct private_kernel_espd_ipsec_t private_kernel_espd_ipsec_t;

/* One policy entry charon installed: the best of a selector's entries is
 * what espd holds. */
typedef struct {
	policy_type_t type;
	uint32_t prio;          /* espd's priority: lowest wins */
	uint32_t auto_prio;     /* the priority the selectors give (prio unless manual) */
	host_t *src, *dst;      /* the SA's outer addresses (IPsec only) */
	uint32_t reqid;
	ipsec_mode_t mode;
} pol_entry_t;

/* One espd policy: a selector as espd is told it, and a direction, with
 * the entries charon holds on it. Keyed by the words, not by charon's
 * selectors, as kernel-netlink keys by the xfrm_selector it renders:
 * selectors that render alike (address ranges widened to one subnet,
 * marks and interface ids espd has no use for) are one espd policy, and
 * deleting one's entry leaves the other's. */
typedef struct {
	policy_dir_t dir;
	char *key;              /* sel_words() of charon's two selectors */
	linked_list_t *entries; /* pol_entry_t, best first */
} pol_t;

/* An SA this plugin installed (SPI in host order). */
typedef struct {
	host_t *src, *dst;
	uint32_t spi;
	uint32_t reqid;
	bool inbound;
	uint64_t seq;           /* this->sa_seq when added or moved */
} sa_rec_t;

/*
 * A change espd may have made although charon was told it failed: the
 * request went out and no answer came in time (espd slow, wedged or
 * gone; espd_request()'s -3). Put right once espd answers again, so
 * that espd holds no SA or policy charon does not know of:
 * - an SA: `state del` (its words, quoted, in @c sa_del);
 * - a policy: installed again as the plugin holds it then, or deleted
 *   if the plugin holds none on that selector.
 */
typedef struct {
	char *sa_del;           /* or NULL */
	char *pol_key;          /* pol_t.key, or NULL */
	policy_dir_t dir;
	time_t at;              /* not before (monotonic) */
	uint32_t wait;          /* seconds before the next try, doubling */
} fixup_t;

#define FIXUP_WAIT_MAX 64

/* A time-stamped key for the hold-offs. */
typedef struct {
	char *key;
	time_t at;
} stamp_t;

struct private_kernel_espd_ipsec_t {
	kernel_espd_ipsec_t public;
	char *path;
	espd_conn_t *conn;
	mutex_t *lock;          /* policies, sas, stamps */
	linked_list_t *policies;
	linked_list_t *sas;
	linked_list_t *stamps;
	linked_list_t *pending; /* stamp_t: invalid-spi events (JSON) to retry */
	linked_list_t *fixups;  /* fixup_t, oldest first */
	uint64_t sa_seq;        /* sa_rec_t.seq of the newest (atomic) */
	uint32_t invalid_spi_holdoff;
	uint32_t spi_min, spi_max; /* charon's spi_min/spi_max, as kernel-netlink */
	bool invalid_spi_recovery;
	pthread_t events;
	bool events_running;
	volatile bool stop;
};

/* ---- words ---------------------------------------------------------------- */

/* The address alone (no port), as espd's grammar wants it. */
static const char *
host_str(host_t *h, char *buf, size_t len)
{
	chunk_t a = h->get_address(h);

	if (inet_ntop(h->get_family(h), a.ptr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static void
host_word(espd_req_t *r, host_t *h)
{
	char b[INET6_ADDRSTRLEN];

	espd_req_word(r, host_str(h, b, sizeof(b)));
}

static const char *
proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	default: return NULL;
	}
}

static bool
icmp_proto(uint8_t p)
{
	return p == IPPROTO_ICMP || p == IPPROTO_ICMPV6;
}

/* Does @p ts leave its ports open? The whole range, or "opaque"
 * (from > to: fragments, ports unknown), which kernel-netlink installs as
 * a port mask of 0, any port. */
static bool
ports_any(uint16_t from, uint16_t to)
{
	return from > to || (from == 0 && to == 0xffff);
}

/* The protocol of a policy between @p src and @p dst: the more
 * restrictive of the two (either may be "any", 0), as kernel-netlink's
 * ts2selector takes it. */
static uint8_t
sel_proto(traffic_selector_t *src, traffic_selector_t *dst)
{
	return max(src->get_protocol(src), dst->get_protocol(dst));
}

/* sport/dport N or N-M; nothing for the whole range (or opaque). */
static void
port_words(espd_req_t *r, const char *name, uint16_t from, uint16_t to)
{
	if (ports_any(from, to))
		return;
	espd_req_word(r, name);
	if (from == to)
		espd_req_wordf(r, "%u", from);
	else
		espd_req_wordf(r, "%u-%u", from, to);
}

/* "src P dst P [proto X [sport ..] [dport ..] | [type T [code C]]]", the
 * protocol, ports and ICMP type from both selectors as kernel-netlink's
 * ts2selector takes them. A @p policy takes ICMP type and code ranges;
 * an SA's sel only single values (a range there is left open). */
static void
sel_words(espd_req_t *r, traffic_selector_t *src, traffic_selector_t *dst, bool policy)
{
	const bool ranges = policy;
	host_t *net;
	uint8_t len, proto = sel_proto(src, dst);
	const char *pn;
	char b[INET6_ADDRSTRLEN];

	src->to_subnet(src, &net, &len);
	espd_req_word(r, "src");
	espd_req_wordf(r, "%s/%u", host_str(net, b, sizeof(b)), len);
	net->destroy(net);
	dst->to_subnet(dst, &net, &len);
	espd_req_word(r, "dst");
	espd_req_wordf(r, "%s/%u", host_str(net, b, sizeof(b)), len);
	net->destroy(net);
	if (proto == 0)
		return;
	espd_req_word(r, "proto");
	pn = proto_name(proto);
	if (pn != NULL)
		espd_req_word(r, pn);
	else
		espd_req_wordf(r, "%u", proto);
	if (icmp_proto(proto)) {
		/* strongSwan keeps ICMP type and code in a "port" (type << 8 |
		 * code) of either selector: the one that narrows it, the larger
		 * if both do (kernel-netlink's max). */
		traffic_selector_t *ts = src;
		uint16_t f, t;

		if (ports_any(src->get_from_port(src), src->get_to_port(src)) ||
		    (!ports_any(dst->get_from_port(dst), dst->get_to_port(dst)) &&
		     dst->get_from_port(dst) > src->get_from_port(src)))
			ts = dst;
		f = ts->get_from_port(ts);
		t = ts->get_to_port(ts);
		if (ports_any(f, t))
			return;
		if ((f >> 8) == (t >> 8)) {
			uint8_t clo = f & 0xff, chi = t & 0xff;

			espd_req_word(r, "type");
			espd_req_wordf(r, "%u", f >> 8);
			if (clo == chi) {
				espd_req_word(r, "code");
				espd_req_wordf(r, "%u", clo);
			} else if (ranges && (clo != 0 || chi != 0xff)) {
				espd_req_word(r, "code");
				espd_req_wordf(r, "%u-%u", clo, chi);
			}
		} else if (ranges) {
			/* Several types: a policy takes the range (codes any). */
			espd_req_word(r, "type");
			espd_req_wordf(r, "%u-%u", f >> 8, t >> 8);
		}
		return;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP &&
	    proto != 33 && proto != 136)
		return;
	port_words(r, "sport", src->get_from_port(src), src->get_to_port(src));
	port_words(r, "dport", dst->get_from_port(dst), dst->get_to_port(dst));
}

static void
sa_id_words(espd_req_t *r, host_t *src, host_t *dst, uint32_t spi)
{
	espd_req_word(r, "src");
	host_word(r, src);
	espd_req_word(r, "dst");
	host_word(r, dst);
	espd_req_word(r, "proto");
	espd_req_word(r, "esp");
	espd_req_word(r, "spi");
	espd_req_wordf(r, "0x%08x", spi);
}

/* `state del` of SA @p spi from @p src to @p dst. */
static void
sa_del_words(espd_req_t *r, host_t *src, host_t *dst, uint32_t spi)
{
	espd_req_word(r, "state");
	espd_req_word(r, "del");
	sa_id_words(r, src, dst, spi);
}

static int
request(private_kernel_espd_ipsec_t *this, espd_req_t *r, json_t **out, const char *what)
{
	char err[512] = "";
	json_t *j = NULL;
	int rc = espd_request(this->conn, r, &j, err, sizeof(err));

	/* @p what NULL: the caller expects failures (an SA espd expired). */
	if (rc < 0 && what != NULL)
		DBG1(DBG_KNL, "espd: %s failed: %s", what, err);
	if (out != NULL)
		*out = j;
	else if (j != NULL)
		json_decref(j);
	return rc;
}

static void
fixup_destroy(fixup_t *f)
{
	free(f->sa_del);
	free(f->pol_key);
	free(f);
}

/* Queue @p f (taken); one policy fix-up per selector is enough. */
static void
fixup_add(private_kernel_espd_ipsec_t *this, fixup_t *f)
{
	enumerator_t *e;
	fixup_t *cur;
	bool dup = false;

	this->lock->lock(this->lock);
	e = this->fixups->create_enumerator(this->fixups);
	while (f->pol_key != NULL && !dup && e->enumerate(e, &cur))
		dup = cur->pol_key != NULL && cur->dir == f->dir && streq(cur->pol_key, f->pol_key);
	e->destroy(e);
	if (dup)
		fixup_destroy(f);
	else
		this->fixups->insert_last(this->fixups, f);
	this->lock->unlock(this->lock);
}

/* ---- SAs ---------------------------------------------------------------- */

static void
sa_rec_destroy(sa_rec_t *s)
{
	s->src->destroy(s->src);
	s->dst->destroy(s->dst);
	free(s);
}

static sa_rec_t *
sa_find(private_kernel_espd_ipsec_t *this, host_t *dst, uint32_t spi)
{
	enumerator_t *e = this->sas->create_enumerator(this->sas);
	sa_rec_t *s, *found = NULL;

	while (e->enumerate(e, &s))
		if (s->spi == spi && s->dst->ip_equals(s->dst, dst)) {
			found = s;
			break;
		}
	e->destroy(e);
	return found;
}

/* SA @p spi may be in espd although charon was told it is not (or was
 * told it is deleted): delete it once espd answers. */
static void
fixup_sa(private_kernel_espd_ipsec_t *this, host_t *src, host_t *dst, uint32_t spi)
{
	espd_req_t r = { 0 };
	fixup_t *f;

	sa_del_words(&r, src, dst, spi);
	INIT(f, .sa_del = r.oom ? NULL : strdup(r.buf));
	espd_req_free(&r);
	if (f->sa_del == NULL) {
		free(f);
		return;
	}
	DBG1(DBG_KNL, "espd: SA %.8x may be in espd: deleting it once espd answers", spi);
	fixup_add(this, f);
}

static void
sa_forget(private_kernel_espd_ipsec_t *this, host_t *dst, uint32_t spi)
{
	sa_rec_t *s;

	this->lock->lock(this->lock);
	s = sa_find(this, dst, spi);
	if (s != NULL) {
		this->sas->remove(this->sas, s, NULL);
		sa_rec_destroy(s);
	}
	this->lock->unlock(this->lock);
}

METHOD(kernel_ipsec_t, get_features, kernel_feature_t, private_kernel_espd_ipsec_t *this)
{
	/* KERNEL_ESP_V3_TFC says TFC-padded ESP can be received, which espd
	 * strips (RFC 4303 2.7); it sends none itself (add_sa). */
	return KERNEL_ESP_V3_TFC;
}

METHOD(kernel_ipsec_t, get_spi, status_t, private_kernel_espd_ipsec_t *this, host_t *src,
       host_t *dst, uint8_t protocol, uint32_t *spi)
{
	espd_req_t r = { 0 };
	json_t *j = NULL, *v;
	unsigned long s;

	if (protocol != IPPROTO_ESP)
		return NOT_SUPPORTED;
	espd_req_word(&r, "state");
	espd_req_word(&r, "allocspi");
	espd_req_word(&r, "src");
	host_word(&r, src);
	espd_req_word(&r, "dst");
	host_word(&r, dst);
	espd_req_word(&r, "proto");
	espd_req_word(&r, "esp");
	espd_req_word(&r, "min");
	espd_req_wordf(&r, "0x%08x", this->spi_min);
	espd_req_word(&r, "max");
	espd_req_wordf(&r, "0x%08x", this->spi_max);
	if (request(this, &r, &j, "state allocspi") < 0)
		return FAILED;
	v = json_object_get(j, "spi");
	if (!json_is_string(v)) {
		json_decref(j);
		DBG1(DBG_KNL, "espd: state allocspi gave no spi");
		return FAILED;
	}
	s = strtoul(json_string_value(v), NULL, 16);
	json_decref(j);
	*spi = htonl((uint32_t)s);
	DBG2(DBG_KNL, "espd: allocated SPI %.8x", (uint32_t)s);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, get_cpi, status_t, private_kernel_espd_ipsec_t *this, host_t *src,
       host_t *dst, uint16_t *cpi)
{
	return NOT_SUPPORTED;
}

/* ALGO words; FALSE (and a log line) for what espd lacks. */
static bool
algo_words(espd_req_t *r, kernel_ipsec_add_sa_t *d)
{
	const char *auth = NULL;
	unsigned int trunc = 0;

	switch (d->enc_alg) {
	case ENCR_AES_GCM_ICV8:
	case ENCR_AES_GCM_ICV12:
	case ENCR_AES_GCM_ICV16:
		espd_req_word(r, "aead");
		espd_req_word(r, "rfc4106(gcm(aes))");
		espd_req_hex(r, d->enc_key.ptr, d->enc_key.len);
		espd_req_word(r, d->enc_alg == ENCR_AES_GCM_ICV8 ? "64" :
				 d->enc_alg == ENCR_AES_GCM_ICV12 ? "96" : "128");
		return true;
	case ENCR_CHACHA20_POLY1305:
		espd_req_word(r, "aead");
		espd_req_word(r, "rfc7539esp(chacha20,poly1305)");
		espd_req_hex(r, d->enc_key.ptr, d->enc_key.len);
		espd_req_word(r, "128");
		return true;
	case ENCR_AES_CBC:
	case ENCR_NULL:
		break;
	default:
		DBG1(DBG_KNL, "espd: encryption algorithm %N not supported by espd",
		     encryption_algorithm_names, d->enc_alg);
		return false;
	}
	switch (d->int_alg) {
	case AUTH_HMAC_SHA1_96: auth = "hmac(sha1)"; trunc = 96; break;
	case AUTH_HMAC_SHA2_256_128: auth = "hmac(sha256)"; trunc = 128; break;
	case AUTH_HMAC_SHA2_384_192: auth = "hmac(sha384)"; trunc = 192; break;
	case AUTH_HMAC_SHA2_512_256: auth = "hmac(sha512)"; trunc = 256; break;
	default:
		DBG1(DBG_KNL, "espd: integrity algorithm %N not supported by espd",
		     integrity_algorithm_names, d->int_alg);
		return false;
	}
	espd_req_word(r, "enc");
	espd_req_word(r, d->enc_alg == ENCR_NULL ? "cipher_null" : "cbc(aes)");
	espd_req_hex(r, d->enc_key.ptr, d->enc_key.len);
	espd_req_word(r, "auth-trunc");
	espd_req_word(r, auth);
	espd_req_hex(r, d->int_key.ptr, d->int_key.len);
	espd_req_wordf(r, "%u", trunc);
	return true;
}

static void
limit_word(espd_req_t *r, const char *name, uint64_t v)
{
	if (v == 0)
		return;
	espd_req_word(r, "limit");
	espd_req_word(r, name);
	espd_req_wordf(r, "%llu", (unsigned long long)v);
}

/* The SA's selector, when charon gave one selector each way. */
static void
sa_sel_words(espd_req_t *r, linked_list_t *src_ts, linked_list_t *dst_ts)
{
	traffic_selector_t *s, *d;

	if (src_ts == NULL || dst_ts == NULL || src_ts->get_count(src_ts) != 1 ||
	    dst_ts->get_count(dst_ts) != 1)
		return;
	src_ts->get_first(src_ts, (void **)&s);
	dst_ts->get_first(dst_ts, (void **)&d);
	espd_req_word(r, "sel");
	sel_words(r, s, d, false);
}

/* The words of `state add` (or, @p update, `state update`) for add_sa.
 * @return false when the algorithm is not espd's (r freed). */
static bool
add_sa_words(espd_req_t *r_out, kernel_ipsec_sa_id_t *id, kernel_ipsec_add_sa_t *d,
	     bool update)
{
	espd_req_t r = { 0 };
	uint32_t spi = ntohl(id->spi);
	lifetime_cfg_t *lt = d->lifetime;

	espd_req_word(&r, "state");
	espd_req_word(&r, update ? "update" : "add");
	sa_id_words(&r, id->src, id->dst, spi);
	espd_req_word(&r, "dir");
	espd_req_word(&r, d->inbound ? "in" : "out");
	espd_req_word(&r, "reqid");
	espd_req_wordf(&r, "%u", d->reqid);
	espd_req_word(&r, "mode");
	espd_req_word(&r, d->mode == MODE_TUNNEL ? "tunnel" : "transport");
	if (d->inbound) {
		espd_req_word(&r, "replay-window");
		espd_req_wordf(&r, "%u", d->replay_window);
	}
	if (d->esn)
		espd_req_word(&r, "flag"), espd_req_word(&r, "esn");
	if (!d->copy_ecn)
		espd_req_word(&r, "flag"), espd_req_word(&r, "noecn");
	if (d->inbound && (d->copy_dscp == DSCP_COPY_YES || d->copy_dscp == DSCP_COPY_IN_ONLY))
		espd_req_word(&r, "flag"), espd_req_word(&r, "decap-dscp");
	if (!d->inbound && (d->copy_dscp == DSCP_COPY_NO || d->copy_dscp == DSCP_COPY_IN_ONLY))
		espd_req_word(&r, "flag"), espd_req_word(&r, "dont-encap-dscp");
	if (!algo_words(&r, d)) {
		espd_req_free(&r);
		return false;
	}
	if (d->encap) {
		espd_req_word(&r, "encap");
		espd_req_word(&r, "espinudp");
		espd_req_wordf(&r, "%u", id->src->get_port(id->src));
		espd_req_wordf(&r, "%u", id->dst->get_port(id->dst));
		espd_req_word(&r, "0.0.0.0");
	}
	sa_sel_words(&r, d->src_ts, d->dst_ts);
	if (lt != NULL) {
		limit_word(&r, "time-soft", lt->time.rekey);
		limit_word(&r, "time-hard", lt->time.life);
		limit_word(&r, "byte-soft", lt->bytes.rekey);
		limit_word(&r, "byte-hard", lt->bytes.life);
		limit_word(&r, "packet-soft", lt->packets.rekey);
		limit_word(&r, "packet-hard", lt->packets.life);
	}
	*r_out = r;
	return true;
}

METHOD(kernel_ipsec_t, add_sa, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_sa_id_t *id, kernel_ipsec_add_sa_t *d)
{
	espd_req_t r;
	uint32_t spi = ntohl(id->spi);
	sa_rec_t *rec;
	int rc;

	if (id->proto != IPPROTO_ESP || d->ipcomp != IPCOMP_NONE) {
		DBG1(DBG_KNL, "espd: only ESP without IPComp");
		return NOT_SUPPORTED;
	}
	if (d->mode != MODE_TUNNEL && d->mode != MODE_TRANSPORT) {
		DBG1(DBG_KNL, "espd: mode %N not supported", ipsec_mode_names, d->mode);
		return NOT_SUPPORTED;
	}
	if (!add_sa_words(&r, id, d, d->update))
		return NOT_SUPPORTED;
	if (d->tfc)
		DBG1(DBG_KNL, "espd: sending TFC padding is not supported, SA added without it");
	rc = request(this, &r, NULL, d->update ? NULL : "state add");
	if (rc == -1 && d->update) {
		/* The SPI get_spi reserved is gone (allocspi-expires passed, or
		 * espd restarted): add the SA anew, as kernel-netlink does when
		 * its allocated SPI is not found any more. */
		DBG1(DBG_KNL, "espd: SPI %.8x no longer reserved, adding the SA", spi);
		if (!add_sa_words(&r, id, d, false))
			return NOT_SUPPORTED;
		rc = request(this, &r, NULL, "state add");
	} else if (rc < 0 && d->update) {
		DBG1(DBG_KNL, "espd: state update of SPI %.8x: espd unreachable", spi);
	}
	if (rc == -3)
		fixup_sa(this, id->src, id->dst, spi);
	if (rc < 0)
		return FAILED;
	DBG2(DBG_KNL, "espd: added %s SA %.8x %H -> %H", d->inbound ? "inbound" : "outbound",
	     spi, id->src, id->dst);

	INIT(rec,
		.src = id->src->clone(id->src),
		.dst = id->dst->clone(id->dst),
		.spi = spi,
		.reqid = d->reqid,
		.inbound = d->inbound,
	);
	this->lock->lock(this->lock);
	rec->seq = __atomic_add_fetch(&this->sa_seq, 1, __ATOMIC_SEQ_CST);
	this->sas->insert_last(this->sas, rec);
	this->lock->unlock(this->lock);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, update_sa, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_sa_id_t *id, kernel_ipsec_update_sa_t *d)
{
	espd_req_t r = { 0 };
	uint32_t spi = ntohl(id->spi);
	sa_rec_t *rec;

	espd_req_word(&r, "state");
	espd_req_word(&r, "migrate");
	sa_id_words(&r, id->src, id->dst, spi);
	espd_req_word(&r, "new-src");
	host_word(&r, d->new_src);
	espd_req_word(&r, "new-dst");
	host_word(&r, d->new_dst);
	espd_req_word(&r, "encap");
	if (d->new_encap) {
		espd_req_word(&r, "espinudp");
		espd_req_wordf(&r, "%u", d->new_src->get_port(d->new_src));
		espd_req_wordf(&r, "%u", d->new_dst->get_port(d->new_dst));
		espd_req_word(&r, "0.0.0.0");
	} else {
		espd_req_word(&r, "none");
	}
	if (request(this, &r, NULL, "state migrate") < 0) {
		/* charon goes on as if the SA had moved (child_sa.c ignores
		 * this failure) and will delete it at its new address: what
		 * espd holds at the old one would stay, keys and all. So it
		 * goes now, or once espd answers. */
		fixup_sa(this, id->src, id->dst, spi);
		sa_forget(this, id->dst, spi);
		return FAILED;
	}
	DBG2(DBG_KNL, "espd: migrated SA %.8x to %#H -> %#H", spi, d->new_src, d->new_dst);
	this->lock->lock(this->lock);
	rec = sa_find(this, id->dst, spi);
	if (rec != NULL) {
		rec->src->destroy(rec->src);
		rec->dst->destroy(rec->dst);
		rec->src = d->new_src->clone(d->new_src);
		rec->dst = d->new_dst->clone(d->new_dst);
		/* A state list from before has it at the old dst. */
		rec->seq = __atomic_add_fetch(&this->sa_seq, 1, __ATOMIC_SEQ_CST);
	}
	this->lock->unlock(this->lock);
	return SUCCESS;
}

/* `state get`: current bytes, packets, use_time (UNIX seconds, 0 never). */
static status_t
sa_current(private_kernel_espd_ipsec_t *this, host_t *src, host_t *dst, uint32_t spi,
	   uint64_t *bytes, uint64_t *packets, double *use)
{
	espd_req_t r = { 0 };
	json_t *j = NULL, *cur;

	espd_req_word(&r, "state");
	espd_req_word(&r, "get");
	sa_id_words(&r, src, dst, spi);
	if (request(this, &r, &j, NULL) < 0)
		return NOT_FOUND;
	cur = json_object_get(j, "current");
	if (!json_is_object(cur)) {
		json_decref(j);
		return FAILED;
	}
	if (bytes)
		*bytes = (uint64_t)json_integer_value(json_object_get(cur, "bytes"));
	if (packets)
		*packets = (uint64_t)json_integer_value(json_object_get(cur, "packets"));
	if (use)
		*use = json_number_value(json_object_get(cur, "use_time"));
	json_decref(j);
	return SUCCESS;
}

/* espd's use time (UNIX) on charon's monotonic clock, 0 for never. */
static time_t
mono_of(double use)
{
	time_t now = time(NULL), mono = time_monotonic(NULL);

	if (use <= 0)
		return 0;
	if ((time_t)use >= now)
		return mono;
	return mono - (now - (time_t)use);
}

METHOD(kernel_ipsec_t, query_sa, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_sa_id_t *id, kernel_ipsec_query_sa_t *d, uint64_t *bytes,
       uint64_t *packets, time_t *t)
{
	double use = 0;
	status_t s = sa_current(this, id->src, id->dst, ntohl(id->spi), bytes, packets, &use);

	if (s == SUCCESS && t != NULL)
		*t = mono_of(use);
	return s;
}

METHOD(kernel_ipsec_t, del_sa, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_sa_id_t *id, kernel_ipsec_del_sa_t *d)
{
	espd_req_t r = { 0 };
	uint32_t spi = ntohl(id->spi);
	int rc;

	sa_del_words(&r, id->src, id->dst, spi);
	/* After a hard expiry espd has removed the SA already: not an error. */
	rc = request(this, &r, NULL, NULL);
	sa_forget(this, id->dst, spi);
	if (rc == -3)
		fixup_sa(this, id->src, id->dst, spi); /* charon has it gone */
	if (rc == -2) {
		DBG1(DBG_KNL, "espd: deleting SA %.8x: espd unreachable", spi);
		return FAILED;
	}
	DBG2(DBG_KNL, "espd: deleted SA %.8x", spi);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, flush_sas, status_t, private_kernel_espd_ipsec_t *this)
{
	status_t st = SUCCESS;
	sa_rec_t *s;

	this->lock->lock(this->lock);
	while (this->sas->remove_first(this->sas, (void **)&s) == SUCCESS) {
		espd_req_t r = { 0 };
		int rc;

		sa_del_words(&r, s->src, s->dst, s->spi);
		rc = request(this, &r, NULL, NULL);
		/* As del_sa(): sent but unanswered, deleted again once espd
		 * answers; espd unreachable, a failure charon hears of. */
		if (rc == -3)
			fixup_sa(this, s->src, s->dst, s->spi);
		if (rc == -2)
			st = FAILED;
		sa_rec_destroy(s);
	}
	this->lock->unlock(this->lock);
	return st;
}

/* ---- policies ------------------------------------------------------------- */

static const char *
dir_word(policy_dir_t dir)
{
	return dir == POLICY_IN ? "in" : dir == POLICY_OUT ? "out" : "fwd";
}

/* kernel-netlink's ts2ports(): the port and mask XFRM would get for
 * @p ts's range (host order), a mask of the bits from and to share. */
static uint16_t
port_mask(traffic_selector_t *ts, uint16_t *port)
{
	uint16_t from = ts->get_from_port(ts), to = ts->get_to_port(ts), mask = 0;
	int bit;

	if (from == to) {
		*port = from;
		return 0xffff;
	}
	for (bit = 15; bit >= 0 && (from & 1u << bit) == (to & 1u << bit); bit--)
		mask |= (uint16_t)(1u << bit);
	*port = from & mask;
	return mask;
}

/* The mask's leading ones (kernel-netlink's port_mask_bits()). */
static unsigned int
mask_bits(uint16_t mask)
{
	unsigned int n = 0;

	while (n < 16 && (mask & 0x8000u >> n))
		n++;
	return n;
}

/* The port bits of a policy's selector as kernel-netlink counts them for
 * its priority: each side's mask, and for ICMP the type and code that
 * ts2selector() puts there (a mask of all ones where one is set). */
static unsigned int
port_bits(traffic_selector_t *src, traffic_selector_t *dst)
{
	uint16_t sport, dport, smask = port_mask(src, &sport), dmask = port_mask(dst, &dport);

	if (icmp_proto(sel_proto(src, dst)) && (sport || dport)) {
		uint16_t port = max(sport, dport);

		smask = port >> 8 ? 0xffff : 0;
		dmask = port & 0xff ? 0xffff : 0;
	}
	return mask_bits(smask) + mask_bits(dmask);
}

/* kernel-netlink's automatic priorities, so policies order as they would
 * in Linux. */
static uint32_t
auto_prio(kernel_ipsec_policy_id_t *id, kernel_ipsec_manage_policy_t *d)
{
	uint32_t p = PRIO_BASE;
	host_t *net;
	uint8_t ls, ld;

	switch (d->prio) {
	case POLICY_PRIORITY_FALLBACK:
		p += PRIO_BASE;
		/* fall through */
	case POLICY_PRIORITY_ROUTED:
	case POLICY_PRIORITY_DEFAULT:
		p += PRIO_BASE;
		/* fall through */
	case POLICY_PRIORITY_PASS:
		break;
	}
	id->src_ts->to_subnet(id->src_ts, &net, &ls);
	net->destroy(net);
	id->dst_ts->to_subnet(id->dst_ts, &net, &ld);
	net->destroy(net);
	p -= (ls + ld) * 512;
	p -= sel_proto(id->src_ts, id->dst_ts) ? 256 : 0;
	p -= port_bits(id->src_ts, id->dst_ts) * 4;
	p -= d->prio != POLICY_PRIORITY_ROUTED;
	return p;
}

/* The priority espd gets: a manual one, or the automatic one. */
static uint32_t
pol_prio(kernel_ipsec_policy_id_t *id, kernel_ipsec_manage_policy_t *d)
{
	return d->manual_prio ? d->manual_prio : auto_prio(id, d);
}

/*
 * Does entry @p e go before @p cur? kernel-netlink's order (add_policy's
 * insert): the lower priority first; among equal manual priorities the
 * lower automatic one; among equals, an entry with a reqid before one
 * without (a drop shunt never hides an SA's policy), otherwise the newest
 * first (an SA's policy replaces its trap's).
 */
static bool
entry_before(const pol_entry_t *e, const pol_entry_t *cur)
{
	if (e->prio != cur->prio)
		return e->prio < cur->prio;
	if (e->auto_prio != cur->auto_prio)
		return e->auto_prio < cur->auto_prio;
	return cur->reqid == 0 || e->reqid != 0;
}

static void
pol_entry_destroy(pol_entry_t *e)
{
	DESTROY_IF(e->src);
	DESTROY_IF(e->dst);
	free(e);
}

static void
pol_destroy(pol_t *p)
{
	free(p->key);
	p->entries->destroy_function(p->entries, (void *)pol_entry_destroy);
	free(p);
}

/* The words espd is told a policy's selector in (NULL: out of memory). */
static char *
pol_key(traffic_selector_t *src, traffic_selector_t *dst)
{
	espd_req_t r = { 0 };
	char *key;

	sel_words(&r, src, dst, true);
	key = r.oom || r.buf == NULL ? NULL : strdup(r.buf);
	espd_req_free(&r);
	return key;
}

static pol_t *
pol_find_key(private_kernel_espd_ipsec_t *this, const char *key, policy_dir_t dir)
{
	enumerator_t *e = this->policies->create_enumerator(this->policies);
	pol_t *p, *found = NULL;

	while (e->enumerate(e, &p))
		if (p->dir == dir && streq(p->key, key)) {
			found = p;
			break;
		}
	e->destroy(e);
	return found;
}

static pol_t *
pol_find(private_kernel_espd_ipsec_t *this, kernel_ipsec_policy_id_t *id)
{
	char *key = pol_key(id->src_ts, id->dst_ts);
	pol_t *found = key != NULL ? pol_find_key(this, key, id->dir) : NULL;

	free(key);
	return found;
}

/* Queue a fix-up of the policy on @p key and @p dir (fixup_t). */
static void
fixup_pol(private_kernel_espd_ipsec_t *this, const char *key, policy_dir_t dir)
{
	fixup_t *f;

	INIT(f, .pol_key = strdup(key), .dir = dir);
	if (f->pol_key == NULL) {
		free(f);
		return;
	}
	DBG1(DBG_KNL, "espd: policy %s %s: no answer, setting it again once espd answers", key,
	     dir_word(dir));
	fixup_add(this, f);
}

/*
 * `policy update` (or `del`) so that espd holds the best entry of @p p;
 * @p p NULL (or @p del): no policy on selector @p key in @p dir. A
 * request that went out unanswered is queued to be done again
 * (fixup_pol()): espd may hold what charon is told failed.
 */
static const char *
pol_words(espd_req_t *r, const char *key, policy_dir_t dir, pol_t *p, bool del)
{
	pol_entry_t *e = NULL;

	espd_req_word(r, "policy");
	if (del || p == NULL || p->entries->get_first(p->entries, (void **)&e) != SUCCESS) {
		espd_req_word(r, "del");
		espd_req_text(r, key);
		espd_req_word(r, "dir");
		espd_req_word(r, dir_word(dir));
		return "policy del";
	}
	espd_req_word(r, "update");
	espd_req_text(r, key);
	espd_req_word(r, "dir");
	espd_req_word(r, dir_word(dir));
	espd_req_word(r, "priority");
	espd_req_wordf(r, "%u", e->prio);
	if (e->type == POLICY_DROP) {
		espd_req_word(r, "action");
		espd_req_word(r, "block");
	} else if (e->type == POLICY_IPSEC) {
		espd_req_word(r, "tmpl");
		espd_req_word(r, "src");
		host_word(r, e->src);
		espd_req_word(r, "dst");
		host_word(r, e->dst);
		espd_req_word(r, "proto");
		espd_req_word(r, "esp");
		espd_req_word(r, "reqid");
		espd_req_wordf(r, "%u", e->reqid);
		espd_req_word(r, "mode");
		espd_req_word(r, e->mode == MODE_TRANSPORT ? "transport" : "tunnel");
	}
	return "policy update";
}

static int
pol_send(private_kernel_espd_ipsec_t *this, const char *key, policy_dir_t dir, pol_t *p,
	 bool del)
{
	espd_req_t r = { 0 };
	const char *what = pol_words(&r, key, dir, p, del);
	int rc = request(this, &r, NULL, what);

	if (rc == -3)
		fixup_pol(this, key, dir);
	return rc;
}

static int
pol_install(private_kernel_espd_ipsec_t *this, pol_t *p, bool del)
{
	return pol_send(this, p->key, p->dir, p, del);
}

/* Would entries @p a and @p b give espd the same policy? (A rekey adds
 * its new SA's entry, then deletes the old SA's: the same words twice,
 * and each `policy update` rebuilds espd's SPD.) */
static bool
entry_alike(const pol_entry_t *a, const pol_entry_t *b)
{
	if (a == NULL || b == NULL || a->type != b->type || a->prio != b->prio)
		return false;
	if (a->type != POLICY_IPSEC)
		return true;
	return a->reqid == b->reqid && a->mode == b->mode && a->src && b->src &&
	       a->src->ip_equals(a->src, b->src) && a->dst && b->dst &&
	       a->dst->ip_equals(a->dst, b->dst);
}

static bool
entry_same(pol_entry_t *e, kernel_ipsec_manage_policy_t *d, uint32_t prio)
{
	if (e->type != d->type || e->prio != prio)
		return false;
	if (e->type != POLICY_IPSEC)
		return true;
	return e->reqid == d->sa->reqid && e->src && d->src && e->src->ip_equals(e->src, d->src) &&
	       e->dst && d->dst && e->dst->ip_equals(e->dst, d->dst);
}

METHOD(kernel_ipsec_t, add_policy, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_policy_id_t *id, kernel_ipsec_manage_policy_t *d)
{
	pol_entry_t *e, *cur, *best_before = NULL, *best_after = NULL;
	enumerator_t *en;
	pol_t *p;
	status_t st = SUCCESS;
	bool placed = false;
	char *key;

	INIT(e,
		.type = d->type,
		.prio = pol_prio(id, d),
		.auto_prio = auto_prio(id, d),
		.src = d->src ? d->src->clone(d->src) : NULL,
		.dst = d->dst ? d->dst->clone(d->dst) : NULL,
		.reqid = d->sa ? d->sa->reqid : 0,
		.mode = d->sa ? d->sa->mode : MODE_TUNNEL,
	);
	key = pol_key(id->src_ts, id->dst_ts);
	if (key == NULL) {
		pol_entry_destroy(e);
		return FAILED;
	}
	this->lock->lock(this->lock);
	p = pol_find_key(this, key, id->dir);
	if (p != NULL) {
		free(key);
	} else {
		INIT(p,
			.dir = id->dir,
			.key = key,
			.entries = linked_list_create(),
		);
		this->policies->insert_last(this->policies, p);
	}
	p->entries->get_first(p->entries, (void **)&best_before);
	/* Best first, in kernel-netlink's order (entry_before()). */
	en = p->entries->create_enumerator(p->entries);
	while (en->enumerate(en, &cur))
		if (entry_before(e, cur)) {
			p->entries->insert_before(p->entries, en, e);
			placed = true;
			break;
		}
	en->destroy(en);
	if (!placed)
		p->entries->insert_last(p->entries, e);
	p->entries->get_first(p->entries, (void **)&best_after);
	if (best_before != best_after && !entry_alike(best_before, best_after) &&
	    pol_install(this, p, false) < 0) {
		p->entries->remove(p->entries, e, NULL);
		pol_entry_destroy(e);
		if (p->entries->get_count(p->entries) == 0) {
			this->policies->remove(this->policies, p, NULL);
			pol_destroy(p);
		}
		st = FAILED;
	}
	this->lock->unlock(this->lock);
	if (st == SUCCESS)
		DBG2(DBG_KNL, "espd: policy %R === %R %N installed", id->src_ts, id->dst_ts,
		     policy_dir_names, id->dir);
	return st;
}

METHOD(kernel_ipsec_t, del_policy, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_policy_id_t *id, kernel_ipsec_manage_policy_t *d)
{
	pol_entry_t *cur, *best_before = NULL, *best_after = NULL, *gone = NULL;
	enumerator_t *en;
	uint32_t prio = pol_prio(id, d);
	pol_t *p;
	status_t st = SUCCESS;

	this->lock->lock(this->lock);
	p = pol_find(this, id);
	if (p == NULL) {
		this->lock->unlock(this->lock);
		return NOT_FOUND;
	}
	p->entries->get_first(p->entries, (void **)&best_before);
	en = p->entries->create_enumerator(p->entries);
	while (en->enumerate(en, &cur))
		if (entry_same(cur, d, prio)) {
			p->entries->remove_at(p->entries, en);
			gone = cur;
			break;
		}
	en->destroy(en);
	if (gone == NULL) {
		this->lock->unlock(this->lock);
		return NOT_FOUND;
	}
	if (p->entries->get_count(p->entries) == 0) {
		if (pol_install(this, p, true) == -2)
			st = FAILED;
		this->policies->remove(this->policies, p, NULL);
		pol_destroy(p);
	} else {
		p->entries->get_first(p->entries, (void **)&best_after);
		if (best_after != best_before && !entry_alike(best_before, best_after) &&
		    pol_install(this, p, false) < 0)
			st = FAILED;
	}
	pol_entry_destroy(gone);
	this->lock->unlock(this->lock);
	return st;
}

METHOD(kernel_ipsec_t, query_policy, status_t, private_kernel_espd_ipsec_t *this,
       kernel_ipsec_policy_id_t *id, kernel_ipsec_query_policy_t *d, time_t *use_time)
{
	pol_entry_t *e = NULL;
	linked_list_t *ids = linked_list_create();
	enumerator_t *en;
	sa_rec_t *s, *c;
	double best = 0;
	pol_t *p;
	bool in = id->dir != POLICY_OUT;

	/* A policy's last use is that of the newest use among its SAs. */
	this->lock->lock(this->lock);
	p = pol_find(this, id);
	if (p == NULL || p->entries->get_first(p->entries, (void **)&e) != SUCCESS ||
	    e->type != POLICY_IPSEC) {
		this->lock->unlock(this->lock);
		ids->destroy(ids);
		return NOT_FOUND;
	}
	en = this->sas->create_enumerator(this->sas);
	while (en->enumerate(en, &s))
		if (s->reqid == e->reqid && s->inbound == in) {
			INIT(c, .src = s->src->clone(s->src), .dst = s->dst->clone(s->dst),
			     .spi = s->spi);
			ids->insert_last(ids, c);
		}
	en->destroy(en);
	this->lock->unlock(this->lock);

	en = ids->create_enumerator(ids);
	while (en->enumerate(en, &c)) {
		double use = 0;

		if (sa_current(this, c->src, c->dst, c->spi, NULL, NULL, &use) == SUCCESS &&
		    use > best)
			best = use;
	}
	en->destroy(en);
	ids->destroy_function(ids, (void *)sa_rec_destroy);
	*use_time = mono_of(best);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, flush_policies, status_t, private_kernel_espd_ipsec_t *this)
{
	pol_t *p;

	this->lock->lock(this->lock);
	while (this->policies->remove_first(this->policies, (void **)&p) == SUCCESS) {
		pol_install(this, p, true);
		pol_destroy(p);
	}
	this->lock->unlock(this->lock);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, bypass_socket, bool, private_kernel_espd_ipsec_t *this, int fd,
       int family)
{
	/* espd never sees charon's sockets: what leaves the TAP skips the SPD. */
	return TRUE;
}

METHOD(kernel_ipsec_t, enable_udp_decap, bool, private_kernel_espd_ipsec_t *this, int fd,
       int family, uint16_t port)
{
	/* espd takes ESP-in-UDP off the wire itself. */
	return TRUE;
}

/* ---- events --------------------------------------------------------------- */

/* A hold-off: TRUE (and the stamp renewed) when @p key may go again. */
static bool
stamp_ok(private_kernel_espd_ipsec_t *this, const char *key, uint32_t holdoff)
{
	enumerator_t *e;
	stamp_t *s, *found = NULL;
	time_t now = time_monotonic(NULL);
	bool ok = true;

	this->lock->lock(this->lock);
	e = this->stamps->create_enumerator(this->stamps);
	while (e->enumerate(e, &s)) {
		if (now - s->at > max(60, (time_t)holdoff)) {
			this->stamps->remove_at(this->stamps, e);
			free(s->key);
			free(s);
			continue;
		}
		if (streq(s->key, key))
			found = s;
	}
	e->destroy(e);
	if (found != NULL && now - found->at < (time_t)holdoff) {
		ok = false;
	} else if (found != NULL) {
		found->at = now;
	} else {
		INIT(s, .key = strdup(key), .at = now);
		this->stamps->insert_last(this->stamps, s);
	}
	this->lock->unlock(this->lock);
	return ok;
}

static host_t *
jhost(json_t *o, const char *k, uint16_t port)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? host_create_from_string((char *)json_string_value(v), port) :
				   NULL;
}

static uint32_t
jspi(json_t *o)
{
	json_t *v = json_object_get(o, "spi");

	return json_is_string(v) ? (uint32_t)strtoul(json_string_value(v), NULL, 16) : 0;
}

static uint8_t
jproto(json_t *v)
{
	static const struct { const char *n; uint8_t p; } names[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
		{ "ipv6-icmp", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP }, { "esp", IPPROTO_ESP },
		{ "gre", IPPROTO_GRE }, { "udplite", 136 }, { "dccp", 33 },
	};
	size_t i;

	if (json_is_integer(v))
		return (uint8_t)json_integer_value(v);
	if (!json_is_string(v))
		return 0;
	for (i = 0; i < countof(names); i++)
		if (streq(names[i].n, json_string_value(v)))
			return names[i].p;
	return (uint8_t)atoi(json_string_value(v));
}

/* A port, ICMP type or code as espd prints it: a number, or a range
 * "N-M" (view.c). @return whether @p v was one, with *lo and *hi set. */
static bool
jrange(json_t *v, uint16_t *lo, uint16_t *hi)
{
	unsigned int a, b;

	if (json_is_integer(v)) {
		*lo = *hi = (uint16_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && sscanf(json_string_value(v), "%u-%u", &a, &b) == 2 &&
	    a <= b && b <= 0xffff) {
		*lo = (uint16_t)a;
		*hi = (uint16_t)b;
		return true;
	}
	return false;
}

/* A traffic selector from an ACQUIRE's `sel` (or `pkt`): its source side
 * when @p src, else its destination side. */
static traffic_selector_t *
ts_of(json_t *sel, bool src)
{
	json_t *a = json_object_get(sel, src ? "src" : "dst");
	json_t *port = json_object_get(sel, src ? "sport" : "dport");
	uint8_t proto = jproto(json_object_get(sel, "proto"));
	uint16_t from = 0, to = 0xffff;
	traffic_selector_t *ts;
	host_t *net;
	int bits = -1;
	char buf[64];

	if (!json_is_string(a))
		return NULL;
	snprintf(buf, sizeof(buf), "%s", json_string_value(a));
	if (strchr(buf, '/') != NULL) {
		net = host_create_from_subnet(buf, &bits);
	} else {
		net = host_create_from_string(buf, 0);
		if (net != NULL)
			bits = net->get_family(net) == AF_INET ? 32 : 128;
	}
	if (net == NULL)
		return NULL;
	if (icmp_proto(proto)) {
		uint16_t tlo, thi, clo, chi;

		/* Type and code travel in the source "port" (RFC 4301 4.4.1.1). */
		if (src && jrange(json_object_get(sel, "type"), &tlo, &thi)) {
			from = (uint16_t)(tlo << 8);
			to = (uint16_t)(thi << 8 | 0xff);
			if (tlo == thi && jrange(json_object_get(sel, "code"), &clo, &chi)) {
				from |= clo;
				to = (uint16_t)(tlo << 8 | chi);
			}
		}
	} else {
		(void)jrange(port, &from, &to);
	}
	ts = traffic_selector_create_from_subnet(net, (uint8_t)bits, proto, from, to);
	return ts;
}

/* Is the policy espd numbered @p index (or, index 0, any policy of
 * @p reqid) a `pfp` one? Asked of espd each time: ACQUIREs of a flow
 * come once per flow, not per packet. */
static bool
policy_pfp(private_kernel_espd_ipsec_t *this, uint64_t index, uint32_t reqid)
{
	espd_req_t r = { 0 };
	json_t *j = NULL, *p;
	size_t i;
	bool pfp = false;

	espd_req_word(&r, "policy");
	espd_req_word(&r, "list");
	if (request(this, &r, &j, "policy list") < 0)
		return false;
	json_array_foreach(j, i, p) {
		json_t *t = json_object_get(p, "tmpl");
		json_t *pf = json_object_get(p, "pfp");
		bool is_pfp = json_is_array(pf) && json_array_size(pf) > 0;

		if (index != 0 && (uint64_t)json_integer_value(json_object_get(p, "index")) == index) {
			pfp = is_pfp;
			break;
		}
		if (index == 0 && json_is_object(t) && is_pfp &&
		    (uint32_t)json_integer_value(json_object_get(t, "reqid")) == reqid) {
			pfp = true;
			break;
		}
	}
	json_decref(j);
	return pfp;
}

/* The trap whose CHILD_SA has @p reqid: its peer and child configs
 * (references the caller owns). */
static bool
trap_of_reqid(uint32_t reqid, peer_cfg_t **peer, child_cfg_t **child)
{
	enumerator_t *e = charon->traps->create_enumerator(charon->traps);
	peer_cfg_t *pc;
	child_sa_t *sa;
	bool found = false;

	while (e->enumerate(e, &pc, &sa))
		if (sa->get_reqid(sa) == reqid) {
			*peer = pc->get_ref(pc);
			*child = sa->get_config(sa)->get_ref(sa->get_config(sa));
			found = true;
			break;
		}
	e->destroy(e);
	return found;
}

typedef struct {
	peer_cfg_t *peer;
	child_cfg_t *child;     /* NULL: the IKE_SA only */
} initiate_t;

static job_requeue_t
initiate_run(initiate_t *in)
{
	charon->controller->initiate(charon->controller, in->peer, in->child, NULL, NULL, 0,
				     FALSE);
	in->peer = NULL;
	in->child = NULL;
	return JOB_REQUEUE_NONE;
}

static void
initiate_destroy(initiate_t *in)
{
	DESTROY_IF(in->peer);
	DESTROY_IF(in->child);
	free(in);
}

static void
initiate_queue(peer_cfg_t *peer, child_cfg_t *child)
{
	initiate_t *in;

	INIT(in, .peer = peer, .child = child);
	lib->processor->queue_job(lib->processor,
				  (job_t *)callback_job_create_with_prio(
					  (callback_job_cb_t)initiate_run, in,
					  (callback_job_cleanup_t)initiate_destroy, NULL,
					  JOB_PRIO_MEDIUM));
}

/* A CHILD_SA for exactly the flow @p sel of a `pfp` policy. */
static void
initiate_flow(private_kernel_espd_ipsec_t *this, uint32_t reqid, json_t *sel)
{
	child_cfg_create_t cd = { 0 };
	traffic_selector_t *lts, *rts;
	peer_cfg_t *peer;
	child_cfg_t *trap, *flow;
	lifetime_cfg_t *lt;
	enumerator_t *e;
	linked_list_t *props;
	proposal_t *prop;
	char *key;
	unsigned int i;

	/* No hold-off of our own: espd raises one ACQUIRE per flow until the
	 * flow's SA comes or its larval state expires. */
	key = json_dumps(sel, JSON_SORT_KEYS | JSON_COMPACT);
	if (key == NULL)
		return;
	if (!trap_of_reqid(reqid, &peer, &trap)) {
		DBG1(DBG_KNL, "espd: ACQUIRE for flow %s: no trap with reqid %u", key, reqid);
		free(key);
		return;
	}
	lts = ts_of(sel, true);
	rts = ts_of(sel, false);
	if (lts == NULL || rts == NULL) {
		DBG1(DBG_KNL, "espd: ACQUIRE with an unusable sel %s", key);
		DESTROY_IF(lts);
		DESTROY_IF(rts);
		peer->destroy(peer);
		trap->destroy(trap);
		free(key);
		return;
	}
	for (i = 0; i < 16; i++)
		if (trap->has_option(trap, 1u << i))
			cd.options |= 1u << i;
	lt = trap->get_lifetime(trap, TRUE); /* jitter applied: flows rekey apart */
	cd.lifetime = *lt;
	cd.lifetime.time.jitter = cd.lifetime.bytes.jitter = cd.lifetime.packets.jitter = 0;
	free(lt);
	cd.reqid = reqid;
	cd.mode = trap->get_mode(trap);
	cd.tfc = trap->get_tfc(trap);
	cd.priority = trap->get_manual_prio(trap);
	cd.interface = trap->get_interface(trap);
	cd.inactivity = trap->get_inactivity(trap);
	cd.start_action = ACTION_NONE;
	cd.dpd_action = trap->get_dpd_action(trap);
	cd.close_action = trap->get_close_action(trap);
	cd.updown = trap->get_updown(trap);
	cd.hw_offload = trap->get_hw_offload(trap);
	cd.copy_dscp = trap->get_copy_dscp(trap);
	cd.mark_in = trap->get_mark(trap, TRUE);
	cd.mark_out = trap->get_mark(trap, FALSE);
	cd.set_mark_in = trap->get_set_mark(trap, TRUE);
	cd.set_mark_out = trap->get_set_mark(trap, FALSE);
	cd.if_id_in = trap->get_if_id(trap, TRUE);
	cd.if_id_out = trap->get_if_id(trap, FALSE);
	flow = child_cfg_create(trap->get_name(trap), &cd);
	flow->set_replay_window(flow, trap->get_replay_window(trap));
	props = trap->get_proposals(trap, FALSE);
	e = props->create_enumerator(props);
	while (e->enumerate(e, &prop))
		flow->add_proposal(flow, prop);
	e->destroy(e);
	props->destroy(props);
	flow->add_traffic_selector(flow, TRUE, lts);
	flow->add_traffic_selector(flow, FALSE, rts);
	trap->destroy(trap);
	DBG1(DBG_KNL, "espd: ACQUIRE for flow %s (reqid %u): starting its own CHILD_SA", key,
	     reqid);
	free(key);
	initiate_queue(peer, flow);
}

static void
on_acquire(private_kernel_espd_ipsec_t *this, json_t *ev)
{
	uint32_t reqid = (uint32_t)json_integer_value(json_object_get(ev, "reqid"));
	uint64_t index = (uint64_t)json_integer_value(json_object_get(ev, "policy_index"));
	json_t *sel = json_object_get(ev, "sel"), *pkt = json_object_get(ev, "pkt");
	kernel_acquire_data_t data = { 0 };

	if (json_is_object(sel) && policy_pfp(this, index, reqid)) {
		initiate_flow(this, reqid, sel);
		return;
	}
	/* As kernel-netlink does: the packet's selectors, for charon to
	 * propose first (RFC 7296 2.9). */
	if (json_is_object(pkt)) {
		data.src = ts_of(pkt, true);
		data.dst = ts_of(pkt, false);
	}
	DBG1(DBG_KNL, "espd: ACQUIRE for reqid %u", reqid);
	charon->kernel->acquire(charon->kernel, reqid, &data);
	DESTROY_IF(data.src);
	DESTROY_IF(data.dst);
}

static void
on_expire(private_kernel_espd_ipsec_t *this, json_t *ev)
{
	bool hard = json_is_true(json_object_get(ev, "hard"));
	uint32_t spi = jspi(ev);
	host_t *dst = jhost(ev, "dst", 0);

	if (dst == NULL)
		return;
	DBG1(DBG_KNL, "espd: %s expire of SA %.8x", hard ? "hard" : "soft", spi);
	if (hard)
		sa_forget(this, dst, spi);
	charon->kernel->expire(charon->kernel, IPPROTO_ESP, htonl(spi), dst, hard);
	dst->destroy(dst);
}

static void
on_mapping(private_kernel_espd_ipsec_t *this, json_t *ev)
{
	json_t *port = json_object_get(ev, "new_sport");
	host_t *dst = jhost(ev, "dst", 0);
	host_t *remote = jhost(ev, "new_src", (uint16_t)json_integer_value(port));
	uint32_t spi = jspi(ev);

	if (dst != NULL && remote != NULL) {
		DBG1(DBG_KNL, "espd: NAT mapping of SA %.8x changed to %#H", spi, remote);
		charon->kernel->mapping(charon->kernel, IPPROTO_ESP, htonl(spi), dst, remote);
	}
	DESTROY_IF(dst);
	DESTROY_IF(remote);
}

/* Is there an IKE_SA with @p peer (any state)? */
static bool
have_ike_sa(host_t *peer)
{
	enumerator_t *e = charon->ike_sa_manager->create_enumerator(charon->ike_sa_manager, TRUE);
	ike_sa_t *ike;
	bool found = false;

	while (e->enumerate(e, &ike)) {
		host_t *o = ike->get_other_host(ike);

		if (o != NULL && o->ip_equals(o, peer) && ike->get_state(ike) != IKE_DELETING &&
		    ike->get_state(ike) != IKE_DESTROYING) {
			found = true;
			break;
		}
	}
	e->destroy(e);
	return found;
}

/* Start the recovery for an invalid-spi event; FALSE when no trap covers
 * its peer (yet: swanctl may still be loading the traps after a restart). */
static bool
recover(private_kernel_espd_ipsec_t *this, json_t *ev)
{
	host_t *src = jhost(ev, "src", 0);
	enumerator_t *e;
	peer_cfg_t *pc, *peer = NULL;
	child_cfg_t *child = NULL;
	child_sa_t *sa;
	uint32_t reqid = 0;
	char key[80], b[INET6_ADDRSTRLEN];

	if (src == NULL)
		return true;
	snprintf(key, sizeof(key), "invalid-spi %s", host_str(src, b, sizeof(b)));
	if (have_ike_sa(src)) {
		src->destroy(src);
		return true;
	}
	/* A trap whose peer is @p src. */
	e = charon->traps->create_enumerator(charon->traps);
	while (e->enumerate(e, &pc, &sa)) {
		ike_cfg_t *ike = pc->get_ike_cfg(pc);
		host_t *other = ike->resolve_other(ike, src->get_family(src));
		bool match = other != NULL && other->ip_equals(other, src);

		DESTROY_IF(other);
		if (match) {
			peer = pc->get_ref(pc);
			child = sa->get_config(sa)->get_ref(sa->get_config(sa));
			reqid = sa->get_reqid(sa);
			break;
		}
	}
	e->destroy(e);
	if (peer == NULL) {
		src->destroy(src);
		return false;
	}
	/* The hold-off counts from a recovery started, not from an event
	 * that found no trap. */
	if (!stamp_ok(this, key, this->invalid_spi_holdoff)) {
		peer->destroy(peer);
		child->destroy(child);
		src->destroy(src);
		return true;
	}
	/* A pfp trap gets its flows from ACQUIREs on the new IKE_SA; any
	 * other its CHILD_SA at once. (Asked of espd once the trap manager's
	 * lock is released.) */
	if (policy_pfp(this, 0, reqid)) {
		child->destroy(child);
		child = NULL;
	}
	DBG1(DBG_KNL, "espd: invalid SPI %.8x from %H: the peer lost its SAs, "
	     "starting a new IKE_SA", jspi(ev), src);
	initiate_queue(peer, child);
	src->destroy(src);
	return true;
}

/* An event that found no trap is tried again for this long (espd limits
 * invalid-spi events to a few per second). */
#define PENDING_S 5

static void
on_invalid_spi(private_kernel_espd_ipsec_t *this, json_t *ev)
{
	stamp_t *p;

	if (!this->invalid_spi_recovery || recover(this, ev))
		return;
	INIT(p, .key = json_dumps(ev, JSON_COMPACT), .at = time_monotonic(NULL));
	this->lock->lock(this->lock);
	if (p->key != NULL && this->pending->get_count(this->pending) < 64) {
		this->pending->insert_last(this->pending, p);
		p = NULL;
	}
	this->lock->unlock(this->lock);
	if (p != NULL) {
		free(p->key);
		free(p);
	}
}

/* Every poll tick: the pending invalid-spi events, once more. */
static void
retry_pending(private_kernel_espd_ipsec_t *this)
{
	time_t now = time_monotonic(NULL);
	linked_list_t *todo = linked_list_create();
	stamp_t *p;

	this->lock->lock(this->lock);
	while (this->pending->remove_first(this->pending, (void **)&p) == SUCCESS)
		todo->insert_last(todo, p);
	this->lock->unlock(this->lock);
	while (todo->remove_first(todo, (void **)&p) == SUCCESS) {
		json_t *ev = json_loads(p->key, 0, NULL);
		bool done = ev == NULL || now - p->at > PENDING_S || recover(this, ev);

		json_decref(ev);
		if (done) {
			free(p->key);
			free(p);
			continue;
		}
		this->lock->lock(this->lock);
		this->pending->insert_last(this->pending, p);
		this->lock->unlock(this->lock);
	}
	todo->destroy(todo);
}

/* Has SA @p sa (an element of `state list`) reached a soft limit, as
 * espd counts them (events.c: bytes and packets by the workers, time
 * from add_time)? */
static bool
soft_reached(json_t *sa, time_t now)
{
	json_t *lt = json_object_get(sa, "lifetime"), *cur = json_object_get(sa, "current");
	json_int_t v;

	v = json_integer_value(json_object_get(lt, "byte-soft"));
	if (v > 0 && json_integer_value(json_object_get(cur, "bytes")) >= v)
		return true;
	v = json_integer_value(json_object_get(lt, "packet-soft"));
	if (v > 0 && json_integer_value(json_object_get(cur, "packets")) >= v)
		return true;
	v = json_integer_value(json_object_get(lt, "time-soft"));
	return v > 0 && json_number_value(json_object_get(cur, "add_time")) + (double)v <= now;
}

/* An expire that charon is to hear of (SPI in host order). */
typedef struct {
	host_t *dst;
	uint32_t spi;
	bool hard;
} lost_t;

#define SA_KEY_LEN (INET6_ADDRSTRLEN + 12)

/* An SA's name in catch_up()'s table: "dst spi", the address as
 * host_str() writes it (espd's and charon's forms alike). */
static char *
sa_key(char buf[SA_KEY_LEN], host_t *dst, uint32_t spi)
{
	char b[INET6_ADDRSTRLEN];

	snprintf(buf, SA_KEY_LEN, "%s %08x", host_str(dst, b, sizeof(b)), spi);
	return buf;
}

/*
 * Events espd emitted that never reached us: their ids skip (espd spent
 * them on a monitor that was slow, MonitorEventsDropped). An ACQUIRE, a
 * mapping and an invalid SPI come again with a later packet; an expire
 * never does, and a CHILD_SA whose expires are lost is never rekeyed.
 * So ask espd where our SAs stand, as DESIGN.md says a consumer that
 * sees the gap does, and tell charon what the lost expires told: hard
 * for an SA espd no longer holds, soft for one past a soft limit (a
 * second soft expire only rekeys what is being rekeyed).
 */
static void
catch_up(private_kernel_espd_ipsec_t *this)
{
	linked_list_t *todo = linked_list_create(), *keys = linked_list_create();
	hashtable_t *held = hashtable_create(hashtable_hash_str, hashtable_equals_str, 1024);
	espd_req_t r = { 0 };
	enumerator_t *en;
	json_t *j = NULL, *e;
	time_t now = time(NULL);
	uint64_t listed;
	char *k;
	lost_t *l;
	sa_rec_t *s;
	size_t i;

	/* SAs added (or moved) after this may be missing from the list
	 * only because they are newer: they are left alone. (Read without
	 * the lock: a charon thread may hold it across a request.) */
	listed = __atomic_load_n(&this->sa_seq, __ATOMIC_SEQ_CST);
	espd_req_word(&r, "state");
	espd_req_word(&r, "list");
	if (request(this, &r, &j, "state list") < 0 || !json_is_array(j))
		goto out;
	/* espd's SAs by sa_key(). */
	json_array_foreach(j, i, e) {
		host_t *dst = jhost(e, "dst", 0);

		if (dst == NULL)
			continue;
		k = malloc(SA_KEY_LEN);
		if (k != NULL) {
			keys->insert_last(keys, sa_key(k, dst, jspi(e)));
			held->put(held, k, e);
		}
		dst->destroy(dst);
	}
	this->lock->lock(this->lock);
	en = this->sas->create_enumerator(this->sas);
	while (en->enumerate(en, &s)) {
		char key[SA_KEY_LEN];
		json_t *found;

		if (s->seq > listed)
			continue;
		found = held->get(held, sa_key(key, s->dst, s->spi));
		if (found != NULL && !soft_reached(found, now))
			continue;
		INIT(l, .dst = s->dst->clone(s->dst), .spi = s->spi, .hard = found == NULL);
		todo->insert_last(todo, l);
		if (found == NULL) {
			this->sas->remove_at(this->sas, en);
			sa_rec_destroy(s);
		}
	}
	en->destroy(en);
	this->lock->unlock(this->lock);
	while (todo->remove_first(todo, (void **)&l) == SUCCESS) {
		DBG1(DBG_KNL, "espd: SA %.8x: %s expire lost to a gap in espd's events", l->spi,
		     l->hard ? "hard" : "soft");
		charon->kernel->expire(charon->kernel, IPPROTO_ESP, htonl(l->spi), l->dst, l->hard);
		l->dst->destroy(l->dst);
		free(l);
	}
out:
	json_decref(j);
	held->destroy(held);
	keys->destroy_function(keys, free);
	todo->destroy(todo);
}

/* The fix-ups (fixup_t), in order, while espd answers; what it does not
 * answer stays queued for the next round. */
static void
run_fixups(private_kernel_espd_ipsec_t *this)
{
	linked_list_t *todo = linked_list_create();
	time_t now = time_monotonic(NULL);
	enumerator_t *e;
	fixup_t *f;
	int rc = 0;

	this->lock->lock(this->lock);
	e = this->fixups->create_enumerator(this->fixups);
	while (e->enumerate(e, &f))
		if (f->at <= now) {
			this->fixups->remove_at(this->fixups, e);
			todo->insert_last(todo, f);
		}
	e->destroy(e);
	this->lock->unlock(this->lock);
	while (todo->remove_first(todo, (void **)&f) == SUCCESS) {
		espd_req_t r = { 0 };

		if (rc >= -1 && f->sa_del != NULL) {
			/* Done on any answer ("no such SA" included). */
			espd_req_text(&r, f->sa_del);
			rc = request(this, &r, NULL, NULL);
		} else if (rc >= -1) {
			/* Under the lock, so that charon's own change to the
			 * policy cannot overtake it with older words. */
			this->lock->lock(this->lock);
			rc = request(this, &r, NULL,
				     pol_words(&r, f->pol_key, f->dir,
					       pol_find_key(this, f->pol_key, f->dir), false));
			this->lock->unlock(this->lock);
		}
		if (rc < -1) {
			/* espd is not answering: later, backing off (an SPD
			 * rebuild slower than the timeout must not be asked
			 * for again and again). */
			f->wait = f->wait ? min(f->wait * 2, FIXUP_WAIT_MAX) : 1;
			f->at = now + f->wait;
			fixup_add(this, f);
			continue;
		}
		fixup_destroy(f);
	}
	todo->destroy(todo);
}

/* One event line. @p last is the id of the one before on this monitor
 * connection (0: none yet); a gap in the ids means events were lost. */
static void
on_event(private_kernel_espd_ipsec_t *this, const char *line, uint64_t *last)
{
	json_error_t je;
	json_t *ev = json_loads(line, 0, &je);
	json_t *t, *id;

	if (ev == NULL) {
		DBG1(DBG_KNL, "espd: unreadable event: %.80s", line);
		return;
	}
	id = json_object_get(ev, "id");
	if (json_is_integer(id)) {
		uint64_t n = (uint64_t)json_integer_value(id);

		if (*last != 0 && n > *last + 1) {
			DBG1(DBG_KNL, "espd: %llu events lost (ids %llu..%llu): catching up",
			     (unsigned long long)(n - *last - 1), (unsigned long long)*last + 1,
			     (unsigned long long)n - 1);
			catch_up(this);
		}
		*last = n;
	}
	t = json_object_get(ev, "event");
	if (json_is_string(t)) {
		const char *n = json_string_value(t);

		if (streq(n, "acquire"))
			on_acquire(this, ev);
		else if (streq(n, "expire"))
			on_expire(this, ev);
		else if (streq(n, "mapping"))
			on_mapping(this, ev);
		else if (streq(n, "invalid-spi"))
			on_invalid_spi(this, ev);
	}
	json_decref(ev);
}

/* espd came back: install our policies again, and have charon rekey
 * every CHILD_SA whose SAs espd lost: those added before espd went away
 * (sa_rec_t.seq up to @p lost). One added since went to the new espd. */
static void
resync(private_kernel_espd_ipsec_t *this, uint64_t lost)
{
	enumerator_t *e;
	pol_t *p;
	sa_rec_t *s;
	linked_list_t *gone = linked_list_create();

	DBG1(DBG_KNL, "espd: espd restarted: installing policies again, rekeying SAs");
	this->lock->lock(this->lock);
	e = this->policies->create_enumerator(this->policies);
	while (e->enumerate(e, &p))
		pol_install(this, p, false);
	e->destroy(e);
	e = this->sas->create_enumerator(this->sas);
	while (e->enumerate(e, &s))
		if (s->seq <= lost) {
			this->sas->remove_at(this->sas, e);
			gone->insert_last(gone, s);
		}
	e->destroy(e);
	this->lock->unlock(this->lock);
	while (gone->remove_first(gone, (void **)&s) == SUCCESS) {
		if (!s->inbound)
			charon->kernel->expire(charon->kernel, IPPROTO_ESP, htonl(s->spi), s->dst,
					       FALSE);
		sa_rec_destroy(s);
	}
	gone->destroy(gone);
}

static void *
events_run(void *arg)
{
	private_kernel_espd_ipsec_t *this = arg;
	bool was_up = false, said = false;
	char err[256], *buf = malloc(1 << 16);
	uint64_t lost = 0; /* sa_seq when espd went away */
	size_t cap = 1 << 16;

	while (!this->stop && buf != NULL) {
		/* Every kind, those we ignore too: ids count every event
		 * espd emits, so only a monitor of all of them can tell a
		 * gap (catch_up()) from events it never asked for. */
		int fd = espd_monitor_open(this->path,
					   "acquire expire invalid-spi mapping policy state", err,
					   sizeof(err));
		size_t len = 0;
		uint64_t last_id = 0;

		if (fd < 0 && strstr(err, "refused") != NULL)
			fd = espd_monitor_open(this->path, "acquire expire invalid-spi policy state",
					       err, sizeof(err));
		if (fd < 0) {
			if (!said)
				DBG1(DBG_KNL, "espd: %s (retrying)", err);
			said = true;
			usleep(100 * 1000);
			continue;
		}
		DBG1(DBG_KNL, "espd: listening to espd's events on %s", this->path);
		said = false;
		if (was_up)
			resync(this, lost);
		was_up = true;
		while (!this->stop) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			char *nl;
			ssize_t n;

			retry_pending(this);
			run_fixups(this);
			if (poll(&pfd, 1, 100) <= 0)
				continue;
			if (len + 1 >= cap) {
				char *b = realloc(buf, cap * 2);

				if (b == NULL)
					break;
				buf = b;
				cap *= 2;
			}
			n = recv(fd, buf + len, cap - len - 1, 0);
			if (n <= 0) {
				DBG1(DBG_KNL, "espd: espd went away; waiting for it");
				lost = __atomic_load_n(&this->sa_seq, __ATOMIC_SEQ_CST);
				break;
			}
			len += (size_t)n;
			buf[len] = '\0';
			while ((nl = memchr(buf, '\n', len)) != NULL) {
				*nl = '\0';
				on_event(this, buf, &last_id);
				len -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, len);
			}
		}
		close(fd);
	}
	free(buf);
	return NULL;
}

METHOD(kernel_ipsec_t, destroy, void, private_kernel_espd_ipsec_t *this)
{
	stamp_t *s;

	this->stop = true;
	if (this->events_running)
		pthread_join(this->events, NULL);
	this->policies->destroy_function(this->policies, (void *)pol_destroy);
	this->sas->destroy_function(this->sas, (void *)sa_rec_destroy);
	while (this->stamps->remove_first(this->stamps, (void **)&s) == SUCCESS) {
		free(s->key);
		free(s);
	}
	this->stamps->destroy(this->stamps);
	while (this->pending->remove_first(this->pending, (void **)&s) == SUCCESS) {
		free(s->key);
		free(s);
	}
	this->pending->destroy(this->pending);
	this->fixups->destroy_function(this->fixups, (void *)fixup_destroy);
	this->lock->destroy(this->lock);
	espd_conn_destroy(this->conn);
	free(this->path);
	free(this);
}

kernel_espd_ipsec_t *
kernel_espd_ipsec_create(void)
{
	private_kernel_espd_ipsec_t *this;
	int timeout;

	INIT(this,
		.public = {
			.interface = {
				.get_features = _get_features,
				.get_spi = _get_spi,
				.get_cpi = _get_cpi,
				.add_sa = _add_sa,
				.update_sa = _update_sa,
				.query_sa = _query_sa,
				.del_sa = _del_sa,
				.flush_sas = _flush_sas,
				.add_policy = _add_policy,
				.query_policy = _query_policy,
				.del_policy = _del_policy,
				.flush_policies = _flush_policies,
				.bypass_socket = _bypass_socket,
				.enable_udp_decap = _enable_udp_decap,
				.destroy = _destroy,
			},
		},
		.path = strdup(lib->settings->get_str(lib->settings,
				"%s.plugins.kernel-espd.socket", DEFAULT_SOCKET, lib->ns)),
		.lock = mutex_create(MUTEX_TYPE_RECURSIVE),
		.policies = linked_list_create(),
		.sas = linked_list_create(),
		.stamps = linked_list_create(),
		.pending = linked_list_create(),
		.fixups = linked_list_create(),
		.invalid_spi_holdoff = lib->settings->get_int(lib->settings,
				"%s.plugins.kernel-espd.invalid_spi_holdoff", 2, lib->ns),
		.invalid_spi_recovery = lib->settings->get_bool(lib->settings,
				"%s.plugins.kernel-espd.invalid_spi_recovery", TRUE, lib->ns),
	);
	/* charon's SPI range (kernel-netlink reads the same settings); espd
	 * refuses 0-255 (RFC 4303 2.1). */
	this->spi_min = (uint32_t)lib->settings->get_int(lib->settings, "%s.spi_min", SPI_MIN,
							 lib->ns);
	this->spi_max = (uint32_t)lib->settings->get_int(lib->settings, "%s.spi_max", SPI_MAX,
							 lib->ns);
	if (this->spi_min > this->spi_max) {
		uint32_t t = this->spi_min;

		this->spi_min = this->spi_max;
		this->spi_max = t;
	}
	this->spi_min = max(this->spi_min, 256u);
	this->spi_max = max(this->spi_max, this->spi_min);
	timeout = lib->settings->get_int(lib->settings, "%s.plugins.kernel-espd.timeout",
					 DEFAULT_TIMEOUT_S, lib->ns);
	this->conn = espd_conn_create(this->path, timeout > 0 ? (unsigned int)timeout :
					DEFAULT_TIMEOUT_S);
	if (this->conn == NULL || pthread_create(&this->events, NULL, events_run, this) != 0) {
		DBG1(DBG_KNL, "espd: cannot start");
		destroy(this);
		return NULL;
	}
	this->events_running = true;
	DBG1(DBG_KNL, "espd: kernel-espd drives espd at %s", this->path);
	return &this->public;
}
