/*
 * ekc_core.h - public interface of the sans-IO EK-ROJ / EK-KOR / control core.
 *
 * The core is a pure state machine: the caller (a POSIX select() loop or the MCU firmware) owns one
 * ekc_node_t, feeds it datagrams, discovery results and ticks with an explicit time, and drains the
 * datagrams it wants sent with ekc_next_output(). The core never allocates, never calls the OS and
 * keeps no global mutable state: everything lives in the ekc_node_t the caller owns. All tables are
 * fixed-size; their limits (and what happens when they are full) follow docs/spec/ek-roj.md,
 * ek-kor.md and control.md, whose clause IDs are cited below.
 *
 * Threading: none. One node is driven from one thread (or one main loop); calls must not overlap.
 * Time: now_ms is a monotonic millisecond clock chosen by the caller; it must never go backwards.
 */
#ifndef EKC_CORE_H
#define EKC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version and fixed limits (control.md CTL-CAP-1 "limits") ------------------------------ */

#define EKC_IMPL_NAME "ekconform-c"
#define EKC_IMPL_VERSION "0.1.0"
#define EKC_SPEC_VERSION "1.0"

#define EKC_MAX_MEMBERS 32      /* ROJ-MEMB-3, including the node itself */
#define EKC_MAX_PENDING 16      /* ROJ-PROP-8: own proposals pending at once */
#define EKC_MAX_LOCKS 16        /* ROJ-VOTE-5 */
#define EKC_MAX_KEYS 64         /* ROJ-KV-2 */
#define EKC_EVENT_STORE 256     /* KOR-STORE-1: most recent delivered events kept */
#define EKC_GAP_BUFFER 16       /* KOR-GAP-2 */
#define EKC_MAX_ORIGINS 32      /* version-vector entries (origins) tracked */
#define EKC_MAX_FIELDS 256      /* KOR-LWW-1: one register per field_id */
#define EKC_MAX_NEIGHBOURS 7    /* KOR-NBR-1 */
#define EKC_MAX_STATIC_PEERS 32 /* CTL-ENV-6 */
#define EKC_VOTE_CACHE 32       /* ROJ-VOTE-1: decisions remembered for duplicate PROPOSEs */
#define EKC_CTL_CACHE 8         /* CTL-WIRE-4: cached propose/emit responses */
#define EKC_CTL_CACHE_BYTES 160
#define EKC_OUTBOX_BYTES 8192   /* bounded outbox, see ekc_next_output() */
#define EKC_OUTBOX_ENTRIES 128
#define EKC_JSON_TOKEN_SLOTS 160 /* jsmn tokens per datagram (scratch kept in the node) */

#define EKC_ROJ_MAX_DATAGRAM 1400 /* ROJ-WIRE-2, CTL-WIRE-1 */
#define EKC_KOR_MAX_FRAME 64      /* KOR-WIRE-2 */
#define EKC_EVENT_LEN 36          /* KOR section 3 */
#define EKC_EVENT_PAYLOAD_LEN 20

#define EKC_NODE_ID_MAX 16 /* ROJ-ENV-4 */
#define EKC_KEY_MAX 8      /* ROJ-PROP-2 */
#define EKC_VALUE_MAX 8    /* ROJ-PROP-2 */
#define EKC_LANG_MAX 16
#define EKC_VERSION_STR_MAX 32
#define EKC_PID_MAX 40 /* "<node_id>:<8 hex>:<u32>" = 16+1+8+1+10 = 36, plus NUL */

/* ---- capabilities (CTL-CAP-2), as a bit set ------------------------------------------------- */

enum {
    EKC_CAP_ROJ = 1u << 0,
    EKC_CAP_KOR = 1u << 1,
    EKC_CAP_CTL = 1u << 2,
    EKC_CAP_MDNS = 1u << 3,
    EKC_CAP_ABORT = 1u << 4,
    EKC_CAP_PERSIST = 1u << 5,
    EKC_CAP_CLOCK_SKEW = 1u << 6,
    EKC_CAP_KOR_RETX = 1u << 7,
};

/* ---- addressing ----------------------------------------------------------------------------- */

