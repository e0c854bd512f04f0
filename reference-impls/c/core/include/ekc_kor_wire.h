/*
 * ekc_kor_wire.h - EK-KOR v2 frame codec (ek-kor.md sections 2..7): checked zero-copy views with one
 * accessor per field, in the style of smoltcp's src/wire. Every access is byte by byte in little
 * endian (KOR-WIRE-3); no packed-struct casts, so unaligned buffers are safe on Cortex-M.
 */
#ifndef EKC_KOR_WIRE_H
#define EKC_KOR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    EKC_KOR_EVENT_GOSSIP = 0x60, /* KOR-FRAME-1 */
    EKC_KOR_EVENT_ACK = 0x61,
    EKC_KOR_EVENT_REQUEST = 0x62,
    EKC_KOR_VV_SYNC = 0x63,
};
enum {
    EKC_EVT_STATE_TRANSITION = 0x01,
    EKC_EVT_FIELD_PUBLISHED = 0x02,
    EKC_EVT_NEIGHBOR_JOINED = 0x03,
    EKC_EVT_NEIGHBOR_LEFT = 0x04,
    EKC_EVT_CONSENSUS_START = 0x05,
    EKC_EVT_CONSENSUS_VOTE = 0x06,
    EKC_EVT_CONSENSUS_RESULT = 0x07,
};
#define EKC_EVT_FLAG_REPAIR 0x01
#define EKC_KOR_MAX_HOPS 3
#define EKC_KOR_GOSSIP_LEN 46
#define EKC_KOR_REQUEST_LEN 12
#define EKC_KOR_ACK_MAX 4
#define EKC_KOR_SYNC_MAX 11

/* Why a frame is invalid; EKC_KOR_OK if it is valid. */
typedef enum {
    EKC_KOR_OK = 0,
    EKC_KOR_ERR_LENGTH,  /* KOR-WIRE-2, KOR-FRAME-3 */
    EKC_KOR_ERR_TYPE,    /* KOR-FRAME-1 */
    EKC_KOR_ERR_SOURCE,  /* KOR-FRAME-2 */
    EKC_KOR_ERR_EVENT,   /* KOR-EVT-1..6, KOR-GOS-1 */
    EKC_KOR_ERR_HOP,     /* KOR-GOS-3 */
    EKC_KOR_ERR_ACK,     /* KOR-ACK-1 */
    EKC_KOR_ERR_REQUEST, /* KOR-REQ-1 */
    EKC_KOR_ERR_SYNC,    /* KOR-SYNC-1 */
    EKC_KOR_ERR_PAYLOAD, /* KOR-TYPE-1 */
} ekc_kor_error_t;

/* ---- the 36-byte event (section 3); `e` points at the event's first byte ---- */
uint32_t ekc_evt_sequence(const uint8_t *e);
uint32_t ekc_evt_timestamp_us(const uint8_t *e);
uint8_t ekc_evt_type(const uint8_t *e);
uint8_t ekc_evt_flags(const uint8_t *e);
uint8_t ekc_evt_origin(const uint8_t *e);
uint8_t ekc_evt_hop(const uint8_t *e);
uint32_t ekc_evt_origin_seq(const uint8_t *e);
const uint8_t *ekc_evt_payload(const uint8_t *e);
/* Checks KOR-EVT-1..6 and KOR-TYPE-1. */
ekc_kor_error_t ekc_evt_check(const uint8_t *e);

/* Parsed form of an event (Repr): parse from / emit to 36 bytes. */
typedef struct {
    uint32_t timestamp_us;
    uint8_t event_type;
    uint8_t flags;
    uint8_t origin_id;
    uint8_t hop_count;
    uint32_t origin_seq;
    uint8_t payload[20];
} ekc_event_repr_t;
ekc_kor_error_t ekc_event_parse(const uint8_t *e, ekc_event_repr_t *out);
void ekc_event_emit(const ekc_event_repr_t *r, uint8_t out[36]);

/* ---- a frame view ---- */
typedef struct {
    const uint8_t *buf;
    size_t len;
} ekc_kor_frame_t;

/* Validates the whole frame (sections 2..7) and fills the view. */
ekc_kor_error_t ekc_kor_frame_check(const uint8_t *buf, size_t len, ekc_kor_frame_t *out);
static inline uint8_t ekc_kor_msg_type(ekc_kor_frame_t f) { return f.buf[0]; }
static inline uint8_t ekc_kor_source_module(ekc_kor_frame_t f) { return f.buf[1]; }
/* EVENT_GOSSIP */
static inline uint8_t ekc_kor_gossip_event_count(ekc_kor_frame_t f) { return f.buf[2]; }
static inline const uint8_t *ekc_kor_gossip_vv_summary(ekc_kor_frame_t f) { return f.buf + 3; }
static inline const uint8_t *ekc_kor_gossip_event(ekc_kor_frame_t f) { return f.buf + 10; }
/* EVENT_ACK */
uint8_t ekc_kor_ack_count(ekc_kor_frame_t f);
uint8_t ekc_kor_ack_origin(ekc_kor_frame_t f, unsigned i);
uint32_t ekc_kor_ack_seq(ekc_kor_frame_t f, unsigned i);
/* EVENT_REQUEST */
uint8_t ekc_kor_req_target(ekc_kor_frame_t f);
uint32_t ekc_kor_req_from(ekc_kor_frame_t f);
uint32_t ekc_kor_req_to(ekc_kor_frame_t f);
/* VV_SYNC */
uint8_t ekc_kor_sync_lo(ekc_kor_frame_t f);
uint8_t ekc_kor_sync_hi(ekc_kor_frame_t f);
uint8_t ekc_kor_sync_count(ekc_kor_frame_t f);
uint8_t ekc_kor_sync_origin(ekc_kor_frame_t f, unsigned i);
uint32_t ekc_kor_sync_seq(ekc_kor_frame_t f, unsigned i);

/* ---- emitters; each returns the frame length or 0 if cap is too small / arguments invalid ---- */
size_t ekc_kor_emit_gossip(uint8_t *buf, size_t cap, uint8_t source, const uint8_t vv_summary[7],
                           const uint8_t event[36]);
size_t ekc_kor_emit_ack(uint8_t *buf, size_t cap, uint8_t source, unsigned count,
                        const uint8_t *origins, const uint32_t *seqs);
size_t ekc_kor_emit_request(uint8_t *buf, size_t cap, uint8_t source, uint8_t target,
                            uint32_t from, uint32_t to);
size_t ekc_kor_emit_sync(uint8_t *buf, size_t cap, uint8_t source, uint8_t lo, uint8_t hi,
                         unsigned count, const uint8_t *origins, const uint32_t *seqs);

/* KOR-GOS-2: the 7-byte vv_summary of the non-zero entries (origins ascending). */
void ekc_vv_summary(const uint8_t *origins, const uint32_t *seqs, size_t count, uint8_t out[7]);
/* KOR-GOS-2: CRC-16/CCITT-FALSE. */
uint16_t ekc_crc16_ccitt_false(const uint8_t *data, size_t len, uint16_t crc);
/* KOR-LWW-1: true if event a is newer than b. */
bool ekc_lww_newer(uint32_t ts_a, uint8_t origin_a, uint32_t seq_a, uint32_t ts_b, uint8_t origin_b,
                   uint32_t seq_b);

#ifdef __cplusplus
}
#endif
#endif
