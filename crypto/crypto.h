/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The crypto engine: the one narrow boundary between espd and the library
 * that does the maths (Intel IPsec-MB, or the null engine for tests).
 *
 * A session is built once per SA, on the control plane, from the algorithm
 * and keys; it holds every precomputed key (AES key schedules, GCM hash
 * key powers, HMAC inner/outer digests). The fast path only hands bursts
 * of crypto_op to an engine, one engine per lcore.
 *
 * Nothing outside crypto/ includes intel-ipsec-mb.h.
 */
#ifndef ESPD_CRYPTO_H
#define ESPD_CRYPTO_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum crypto_engine_kind {
	CRYPTO_ENGINE_MB,   /**< Intel IPsec-MB */
	CRYPTO_ENGINE_NULL, /**< identity cipher, keyed checksum ICV: tests */
	CRYPTO_ENGINE_CDEV, /**< a DPDK cryptodev, see crypto_cdev_open() */
};

enum crypto_cipher {
	CRYPTO_CIPHER_NULL,              /**< RFC 2410 */
	CRYPTO_CIPHER_AES_CBC,           /**< RFC 3602, 128 or 256-bit key */
	CRYPTO_CIPHER_AES_GCM,           /**< RFC 4106, AEAD */
	CRYPTO_CIPHER_CHACHA20_POLY1305, /**< RFC 7634, AEAD */
};

enum crypto_auth {
	/** With an AEAD; or with AES-CBC and icv_len 0: encryption-only
	 *  ESP, for RFC 3602's test packets (the grammar never asks for it) */
	CRYPTO_AUTH_NONE,
	CRYPTO_AUTH_HMAC_SHA1,
	CRYPTO_AUTH_HMAC_SHA256,
	CRYPTO_AUTH_HMAC_SHA384,
	CRYPTO_AUTH_HMAC_SHA512,
};

/** What an SA asks for. Keys are copied; the caller may wipe its own. */
struct crypto_algo_params {
	enum crypto_cipher cipher;
	enum crypto_auth auth;
	/** AES key, or for an AEAD the key followed by its 4-byte salt, as
	 *  Linux takes it (so 20/36 bytes for GCM, 36 for ChaCha20). */
	const uint8_t *cipher_key;
	uint16_t cipher_key_len;
	const uint8_t *auth_key; /**< HMAC key, any length */
	uint16_t auth_key_len;
	/** ICV bytes on the wire: AEAD 16 (GCM also 8 or 12); HMAC
	 *  12/16/24/32 for SHA1/256/384/512, or any length up to the full
	 *  digest (known-answer tests use the full digest). */
	uint16_t icv_len;
};

#define CRYPTO_ICV_MAX 64          /**< largest ICV (full SHA-512) */
#define CRYPTO_SESSION_PRIV 1152   /**< engine-private keys, largest algorithm */

/**
 * One SA's crypto state. The public fields are what the ESP framing needs;
 * eng and priv are the engine's (eng: its per-session choices, on the
 * line a burst reads first; priv: the precomputed keys). Build with
 * crypto_session_init(), destroy with crypto_session_wipe() (explicit_bzero
 * of every key byte).
 *
 * Only the first crypto_session_priv_size() bytes of priv are ever read or
 * written, so a session may be allocated short, at
 * offsetof(struct crypto_session, priv) + crypto_session_priv_size() bytes
 * (struct gw_sa is: AES-GCM needs 1024 of the 1152, ChaCha20 64). A
 * declared one has room for any algorithm. Never copy a session by
 * assignment or sizeof.
 */
struct crypto_session {
	uint8_t engine;     /**< enum crypto_engine_kind */
	uint8_t cipher;     /**< enum crypto_cipher */
	uint8_t auth;       /**< enum crypto_auth */
	uint8_t iv_len;     /**< explicit IV on the wire: 8 AEAD, 16 CBC, 0 NULL */
	uint8_t icv_len;    /**< ICV bytes on the wire */
	uint8_t block_size; /**< ESP payload alignment: 16 CBC, else 4 */
	uint8_t is_aead;
	uint8_t key_len;    /**< cipher key bytes, salt excluded */
	uint8_t salt[4];    /**< AEAD nonce = salt || explicit IV */
	uint16_t priv_len;  /**< bytes of priv in use (set by init) */
	alignas(8) uint8_t eng[16]; /**< the engine's per-session fields */
	/** What of priv every operation reads, whatever its length: the
	 *  first hot_head bytes and the last hot_tail of priv_len (set by
	 *  init). A worker prefetches these for a burst of cold SAs; the
	 *  rest (more GHASH key powers) only long packets read. */
	uint16_t hot_head, hot_tail;
	alignas(64) uint8_t priv[CRYPTO_SESSION_PRIV];
};