/* The three UDP channels of a node (ROJ 9990, KOR 9991, CTL 9992 by default, CTL-ENV-4). */
typedef enum { EKC_CH_ROJ = 0, EKC_CH_KOR = 1, EKC_CH_CTL = 2 } ekc_channel_t;

/* IPv4 address in host byte order (0x7f000001 is 127.0.0.1) and UDP port. */
typedef struct {
    uint32_t ipv4;
    uint16_t port;
} ekc_addr_t;

/* A discovered member (ROJ-DISC-3), e.g. resolved by the mDNS browser (ekc_mdns.h). */
typedef struct {
    char node_id[EKC_NODE_ID_MAX + 1];
    uint32_t ipv4;
    uint16_t roj_port;
    uint16_t kor_port; /* 0 if unknown */
    uint16_t ctl_port; /* 0 if unknown */
    uint8_t module_id; /* 0 if unknown */
    uint32_t caps;     /* EKC_CAP_* parsed from TXT `caps` */
} ekc_peer_info_t;

/* ---- hooks the caller provides --------------------------------------------------------------- */

typedef enum { EKC_LOG_DEBUG = 0, EKC_LOG_INFO, EKC_LOG_WARN, EKC_LOG_ERROR } ekc_log_level_t;

/* One protocol log record (CTL-LOG-1). The shell adds `ts` and `node` and prints it.
 * `fields` is either "" or a comma-separated list of JSON members without braces,
 * e.g. "\"pid\":\"c-1:0000002a:1\",\"key\":\"bay3\"". All strings are valid only during the call. */
typedef struct {
    ekc_log_level_t level;
    const char *msg;
    const char *clause; /* spec clause ID or NULL */
    const char *fields;
} ekc_log_record_t;

/* Persistence (capability `persist`, CTL-PERSIST-1). The core serialises its own origin_seq, version
 * vector and event store into one opaque blob (< 16 KiB) and hands it over in chunks, in order.
 * `save` must make the blob durable atomically when `last` is true (e.g. write temp file + rename on
 * POSIX, semihosting on the MCU); return 0 on success. `load` copies up to `cap` bytes of the saved
 * blob starting at `offset` into buf and returns the number copied (0 at the end), or -1 if there is
 * no saved blob. Leave both NULL to run without persistence (CTL-PERSIST-2 then applies). */
typedef struct {
    void *ctx;
    int (*save)(void *ctx, size_t offset, const uint8_t *chunk, size_t len, bool last);
    long (*load)(void *ctx, size_t offset, uint8_t *buf, size_t cap);
} ekc_persist_t;

typedef struct {
    /* ---- identity (CTL-ENV-1, -2, -15) ---- */
    char node_id[EKC_NODE_ID_MAX + 1]; /* ^[a-z0-9][a-z0-9-]{0,15}$ */
    uint8_t module_id;                 /* 1..255 */
    char lang[EKC_LANG_MAX + 1];       /* TXT/ANNOUNCE `lang`, e.g. "c" or "mcu" */
    uint32_t caps;                     /* EKC_CAP_*; roj|kor always set by ekc_init */
    /* ---- addressing (CTL-ENV-3, -4); ctl_port 0 disables the control protocol ---- */
    uint32_t bind_ipv4;
    uint16_t roj_port, kor_port, ctl_port;
    /* ---- timers (CTL-ENV-7..10, -12); 0 selects the spec default ---- */
    uint32_t announce_ms;
    uint32_t liveness_ms;
    uint32_t anti_entropy_ms;
    uint32_t proposal_timeout_ms;
    /* ---- randomness (CTL-ENV-11): drives jitter, backoff and anti-entropy peer choice ---- */
    uint64_t seed;
    uint32_t incarnation; /* ROJ-ANN-1; the shell draws it (time/entropy) so restarts differ */
    /* ---- static peers (CTL-ENV-6, ROJ-DISC-4) ---- */
    ekc_addr_t static_peers[EKC_MAX_STATIC_PEERS];
    uint8_t static_peer_count;
    /* ---- hooks ---- */
    /* Event timestamp clock in microseconds (KOR section 3 `timestamp_us`); NULL uses now_ms*1000. */
    uint64_t (*clock_us)(void *ctx);
    void *clock_ctx;
    /* Protocol log sink; NULL discards logs. */
    void (*log)(void *ctx, const ekc_log_record_t *rec);
    void *log_ctx;
    ekc_persist_t persist;
} ekc_config_t;

