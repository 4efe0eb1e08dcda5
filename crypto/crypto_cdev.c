/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK cryptodev backend (lookaside): the crypto of a burst is handed
 * to one cryptodev, a vdev such as crypto_aesni_mb or crypto_openssl, or a
 * hardware device, through rte_cryptodev_enqueue_burst() and
 * rte_cryptodev_dequeue_burst().
 *
 * - One device per process, opened by crypto_cdev_open() after EAL, with
 *   one queue pair per engine; an engine is one lcore's, so no queue pair
 *   is ever shared.
 * - Sessions per SA. A cryptodev session has one direction and, for an
 *   AEAD, one AAD length, while a crypto_session serves both directions
 *   and both AAD lengths (8, or 12 with ESN: RFC 4106 5, RFC 7634 2.1), so
 *   an SA holds up to four rte sessions. They live in a small struct of
 *   ours; the session's engine field (crypto_session.eng) holds a pointer
 *   to it, and it needs no priv bytes at all.
 * - Two ways to use it. The burst call is synchronous: the ops go in,
 *   and the call polls the queue pair until every one is back (tests,
 *   lcore 0). crypto_submit_burst() and crypto_collect_burst() are the
 *   workers' way (dataplane/esp_async.c): ops go in, the worker goes on,
 *   and takes them back in submission order later. Either way a full
 *   device queue is counted (enq_busy) and costs a wait, not an op; and
 *   never more ops go on a queue pair than it has room for
 *   (dev_enqueue()). The workers hold their RCU quiescent report while
 *   ops are out, so an SA's sessions are freed only after its last op
 *   came back.
 * - Where the op sits: an rte_crypto_op from a pool, with our private area
 *   behind the symmetric op: the IV or AEAD nonce (the device reads it at
 *   a fixed offset), a copy of the AAD and the digest buffer. The digest
 *   never goes straight into the packet: some PMDs write the whole digest
 *   whatever the truncation (crypto_openssl's HMAC_Final), and on encrypt
 *   the ICV overlaps the ESN high bits that the hash reads.
 * - CBC's IV (crypto.h: E_K(IV) before use, NIST SP 800-38A appendix C):
 *   as in the IPsec-MB backend, encrypting IV || plaintext in CBC under a
 *   zero IV gives E_K(IV) || CBC_{E_K(IV)}(plaintext), written in place
 *   where ESP wants it. So the IV costs one more block, not another op. An
 *   IV that is not right before its ciphertext (never so in ESP) cannot go
 *   that way and is refused (CRYPTO_ERROR).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_crypto.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "crypto/crypto.h"
#include "crypto/crypto_priv.h"

#define CDEV_CHUNK 64          /* ops per enqueue */
#define CDEV_QP_DESC 2048      /* descriptors per queue pair */
#define CDEV_QPS_MAX 128
#define CDEV_SESS_POOLS_MAX 256
#define CDEV_SESS_PER_POOL 1024
#define CDEV_OP_CACHE 64
#define CDEV_FIFO 1024         /* async ops submitted, not yet collected */
#define CDEV_PENDING 0xff      /* crypto_op.status while on the device */

/* Behind each rte_crypto_op's symmetric op, which leaves it only 8-byte
 * aligned: no wider alignment asked (UBSan holds us to it). */
struct cdev_op_priv {
	struct crypto_op *op;
	uint8_t enc;     /* encrypt (the digest goes back into the packet) */
	uint8_t async;   /* crypto_submit_burst's, not a synchronous burst's */
	uint8_t iv[16];  /* AEAD: salt || explicit IV; CBC: IV */
	uint8_t aad[16]; /* AEAD: 8 or 12 bytes used */
	uint8_t digest[CRYPTO_ICV_MAX];
};

#define CDEV_PRIV_OFF (sizeof(struct rte_crypto_op) + \
		       sizeof(struct rte_crypto_sym_op))
#define CDEV_IV_OFF (CDEV_PRIV_OFF + offsetof(struct cdev_op_priv, iv))
#define CDEV_AAD_OFF (CDEV_PRIV_OFF + offsetof(struct cdev_op_priv, aad))
#define CDEV_DIGEST_OFF (CDEV_PRIV_OFF + offsetof(struct cdev_op_priv, digest))

_Static_assert(CDEV_PRIV_OFF % alignof(struct cdev_op_priv) == 0,
	       "the op's private area must be aligned for struct cdev_op_priv");

/* An SA's rte sessions: [0 decrypt, 1 encrypt][0 AAD 8, 1 AAD 12]. Only
 * [dir][0] for the non-AEADs. */
struct cdev_sess {
	void *s[2][2];
	uint8_t dev_id;
};

