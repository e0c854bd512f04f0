/*
 * kor.c - EK-KOR v2 gossip (docs/spec/ek-kor.md): emitting (KOR-EMIT-1), receiving with dedup and
 * causal delivery (KOR-RX-1, KOR-CAUSAL-1), the gap buffer and EVENT_REQUEST (KOR-GAP-1/2),
 * acknowledgements (KOR-ACK-2), forwarding with a hop limit (KOR-HOP-1..3), neighbour choice
 * (KOR-NBR-1/2), VV_SYNC anti-entropy (KOR-AE-1..4: the syncing node's own origin repaired first,
 * and a VV_SYNC answer to a node behind on its own origin), the emit gate of a restart without
 * persisted state (CTL-PERSIST-2), LWW registers (KOR-LWW-1) and the delivery side of the
 * commit/gossip bridge (BRIDGE-2/3).
 */
#include "internal.h"

/* ---- version vector ---- */

ekc_vv_entry_t *vv_entry(ekc_node_t *n, uint8_t origin, bool create) {
    int i = 0;
    while (i < n->vv_count && n->vv[i].origin < origin) i++;
    if (i < n->vv_count && n->vv[i].origin == origin) return &n->vv[i];
    if (!create || n->vv_count >= EKC_MAX_ORIGINS) return NULL;
    for (int k = n->vv_count; k > i; k--) n->vv[k] = n->vv[k - 1];
    memset(&n->vv[i], 0, sizeof n->vv[i]);
    n->vv[i].origin = origin;
    n->vv_count++;
    return &n->vv[i];
}

uint32_t ekc_vv_get(const ekc_node_t *n, uint8_t origin) {
    for (int i = 0; i < n->vv_count; i++)
        if (n->vv[i].origin == origin) return n->vv[i].seq;
    return 0;
}

/* KOR-GOS-2 summary of the node's own vector. */
static void vv_summary(const ekc_node_t *n, uint8_t out[7]) {
    uint8_t origins[EKC_MAX_ORIGINS];
    uint32_t seqs[EKC_MAX_ORIGINS];
    for (int i = 0; i < n->vv_count; i++) {
        origins[i] = n->vv[i].origin;
        seqs[i] = n->vv[i].seq;
    }
    ekc_vv_summary(origins, seqs, n->vv_count, out);
}

/* ---- store ---- */

void kor_store_append(ekc_node_t *n, const uint8_t *ev) {
    uint16_t idx = (uint16_t)((n->store_head + n->store_count) % EKC_EVENT_STORE);
    if (n->store_count == EKC_EVENT_STORE) {
        idx = n->store_head;
        n->store_head = (uint16_t)((n->store_head + 1) % EKC_EVENT_STORE);
    } else {
        n->store_count++;
    }
    memcpy(n->store[idx].bytes, ev, EKC_EVENT_LEN);
}

static const uint8_t *store_find(const ekc_node_t *n, uint8_t origin, uint32_t seq) {
    for (uint16_t k = 0; k < n->store_count; k++) {
        const uint8_t *e = n->store[(n->store_head + k) % EKC_EVENT_STORE].bytes;
        if (ekc_evt_origin(e) == origin && ekc_evt_origin_seq(e) == seq) return e;
    }
    return NULL;
}

/* ---- effects ---- */

static void nul_str(const uint8_t *p, char *out, size_t max) {
    size_t i = 0;
    while (i < max && p[i]) {
        out[i] = (char)p[i];
        i++;
    }
    out[i] = 0;
}

