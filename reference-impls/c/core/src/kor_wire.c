/*
 * kor_wire.c - EK-KOR v2 frame and event codec (ek-kor.md sections 2..8). Pure functions over byte
 * buffers; little-endian byte-wise access only (KOR-WIRE-3).
 */
#include "internal.h"

uint32_t ekc_evt_sequence(const uint8_t *e) { return le32(e + 0); }
uint32_t ekc_evt_timestamp_us(const uint8_t *e) { return le32(e + 4); }
uint8_t ekc_evt_type(const uint8_t *e) { return e[8]; }
uint8_t ekc_evt_flags(const uint8_t *e) { return e[9]; }
uint8_t ekc_evt_origin(const uint8_t *e) { return e[10]; }
uint8_t ekc_evt_hop(const uint8_t *e) { return e[11]; }
uint32_t ekc_evt_origin_seq(const uint8_t *e) { return le32(e + 12); }
const uint8_t *ekc_evt_payload(const uint8_t *e) { return e + 16; }

static bool key_char(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}
static bool value_char(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '+' || c == '-';
}

/* KOR-TYPE-1: NUL-padded key (1..8) and value (0..8), version >= 1. */
static bool consensus_payload_ok(const uint8_t *p) {
    size_t k = 0;
    while (k < 8 && p[k] != 0) {
        if (!key_char(p[k])) return false;
        k++;
    }
    if (k == 0) return false;
    for (size_t i = k; i < 8; i++)
        if (p[i] != 0) return false;
    size_t v = 0;
    while (v < 8 && p[8 + v] != 0) {
        if (!value_char(p[8 + v])) return false;
        v++;
    }
    for (size_t i = v; i < 8; i++)
        if (p[8 + i] != 0) return false;
    return le32(p + 16) >= 1;
}

ekc_kor_error_t ekc_evt_check(const uint8_t *e) {
    uint8_t t = ekc_evt_type(e);
    if (ekc_evt_sequence(e) != ekc_evt_origin_seq(e)) return EKC_KOR_ERR_EVENT; /* KOR-EVT-1 */
    if (t == 0 || (t >= 0x08 && t <= 0x7f)) return EKC_KOR_ERR_EVENT;          /* KOR-EVT-2 */
    if (ekc_evt_flags(e) & 0xfe) return EKC_KOR_ERR_EVENT;                      /* KOR-EVT-3 */
    if (ekc_evt_origin(e) == 0) return EKC_KOR_ERR_EVENT;                       /* KOR-EVT-4 */
    if (ekc_evt_hop(e) > EKC_KOR_MAX_HOPS) return EKC_KOR_ERR_EVENT;            /* KOR-EVT-5 */
    if (ekc_evt_origin_seq(e) == 0) return EKC_KOR_ERR_EVENT;                   /* KOR-EVT-6 */
    if (t == EKC_EVT_CONSENSUS_RESULT && !consensus_payload_ok(e + 16)) return EKC_KOR_ERR_PAYLOAD;
    return EKC_KOR_OK;
}

ekc_kor_error_t ekc_event_parse(const uint8_t *e, ekc_event_repr_t *r) {
    ekc_kor_error_t err = ekc_evt_check(e);
    if (err != EKC_KOR_OK) return err;
    r->timestamp_us = ekc_evt_timestamp_us(e);
    r->event_type = ekc_evt_type(e);
    r->flags = ekc_evt_flags(e);
    r->origin_id = ekc_evt_origin(e);
    r->hop_count = ekc_evt_hop(e);
    r->origin_seq = ekc_evt_origin_seq(e);
    memcpy(r->payload, e + 16, 20);
    return EKC_KOR_OK;
}

void ekc_event_emit(const ekc_event_repr_t *r, uint8_t out[36]) {
    put32(out + 0, r->origin_seq); /* KOR-EVT-1 */
    put32(out + 4, r->timestamp_us);
    out[8] = r->event_type;
    out[9] = r->flags;
    out[10] = r->origin_id;
    out[11] = r->hop_count;
    put32(out + 12, r->origin_seq);
    memcpy(out + 16, r->payload, 20);
}