_Static_assert(sizeof(struct cdev_sess *) <= sizeof(((struct crypto_session *)0)->eng),
	       "the pointer must fit crypto_session.eng");

/* One queue pair and the scratch an engine needs. */
struct cdev_engine {
	uint16_t qp;
	struct crypto_engine_stats st;
	struct rte_crypto_op *cops[CDEV_CHUNK];
	struct rte_crypto_op *done[CDEV_CHUNK];
	/* Async: the ops in submission order; [head, tail) not collected. */
	struct crypto_op *fifo[CDEV_FIFO];
	uint32_t head, tail;
	uint32_t on_dev; /* ops enqueued and not yet dequeued */
	/* Stand-in mbufs for ops that name no mbuf (crypto_op.mbuf NULL):
	 * one segment over the op's bytes. */
	struct rte_mbuf shadow[CDEV_CHUNK];
};

/* The device, opened once on the control plane. */
static struct {
	bool open;
	uint8_t dev_id;
	uint16_t nb_qps;
	char name[RTE_CRYPTODEV_NAME_MAX_LEN];
	char driver[48];
	uint32_t sess_size;
	uint32_t qp_room; /* ops a queue pair surely holds: descriptors - 1 */
	struct rte_mempool *op_pool;
	struct rte_mempool *sess_pool[CDEV_SESS_POOLS_MAX];
	unsigned int n_sess_pools;
	bool qp_used[CDEV_QPS_MAX];
	unsigned long live_sessions;
} dev;

static unsigned int open_seq;

static int
sess_pool_add(void)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;

	if (dev.n_sess_pools == CDEV_SESS_POOLS_MAX)
		return -ENOSPC;
	snprintf(name, sizeof(name), "cdev_s%u_%u", open_seq, dev.n_sess_pools);
	mp = rte_cryptodev_sym_session_pool_create(name, CDEV_SESS_PER_POOL,
						   dev.sess_size, 0, 0,
						   (int)rte_socket_id());
	if (mp == NULL)
		return -ENOMEM;
	dev.sess_pool[dev.n_sess_pools++] = mp;
	return 0;
}

int
crypto_cdev_open(const char *name, uint16_t nb_qps, uint32_t nb_desc)
{
	struct rte_cryptodev_config conf = {
		.socket_id = (int)rte_socket_id(),
		.nb_queue_pairs = nb_qps,
		.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO |
			      RTE_CRYPTODEV_FF_SECURITY,
	};
	struct rte_cryptodev_qp_conf qc = {
		.nb_descriptors = nb_desc != 0 ? nb_desc : CDEV_QP_DESC,
	};
	struct rte_cryptodev_info info;
	char pname[RTE_MEMPOOL_NAMESIZE];
	unsigned int nb_ops;
	int id, rc;
	uint16_t q;

	if (dev.open)
		return -EBUSY;
	if (name == NULL || nb_qps == 0 || nb_qps > CDEV_QPS_MAX)
		return -EINVAL;
	id = rte_cryptodev_get_dev_id(name);
	if (id < 0) {
		uint16_t port;

		if (rte_eth_dev_get_port_by_name(name, &port) == 0)
			fprintf(stderr, "espd: --crypto-dev %s: that is a network port, not a cryptodev (e.g. --vdev crypto_aesni_mb0)\n",
				name);
		else
			fprintf(stderr, "espd: --crypto-dev %s: no such cryptodev (give it to EAL, e.g. --vdev %s)\n",
				name, name);
		return -ENODEV;
	}
	rte_cryptodev_info_get((uint8_t)id, &info);
	if (!(info.feature_flags & RTE_CRYPTODEV_FF_SYMMETRIC_CRYPTO)) {
		fprintf(stderr, "espd: --crypto-dev %s: no symmetric crypto\n", name);
		return -ENOTSUP;
	}
	if (info.max_nb_queue_pairs != 0 && info.max_nb_queue_pairs < nb_qps) {
		fprintf(stderr, "espd: --crypto-dev %s: %u queue pairs needed (one per lcore), the device has %u\n",
			name, nb_qps, info.max_nb_queue_pairs);
		return -ENOSPC;
	}
	memset(&dev, 0, sizeof(dev));
	dev.dev_id = (uint8_t)id;
	dev.nb_qps = nb_qps;
	snprintf(dev.name, sizeof(dev.name), "%s", name);
	snprintf(dev.driver, sizeof(dev.driver), "%s",
		 info.driver_name != NULL ? info.driver_name : "?");
	dev.sess_size = rte_cryptodev_sym_get_private_session_size(dev.dev_id);
	/* A ring of that many descriptors holds one less. */
	dev.qp_room = qc.nb_descriptors - 1;
	open_seq++;

	rc = rte_cryptodev_configure(dev.dev_id, &conf);
	if (rc < 0) {
		fprintf(stderr, "espd: --crypto-dev %s: configure: %s\n", name,
			strerror(-rc));
		return rc;
	}
	rc = sess_pool_add();
	if (rc < 0)
		goto err_pools;
	qc.mp_session = dev.sess_pool[0];
	for (q = 0; q < nb_qps; q++) {
		rc = rte_cryptodev_queue_pair_setup(dev.dev_id, q, &qc,
						    (int)rte_socket_id());
		if (rc < 0) {
			fprintf(stderr, "espd: --crypto-dev %s: queue pair %u: %s\n",
				name, q, strerror(-rc));
			goto err_pools;
		}
	}
	/* Enough for every queue pair's asynchronous window (CDEV_FIFO)
	 * and a synchronous chunk, plus the lcore caches. */
	nb_ops = (unsigned int)nb_qps * (CDEV_FIFO + CDEV_CHUNK) +
		 (rte_lcore_count() + 1) * CDEV_OP_CACHE * 2;
	snprintf(pname, sizeof(pname), "cdev_op%u", open_seq);
	dev.op_pool = rte_crypto_op_pool_create(pname,
						RTE_CRYPTO_OP_TYPE_SYMMETRIC,
						nb_ops, CDEV_OP_CACHE,
						sizeof(struct cdev_op_priv),
						(int)rte_socket_id());
	if (dev.op_pool == NULL) {
		rc = -ENOMEM;
		goto err_pools;
	}
	rc = rte_cryptodev_start(dev.dev_id);
	if (rc < 0) {
		fprintf(stderr, "espd: --crypto-dev %s: start: %s\n", name,
			strerror(-rc));
		goto err_pools;
	}
	dev.open = true;
	return 0;

err_pools:
	rte_mempool_free(dev.op_pool);
	while (dev.n_sess_pools > 0)
		rte_mempool_free(dev.sess_pool[--dev.n_sess_pools]);
	memset(&dev, 0, sizeof(dev));
	return rc < 0 ? rc : -EIO;
}