void kor_apply_effects(ekc_node_t *n, const uint8_t *ev) {
    uint8_t t = ekc_evt_type(ev);
    if (t == EKC_EVT_FIELD_PUBLISHED) { /* KOR-LWW-1 */
        uint8_t fid = ev[16];
        ekc_field_reg_t *r = &n->fields[fid];
        if (!r->used || ekc_lww_newer(ekc_evt_timestamp_us(ev), ekc_evt_origin(ev),
                                      ekc_evt_origin_seq(ev), ekc_evt_timestamp_us(r->ev.bytes),
                                      ekc_evt_origin(r->ev.bytes),
                                      ekc_evt_origin_seq(r->ev.bytes))) {
            if (!r->used) n->fields_count++;
            r->used = true;
            memcpy(r->ev.bytes, ev, EKC_EVENT_LEN);
        }
    } else if (t == EKC_EVT_CONSENSUS_RESULT) { /* BRIDGE-3 */
        char key[9], value[9];
        nul_str(ev + 16, key, 8);
        nul_str(ev + 24, value, 8);
        int r = kv_apply(n, key, value, le32(ev + 32));
        if (r < 0) note_invalid(n, INV_ROJ_KV_CAPACITY, key);
    }
}

/* ---- neighbours (KOR-NBR-1/2) ---- */

static unsigned ring_dist(uint8_t a, uint8_t b) {
    unsigned d1 = (uint8_t)(a - b), d2 = (uint8_t)(b - a);
    return d1 < d2 ? d1 : d2;
}

ekc_member_mask_t kor_neighbours(const ekc_node_t *n) {
    ekc_member_mask_t mask = 0;
    if (n->nbr_override_count) {
        for (int k = 0; k < n->nbr_override_count; k++) {
            int i = member_find_module(n, n->nbr_override[k]);
            if (i > 0) mask |= 1u << i;
        }
        return mask;
    }
    uint8_t self = n->cfg.module_id;
    for (int c = 0; c < EKC_MAX_NEIGHBOURS; c++) {
        int best = -1;
        for (int i = 1; i < n->member_count; i++) {
            const ekc_member_t *m = &n->members[i];
            if ((mask >> i) & 1u || !m->module_id || !m->kor_port || m->module_id == self ||
                !member_live(n, i))
                continue;
            if (best < 0) {
                best = i;
                continue;
            }
            unsigned db = ring_dist(n->members[best].module_id, self), dm = ring_dist(m->module_id, self);
            if (dm < db || (dm == db && m->module_id < n->members[best].module_id)) best = i;
        }
        if (best < 0) break;
        mask |= 1u << best;
    }
    return mask;
}

/* ---- sending ---- */

static void send_gossip(ekc_node_t *n, ekc_member_mask_t mask, const ekc_addr_t *dst,
                        const uint8_t *ev) {
    uint8_t *buf = out_reserve(n, EKC_KOR_GOSSIP_LEN);
    if (!buf) return;
    uint8_t sum[7];
    vv_summary(n, sum);
    size_t len = ekc_kor_emit_gossip(buf, EKC_KOR_GOSSIP_LEN, n->cfg.module_id, sum, ev);
    if (dst) out_commit_to(n, EKC_CH_KOR, *dst, len);
    else if (mask) out_commit_mask(n, EKC_CH_KOR, mask, len);
}

static void send_request(ekc_node_t *n, ekc_addr_t dst, uint8_t origin, uint32_t from, uint32_t to) {
    uint8_t *buf = out_reserve(n, EKC_KOR_REQUEST_LEN);
    if (!buf) return;
    size_t len = ekc_kor_emit_request(buf, EKC_KOR_REQUEST_LEN, n->cfg.module_id, origin, from, to);
    if (len) out_commit_to(n, EKC_CH_KOR, dst, len);
}

static void send_ack(ekc_node_t *n, ekc_addr_t dst, uint8_t origin, uint32_t seq) {
    uint8_t *buf = out_reserve(n, 8);
    if (!buf) return;
    size_t len = ekc_kor_emit_ack(buf, 8, n->cfg.module_id, 1, &origin, &seq);
    if (len) out_commit_to(n, EKC_CH_KOR, dst, len);
}

/* KOR-SYNC-2: the whole VV over 1..255, split into frames of at most 11 entries, to `dst` if given,
 * else to member `member`. With `first` != 0 the frame whose range covers module `first` goes out
 * first (KOR-AE-4). */