#ifndef __cplusplus /* C++ spells it static_assert */
_Static_assert(sizeof(struct crypto_session) == 64 + CRYPTO_SESSION_PRIV,
	       "one line of public fields, then priv");
#endif

/**
 * Bytes of crypto_session.priv a session of @p p needs with engine
 * @p kind, a multiple of 64 (at most CRYPTO_SESSION_PRIV). For parameters
 * crypto_session_init() would refuse: CRYPTO_SESSION_PRIV.
 */
size_t crypto_session_priv_size(enum crypto_engine_kind kind,
				const struct crypto_algo_params *p);

/** Bytes to allocate for a session of @p p: the public line + priv. */
static inline size_t
crypto_session_size(enum crypto_engine_kind kind,
		    const struct crypto_algo_params *p)
{
	return offsetof(struct crypto_session, priv) +
	       crypto_session_priv_size(kind, p);
}

enum crypto_status {
	CRYPTO_OK = 0,
	CRYPTO_ICV_FAIL, /**< decrypt: the ICV did not verify */
	CRYPTO_ERROR,    /**< bad lengths or an engine failure */
};

/**
 * One packet's work. All pointers point into the packet (in-place), except
 * aad and, on decrypt, icv, which may point into caller scratch.
 *
 * Layout covered, for ESP: data = ESP header; the ICV covers
 * data[0 .. auth_len) (HMAC) and the cipher runs over
 * data[cipher_off .. cipher_off + cipher_len).
 */
struct crypto_op {
	const struct crypto_session *sess;
	uint8_t *data;
	uint32_t cipher_off;
	uint32_t cipher_len; /**< must be a multiple of 16 for CBC */
	uint32_t auth_len;   /**< HMAC only: bytes of data the ICV covers */
	/** Explicit IV in the packet (sess->iv_len bytes). Encrypt with CBC:
	 *  the engine replaces these 16 bytes by E_K(them) before use (NIST
	 *  SP 800-38A appendix C), so a counter in gives an unpredictable IV
	 *  out. AEADs use it as is, after the salt. */
	uint8_t *iv;
	const uint8_t *aad; /**< AEAD only */
	uint32_t aad_len;   /**< AEAD only: 8, or 12 with ESN */
	/** Encrypt: where the ICV is written. Decrypt: the received ICV,
	 *  compared in constant time. */
	uint8_t *icv;
	/** Optional: the struct rte_mbuf that holds data (one segment), for
	 *  an engine that hands the packet to a device (CRYPTO_ENGINE_CDEV
	 *  takes its IOVA from it). NULL: the engine wraps the bytes
	 *  itself. The other engines ignore it. */
	void *mbuf;
	uint8_t status; /**< enum crypto_status, set by the burst call */
};

struct crypto_engine;

/**
 * Open the DPDK cryptodev @p name (a vdev given to EAL, e.g.
 * crypto_aesni_mb0, or a hardware device by its cryptodev name) for
 * CRYPTO_ENGINE_CDEV, with @p nb_qps queue pairs: one for each engine
 * that will exist at once (one per lcore), of @p nb_desc descriptors
 * each (0: 2048; tests make it small to fill the queue). After rte_eal_init(), before
 * any CRYPTO_ENGINE_CDEV session or engine; control plane only. Prints
 * the reason of a failure on stderr.
 * @return 0, -EBUSY (one is open already), -ENODEV (no such device),
 * -ENOSPC (too few queue pairs), or another -errno.
 */
int crypto_cdev_open(const char *name, uint16_t nb_qps, uint32_t nb_desc);

/** Stop and release the device. @return 0, or -EBUSY while an engine
 *  or session of it still exists (it then stays open). */
int crypto_cdev_close(void);

/** The name given to crypto_cdev_open(), or NULL when none is open. */
const char *crypto_cdev_name(void);