/*
 * crypto_scheduler closes its workers when it is closed itself, but EAL's
 * cleanup removes vdevs in the order given, workers first, and the
 * scheduler then closes devices that are gone (a crash in DPDK 22.11). So
 * detach them while all are alive. Its API lives in the PMD, which EAL
 * loaded as a plugin: found with dlsym, not linked.
 */
static void
scheduler_detach_workers(void)
{
	int (*get)(uint8_t, uint8_t *);
	int (*detach)(uint8_t, uint8_t);
	uint8_t w[RTE_CRYPTO_MAX_DEVS];
	void *h;
	int n, i;

	if (strcmp(dev.driver, "crypto_scheduler") != 0)
		return;
	h = dlopen("librte_crypto_scheduler.so.23", RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL)
		return;
	get = (int (*)(uint8_t, uint8_t *))dlsym(h, "rte_cryptodev_scheduler_workers_get");
	detach = (int (*)(uint8_t, uint8_t))dlsym(h, "rte_cryptodev_scheduler_worker_detach");
	if (get != NULL && detach != NULL) {
		n = get(dev.dev_id, w);
		for (i = 0; i < n; i++)
			detach(dev.dev_id, w[i]);
	}
	dlclose(h);
}

int
crypto_cdev_close(void)
{
	unsigned int i;

	if (!dev.open)
		return 0;
	for (i = 0; i < CDEV_QPS_MAX; i++)
		if (dev.qp_used[i])
			return -EBUSY;
	if (dev.live_sessions != 0)
		return -EBUSY;
	rte_cryptodev_stop(dev.dev_id);
	scheduler_detach_workers();
	rte_mempool_free(dev.op_pool);
	for (i = 0; i < dev.n_sess_pools; i++)
		rte_mempool_free(dev.sess_pool[i]);
	memset(&dev, 0, sizeof(dev));
	return 0;
}

const char *
crypto_cdev_name(void)
{
	return dev.open ? dev.name : NULL;
}

/* ---- capabilities ------------------------------------------------------- */

static const struct rte_cryptodev_symmetric_capability *
cap_get(enum rte_crypto_sym_xform_type type, int algo)
{
	struct rte_cryptodev_sym_capability_idx idx = { .type = type };

	if (type == RTE_CRYPTO_SYM_XFORM_AEAD)
		idx.algo.aead = (enum rte_crypto_aead_algorithm)algo;
	else if (type == RTE_CRYPTO_SYM_XFORM_CIPHER)
		idx.algo.cipher = (enum rte_crypto_cipher_algorithm)algo;
	else
		idx.algo.auth = (enum rte_crypto_auth_algorithm)algo;
	return rte_cryptodev_sym_capability_get(dev.dev_id, &idx);
}