#define SYNC_FRAMES_MAX ((EKC_MAX_ORIGINS + EKC_KOR_SYNC_MAX - 1) / EKC_KOR_SYNC_MAX + 1)
static void send_vv_sync(ekc_node_t *n, int member, const ekc_addr_t *dst, uint8_t first) {
    uint8_t origins[EKC_MAX_ORIGINS];
    uint32_t seqs[EKC_MAX_ORIGINS];
    unsigned c = 0;
    for (int i = 0; i < n->vv_count; i++)
        if (n->vv[i].seq) {
            origins[c] = n->vv[i].origin;
            seqs[c++] = n->vv[i].seq;
        }
    struct {
        unsigned start, cnt, lo, hi;
    } fr[SYNC_FRAMES_MAX];
    unsigned nf = 0, start = 0, lo = 1;
    do {
        unsigned cnt = c - start > EKC_KOR_SYNC_MAX ? EKC_KOR_SYNC_MAX : c - start;
        unsigned hi = (start + cnt < c) ? (unsigned)origins[start + cnt] - 1 : 255;
        fr[nf].start = start;
        fr[nf].cnt = cnt;
        fr[nf].lo = lo;
        fr[nf].hi = hi;
        nf++;
        start += cnt;
        lo = hi + 1;
    } while (start < c && nf < SYNC_FRAMES_MAX);
    unsigned lead = 0;
    for (unsigned k = 0; first && k < nf; k++)
        if (fr[k].lo <= first && first <= fr[k].hi) lead = k;
    for (unsigned j = 0; j < nf; j++) {
        unsigned k = j == 0 ? lead : (j <= lead ? j - 1 : j);
        uint8_t *buf = out_reserve(n, 5 + 5 * EKC_KOR_SYNC_MAX);
        if (!buf) return;
        size_t len = ekc_kor_emit_sync(buf, 5 + 5 * EKC_KOR_SYNC_MAX, n->cfg.module_id, (uint8_t)fr[k].lo,
                                       (uint8_t)fr[k].hi, fr[k].cnt, origins + fr[k].start,
                                       seqs + fr[k].start);
        if (!len) continue;
        if (dst) out_commit_to(n, EKC_CH_KOR, *dst, len);
        else out_commit_mask(n, EKC_CH_KOR, 1u << member, len);
    }
    if (member > 0) n->members[member].ae_sent = true;
    /* CTL-PERSIST-2: any VV_SYNC sent while emission is blocked belongs to the start-up exchange,
     * also an answer to a neighbour's VV_SYNC (KOR-AE-4) that came before ours: it marks that
     * neighbour as synced, and without this the gate waited for the 2 x anti-entropy fallback,
     * deferring bridge events far past their commit (BRIDGE-1). */
    if (!n->emit_allowed) {
        n->startup_sync_sent = true;
        n->startup_sync_ms = n->now_ms; /* the settle time runs from the last one */
    }
}

/* ---- delivery ---- */

static void log_event(ekc_node_t *n, const char *msg, const char *clause, const uint8_t *ev) {
    char buf[96];
    ekc_wr_t w;
    wr_init(&w, buf, sizeof buf);
    wr_str(&w, "\"origin\":");
    wr_u64(&w, ekc_evt_origin(ev));
    wr_str(&w, ",\"seq\":");
    wr_u64(&w, ekc_evt_origin_seq(ev));
    wr_str(&w, ",\"event_type\":");
    wr_u64(&w, ekc_evt_type(ev));
    wr_str(&w, ",\"hop\":");
    wr_u64(&w, ekc_evt_hop(ev));
    node_log(n, EKC_LOG_DEBUG, msg, clause, wr_cstr(&w));
}