/** What an engine counted (all 0 but for CRYPTO_ENGINE_CDEV). */
struct crypto_engine_stats {
	uint64_t enq_busy;     /**< enqueues the device took only part of */
	uint64_t enq_given_up; /**< ops never taken by the device (ERROR) */
	uint64_t dev_errors;   /**< ops the device failed (ERROR) */
	uint64_t alloc_fail;   /**< ops with no device op free (ERROR) */
	uint64_t bad_ops;      /**< ops refused before the device (ERROR) */
	uint64_t async_ops;    /**< ops crypto_submit_burst() handed over */
};

void crypto_engine_stats(const struct crypto_engine *e,
			 struct crypto_engine_stats *st);

/**
 * Create an engine for the calling lcore (one IPsec-MB manager each, set
 * up with init_mb_mgr_auto; for CRYPTO_ENGINE_CDEV, a queue pair of its
 * own). Not thread-safe to share.
 * @return NULL on failure (errno set; ENOSPC: every queue pair taken).
 */
struct crypto_engine *crypto_engine_create(enum crypto_engine_kind kind);
void crypto_engine_free(struct crypto_engine *e);

/** The crypto library and its version, e.g. "intel-ipsec-mb 1.3.0". */
const char *crypto_version(void);

/** Name of the code path in use, e.g. "ipsec-mb 1.3.0 avx512". */
const char *crypto_engine_describe(const struct crypto_engine *e);

/**
 * Would crypto_session_init() accept @p p? The same checks, without
 * building anything: `espd --check` and the control plane's model judge an
 * SA's algorithm with it before any engine exists. @return 0 or -EINVAL;
 * for CRYPTO_ENGINE_CDEV also -ENOTSUP when the open device lacks the
 * algorithm, key or ICV length (its capabilities), -ENODEV when no
 * device is open.
 */
int crypto_algo_check(enum crypto_engine_kind kind,
		      const struct crypto_algo_params *p);

/**
 * Build a session in @p s, which has room for crypto_session_size(kind,
 * p) bytes. Control plane only (it uses a private manager that is not
 * thread-safe). @return 0, or -EINVAL for a bad algorithm, key length or
 * ICV length, -ENOTSUP when the library lacks it.
 */
int crypto_session_init(struct crypto_session *s, enum crypto_engine_kind kind,
			const struct crypto_algo_params *p);

/** Wipe every key byte of @p s (explicit_bzero of its public line and
 *  the priv bytes in use). CRYPTO_ENGINE_CDEV: also frees its device
 *  sessions (control plane only; after the RCU grace period, which a
 *  worker with ops submitted holds back until they are collected). */
void crypto_session_wipe(struct crypto_session *s);

/**
 * Encrypt (and compute ICVs) or decrypt (and verify ICVs) a burst, in
 * place. Decryption and verification run in one pass, so a packet whose
 * ICV fails has been decrypted in place all the same: its status says to
 * drop it. Ops may mix sessions and algorithms, but every session must
 * belong to this engine's kind. Sets ops[i].status for each op.
 * @return the number of ops with status CRYPTO_OK. Order is kept.
 */
uint16_t crypto_encrypt_burst(struct crypto_engine *e, struct crypto_op *ops,
			      uint16_t n);
uint16_t crypto_decrypt_burst(struct crypto_engine *e, struct crypto_op *ops,
			      uint16_t n);

/**
 * Asynchronous use: hand ops over now, take them back later. Ops come
 * back from crypto_collect_burst() in the order they were submitted to
 * this engine, each with its status, so an SA's packets submitted in
 * order come back in order. Until collected, an op and the bytes it
 * points at are the engine's: do not touch, move or free them. A
 * CRYPTO_ENGINE_CDEV op must name its mbuf (crypto_op.mbuf); the other
 * engines do the work inside the submit call and only keep the order.
 * Do not free the engine with ops submitted and not collected (it waits
 * for the device, then forgets them). The synchronous burst calls may be
 * used on the same engine in between.
 * @return how many of @p ops were taken: a prefix; the others were not
 * (device queue or the engine's window full) and may be submitted again
 * after a collect.
 */
uint16_t crypto_submit_burst(struct crypto_engine *e, struct crypto_op *ops[],
			     uint16_t n, bool enc);

/** Up to @p max submitted ops that are done, oldest first. */
uint16_t crypto_collect_burst(struct crypto_engine *e, struct crypto_op *done[],
			      uint16_t max);

/** Ops submitted to @p e and not yet collected. */
unsigned int crypto_inflight(const struct crypto_engine *e);

#endif /* ESPD_CRYPTO_H */