static enum rte_crypto_auth_algorithm
auth_algo(enum crypto_auth a)
{
	switch (a) {
	case CRYPTO_AUTH_HMAC_SHA1:
		return RTE_CRYPTO_AUTH_SHA1_HMAC;
	case CRYPTO_AUTH_HMAC_SHA256:
		return RTE_CRYPTO_AUTH_SHA256_HMAC;
	case CRYPTO_AUTH_HMAC_SHA384:
		return RTE_CRYPTO_AUTH_SHA384_HMAC;
	case CRYPTO_AUTH_HMAC_SHA512:
		return RTE_CRYPTO_AUTH_SHA512_HMAC;
	default:
		return RTE_CRYPTO_AUTH_NULL;
	}
}

/* Does the device do what @p s (public fields filled) and @p p ask for? */
static int
cdev_caps(const struct crypto_session *s, const struct crypto_algo_params *p)
{
	const struct rte_cryptodev_symmetric_capability *c;

	if (!dev.open)
		return -ENODEV;
	if (s->is_aead) {
		int a = s->cipher == CRYPTO_CIPHER_AES_GCM ?
			RTE_CRYPTO_AEAD_AES_GCM :
			RTE_CRYPTO_AEAD_CHACHA20_POLY1305;

		c = cap_get(RTE_CRYPTO_SYM_XFORM_AEAD, a);
		/* Both AAD lengths: the session serves SAs with and
		 * without ESN. */
		if (c == NULL ||
		    rte_cryptodev_sym_capability_check_aead(c, s->key_len,
			s->icv_len, 8, CRYPTO_NONCE_LEN) != 0 ||
		    rte_cryptodev_sym_capability_check_aead(c, s->key_len,
			s->icv_len, 12, CRYPTO_NONCE_LEN) != 0)
			return -ENOTSUP;
		return 0;
	}
	if (s->cipher == CRYPTO_CIPHER_AES_CBC) {
		c = cap_get(RTE_CRYPTO_SYM_XFORM_CIPHER, RTE_CRYPTO_CIPHER_AES_CBC);
		if (c == NULL ||
		    rte_cryptodev_sym_capability_check_cipher(c, s->key_len, 16) != 0)
			return -ENOTSUP;
	}
	if (s->auth != CRYPTO_AUTH_NONE) {
		c = cap_get(RTE_CRYPTO_SYM_XFORM_AUTH, auth_algo(s->auth));
		if (c == NULL ||
		    rte_cryptodev_sym_capability_check_auth(c, p->auth_key_len,
			s->icv_len, 0) != 0)
			return -ENOTSUP;
	}
	return 0;
}

int
crypto_cdev_algo_check(const struct crypto_session *s,
		       const struct crypto_algo_params *p)
{
	return cdev_caps(s, p);
}

/* ---- sessions --------------------------------------------------------- */

static void *
sess_create(struct rte_crypto_sym_xform *x)
{
	unsigned int i;
	void *s;

	/* The newest pool first: the older ones are likely full. */
	for (i = dev.n_sess_pools; i-- > 0;) {
		s = rte_cryptodev_sym_session_create(dev.dev_id, x,
						     dev.sess_pool[i]);
		if (s != NULL)
			return s;
		if (rte_errno != ENOMEM)
			return NULL;
	}
	if (sess_pool_add() < 0)
		return NULL;
	return rte_cryptodev_sym_session_create(dev.dev_id, x,
						dev.sess_pool[dev.n_sess_pools - 1]);
}

static struct cdev_sess *
cdev_of(const struct crypto_session *s)
{
	struct cdev_sess *cs;

	memcpy(&cs, s->eng, sizeof(cs));
	return cs;
}