/* Delivers event ev (KOR-RX-1), forwards it (KOR-HOP-1..3). from_module is the frame sender. */
static void deliver(ekc_node_t *n, ekc_vv_entry_t *vv, const uint8_t *ev, uint8_t from_module) {
    kor_store_append(n, ev);
    vv->seq = ekc_evt_origin_seq(ev);
    n->persist_dirty = true;
    kor_apply_effects(n, ev);
    log_event(n, "event delivered", "KOR-RX-1", ev);
    bool repair = (ekc_evt_flags(ev) & EKC_EVT_FLAG_REPAIR) != 0;
    uint8_t hop = ekc_evt_hop(ev);
    if (!repair && hop < EKC_KOR_MAX_HOPS) {
        ekc_member_mask_t mask = kor_neighbours(n);
        for (int i = 1; i < n->member_count; i++)
            if (n->members[i].module_id == from_module || n->members[i].module_id == ekc_evt_origin(ev))
                mask &= ~(1u << i);
        if (mask) {
            uint8_t fwd[EKC_EVENT_LEN];
            memcpy(fwd, ev, EKC_EVENT_LEN);
            fwd[9] = 0;
            fwd[11] = (uint8_t)(hop + 1);
            send_gossip(n, mask, NULL, fwd);
        }
    }
}

static void drain_gap(ekc_node_t *n, ekc_vv_entry_t *vv) {
    bool progress = true;
    while (progress) {
        progress = false;
        for (int g = 0; g < EKC_GAP_BUFFER; g++) {
            ekc_gap_slot_t *s = &n->gap[g];
            if (!s->used || ekc_evt_origin(s->ev.bytes) != vv->origin) continue;
            uint32_t seq = ekc_evt_origin_seq(s->ev.bytes);
            if (seq <= vv->seq) {
                s->used = false; /* delivered meanwhile by another path */
            } else if (seq == vv->seq + 1) {
                s->used = false;
                deliver(n, vv, s->ev.bytes, s->from_member);
                progress = true;
            }
        }
    }
    bool still_gap = false;
    for (int g = 0; g < EKC_GAP_BUFFER; g++)
        if (n->gap[g].used && ekc_evt_origin(n->gap[g].ev.bytes) == vv->origin) still_gap = true;
    if (!still_gap) vv->gap_outstanding = false;
}

static void on_gossip(ekc_node_t *n, ekc_addr_t src, ekc_kor_frame_t f) {
    const uint8_t *ev = ekc_kor_gossip_event(f);
    uint8_t o = ekc_evt_origin(ev);
    uint32_t s = ekc_evt_origin_seq(ev);
    ekc_vv_entry_t *vv = vv_entry(n, o, true);
    if (!vv) {
        note_invalid(n, INV_KOR_ORIGIN_CAPACITY, NULL);
        return;
    }
    if (o == n->cfg.module_id) { /* CTL-PERSIST-2 */
        if (s > n->self_seq_seen) n->self_seq_seen = s;
        n->self_frame_ms = n->now_ms;
    }
    bool dup = s <= vv->seq;
    for (int g = 0; !dup && g < EKC_GAP_BUFFER; g++)
        if (n->gap[g].used && ekc_evt_origin(n->gap[g].ev.bytes) == o &&
            ekc_evt_origin_seq(n->gap[g].ev.bytes) == s)
            dup = true;
    if (dup) {
        send_ack(n, src, o, s); /* KOR-ACK-2 */
        return;
    }
    if (s == vv->seq + 1) {
        send_ack(n, src, o, s);
        deliver(n, vv, ev, ekc_kor_source_module(f));
        drain_gap(n, vv);
        return;
    }
    /* gap (KOR-GAP-1/2) */
    ekc_gap_slot_t *slot = NULL;
    for (int g = 0; g < EKC_GAP_BUFFER && !slot; g++)
        if (!n->gap[g].used) slot = &n->gap[g];
    if (!slot) {
        note_invalid(n, INV_KOR_GAP_FULL, NULL); /* dropped, not acknowledged */
        return;
    }
    slot->used = true;
    memcpy(slot->ev.bytes, ev, EKC_EVENT_LEN);
    slot->from_member = ekc_kor_source_module(f);
    slot->from = src;
    send_ack(n, src, o, s);
    if (!vv->gap_outstanding) {
        uint32_t from = vv->seq + 1;
        uint32_t to = s - 1;
        if (to > vv->seq + 64) to = vv->seq + 64;
        if (to - from >= 64) to = from + 63;
        send_request(n, src, o, from, to);
        vv->gap_outstanding = true;
        vv->gap_req_ms = n->now_ms;
        log_event(n, "gap detected, events requested", "KOR-GAP-1", ev);
    }
}