ekc_kor_error_t ekc_kor_frame_check(const uint8_t *buf, size_t len, ekc_kor_frame_t *out) {
    if (len < 2 || len > EKC_KOR_MAX_FRAME) return EKC_KOR_ERR_LENGTH;
    uint8_t t = buf[0];
    if (t < EKC_KOR_EVENT_GOSSIP || t > EKC_KOR_VV_SYNC) return EKC_KOR_ERR_TYPE;
    if (buf[1] == 0) return EKC_KOR_ERR_SOURCE;
    switch (t) {
    case EKC_KOR_EVENT_GOSSIP: {
        if (len != EKC_KOR_GOSSIP_LEN) return EKC_KOR_ERR_LENGTH;
        if (buf[2] != 1) return EKC_KOR_ERR_EVENT; /* KOR-GOS-1 */
        const uint8_t *e = buf + 10;
        ekc_kor_error_t err = ekc_evt_check(e);
        if (err != EKC_KOR_OK) return err;
        /* KOR-GOS-3; REPAIR frames are exempt from both halves (they carry the stored hop). */
        if (!(ekc_evt_flags(e) & EKC_EVT_FLAG_REPAIR)) {
            if (ekc_evt_hop(e) == 0 && buf[1] != ekc_evt_origin(e)) return EKC_KOR_ERR_HOP;
            if (ekc_evt_hop(e) > 0 && buf[1] == ekc_evt_origin(e)) return EKC_KOR_ERR_HOP;
        }
        break;
    }
    case EKC_KOR_EVENT_ACK: {
        if (len < 3) return EKC_KOR_ERR_LENGTH;
        uint8_t c = buf[2];
        if (c < 1 || c > EKC_KOR_ACK_MAX) return EKC_KOR_ERR_ACK;
        if (len != 3u + 5u * c) return EKC_KOR_ERR_LENGTH;
        for (unsigned i = 0; i < c; i++)
            if (buf[3 + 5 * i] == 0 || le32(buf + 4 + 5 * i) == 0) return EKC_KOR_ERR_ACK;
        break;
    }
    case EKC_KOR_EVENT_REQUEST: {
        if (len != EKC_KOR_REQUEST_LEN) return EKC_KOR_ERR_LENGTH;
        uint32_t from = le32(buf + 4), to = le32(buf + 8);
        if (buf[2] == 0 || buf[3] != 0 || from < 1 || from > to || to - from >= 64)
            return EKC_KOR_ERR_REQUEST;
        break;
    }
    case EKC_KOR_VV_SYNC: {
        if (len < 5) return EKC_KOR_ERR_LENGTH;
        uint8_t lo = buf[2], hi = buf[3], c = buf[4];
        if (c > EKC_KOR_SYNC_MAX) return EKC_KOR_ERR_SYNC;
        if (len != 5u + 5u * c) return EKC_KOR_ERR_LENGTH;
        if (lo < 1 || lo > hi) return EKC_KOR_ERR_SYNC;
        unsigned prev = 0;
        for (unsigned i = 0; i < c; i++) {
            uint8_t o = buf[5 + 5 * i];
            if (o <= prev || o < lo || o > hi || le32(buf + 6 + 5 * i) == 0) return EKC_KOR_ERR_SYNC;
            prev = o;
        }
        break;
    }
    }
    if (out) {
        out->buf = buf;
        out->len = len;
    }
    return EKC_KOR_OK;
}

uint8_t ekc_kor_ack_count(ekc_kor_frame_t f) { return f.buf[2]; }
uint8_t ekc_kor_ack_origin(ekc_kor_frame_t f, unsigned i) { return f.buf[3 + 5 * i]; }
uint32_t ekc_kor_ack_seq(ekc_kor_frame_t f, unsigned i) { return le32(f.buf + 4 + 5 * i); }
uint8_t ekc_kor_req_target(ekc_kor_frame_t f) { return f.buf[2]; }
uint32_t ekc_kor_req_from(ekc_kor_frame_t f) { return le32(f.buf + 4); }
uint32_t ekc_kor_req_to(ekc_kor_frame_t f) { return le32(f.buf + 8); }
uint8_t ekc_kor_sync_lo(ekc_kor_frame_t f) { return f.buf[2]; }
uint8_t ekc_kor_sync_hi(ekc_kor_frame_t f) { return f.buf[3]; }
uint8_t ekc_kor_sync_count(ekc_kor_frame_t f) { return f.buf[4]; }
uint8_t ekc_kor_sync_origin(ekc_kor_frame_t f, unsigned i) { return f.buf[5 + 5 * i]; }
uint32_t ekc_kor_sync_seq(ekc_kor_frame_t f, unsigned i) { return le32(f.buf + 6 + 5 * i); }