int
crypto_cdev_session_init(struct crypto_session *s,
			 const struct crypto_algo_params *p)
{
	struct rte_crypto_sym_xform x[2];
	struct cdev_sess *cs;
	int rc, enc, aad12;

	rc = cdev_caps(s, p);
	if (rc < 0)
		return rc;
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL)
		return -ENOMEM;
	cs->dev_id = dev.dev_id;
	memcpy(s->eng, &cs, sizeof(cs));

	for (enc = 0; enc < 2; enc++) {
		for (aad12 = 0; aad12 < (s->is_aead ? 2 : 1); aad12++) {
			memset(x, 0, sizeof(x));
			if (s->is_aead) {
				x[0].type = RTE_CRYPTO_SYM_XFORM_AEAD;
				x[0].aead.op = enc ? RTE_CRYPTO_AEAD_OP_ENCRYPT :
						     RTE_CRYPTO_AEAD_OP_DECRYPT;
				x[0].aead.algo = s->cipher == CRYPTO_CIPHER_AES_GCM ?
					RTE_CRYPTO_AEAD_AES_GCM :
					RTE_CRYPTO_AEAD_CHACHA20_POLY1305;
				x[0].aead.key.data = p->cipher_key;
				x[0].aead.key.length = s->key_len;
				x[0].aead.iv.offset = CDEV_IV_OFF;
				x[0].aead.iv.length = CRYPTO_NONCE_LEN;
				x[0].aead.digest_length = s->icv_len;
				x[0].aead.aad_length = aad12 ? 12 : 8;
			} else {
				struct rte_crypto_sym_xform *c = NULL, *a = NULL;

				if (s->cipher == CRYPTO_CIPHER_AES_CBC &&
				    s->auth != CRYPTO_AUTH_NONE) {
					/* RFC 4303 3.3.2, 3.4.4: encrypt then
					 * MAC; verify the MAC, then decrypt. */
					c = enc ? &x[0] : &x[1];
					a = enc ? &x[1] : &x[0];
					x[0].next = &x[1];
				} else if (s->cipher == CRYPTO_CIPHER_AES_CBC) {
					c = &x[0]; /* encryption only */
				} else {
					a = &x[0]; /* NULL cipher: HMAC only */
				}
				if (c != NULL) {
					c->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
					c->cipher.op = enc ? RTE_CRYPTO_CIPHER_OP_ENCRYPT :
							     RTE_CRYPTO_CIPHER_OP_DECRYPT;
					c->cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
					c->cipher.key.data = p->cipher_key;
					c->cipher.key.length = s->key_len;
					c->cipher.iv.offset = CDEV_IV_OFF;
					c->cipher.iv.length = 16;
				}
				if (a != NULL) {
					a->type = RTE_CRYPTO_SYM_XFORM_AUTH;
					a->auth.op = enc ? RTE_CRYPTO_AUTH_OP_GENERATE :
							   RTE_CRYPTO_AUTH_OP_VERIFY;
					a->auth.algo = auth_algo(s->auth);
					a->auth.key.data = p->auth_key;
					a->auth.key.length = p->auth_key_len;
					a->auth.digest_length = s->icv_len;
				}
			}
			cs->s[enc][aad12] = sess_create(x);
			if (cs->s[enc][aad12] == NULL) {
				rc = rte_errno == ENOTSUP ? -ENOTSUP : -ENOMEM;
				crypto_cdev_session_wipe(s);
				return rc;
			}
			dev.live_sessions++;
		}
	}
	return 0;
}

void
crypto_cdev_session_wipe(struct crypto_session *s)
{
	struct cdev_sess *cs = cdev_of(s);
	int i, j;

	if (cs == NULL)
		return;
	/* rte_cryptodev_sym_session_free() has the PMD clear its private
	 * data (the key schedules) before the object goes back to the
	 * pool. */
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if (cs->s[i][j] != NULL) {
				rte_cryptodev_sym_session_free(cs->dev_id,
							       cs->s[i][j]);
				dev.live_sessions--;
			}
	explicit_bzero(cs, sizeof(*cs));
	free(cs);
	memset(s->eng, 0, sizeof(cs));
}

/* ---- engines ---------------------------------------------------------- */

int
crypto_cdev_engine_init(struct crypto_engine *e)
{
	struct cdev_engine *ce;
	uint16_t q;

	if (!dev.open)
		return -ENODEV;
	for (q = 0; q < dev.nb_qps && dev.qp_used[q]; q++)
		;
	if (q == dev.nb_qps)
		return -ENOSPC;
	ce = rte_zmalloc("cdev_engine", sizeof(*ce), RTE_CACHE_LINE_SIZE);
	if (ce == NULL)
		return -ENOMEM;
	ce->qp = q;
	dev.qp_used[q] = true;
	e->cdev = ce;
	snprintf(e->desc, sizeof(e->desc), "cryptodev %.24s qp %u", dev.name, q);
	return 0;
}

void
crypto_cdev_engine_fini(struct crypto_engine *e)
{
	struct cdev_engine *ce = e->cdev;

	if (ce == NULL)
		return;
	/* Ops submitted and never collected are still the device's: wait
	 * for them (their packets are the caller's to free after). */
	while (ce->head != ce->tail) {
		struct crypto_op *tmp[CDEV_CHUNK];

		if (crypto_cdev_collect(e, tmp, CDEV_CHUNK) == 0)
			rte_pause();
	}
	dev.qp_used[ce->qp] = false;
	rte_free(ce);
	e->cdev = NULL;
}