static void on_request(ekc_node_t *n, ekc_addr_t src, ekc_kor_frame_t f) {
    uint8_t o = ekc_kor_req_target(f);
    for (uint32_t s = ekc_kor_req_from(f); s <= ekc_kor_req_to(f); s++) {
        const uint8_t *e = store_find(n, o, s);
        if (e) { /* KOR-REQ-2 */
            uint8_t rep[EKC_EVENT_LEN];
            memcpy(rep, e, EKC_EVENT_LEN);
            rep[9] = EKC_EVT_FLAG_REPAIR;
            send_gossip(n, 0, &src, rep);
        }
        if (s == 0xffffffffu) break;
    }
}

/* The value a VV_SYNC states for origin o: its entry, or 0 if o is in range without one
 * (KOR-SYNC-2). */
static uint32_t sync_stated(ekc_kor_frame_t f, uint8_t o) {
    for (unsigned i = 0; i < ekc_kor_sync_count(f); i++)
        if (ekc_kor_sync_origin(f, i) == o) return ekc_kor_sync_seq(f, i);
    return 0;
}

/* KOR-AE-2 for one origin: repairs (within *budget, KOR-AE-3) or a request. */
static void sync_origin(ekc_node_t *n, ekc_addr_t src, uint8_t o, uint32_t remote, unsigned *budget) {
    uint32_t local = ekc_vv_get(n, o);
    if (local > remote) {
        for (uint32_t s = remote + 1; s <= local && *budget; s++) {
            const uint8_t *e = store_find(n, o, s);
            if (!e) continue;
            uint8_t rep[EKC_EVENT_LEN];
            memcpy(rep, e, EKC_EVENT_LEN);
            rep[9] = EKC_EVT_FLAG_REPAIR;
            send_gossip(n, 0, &src, rep);
            (*budget)--;
        }
    } else if (remote > local) {
        if (!vv_entry(n, o, true)) return;
        uint32_t to = remote < local + 64 ? remote : local + 64;
        send_request(n, src, o, local + 1, to);
    }
}

static void on_sync(ekc_node_t *n, ekc_addr_t src, ekc_kor_frame_t f) {
    uint8_t lo = ekc_kor_sync_lo(f), hi = ekc_kor_sync_hi(f), c = ekc_kor_sync_count(f);
    unsigned budget = 32; /* KOR-AE-3 */
    uint8_t from = ekc_kor_source_module(f);
    int sender = member_find_module(n, from);
    uint8_t self = n->cfg.module_id;
    if (lo <= self && self <= hi) { /* CTL-PERSIST-2: the sender states how far our sequence went */
        uint32_t stated = sync_stated(f, self);
        if (stated > n->self_seq_seen) n->self_seq_seen = stated;
        n->sync_heard[from >> 3] |= (uint8_t)(1u << (from & 7));
    }
    bool covers_sender = lo <= from && from <= hi;
    if (covers_sender && sync_stated(f, from) < ekc_vv_get(n, from)) {
        /* KOR-AE-4: the sender lost part of its own history; tell it how far its sequence went,
         * before the repairs. */
        node_log(n, EKC_LOG_DEBUG, "VV_SYNC answered: the sender is behind on its own origin",
                 "KOR-AE-4", "");
        send_vv_sync(n, sender, &src, from);
    } else if (sender > 0 && !n->members[sender].ae_sent) {
        /* Answer a node we have never synced with, so a fresh node's exchange completes in one
         * round trip (the MAY of KOR-AE-4); see the README's notes on anti-entropy. */
        send_vv_sync(n, sender, NULL, 0);
    }
    /* KOR-AE-2: the sender's own origin first, then the union of remote entries and local VV
     * entries within [lo, hi] ascending, so the pacing limit never cuts off what a restarted node
     * waits for. */
    if (covers_sender) sync_origin(n, src, from, sync_stated(f, from), &budget);
    unsigned ri = 0;
    for (unsigned o = lo; o <= hi; o++) {
        uint32_t remote = 0;
        if (ri < c && ekc_kor_sync_origin(f, ri) == o) remote = ekc_kor_sync_seq(f, ri++);
        if (o != from) sync_origin(n, src, (uint8_t)o, remote, &budget);
        if (o == 255) break;
    }
}