/* ---- output ---------------------------------------------------------------------------------- */

/* One datagram to send. `data` points into the node's outbox and stays valid until the next call
 * into the core with this node. */
typedef struct {
    ekc_channel_t channel;
    ekc_addr_t dst;
    const uint8_t *data;
    size_t len;
} ekc_output_t;

/* ---- internal tables (fully defined so the caller can own the node statically) --------------
 * Treat every field below as private: read state through the control protocol or the accessor
 * functions, never by poking the struct. Members are referred to by their index in `members`,
 * which is stable because membership never shrinks (ROJ-MEMB-2). */

typedef uint32_t ekc_member_mask_t; /* bit i = members[i]; EKC_MAX_MEMBERS == 32 */

typedef struct {
    char node_id[EKC_NODE_ID_MAX + 1];
    bool addr_known;
    bool announced; /* has sent us a valid ANNOUNCE */
    uint8_t module_id;
    uint32_t ipv4;
    uint16_t roj_port, kor_port, ctl_port;
    uint32_t caps;
    uint32_t incarnation;
    uint64_t last_heard_ms; /* ROJ-ANN-4 */
    bool heard;
    bool ae_sent; /* we have sent this member a VV_SYNC (see README: anti-entropy reply) */
} ekc_member_t;

typedef struct {
    char key[EKC_KEY_MAX + 1];
    char value[EKC_VALUE_MAX + 1];
    uint32_t version;
} ekc_kv_entry_t;

typedef struct {
    bool used;
    char key[EKC_KEY_MAX + 1];
    char pid[EKC_PID_MAX];
    uint64_t expires_ms; /* ROJ-TIME-2 */
    bool key_absent;     /* key was absent from the store when locked (ROJ-VOTE-5 count) */
} ekc_lock_t;

typedef enum {
    EKC_PROP_FREE = 0,
    EKC_PROP_PENDING, /* PROPOSE sent, collecting votes */
    EKC_PROP_BACKOFF, /* given up, waiting to retry (ROJ-RETRY-2) */
} ekc_prop_state_t;

typedef struct {
    ekc_prop_state_t state;
    char pid[EKC_PID_MAX];
    char key[EKC_KEY_MAX + 1];
    char value[EKC_VALUE_MAX + 1];
    uint32_t version;
    uint32_t timeout_ms;
    ekc_member_mask_t members; /* ROJ-THR-2 */
    ekc_member_mask_t accepts; /* ROJ-THR-3: self included */
    ekc_member_mask_t rejects;
    uint8_t n;
    uint8_t stale_rejects;
    uint8_t attempt; /* retries done so far, 0..3 */
    uint64_t sent_ms;
    uint64_t deadline_ms; /* ROJ-TIME-1 */
    uint64_t retry_ms;
    uint32_t wait_version; /* stale majority: retry once the key reaches this version */
} ekc_proposal_t;

typedef struct {
    bool used;
    char pid[EKC_PID_MAX];
    uint8_t reason; /* ekc_vote_reason_t */
    uint64_t expires_ms;
} ekc_vote_memo_t;

typedef struct {
    uint8_t bytes[EKC_EVENT_LEN]; /* wire layout, flags/hop as stored */
} ekc_event_t;

typedef struct {
    bool used;
    ekc_event_t ev;
    uint8_t from_member; /* index of the frame's sender, 0xff if unknown */
    ekc_addr_t from;
    bool repair;
} ekc_gap_slot_t;

typedef struct {
    uint8_t origin;
    uint32_t seq;          /* KOR-VV-1 */
    uint64_t gap_req_ms;   /* KOR-GAP-1: last EVENT_REQUEST */
    bool gap_outstanding;
    uint8_t gap_alt;       /* rotates the neighbour asked */
} ekc_vv_entry_t;

typedef struct {
    bool used;
    ekc_event_t ev;
} ekc_field_reg_t;

typedef struct {
    bool used;
    uint32_t id;
    uint16_t len;
    uint8_t bytes[EKC_CTL_CACHE_BYTES];
    ekc_addr_t src;
} ekc_ctl_memo_t;