void
crypto_cdev_engine_stats(const struct crypto_engine *e,
			 struct crypto_engine_stats *st)
{
	if (e->cdev != NULL)
		*st = e->cdev->st;
}

/* True when the IV sits right before the ciphertext, as ESP lays it out. */
static inline bool
iv_adjacent(const struct crypto_op *op)
{
	return op->cipher_off >= 16 &&
	       op->iv + 16 == op->data + op->cipher_off;
}

/*
 * The mbuf the offsets count from: the op's own, or a stand-in over the
 * op's bytes. Returns the address that offset 0 names, or NULL when the
 * op's bytes are not inside the mbuf.
 */
static uint8_t *
op_mbuf(struct cdev_engine *ce, unsigned int slot, const struct crypto_op *op,
	struct rte_mbuf **mp)
{
	uint32_t end = op->cipher_off + op->cipher_len;
	struct rte_mbuf *m = op->mbuf;
	uint8_t *base;

	if (op->auth_len > end)
		end = op->auth_len;
	if (m != NULL) {
		base = rte_pktmbuf_mtod(m, uint8_t *);
		if (unlikely(m->nb_segs != 1 || op->data < base ||
			     op->data + end > base + m->data_len))
			return NULL;
		*mp = m;
		return base;
	}
	m = &ce->shadow[slot];
	memset(m, 0, sizeof(*m));
	m->buf_addr = op->data;
	m->buf_iova = rte_mem_virt2iova(op->data);
	m->buf_len = (uint16_t)end;
	m->data_off = 0;
	m->data_len = (uint16_t)end;
	m->pkt_len = end;
	m->nb_segs = 1;
	m->next = NULL;
	rte_mbuf_refcnt_set(m, 1);
	*mp = m;
	return op->data;
}

/* Fill @p cop for @p op. Returns false for an op the device cannot take. */
static bool
op_fill(struct cdev_engine *ce, unsigned int slot, struct rte_crypto_op *cop,
	struct crypto_op *op, bool enc)
{
	const struct crypto_session *s = op->sess;
	struct cdev_op_priv *pv = (struct cdev_op_priv *)((uint8_t *)cop +
							  CDEV_PRIV_OFF);
	struct rte_crypto_sym_op *sym = cop->sym;
	struct cdev_sess *cs = cdev_of(s);
	struct rte_mbuf *m;
	uint8_t *base;
	void *rs;

	if (unlikely(cs == NULL))
		return false;
	base = op_mbuf(ce, slot, op, &m);
	if (unlikely(base == NULL))
		return false;
	pv->op = op;
	pv->enc = enc;
	pv->async = 0;
	sym->m_src = m;
	sym->m_dst = NULL;

	if (s->is_aead) {
		rs = cs->s[enc][op->aad_len == 12];
		memcpy(pv->iv, s->salt, 4); /* RFC 4106 4, RFC 7634 2 */
		memcpy(pv->iv + 4, op->iv, 8);
		memcpy(pv->aad, op->aad, op->aad_len);
		sym->aead.data.offset = (uint32_t)(op->data + op->cipher_off - base);
		sym->aead.data.length = op->cipher_len;
		sym->aead.aad.data = pv->aad;
		sym->aead.aad.phys_addr = rte_crypto_op_ctophys_offset(cop, CDEV_AAD_OFF);
		sym->aead.digest.data = pv->digest;
		sym->aead.digest.phys_addr =
			rte_crypto_op_ctophys_offset(cop, CDEV_DIGEST_OFF);
		if (!enc)
			memcpy(pv->digest, op->icv, s->icv_len);
		rte_crypto_op_attach_sym_session(cop, rs);
		return true;
	}

	rs = cs->s[enc][0];
	if (s->cipher == CRYPTO_CIPHER_AES_CBC) {
		if (enc) {
			if (unlikely(!iv_adjacent(op)))
				return false;
			/* E_K(IV) || ciphertext in one CBC pass (file head). */
			memset(pv->iv, 0, 16);
			sym->cipher.data.offset =
				(uint32_t)(op->data + op->cipher_off - 16 - base);
			sym->cipher.data.length = op->cipher_len + 16;
		} else {
			memcpy(pv->iv, op->iv, 16);
			sym->cipher.data.offset =
				(uint32_t)(op->data + op->cipher_off - base);
			sym->cipher.data.length = op->cipher_len;
		}
	}
	if (s->auth != CRYPTO_AUTH_NONE) {
		/* RFC 4303 2.2.1: with ESN the caller put the high half at
		 * the end of the covered range; the digest goes to our own
		 * buffer, so nothing overwrites it before it is hashed. */
		sym->auth.data.offset = (uint32_t)(op->data - base);
		sym->auth.data.length = op->auth_len;
		sym->auth.digest.data = pv->digest;
		sym->auth.digest.phys_addr =
			rte_crypto_op_ctophys_offset(cop, CDEV_DIGEST_OFF);
		if (!enc)
			memcpy(pv->digest, op->icv, s->icv_len);
	}
	rte_crypto_op_attach_sym_session(cop, rs);
	return true;
}