void kor_on_frame(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len) {
    ekc_kor_frame_t f;
    ekc_kor_error_t err = ekc_kor_frame_check(data, len, &f);
    if (err != EKC_KOR_OK) {
        static const ekc_invalid_kind_t map[] = {
            INV_KOR_LENGTH, INV_KOR_LENGTH, INV_KOR_TYPE, INV_KOR_SOURCE, INV_KOR_EVENT,
            INV_KOR_HOP, INV_KOR_ACK, INV_KOR_REQUEST, INV_KOR_SYNC, INV_KOR_PAYLOAD};
        note_invalid(n, map[err], NULL);
        return;
    }
    if (ekc_kor_source_module(f) == n->cfg.module_id) return; /* our own frame reflected */
    /* Liveness is judged from EK-ROJ traffic only (ROJ-ANN-4). */
    switch (ekc_kor_msg_type(f)) {
    case EKC_KOR_EVENT_GOSSIP: on_gossip(n, src, f); break;
    case EKC_KOR_EVENT_ACK: break; /* informational in v1 (KOR-ACK-2) */
    case EKC_KOR_EVENT_REQUEST: on_request(n, src, f); break;
    case EKC_KOR_VV_SYNC: on_sync(n, src, f); break;
    }
}

/* ---- emitting ---- */

ekc_status_t ekc_emit(ekc_node_t *n, uint64_t now_ms, uint8_t event_type,
                      const uint8_t payload[EKC_EVENT_PAYLOAD_LEN], uint8_t *origin_out,
                      uint32_t *seq_out) {
    if (now_ms > n->now_ms) n->now_ms = now_ms;
    if (event_type == 0 || (event_type >= 0x08 && event_type <= 0x7f) ||
        event_type == EKC_EVT_CONSENSUS_START || event_type == EKC_EVT_CONSENSUS_VOTE)
        return EKC_ERR_BAD; /* KOR-EVT-2, BRIDGE-4 */
    if (!n->emit_allowed) return EKC_ERR_BUSY; /* CTL-PERSIST-2 */
    ekc_vv_entry_t *vv = vv_entry(n, n->cfg.module_id, true);
    if (!vv) return EKC_ERR_CAPACITY;
    if (vv->seq == 0xffffffffu) return EKC_ERR_CAPACITY;
    ekc_event_repr_t r;
    memset(&r, 0, sizeof r);
    r.timestamp_us = event_timestamp_us(n);
    r.event_type = event_type;
    r.origin_id = n->cfg.module_id;
    r.origin_seq = vv->seq + 1; /* KOR-EMIT-1 */
    memcpy(r.payload, payload, EKC_EVENT_PAYLOAD_LEN);
    uint8_t ev[EKC_EVENT_LEN];
    ekc_event_emit(&r, ev);
    if (ekc_evt_check(ev) != EKC_KOR_OK) return EKC_ERR_BAD;
    kor_store_append(n, ev);
    vv->seq = r.origin_seq;
    kor_apply_effects(n, ev);
    persist_save(n); /* CTL-PERSIST-1: durable before it is sent */
    send_gossip(n, kor_neighbours(n), NULL, ev);
    log_event(n, "event emitted", "KOR-EMIT-1", ev);
    if (origin_out) *origin_out = r.origin_id;
    if (seq_out) *seq_out = r.origin_seq;
    return EKC_OK;
}

