/*
 * internal.h - shared private helpers of the core: bounded JSON writer, jsmn-based JSON reader,
 * outbox, logging with per-kind rate limiting, PRNG, member table. Not part of the public API.
 */
#ifndef EKC_INTERNAL_H
#define EKC_INTERNAL_H

#include "ekc_core.h"
#include "ekc_kor_wire.h"

/* jsmn is header-only; every translation unit gets static copies, only util.c calls them. */
#define JSMN_STATIC
#define JSMN_STRICT
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <jsmn.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <string.h>

/* ---- bounded writer (no snprintf: newlib's printf family may allocate) ---- */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
} ekc_wr_t;

void wr_init(ekc_wr_t *w, char *buf, size_t cap);
void wr_raw(ekc_wr_t *w, const char *s, size_t n);
void wr_str(ekc_wr_t *w, const char *s);
void wr_jstr(ekc_wr_t *w, const char *s); /* quoted, escaped JSON string */
void wr_u64(ekc_wr_t *w, uint64_t v);
void wr_i64(ekc_wr_t *w, int64_t v);
void wr_hex(ekc_wr_t *w, const uint8_t *b, size_t n);
void wr_hex64(ekc_wr_t *w, uint64_t v);
void wr_hex32(ekc_wr_t *w, uint32_t v);
/* NUL-terminates (truncating if needed) and returns buf. */
const char *wr_cstr(ekc_wr_t *w);

/* ---- JSON reader over jsmn tokens ---- */
#define EKC_JSON_TOKENS 160
typedef struct {
    const char *js;
    size_t len;
    jsmntok_t *tok;
    int ntok;
} ekc_json_t;

/* Tokenises; returns false for invalid JSON or a non-object root. */
bool json_parse(ekc_json_t *j, const char *js, size_t len, jsmntok_t *tok, int cap);
int json_skip(const ekc_json_t *j, int i);
/* Value token of `key` in object token obj, or -1. */
int json_get(const ekc_json_t *j, int obj, const char *key);
/* True if every key of object obj is one of `allowed` (NULL-terminated) and no key repeats. */
bool json_keys_ok(const ekc_json_t *j, int obj, const char *const *allowed);
bool json_is_str(const ekc_json_t *j, int i);
bool json_str_eq(const ekc_json_t *j, int i, const char *s);
/* Copies a string token (no escapes allowed) of length <= max into out; false otherwise. */
bool json_str(const ekc_json_t *j, int i, char *out, size_t max);
/* Strict integer (no fraction/exponent/leading zero) within [lo, hi]. */
bool json_int(const ekc_json_t *j, int i, int64_t lo, int64_t hi, int64_t *out);
bool json_bool(const ekc_json_t *j, int i, bool *out);

/* ---- validation helpers (ROJ-ENV-4, ROJ-PROP-2) ---- */
bool valid_node_id(const char *s);
bool valid_key(const char *s);
bool valid_value(const char *s);
bool valid_lang(const char *s);
bool valid_cap_token(const char *s, size_t n);

/* ---- little-endian access (KOR-WIRE-3) ---- */
static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* ---- invalid-input kinds (CTL-CMD-10 `invalid`) ---- */
typedef enum {
    INV_ROJ_JSON = 0, INV_ROJ_ENVELOPE, INV_ROJ_PAYLOAD, INV_ROJ_SIZE, INV_ROJ_ABORT_UNSUPPORTED,
    INV_ROJ_COMMIT_VOTERS, INV_ROJ_KV_CAPACITY, INV_ROJ_MEMBER_CAPACITY,
    INV_KOR_LENGTH, INV_KOR_TYPE, INV_KOR_SOURCE, INV_KOR_EVENT, INV_KOR_HOP, INV_KOR_ACK,
    INV_KOR_REQUEST, INV_KOR_SYNC, INV_KOR_ORIGIN_CAPACITY, INV_KOR_GAP_FULL, INV_KOR_PAYLOAD,
    INV_CTL_REQUEST, INV_KIND_COUNT
} ekc_invalid_kind_t;
extern const char *const ekc_invalid_names[INV_KIND_COUNT];
extern const char *const ekc_invalid_clause[INV_KIND_COUNT];

/* Counts and (rate-limited: once per kind per 10 s, CTL-LOG-2) logs invalid input. */
void note_invalid(ekc_node_t *n, ekc_invalid_kind_t kind, const char *detail);
void node_log(ekc_node_t *n, ekc_log_level_t lvl, const char *msg, const char *clause,
              const char *fields);

/* ---- outbox ---- */
/* Returns writable space of at least `need` bytes, or NULL (outbox full: counted as dropped). */
uint8_t *out_reserve(ekc_node_t *n, size_t need);
void out_commit_to(ekc_node_t *n, ekc_channel_t ch, ekc_addr_t dst, size_t len);
void out_commit_mask(ekc_node_t *n, ekc_channel_t ch, ekc_member_mask_t mask, size_t len);

/* ---- PRNG (splitmix64), seeded from CTL-ENV-11 ---- */
uint64_t rng_next(ekc_node_t *n);
uint32_t rng_range(ekc_node_t *n, uint32_t lo, uint32_t hi); /* inclusive */

/* ---- members ---- */
int member_find(const ekc_node_t *n, const char *node_id);
int member_find_module(const ekc_node_t *n, uint8_t module_id);
int member_add(ekc_node_t *n, const char *node_id); /* -1 when full (ROJ-MEMB-3) */
bool member_live(const ekc_node_t *n, int idx);
/* Member indices sorted ascending by node_id. Returns count. */
int members_sorted(const ekc_node_t *n, ekc_member_mask_t mask, uint8_t out[EKC_MAX_MEMBERS]);
static inline int popcount32(uint32_t v) { int c = 0; while (v) { v &= v - 1; c++; } return c; }

/* ---- KV ---- */
ekc_kv_entry_t *kv_find(ekc_node_t *n, const char *key);
uint32_t kv_version(const ekc_node_t *n, const char *key);
/* ROJ-KV-1 apply; returns 1 applied, 0 kept, -1 capacity (ROJ-KV-2). */
int kv_apply(ekc_node_t *n, const char *key, const char *value, uint32_t version);

/* ---- per-module entry points ---- */
void roj_on_datagram(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len);
void roj_tick(ekc_node_t *n);
void roj_lock_release_pid(ekc_node_t *n, const char *pid);
void kor_on_frame(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len);
void kor_tick(ekc_node_t *n);
/* Delivers an event from persistence or gossip (KOR-RX-1), applying effects. */
void kor_apply_effects(ekc_node_t *n, const uint8_t *ev);
void kor_store_append(ekc_node_t *n, const uint8_t *ev);
ekc_vv_entry_t *vv_entry(ekc_node_t *n, uint8_t origin, bool create);
/* Computes the neighbour set (KOR-NBR-1/2) as a member mask. */
ekc_member_mask_t kor_neighbours(const ekc_node_t *n);
void kor_emit_consensus_result(ekc_node_t *n, const char *key, const char *value, uint32_t version);
void ctl_on_datagram(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len);
void persist_save(ekc_node_t *n);
void persist_load(ekc_node_t *n);
uint32_t ekc_caps_parse_token(const char *s);
uint32_t event_timestamp_us(ekc_node_t *n);

#endif