static inline struct cdev_op_priv *
op_priv(struct rte_crypto_op *cop)
{
	return (struct cdev_op_priv *)((uint8_t *)cop + CDEV_PRIV_OFF);
}

static uint16_t
op_done(struct cdev_engine *ce, struct rte_crypto_op *cop)
{
	struct cdev_op_priv *pv = op_priv(cop);
	struct crypto_op *op = pv->op;

	switch (cop->status) {
	case RTE_CRYPTO_OP_STATUS_SUCCESS:
		if (pv->enc && op->sess->icv_len != 0)
			memcpy(op->icv, pv->digest, op->sess->icv_len);
		op->status = CRYPTO_OK;
		return 1;
	case RTE_CRYPTO_OP_STATUS_AUTH_FAILED:
		op->status = CRYPTO_ICV_FAIL;
		return 0;
	default:
		ce->st.dev_errors++;
		op->status = CRYPTO_ERROR;
		return 0;
	}
}

/*
 * The queue pair, as this engine fills it: never more ops on it than it
 * has room for. DPDK 22.11's openssl PMD does an op's crypto in place at
 * enqueue and only then finds its completion ring full and reports the
 * op refused, so an op refused that way and tried again would be
 * encrypted twice (interop/cdev's pipeline at a queue depth of 16 caught
 * it).
 */
static inline uint16_t
dev_enqueue(struct cdev_engine *ce, struct rte_crypto_op **cops, unsigned int n)
{
	unsigned int room = dev.qp_room - ce->on_dev;
	uint16_t k;

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	k = rte_cryptodev_enqueue_burst(dev.dev_id, ce->qp, cops, (uint16_t)n);
	ce->on_dev += k;
	return k;
}

static inline uint16_t
dev_dequeue(struct cdev_engine *ce, struct rte_crypto_op **cops, uint16_t n)
{
	uint16_t d = rte_cryptodev_dequeue_burst(dev.dev_id, ce->qp, cops, n);

	ce->on_dev -= d;
	return d;
}

static uint16_t
cdev_chunk(struct cdev_engine *ce, struct crypto_op *ops, unsigned int n,
	   bool enc)
{
	struct rte_crypto_op **cops = ce->cops;
	unsigned int i, nv = 0, nenq = 0, ndeq = 0, idle = 0;
	bool busy = false;
	uint16_t ok = 0;

	for (i = 0; i < n; i++)
		ops[i].status = CRYPTO_ERROR;
	if (unlikely(rte_crypto_op_bulk_alloc(dev.op_pool,
					      RTE_CRYPTO_OP_TYPE_SYMMETRIC,
					      cops, n) == 0)) {
		ce->st.alloc_fail += n;
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct crypto_op *op = &ops[i];

		if (unlikely(!crypto_op_valid(op, CRYPTO_ENGINE_CDEV) ||
			     !op_fill(ce, nv, cops[nv], op, enc))) {
			ce->st.bad_ops++;
			continue;
		}
		nv++;
	}

	/*
	 * Synchronous use of the asynchronous API: everything enqueued is
	 * dequeued before returning. A full queue is counted and polled
	 * again. Only if the device takes nothing for a long time, with
	 * nothing of ours in flight, are the rest given up (CRYPTO_ERROR):
	 * an op the device holds is always waited for, as it may still
	 * write into its mbuf.
	 */
	while (ndeq < nv) {
		unsigned int k = 0, d, got;

		if (nenq < nv) {
			k = dev_enqueue(ce, cops + nenq, nv - nenq);
			if (k < nv - nenq && !busy) {
				ce->st.enq_busy++; /* once a burst, not a poll */
				busy = true;
			}
			nenq += k;
		}
		/* Whatever the device has done, asynchronous ops before ours
		 * too: where they fill the queue, ours get in only once they
		 * are taken off. */
		got = d = dev_dequeue(ce, ce->done,
				      (uint16_t)RTE_MIN(ce->on_dev, (uint32_t)CDEV_CHUNK));
		for (i = 0; i < d; i++) {
			struct rte_crypto_op *c = ce->done[i];

			/* An op crypto_submit_burst() left on the queue
			 * before this burst: done, for crypto_collect_burst. */
			if (unlikely(op_priv(c)->async)) {
				op_done(ce, c);
				rte_mempool_put(dev.op_pool, c);
				d--;
				ce->done[i--] = ce->done[d];
				continue;
			}
			ok += op_done(ce, c);
		}
		ndeq += d;
		if (k == 0 && got == 0) {
			if (nenq == ndeq && ++idle > (1u << 20)) {
				ce->st.enq_given_up += nv - nenq;
				break;
			}
			rte_pause();
		} else {
			idle = 0;
		}
	}
	rte_mempool_put_bulk(dev.op_pool, (void **)cops, n);
	return ok;
}