void kor_emit_consensus_result(ekc_node_t *n, const char *key, const char *value, uint32_t version) {
    if (!n->emit_allowed) { /* CTL-PERSIST-2: deferred until emission is allowed */
        if (n->deferred_count >= EKC_MAX_PENDING) {
            node_log(n, EKC_LOG_ERROR, "bridge event lost: deferral queue full", "BRIDGE-1", "");
            return;
        }
        ekc_kv_entry_t *d = &n->deferred_bridge[n->deferred_count++];
        strcpy(d->key, key);
        strcpy(d->value, value);
        d->version = version;
        node_log(n, EKC_LOG_INFO, "bridge event deferred until emission is allowed", "BRIDGE-1", "");
        return;
    }
    uint8_t p[EKC_EVENT_PAYLOAD_LEN];
    memset(p, 0, sizeof p);
    memcpy(p, key, strlen(key));       /* BRIDGE-2 */
    memcpy(p + 8, value, strlen(value));
    put32(p + 16, version);
    if (ekc_emit(n, n->now_ms, EKC_EVT_CONSENSUS_RESULT, p, NULL, NULL) != EKC_OK)
        node_log(n, EKC_LOG_ERROR, "bridge event not emitted", "BRIDGE-1", "");
}

/* ---- timers ---- */

void kor_tick(ekc_node_t *n) {
    ekc_member_mask_t nb = kor_neighbours(n);
    /* KOR-GAP-1: re-request while the gap persists, at most every 500 ms, alternating. */
    for (int i = 0; i < n->vv_count; i++) {
        ekc_vv_entry_t *vv = &n->vv[i];
        if (!vv->gap_outstanding || n->now_ms - vv->gap_req_ms < 500) continue;
        uint32_t lowest = 0;
        for (int g = 0; g < EKC_GAP_BUFFER; g++)
            if (n->gap[g].used && ekc_evt_origin(n->gap[g].ev.bytes) == vv->origin) {
                uint32_t s = ekc_evt_origin_seq(n->gap[g].ev.bytes);
                if (!lowest || s < lowest) lowest = s;
            }
        if (!lowest) {
            vv->gap_outstanding = false;
            continue;
        }
        ekc_addr_t dst = {0, 0};
        int cands[EKC_MAX_MEMBERS], nc = 0;
        for (int m = 1; m < n->member_count; m++)
            if ((nb >> m) & 1u) cands[nc++] = m;
        if (nc) {
            int m = cands[vv->gap_alt++ % nc];
            dst.ipv4 = n->members[m].ipv4;
            dst.port = n->members[m].kor_port;
        } else {
            for (int g = 0; g < EKC_GAP_BUFFER; g++)
                if (n->gap[g].used && ekc_evt_origin(n->gap[g].ev.bytes) == vv->origin)
                    dst = n->gap[g].from;
        }
        uint32_t from = vv->seq + 1, to = lowest - 1;
        if (to - from >= 64) to = from + 63;
        if (dst.port) send_request(n, dst, vv->origin, from, to);
        vv->gap_req_ms = n->now_ms;
    }
    /* KOR-AE-1; while emission is blocked (CTL-PERSIST-2) every live neighbour gets our VV. */
    if (nb) {
        if (!n->emit_allowed) {
            for (int m = 1; m < n->member_count; m++)
                if (((nb >> m) & 1u) && !n->members[m].ae_sent) send_vv_sync(n, m, NULL, 0);
            n->ae_initial_done = true;
            if (!n->next_ae_ms) n->next_ae_ms = n->now_ms + n->cfg.anti_entropy_ms;
        }
        bool due = !n->ae_initial_done || n->now_ms >= n->next_ae_ms;
        if (due) {
            int cands[EKC_MAX_MEMBERS], nc = 0;
            for (int m = 1; m < n->member_count; m++)
                if ((nb >> m) & 1u) cands[nc++] = m;
            send_vv_sync(n, cands[rng_range(n, 0, (uint32_t)nc - 1)], NULL, 0);
            n->ae_initial_done = true;
            n->next_ae_ms = n->now_ms + n->cfg.anti_entropy_ms;
        }
    }
    /* CTL-PERSIST-2: caught up with our own history? The start-up exchange is complete once a
     * VV_SYNC covering our module came from every live neighbour (not merely the first: one that
     * holds less of our history must not open the gate before one that holds more was heard), or
     * 300 ms after the last start-up VV_SYNC and the last frame carrying an own event. */
    if (!n->emit_allowed) {
        uint32_t own = ekc_vv_get(n, n->cfg.module_id);
        bool all_heard = nb != 0;
        for (int m = 1; m < n->member_count; m++) {
            uint8_t mod = n->members[m].module_id;
            if (((nb >> m) & 1u) && !((n->sync_heard[mod >> 3] >> (mod & 7)) & 1u)) all_heard = false;
        }
        uint64_t since = n->startup_sync_ms > n->self_frame_ms ? n->startup_sync_ms : n->self_frame_ms;
        bool synced = n->startup_sync_sent && (all_heard || n->now_ms - since >= 300);
        bool lonely = !n->startup_sync_sent && n->now_ms - n->start_ms >= 2ull * n->cfg.anti_entropy_ms;
        if ((synced && own >= n->self_seq_seen) || lonely) {
            if (lonely && own < n->self_seq_seen) { /* continue after the highest value seen */
                ekc_vv_entry_t *self = vv_entry(n, n->cfg.module_id, true);
                if (self) self->seq = n->self_seq_seen;
            }
            n->emit_allowed = true;
            char buf[48];
            ekc_wr_t w;
            wr_init(&w, buf, sizeof buf);
            wr_str(&w, "\"own_seq\":");
            wr_u64(&w, ekc_vv_get(n, n->cfg.module_id));
            node_log(n, EKC_LOG_INFO, "caught up with own history; emitting allowed", "CTL-PERSIST-2",
                     wr_cstr(&w));
            for (uint8_t i = 0; i < n->deferred_count; i++)
                kor_emit_consensus_result(n, n->deferred_bridge[i].key, n->deferred_bridge[i].value,
                                          n->deferred_bridge[i].version);
            n->deferred_count = 0;
        }
    }
}