size_t ekc_kor_emit_gossip(uint8_t *buf, size_t cap, uint8_t source, const uint8_t vv_summary[7],
                           const uint8_t event[36]) {
    if (cap < EKC_KOR_GOSSIP_LEN || source == 0) return 0;
    buf[0] = EKC_KOR_EVENT_GOSSIP;
    buf[1] = source;
    buf[2] = 1;
    memcpy(buf + 3, vv_summary, 7);
    memcpy(buf + 10, event, 36);
    return EKC_KOR_GOSSIP_LEN;
}

size_t ekc_kor_emit_ack(uint8_t *buf, size_t cap, uint8_t source, unsigned count,
                        const uint8_t *origins, const uint32_t *seqs) {
    size_t len = 3 + 5 * (size_t)count;
    if (count < 1 || count > EKC_KOR_ACK_MAX || cap < len || source == 0) return 0;
    buf[0] = EKC_KOR_EVENT_ACK;
    buf[1] = source;
    buf[2] = (uint8_t)count;
    for (unsigned i = 0; i < count; i++) {
        buf[3 + 5 * i] = origins[i];
        put32(buf + 4 + 5 * i, seqs[i]);
    }
    return len;
}

size_t ekc_kor_emit_request(uint8_t *buf, size_t cap, uint8_t source, uint8_t target,
                            uint32_t from, uint32_t to) {
    if (cap < EKC_KOR_REQUEST_LEN || source == 0 || target == 0 || from < 1 || from > to ||
        to - from >= 64)
        return 0;
    buf[0] = EKC_KOR_EVENT_REQUEST;
    buf[1] = source;
    buf[2] = target;
    buf[3] = 0;
    put32(buf + 4, from);
    put32(buf + 8, to);
    return EKC_KOR_REQUEST_LEN;
}

size_t ekc_kor_emit_sync(uint8_t *buf, size_t cap, uint8_t source, uint8_t lo, uint8_t hi,
                         unsigned count, const uint8_t *origins, const uint32_t *seqs) {
    size_t len = 5 + 5 * (size_t)count;
    if (count > EKC_KOR_SYNC_MAX || cap < len || source == 0 || lo < 1 || lo > hi) return 0;
    buf[0] = EKC_KOR_VV_SYNC;
    buf[1] = source;
    buf[2] = lo;
    buf[3] = hi;
    buf[4] = (uint8_t)count;
    for (unsigned i = 0; i < count; i++) {
        buf[5 + 5 * i] = origins[i];
        put32(buf + 6 + 5 * i, seqs[i]);
    }
    return len;
}

uint16_t ekc_crc16_ccitt_false(const uint8_t *data, size_t len, uint16_t crc) {
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

bool ekc_lww_newer(uint32_t ts_a, uint8_t origin_a, uint32_t seq_a, uint32_t ts_b, uint8_t origin_b,
                   uint32_t seq_b) {
    if (ts_a != ts_b) {
        uint32_t d = ts_a - ts_b;
        if (d == 0x80000000u) return ts_a > ts_b;
        return d >= 1 && d <= 0x7fffffffu;
    }
    if (origin_a != origin_b) return origin_a > origin_b;
    return seq_a > seq_b;
}

void ekc_vv_summary(const uint8_t *origins, const uint32_t *seqs, size_t count, uint8_t out[7]) {
    uint32_t nonzero = 0, sum = 0;
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < count; i++) {
        if (!seqs[i]) continue;
        nonzero++;
        sum += seqs[i];
        uint8_t b[5];
        b[0] = origins[i];
        put32(b + 1, seqs[i]);
        crc = ekc_crc16_ccitt_false(b, 5, crc);
    }
    out[0] = (uint8_t)(nonzero > 255 ? 255 : nonzero);
    put32(out + 1, sum);
    put16(out + 5, crc);
}