typedef struct {
    uint8_t channel;
    uint8_t to_mask; /* 1: `dst_mask` over members, 0: single `dst` */
    ekc_addr_t dst;
    ekc_member_mask_t dst_mask;
    uint16_t off, len;
} ekc_outbox_entry_t;

/* Counters of invalid input per kind (CTL-CMD-10, ROJ-WIRE-4, KOR-WIRE-4). */
#define EKC_INVALID_KINDS 24
typedef struct {
    uint32_t count;
    uint32_t suppressed;
    uint64_t last_log_ms;
    bool logged;
} ekc_invalid_counter_t;

typedef struct {
    uint64_t rx_roj, rx_kor, rx_ctl;
    uint64_t tx_roj, tx_kor, tx_ctl;
    uint64_t tx_roj_announce; /* of tx_roj: ANNOUNCEs (for messages-per-commit figures) */
    uint64_t commits_sent, commits_applied, outbox_dropped, persist_errors;
    ekc_invalid_counter_t invalid[EKC_INVALID_KINDS];
} ekc_stats_t;

typedef struct {
    ekc_config_t cfg;
    uint64_t start_ms;
    uint64_t now_ms;
    bool started;
    uint64_t rng; /* splitmix64/xorshift state, seeded from cfg.seed */
    int64_t clock_skew_us; /* CTL-CMD-11 */

    /* EK-ROJ */
    ekc_member_t members[EKC_MAX_MEMBERS];
    uint8_t member_count; /* members[0] is the node itself */
    uint32_t announce_seq;
    uint64_t next_announce_ms;
    ekc_kv_entry_t kv[EKC_MAX_KEYS]; /* sorted ascending by key */
    uint8_t kv_count;
    ekc_lock_t locks[EKC_MAX_LOCKS];
    ekc_proposal_t props[EKC_MAX_PENDING];
    uint32_t pid_counter; /* ROJ-PROP-1 */
    ekc_vote_memo_t votes[EKC_VOTE_CACHE];
    uint8_t vote_next;

    /* EK-KOR */
    ekc_event_t store[EKC_EVENT_STORE]; /* ring of delivered events, KOR-STORE-1 */
    uint16_t store_head, store_count;
    ekc_gap_slot_t gap[EKC_GAP_BUFFER];
    ekc_vv_entry_t vv[EKC_MAX_ORIGINS]; /* sorted ascending by origin */
    uint8_t vv_count;
    ekc_field_reg_t fields[EKC_MAX_FIELDS];
    uint16_t fields_count;
    uint8_t nbr_override[EKC_MAX_NEIGHBOURS]; /* KOR-NBR-2 */
    uint8_t nbr_override_count;
    uint64_t next_ae_ms;
    bool ae_initial_done; /* KOR-AE-1 "once, at once" */
    bool emit_allowed;    /* CTL-PERSIST-2 */
    bool startup_sync_sent;
    uint64_t startup_sync_ms; /* the last start-up VV_SYNC */
    uint64_t self_frame_ms;   /* the last frame carrying an own-origin event (CTL-PERSIST-2) */
    uint8_t sync_heard[32];   /* bit m: module m's VV_SYNC covering our module arrived */
    ekc_kv_entry_t deferred_bridge[EKC_MAX_PENDING]; /* BRIDGE-1 events held while blocked */
    uint8_t deferred_count;
    uint32_t self_seq_seen; /* highest own origin_seq seen in a frame or stated by a VV_SYNC (CTL-PERSIST-2) */
    bool persist_dirty;
    uint64_t next_persist_ms;

    /* control */
    ekc_ctl_memo_t ctl_cache[EKC_CTL_CACHE];
    uint8_t ctl_cache_next;

    /* outbox (bounded; on overflow a datagram is dropped and counted in stats.outbox_dropped) */
    uint8_t outbox[EKC_OUTBOX_BYTES];
    ekc_outbox_entry_t out_entries[EKC_OUTBOX_ENTRIES];
    uint16_t out_head, out_count;
    uint16_t out_bytes_used;
    uint8_t out_cursor;  /* next member bit to emit within the head entry */

    ekc_stats_t stats;
    uint8_t ctl_scratch[EKC_ROJ_MAX_DATAGRAM]; /* control response under construction */
    int32_t json_scratch[EKC_JSON_TOKEN_SLOTS * 4]; /* jsmn token array, kept off the MCU stack */
} ekc_node_t;