/* ---- digests (CTL-DIGEST-2/3) ---- */

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t ekc_log_digest(const ekc_node_t *n, uint32_t *count_out) {
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t count = 0;
    /* ascending (origin, seq): selection over the ring without extra memory */
    uint32_t last_o = 0, last_s = 0;
    bool first = true;
    for (;;) {
        const uint8_t *best = NULL;
        for (uint16_t k = 0; k < n->store_count; k++) {
            const uint8_t *e = n->store[(n->store_head + k) % EKC_EVENT_STORE].bytes;
            uint32_t o = ekc_evt_origin(e), s = ekc_evt_origin_seq(e);
            bool after = first || o > last_o || (o == last_o && s > last_s);
            if (!after) continue;
            if (!best || o < ekc_evt_origin(best) ||
                (o == ekc_evt_origin(best) && s < ekc_evt_origin_seq(best)))
                best = e;
        }
        if (!best) break;
        uint8_t z[EKC_EVENT_LEN];
        memcpy(z, best, EKC_EVENT_LEN);
        z[9] = 0;
        z[11] = 0;
        h = fnv(h, z, EKC_EVENT_LEN);
        count++;
        last_o = ekc_evt_origin(best);
        last_s = ekc_evt_origin_seq(best);
        first = false;
    }
    if (count_out) *count_out = count;
    return h;
}

uint64_t ekc_fields_digest(const ekc_node_t *n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int f = 0; f < EKC_MAX_FIELDS; f++) {
        if (!n->fields[f].used) continue;
        uint8_t b = (uint8_t)f;
        uint8_t z[EKC_EVENT_LEN];
        memcpy(z, n->fields[f].ev.bytes, EKC_EVENT_LEN);
        z[9] = 0;
        z[11] = 0;
        h = fnv(h, &b, 1);
        h = fnv(h, z, EKC_EVENT_LEN);
    }
    return h;
}

uint64_t ekc_kv_digest(const ekc_node_t *n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n->kv_count; i++) {
        char buf[48];
        ekc_wr_t w;
        wr_init(&w, buf, sizeof buf);
        wr_str(&w, n->kv[i].key);
        wr_raw(&w, "=", 1);
        wr_str(&w, n->kv[i].value);
        wr_raw(&w, "@", 1);
        wr_u64(&w, n->kv[i].version);
        wr_raw(&w, "\n", 1);
        h = fnv(h, (const uint8_t *)buf, w.len);
    }
    return h;
}
