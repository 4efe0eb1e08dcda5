/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The command grammar shared by the configuration file and the control
 * socket (DESIGN.md, "Configuration file").
 *
 * Three stages, each usable alone, each on top of the ones before it:
 *  1. cfg_split() (lex.c): one logical line to words, split as a POSIX
 *     shell splits them (quotes, backslashes, `#` comments), with no
 *     expansion.
 *  2. cfg_parse() (parse.c): words to a tagged, plain struct cfg_cmd. Every
 *     value is range-checked here; nothing needs DPDK or the gateway's
 *     tables. parse.c picks the command and parses port, route, neigh,
 *     stats, monitor and set; parse_state.c and parse_policy.c parse the
 *     state and policy commands, parse_algo.c their algorithms, and
 *     parse_util.c holds what they share (parse_priv.h): the value readers,
 *     the selector, and the one option loop, which reads each command's
 *     options through a table of {word, once-only bit, handler}.
 *  3. cfg_load_file() (load.c): a whole file, with continuation lines and
 *     file:line diagnostics, handing each command to a caller's apply
 *     callback, so the gateway applies a file exactly as it applies socket
 *     commands. cfg_parse_line() (load.c too) is stages 1 and 2 for one
 *     line.
 *
 * What one line cannot know alone (a port defined twice, a route to an
 * undeclared port, the same SA twice) is the model's to judge
 * (control/model.h): `espd --check` applies the file to it as start-up
 * does.
 *
 * Choices a user sees (keep README in step):
 *  - Prefixes with host bits set are accepted and masked, as `ip xfrm` does:
 *    `10.1.2.3/8` is stored as 10.0.0.0/8. A bare address is a /32 or /128.
 *    Port addresses (`port ... addr IP/LEN`) are host addresses and are
 *    never masked.
 *  - `replay-window` is 0..CFG_REPLAY_WINDOW_MAX (4096), default 64.
 *  - SPI 0 is invalid, and 1..255 are reserved (RFC 4303 2.1): both are
 *    rejected by `state add`/`update`/`allocspi`; `del`/`get` accept them
 *    so a stray SA can still be named.
 *  - Integers are decimal or 0x-prefixed hex; octal is not recognised.
 *  - `proto any` and `proto 0` both mean "any protocol" (as in xfrm).
 *  - `port ... tap NAME` takes a Linux interface name: 1..15 printable
 *    ASCII characters (IFNAMSIZ - 1), not "." or "..", with no '/', no
 *    ':' (alias syntax) and no blank. `xdp-steer` (a net_af_xdp port
 *    with espd's XDP program, control/xdp.h) excludes `tap`.
 *  - `neigh del IP port ID` names the entry by address and port only: an
 *    `lladdr` there is refused, not ignored. `neigh show` is `neigh list`
 *    and `neigh delete` is `neigh del`, as for state and policy.
 *  - `set tcp-mss-clamp` is off, auto (CFG_MSS_AUTO: fit each SA's path)
 *    or an MSS of CFG_MSS_MIN (536, RFC 879's default MSS) to 65535.
 *  - `set icmp-ratelimit` is 0..1000000 ICMP errors a second; 0 means no
 *    limit, as Linux's net.ipv4.icmp_ratelimit = 0 does.
 *  - `set neigh-reachable SECONDS` is ours (DESIGN.md is silent): how long
 *    a learned neighbour stays reachable before it goes stale, as Linux's
 *    base_reachable_time; 1..3600, default 30.
 *  - No shell expansion: `$`, backquote, `*`, `~`, `;`, `(`, `)` are plain
 *    characters, so an unquoted rfc4106(gcm(aes)) works. A quote must close
 *    on its logical line (a backslash-newline continues it inside double
 *    quotes, as in sh).
 *
 * Thread safety: every function is reentrant; nothing keeps global state.
 * Keys: structs holding key bytes are wiped by cfg_cmd_clear(), the words
 * by cfg_words_free(), and no error message quotes a key word (a 0x word
 * longer than any number is described as "0x<N hex digits, not shown>").
 */
#ifndef ESPD_CONFIG_H
#define ESPD_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/crypto.h"
#include "dataplane/flowkey.h"

#define CFG_LINE_MAX 65536       /**< bytes in one logical line */
#define CFG_WORDS_MAX 256        /**< words in one command */
#define CFG_ERR_MAX 256          /**< bytes of an error message, NUL included */
#define CFG_KEY_MAX 128          /**< bytes of one key (HMAC keys 1..128) */
/** Bytes of the longest cipher key: AES-256 or ChaCha20 and a 4-byte
 *  salt. Only HMAC keys can be longer; an SA's control record keeps
 *  each key in an array of its own size. */
#define CFG_CIPHER_KEY_MAX 36
#define CFG_PORT_ADDRS_MAX 8     /**< `addr` words on one port */
#define CFG_PORTS_MAX 16         /**< port ids are 0..CFG_PORTS_MAX - 1 */
#define CFG_REPLAY_WINDOW_MAX 4096
#define CFG_REPLAY_WINDOW_DEFAULT 64
#define CFG_ALGO_NAME_MAX 48
#define CFG_TAP_NAME_MAX 15      /**< characters of `tap NAME` (IFNAMSIZ - 1) */

/** A parse or apply error: the message and the word it is about. */
struct cfg_error {
	/** Index of the offending word in the command (0 = the first word,
	 *  e.g. "state"), or -1 when the error is about the command as a
	 *  whole (something missing). For a split error, the index of the
	 *  word being read when it failed. */
	int word;
	char msg[CFG_ERR_MAX]; /**< no trailing newline, never holds a key */
};

/** Fill @p err (printf-style); a NULL @p err is allowed. @return -EINVAL */
int cfg_error_set(struct cfg_error *err, int word, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Stage 1: words -------------------------------------------------- */

/** The words of one line. They point into buf, which holds key text:
 *  release with cfg_words_free() (it wipes buf). */
struct cfg_words {
	unsigned int n;
	char *w[CFG_WORDS_MAX + 1]; /**< w[n] == NULL */
	char *buf;
	size_t buf_len;
};

/**
 * Split @p len bytes of @p line into words as sh does: blanks separate;
 * '...' is literal; "..." is literal except for \" \\ \$ \` and
 * backslash-newline; outside quotes a backslash quotes the next character
 * and backslash-newline vanishes; "" is an empty word; adjacent parts join;
 * `#` at the start of a word comments out the rest of the line. A newline
 * outside quotes is a blank (the loader hands over one command at a time).
 *
 * @return 0; -EINVAL (unterminated quote, too many words, NUL byte),
 * -E2BIG (longer than CFG_LINE_MAX) or -ENOMEM, with @p err filled.
 * On error @p out holds nothing to free.
 */
int cfg_split(const char *line, size_t len, struct cfg_words *out,
	      struct cfg_error *err);

/** Wipe and free what cfg_split() allocated. Safe on a zeroed struct. */
void cfg_words_free(struct cfg_words *ws);

/* ---- Stage 2: commands ------------------------------------------------ */

enum cfg_cmd_type {
	CFG_CMD_NONE = 0,   /**< a blank or comment-only line */
	CFG_CMD_PORT,
	CFG_CMD_ROUTE_ADD,
	CFG_CMD_ROUTE_DEL,  /**< u.route: the prefix alone */
	CFG_CMD_ROUTE_LIST,
	CFG_CMD_NEIGH_ADD,
	CFG_CMD_NEIGH_DEL,  /**< u.neigh, lladdr unused */
	CFG_CMD_NEIGH_LIST,
	CFG_CMD_NEIGH_FLUSH,
	CFG_CMD_STATE_ADD,
	CFG_CMD_STATE_UPDATE,
	CFG_CMD_STATE_MIGRATE,
	CFG_CMD_STATE_DEL,
	CFG_CMD_STATE_GET,
	CFG_CMD_STATE_ALLOCSPI,
	CFG_CMD_STATE_LIST,
	CFG_CMD_STATE_FLUSH,
	CFG_CMD_STATE_COUNT,
	CFG_CMD_POLICY_ADD,
	CFG_CMD_POLICY_UPDATE,
	CFG_CMD_POLICY_DEL,
	CFG_CMD_POLICY_LIST,
	CFG_CMD_POLICY_FLUSH,
	CFG_CMD_STATS,
	CFG_CMD_STATS_RESET,
	CFG_CMD_MONITOR,
	CFG_CMD_SET,
	CFG_CMD_COUNT_
};

/** "state add" etc., for messages. */
const char *cfg_cmd_name(enum cfg_cmd_type t);

/** An address or prefix. IPv4 lives in a[0..3], network order. */
struct cfg_addr {
	uint8_t af;     /**< AF_INET or AF_INET6 */
	uint8_t len;    /**< prefix length: 32/128 for a plain address */
	uint8_t a[16];
};

/** A traffic selector. Port ranges are inclusive; "any" is 0..65535. */
struct cfg_sel {
	struct cfg_addr src, dst; /**< prefixes, host bits masked */
	uint8_t proto;            /**< 0 = any */
	bool has_sport, has_dport;
	uint16_t sport_lo, sport_hi;
	uint16_t dport_lo, dport_hi;
};

/** What a selector's sport/dport hold for protocol @p p: ports (tcp,
 *  udp, sctp, dccp, udplite), ICMP type and code (icmp, ipv6-icmp; `type`
 *  and `code` in the grammar, as `ip xfrm`), or nothing. */
enum cfg_l4 { CFG_L4_NONE, CFG_L4_PORTS, CFG_L4_ICMP };

static inline enum cfg_l4
cfg_l4_of(uint8_t p)
{
	if (p == 6 || p == 17 || p == 33 || p == 132 || p == 136)
		return CFG_L4_PORTS;
	if (p == 1 || p == 58)
		return CFG_L4_ICMP;
	return CFG_L4_NONE;
}

enum cfg_role { CFG_ROLE_PROTECTED, CFG_ROLE_UNPROTECTED };

struct cfg_port {
	uint16_t id;
	uint8_t role;            /**< enum cfg_role */
	bool has_mac;
	uint8_t mac[6];
	uint8_t naddr;
	struct cfg_addr addr[CFG_PORT_ADDRS_MAX]; /**< not masked */
	uint16_t mtu;            /**< 68..65535, 0 = the device's */
	uint16_t queues;         /**< 1..1024, default 1 */
	bool has_tap;
	char tap[CFG_TAP_NAME_MAX + 1]; /**< `tap NAME`, NUL-terminated */
	bool xdp_steer;          /**< `xdp-steer` */
};

struct cfg_route {
	struct cfg_addr prefix;
	uint16_t port;
	bool has_via;
	struct cfg_addr via;     /**< same family as prefix */
};

/** `neigh add`; `neigh del` (lladdr unused, all zero). */
struct cfg_neigh {
	struct cfg_addr ip;
	uint8_t lladdr[6];
	uint16_t port;
};

enum cfg_dir { CFG_DIR_NONE, CFG_DIR_IN, CFG_DIR_OUT, CFG_DIR_FWD };
enum cfg_mode { CFG_MODE_TUNNEL, CFG_MODE_TRANSPORT };

/** State flags (`flag NAME`). */
#define CFG_SA_F_ESN             (1u << 0)
#define CFG_SA_F_NOECN           (1u << 1)
#define CFG_SA_F_DECAP_DSCP      (1u << 2)
#define CFG_SA_F_DONT_ENCAP_DSCP (1u << 3)

enum cfg_limit {
	CFG_LIMIT_BYTE_SOFT, CFG_LIMIT_BYTE_HARD,
	CFG_LIMIT_PACKET_SOFT, CFG_LIMIT_PACKET_HARD,
	CFG_LIMIT_TIME_SOFT, CFG_LIMIT_TIME_HARD, /**< seconds */
	CFG_LIMIT_COUNT_
};

/**
 * An SA's algorithm, keys copied in. Map it onto the crypto engine with
 * model_algo_params() (control/model.h). Wiped by cfg_cmd_clear().
 */
struct cfg_algo {
	uint8_t cipher;          /**< enum crypto_cipher */
	uint8_t auth;            /**< enum crypto_auth (NONE for AEADs) */
	uint16_t cipher_key_len; /**< AEAD: key plus 4-byte salt */
	uint16_t auth_key_len;
	uint16_t icv_len;        /**< bytes (the bits of the command / 8) */
	uint8_t cipher_key[CFG_CIPHER_KEY_MAX];
	uint8_t auth_key[CFG_KEY_MAX];
};

/** `ip xfrm` names: "rfc4106(gcm(aes))", "cbc(aes)", "hmac(sha256)". */
const char *cfg_cipher_name(enum crypto_cipher c);
const char *cfg_auth_name(enum crypto_auth a);

/**
 * The canonical name of cipher @p cipher with integrity @p auth (enum
 * crypto_cipher and crypto_auth): the AEAD's own, "rfc4106(gcm(aes))", or
 * both joined, "cbc(aes)+hmac(sha256)". @return @p buf, which needs
 * CFG_ALGO_NAME_MAX bytes.
 */
const char *cfg_algo_name(uint8_t cipher, uint8_t auth, char *buf, size_t size);

/* Which optional parts of a state command were given (cfg_state.has). */
#define CFG_SA_HAS_DIR      (1u << 0)
#define CFG_SA_HAS_REQID    (1u << 1)
#define CFG_SA_HAS_SEQ      (1u << 2)
#define CFG_SA_HAS_MODE     (1u << 3)
#define CFG_SA_HAS_WINDOW   (1u << 4)
#define CFG_SA_HAS_FLAGS    (1u << 5)
#define CFG_SA_HAS_RSEQ     (1u << 6)
#define CFG_SA_HAS_ROSEQ    (1u << 7)
#define CFG_SA_HAS_RSEQ_HI  (1u << 8)
#define CFG_SA_HAS_ROSEQ_HI (1u << 9)
#define CFG_SA_HAS_ALGO     (1u << 10)
#define CFG_SA_HAS_ENCAP    (1u << 11)
#define CFG_SA_HAS_SEL      (1u << 12)
#define CFG_SA_HAS_LIMIT    (1u << 13)

/** `state add` / `state update`. Defaults are filled in for what is not
 *  given; @c has says what was given (update replaces only those). */
struct cfg_state {
	struct cfg_addr src, dst; /**< full-length addresses, same family */
	uint32_t spi;
	uint32_t has;             /**< CFG_SA_HAS_* */
	uint8_t dir;              /**< enum cfg_dir; NONE = infer from ports */
	uint8_t mode;             /**< enum cfg_mode, default tunnel */
	uint32_t flags;           /**< CFG_SA_F_* */
	uint32_t reqid;
	uint32_t seq;             /**< the ACQUIRE this answers */
	uint32_t replay_window;   /**< default 64 */
	uint32_t replay_seq, replay_seq_hi;
	uint32_t replay_oseq, replay_oseq_hi;
	uint16_t encap_sport, encap_dport; /**< espinudp, 1..65535 */
	struct cfg_addr encap_oa; /**< the original address (0.0.0.0 or ::) */
	uint32_t limit_set;       /**< bit i: limit[i] was given */
	uint64_t limit[CFG_LIMIT_COUNT_];
	struct cfg_sel sel;       /**< without `sel`: any, family of src */
	struct cfg_algo algo;
};

/** What `state migrate` does to the SA's UDP encapsulation. */
enum cfg_migrate_encap {
	CFG_MIGRATE_ENCAP_KEEP,  /**< no `encap`: as it is */
	CFG_MIGRATE_ENCAP_NONE,  /**< `encap none`: plain ESP from now on */
	CFG_MIGRATE_ENCAP_UDP,   /**< `encap espinudp SPORT DPORT OA` */
};

/**
 * `state migrate src IP dst IP proto esp spi SPI [new-src IP] [new-dst IP]
 * [encap espinudp SPORT DPORT OA | encap none]` (MOBIKE, NAT rebinding):
 * new outer addresses and/or UDP encapsulation for a live SA, keeping
 * its keys, sequence numbers, replay window, counters and lifetimes. At
 * least one of new-src, new-dst and encap is given; new-src and new-dst
 * are of one family.
 */
struct cfg_migrate {
	struct cfg_addr src, dst; /**< the SA as it is (dst and spi name it) */
	uint32_t spi;
	bool has_new_src, has_new_dst;
	struct cfg_addr new_src, new_dst;
	uint8_t encap;            /**< enum cfg_migrate_encap */
	uint16_t encap_sport, encap_dport; /**< with CFG_MIGRATE_ENCAP_UDP */
	struct cfg_addr encap_oa;
};

/** `state del` / `state get` (also the identity part of the others). */
struct cfg_state_id {
	struct cfg_addr src, dst;
	uint32_t spi;
	bool show_keys;           /**< get only */
};

struct cfg_allocspi {
	struct cfg_addr src, dst;
	bool has_reqid, has_seq, has_mode;
	uint32_t reqid, seq;
	uint8_t mode;
	uint32_t min, max;        /**< default 256..0xffffffff */
};

enum cfg_action { CFG_ACTION_ALLOW, CFG_ACTION_BLOCK };
enum cfg_level { CFG_LEVEL_REQUIRED, CFG_LEVEL_USE };

/* PFP fields (`pfp src,dport`) are enum pfp_field (dataplane/flowkey.h),
 * the one definition the grammar, the model and the workers share. */

struct cfg_tmpl {
	bool has_src_dst;         /**< always in tunnel mode */
	struct cfg_addr src, dst;
	bool has_spi;
	uint32_t spi;
	uint32_t reqid;
	uint8_t mode;             /**< enum cfg_mode, default tunnel */
	uint8_t level;            /**< enum cfg_level, default required */
};

struct cfg_policy {
	struct cfg_sel sel;
	uint8_t dir;              /**< IN, OUT or FWD */
	uint8_t action;           /**< enum cfg_action, default allow */
	bool has_index, has_tmpl;
	uint32_t priority;        /**< default 0; lower wins */
	uint32_t index;
	uint32_t pfp;             /**< enum pfp_field bits, only with a tmpl */
	struct cfg_tmpl tmpl;
};

/** `policy del index N [dir D]` or `policy del SELECTOR dir D`. */
struct cfg_policy_del {
	bool by_index;
	uint32_t index;
	uint8_t dir;              /**< NONE allowed with by_index */
	struct cfg_sel sel;
};

#define CFG_MON_ACQUIRE     (1u << 0)
#define CFG_MON_EXPIRE      (1u << 1)
#define CFG_MON_INVALID_SPI (1u << 2)
#define CFG_MON_POLICY      (1u << 3)
#define CFG_MON_STATE       (1u << 4)
#define CFG_MON_MAPPING     (1u << 5)
#define CFG_MON_ALL         0x3fu

/** `set KEY VALUE`: the word is the key's name in lower case with '-'
 *  for '_' ("acquire-queue-total"). */
enum cfg_set_key {
	CFG_SET_ACQUIRE_EXPIRES,     /**< seconds, 1..86400 */
	CFG_SET_ACQUIRE_QUEUE,       /**< packets per flow, 0..65536 (0: ACQUIRE, hold none) */
	CFG_SET_ACQUIRE_QUEUE_TOTAL, /**< packets in all, 1..16777216 */
	CFG_SET_ALLOCSPI_EXPIRES,    /**< seconds `state allocspi` reserves
				      *   an SPI for, 1..86400 (default 300) */
	CFG_SET_WORKER_IDLE,         /**< enum cfg_worker_idle (default poll) */
	CFG_SET_TCP_MSS_CLAMP,       /**< 0 = off (default), CFG_MSS_AUTO, or
				      *   an MSS, CFG_MSS_MIN..65535 */
	CFG_SET_ICMP_RATELIMIT,      /**< ICMP errors a second, 0..1000000;
				      *   0 = no limit (default 1000) */
	CFG_SET_NEIGH_REACHABLE,     /**< seconds a learned neighbour stays
				      *   reachable, 1..3600 (default 30) */
	CFG_SET_OUT_SA,              /**< enum cfg_out_sa (default owner) */
	CFG_SET_ICMP_UNREACHABLE,    /**< 0 off (default), 1 on */
	CFG_SET_COUNT_
};

/** `set worker-idle poll|adaptive`: the value of CFG_SET_WORKER_IDLE. */
enum cfg_worker_idle { CFG_IDLE_POLL, CFG_IDLE_ADAPTIVE };

/** `set out-sa owner|shared`: the value of CFG_SET_OUT_SA. owner: one
 *  worker sends through each outbound SA, the others hand it their
 *  packets; shared: every worker sends through every SA, taking its
 *  sequence numbers a run at a time with one atomic add. */
enum cfg_out_sa { CFG_OUT_SA_OWNER, CFG_OUT_SA_SHARED };

/** `set tcp-mss-clamp auto`: clamp to what fits each SA's path. */
#define CFG_MSS_AUTO UINT32_MAX
/** The least `set tcp-mss-clamp N`: RFC 879's default MSS. */
#define CFG_MSS_MIN 536

struct cfg_set {
	uint8_t key;              /**< enum cfg_set_key */
	uint32_t value;
};

/** One parsed command. Release with cfg_cmd_clear() (wipes keys). */
struct cfg_cmd {
	uint8_t type;             /**< enum cfg_cmd_type */
	union {
		struct cfg_port port;
		struct cfg_route route;
		struct cfg_neigh neigh;       /**< NEIGH_ADD, NEIGH_DEL */
		struct cfg_state state;       /**< STATE_ADD, STATE_UPDATE */
		struct cfg_migrate migrate;   /**< STATE_MIGRATE */
		struct cfg_state_id sa;       /**< STATE_DEL, STATE_GET */
		struct cfg_allocspi allocspi;
		struct cfg_policy policy;     /**< POLICY_ADD, POLICY_UPDATE */
		struct cfg_policy_del policy_del;
		uint32_t monitor;             /**< CFG_MON_* (never 0) */
		struct cfg_set set;
	} u;
};

/**
 * Parse one command from @p argc words (as cfg_split() gives them, or as
 * espctl's argv after the global options). Zero words give CFG_CMD_NONE.
 * @return 0, or -EINVAL with @p err naming the word. @p cmd is always
 * initialised (cleared on error) and must go through cfg_cmd_clear().
 */
int cfg_parse(int argc, char *const argv[], struct cfg_cmd *cmd,
	      struct cfg_error *err);

/** cfg_split() then cfg_parse(); the words are wiped before returning. */
int cfg_parse_line(const char *line, struct cfg_cmd *cmd,
		   struct cfg_error *err);

/** Wipe @p cmd (explicit_bzero: it may hold keys). */
void cfg_cmd_clear(struct cfg_cmd *cmd);

/** Clear @p a's host bits, past its prefix length. */
void cfg_addr_mask(struct cfg_addr *a);

/** Text form of an address or prefix ("10.0.0.0/8"; no /LEN when
 *  @p with_len is false). @return @p buf. Needs 50 bytes. */
char *cfg_addr_str(const struct cfg_addr *a, bool with_len, char *buf,
		   size_t size);

/* ---- Stage 3: files --------------------------------------------------- */

/**
 * Apply one command. Called in file order, with the line where the
 * command starts. Fill @p err and return non-zero (-errno) to report an
 * error; the loader prints it with the file and line.
 */
typedef int (*cfg_apply_fn)(void *arg, const struct cfg_cmd *cmd,
			    const char *file, unsigned int line,
			    struct cfg_error *err);

struct cfg_load {
	cfg_apply_fn apply;   /**< NULL: parse only */
	void *arg;
	/** Each error goes here as "FILE:LINE: error: MSG\n"; NULL = nowhere */
	FILE *errs;
	bool keep_going;      /**< go on after an error (--check) */
	unsigned int nerrors; /**< out: errors reported */
	unsigned int ncmds;   /**< out: commands parsed (blank lines excluded) */
	/** During apply: the command's logical line as read (continuations
	 *  kept, for cfg_split()); it may hold keys. NULL otherwise. */
	const char *text;
	size_t text_len;
};

/**
 * Read @p path (`-` is stdin) and hand each command to ld->apply. A file
 * is read through a stdio buffer of the loader's, wiped at the end: the
 * file may hold keys.
 * Comments, blank lines and `\` continuations are handled; a line longer
 * than CFG_LINE_MAX is an error for that line only (the rest is skipped
 * up to its newline, never buffered).
 * @return 0; -EINVAL when errors were reported (ld->nerrors of them);
 * -errno when the file cannot be read (also reported through ld->errs).
 */
int cfg_load_file(const char *path, struct cfg_load *ld);

/** Same, from an open stream named @p name in messages. */
int cfg_load_stream(FILE *f, const char *name, struct cfg_load *ld);

#endif /* ESPD_CONFIG_H */