/* ---- API ------------------------------------------------------------------------------------ */

typedef enum {
    EKC_OK = 0,
    EKC_ERR_CONFIG = -1,   /* invalid configuration; ekc_init leaves the node unusable */
    EKC_ERR_LOCKED = -2,   /* ROJ-PROP-7 */
    EKC_ERR_CAPACITY = -3, /* ROJ-PROP-8, ROJ-VOTE-5 */
    EKC_ERR_BAD = -4,      /* malformed arguments */
    EKC_ERR_BUSY = -5,     /* CTL-PERSIST-2: not yet allowed to emit */
    EKC_ERR_STALE = -6,
} ekc_status_t;

/* Fills cfg with the spec defaults (ports 9990/9991/9992, timers, caps roj|kor|ctl|abort). */
void ekc_config_defaults(ekc_config_t *cfg);

/* Validates cfg and initialises node (membership = {self}; loads persisted state if a load hook is
 * given). Returns EKC_OK or EKC_ERR_CONFIG. The node does nothing until the first call with a time. */
ekc_status_t ekc_init(ekc_node_t *node, const ekc_config_t *cfg);

/* A datagram received on `channel` from `src`. Invalid input is counted and dropped (ROJ-WIRE-4,
 * KOR-WIRE-4, CTL-WIRE-3); it never changes protocol state. */
void ekc_on_datagram(ekc_node_t *node, uint64_t now_ms, ekc_channel_t channel, ekc_addr_t src,
                     const uint8_t *data, size_t len);

/* A discovery result (ROJ-DISC-3). The member is added (ROJ-MEMB-3 caps it at 32). */
void ekc_on_peer(ekc_node_t *node, uint64_t now_ms, const ekc_peer_info_t *peer);

/* Advances timers: announces, proposal deadlines and retries, lock expiry, gap re-requests,
 * anti-entropy, persistence. Call at least every EKC_TICK_MS (CTL-ENV-12). */
void ekc_tick(ekc_node_t *node, uint64_t now_ms);

/* Milliseconds until the core next needs ekc_tick (for select() timeouts); never above 1000. */
uint32_t ekc_next_deadline_ms(const ekc_node_t *node, uint64_t now_ms);

/* Makes pending state durable now (capability `persist`), e.g. before a clean shutdown. */
void ekc_persist_flush(ekc_node_t *node);

/* Pops the next datagram to send into *out. Returns false when the outbox is empty. */
bool ekc_next_output(ekc_node_t *node, ekc_output_t *out);

/* Direct entry points used by the control protocol (and by firmware without a control channel). */
ekc_status_t ekc_propose(ekc_node_t *node, uint64_t now_ms, const char *key, const char *value,
                         char pid_out[EKC_PID_MAX], uint32_t *version_out);
ekc_status_t ekc_emit(ekc_node_t *node, uint64_t now_ms, uint8_t event_type,
                      const uint8_t payload[EKC_EVENT_PAYLOAD_LEN], uint8_t *origin_out,
                      uint32_t *seq_out);

/* Read-only accessors. */
const ekc_kv_entry_t *ekc_kv_get(const ekc_node_t *node, const char *key);
uint8_t ekc_kv_count(const ekc_node_t *node);
uint8_t ekc_pending_count(const ekc_node_t *node);
uint8_t ekc_lock_count(const ekc_node_t *node);
uint32_t ekc_vv_get(const ekc_node_t *node, uint8_t origin);
uint8_t ekc_live_count(const ekc_node_t *node);
/* CTL-DIGEST-1..3 as 64-bit values. */
uint64_t ekc_kv_digest(const ekc_node_t *node);
uint64_t ekc_log_digest(const ekc_node_t *node, uint32_t *count_out);
uint64_t ekc_fields_digest(const ekc_node_t *node);

/* ROJ-THR-1: t(n) = (67 n + 99) / 100. */
static inline uint32_t ekc_threshold(uint32_t n) { return (67u * n + 99u) / 100u; }

#ifdef __cplusplus
}
#endif
#endif /* EKC_CORE_H */