/* ---- asynchronous use -------------------------------------------------- */

/*
 * crypto_submit_burst(): the ops go to the queue pair and stay there;
 * crypto_collect_burst() hands them back in submission order, whatever
 * order the device returns them in (crypto_scheduler's round robin may
 * reorder), so a caller that submits an SA's packets in order gets them
 * back in order. The packets must name their mbufs: a stand-in mbuf
 * would have to live as long as the op.
 */
uint16_t
crypto_cdev_submit(struct crypto_engine *e, struct crypto_op *ops[],
		   uint16_t n, bool enc)
{
	struct cdev_engine *ce = e->cdev;
	struct rte_crypto_op **cops = ce->cops;
	uint8_t idx[CDEV_CHUNK];
	unsigned int taken = 0;

	while (taken < n) {
		unsigned int room = CDEV_FIFO - (ce->tail - ce->head);
		unsigned int m = RTE_MIN(RTE_MIN((unsigned int)n - taken, room),
					 (unsigned int)CDEV_CHUNK);
		unsigned int i, nv = 0, k, end;

		if (m == 0)
			break;
		if (unlikely(rte_crypto_op_bulk_alloc(dev.op_pool,
						      RTE_CRYPTO_OP_TYPE_SYMMETRIC,
						      cops, m) == 0)) {
			ce->st.alloc_fail++;
			break;
		}
		for (i = 0; i < m; i++) {
			struct crypto_op *op = ops[taken + i];

			/* A refused op is taken all the same, done at once
			 * with CRYPTO_ERROR, so order is kept. */
			if (unlikely(op->mbuf == NULL ||
				     !crypto_op_valid(op, CRYPTO_ENGINE_CDEV) ||
				     !op_fill(ce, 0, cops[nv], op, enc))) {
				ce->st.bad_ops++;
				op->status = CRYPTO_ERROR;
				continue;
			}
			op_priv(cops[nv])->async = 1;
			op->status = CDEV_PENDING;
			idx[nv++] = (uint8_t)i;
		}
		k = dev_enqueue(ce, cops, nv);
		/* Taken: a prefix, up to the first op the device refused. */
		end = k == nv ? m : idx[k];
		if (k < nv)
			ce->st.enq_busy++;
		if (m > k)
			rte_mempool_put_bulk(dev.op_pool, (void **)(cops + k), m - k);
		for (i = 0; i < end; i++)
			ce->fifo[ce->tail++ % CDEV_FIFO] = ops[taken + i];
		taken += end;
		if (k < nv)
			break;
	}
	ce->st.async_ops += taken;
	return (uint16_t)taken;
}

uint16_t
crypto_cdev_collect(struct crypto_engine *e, struct crypto_op *out[],
		    uint16_t max)
{
	struct cdev_engine *ce = e->cdev;
	uint16_t d, i, n = 0;

	do {
		d = dev_dequeue(ce, ce->done, CDEV_CHUNK);
		for (i = 0; i < d; i++) {
			op_done(ce, ce->done[i]);
			rte_mempool_put(dev.op_pool, ce->done[i]);
		}
	} while (d == CDEV_CHUNK);
	while (n < max && ce->head != ce->tail) {
		struct crypto_op *op = ce->fifo[ce->head % CDEV_FIFO];

		if (op->status == CDEV_PENDING)
			break; /* an older op is still out: order first */
		out[n++] = op;
		ce->head++;
	}
	return n;
}

unsigned int
crypto_cdev_inflight(const struct crypto_engine *e)
{
	return e->cdev->tail - e->cdev->head;
}

static uint16_t
cdev_chunk_of(struct crypto_engine *e, struct crypto_op *ops, unsigned int n, bool enc)
{
	return cdev_chunk(e->cdev, ops, n, enc);
}

uint16_t
crypto_cdev_burst(struct crypto_engine *e, struct crypto_op *ops, uint16_t n,
		  bool enc)
{
	return crypto_by_chunks(cdev_chunk_of, CDEV_CHUNK, e, ops, n, enc);
}
