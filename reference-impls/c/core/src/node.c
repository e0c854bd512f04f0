/*
 * node.c - node lifecycle: configuration defaults and validation, init, input dispatch by channel,
 * the tick and deadline computation, capability lists (CTL-CAP-2/4), event clock with skew
 * (CTL-CMD-11) and the persistence blob (capability `persist`, CTL-PERSIST-1/2).
 */
#include "internal.h"
#include "ekc_mdns.h"

static const char *const cap_names[] = {"roj", "kor", "ctl", "mdns", "abort", "persist",
                                        "clock-skew", "kor-retx"};
#define CAP_COUNT 8

uint32_t ekc_caps_parse_token(const char *s) {
    for (int i = 0; i < CAP_COUNT; i++)
        if (strcmp(s, cap_names[i]) == 0) return 1u << i;
    return 0;
}

uint32_t ekc_caps_parse(const char *s, size_t len) {
    uint32_t caps = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            char tok[17];
            size_t n = i - start;
            if (n > 0 && n <= 16) {
                memcpy(tok, s + start, n);
                tok[n] = 0;
                caps |= ekc_caps_parse_token(tok);
            }
            start = i + 1;
        }
    }
    return caps;
}

size_t ekc_caps_format(uint32_t caps, char *buf, size_t cap) {
    ekc_wr_t w;
    wr_init(&w, buf, cap);
    bool first = true;
    for (int i = 0; i < CAP_COUNT; i++) {
        if (!(caps & (1u << i))) continue;
        if (!first) wr_raw(&w, ",", 1);
        wr_str(&w, cap_names[i]);
        first = false;
    }
    wr_cstr(&w);
    return w.len;
}

void ekc_config_defaults(ekc_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->lang, "c");
    cfg->caps = EKC_CAP_ROJ | EKC_CAP_KOR | EKC_CAP_CTL | EKC_CAP_ABORT | EKC_CAP_CLOCK_SKEW;
    cfg->roj_port = 9990;
    cfg->kor_port = 9991;
    cfg->ctl_port = 9992;
    cfg->announce_ms = 1000;
    cfg->anti_entropy_ms = 10000;
    cfg->proposal_timeout_ms = 10000;
}

static bool persist_active(const ekc_node_t *n) {
    return n->cfg.persist.save && n->cfg.persist.load;
}

ekc_status_t ekc_init(ekc_node_t *n, const ekc_config_t *cfg) {
    memset(n, 0, sizeof *n);
    if (!cfg || !valid_node_id(cfg->node_id) || cfg->module_id == 0 || !valid_lang(cfg->lang) ||
        cfg->roj_port == 0 || cfg->kor_port == 0 || cfg->static_peer_count > EKC_MAX_STATIC_PEERS)
        return EKC_ERR_CONFIG;
    n->cfg = *cfg;
    n->cfg.caps |= EKC_CAP_ROJ | EKC_CAP_KOR;
    if (!n->cfg.ctl_port) n->cfg.caps &= ~(uint32_t)(EKC_CAP_CTL | EKC_CAP_CLOCK_SKEW);
    /* Claims describe the implementation (a port that can persist claims `persist` even in a run
     * without a state directory, so the suite can select the test); behaviour follows the hooks. */
    if (persist_active(n)) n->cfg.caps |= EKC_CAP_PERSIST;
    if (!n->cfg.announce_ms) n->cfg.announce_ms = 1000;
    if (!n->cfg.liveness_ms) n->cfg.liveness_ms = 3 * n->cfg.announce_ms;
    if (!n->cfg.anti_entropy_ms) n->cfg.anti_entropy_ms = 10000;
    if (!n->cfg.proposal_timeout_ms) n->cfg.proposal_timeout_ms = 10000;
    if (n->cfg.proposal_timeout_ms < 100 || n->cfg.proposal_timeout_ms > 60000) return EKC_ERR_CONFIG;
    n->rng = cfg->seed;
    n->member_count = 1;
    ekc_member_t *self = &n->members[0];
    strcpy(self->node_id, cfg->node_id);
    self->addr_known = false; /* never sent to */
    self->module_id = cfg->module_id;
    self->ipv4 = cfg->bind_ipv4;
    self->roj_port = cfg->roj_port;
    self->kor_port = cfg->kor_port;
    self->ctl_port = cfg->ctl_port;
    self->caps = n->cfg.caps;
    self->incarnation = cfg->incarnation;
    n->emit_allowed = false;
    if (persist_active(n)) persist_load(n);
    return EKC_OK;
}

static void start_if_needed(ekc_node_t *n, uint64_t now_ms) {
    if (!n->started) {
        n->started = true;
        n->start_ms = now_ms;
        n->now_ms = now_ms;
        n->next_announce_ms = now_ms; /* ROJ-ANN-3: one at once */
        n->next_persist_ms = now_ms + 1000;
    }
    if (now_ms > n->now_ms) n->now_ms = now_ms;
}

void ekc_on_datagram(ekc_node_t *n, uint64_t now_ms, ekc_channel_t ch, ekc_addr_t src,
                     const uint8_t *data, size_t len) {
    start_if_needed(n, now_ms);
    if (!data && len) return;
    switch (ch) {
    case EKC_CH_ROJ:
        n->stats.rx_roj++;
        roj_on_datagram(n, src, data, len);
        break;
    case EKC_CH_KOR:
        n->stats.rx_kor++;
        kor_on_frame(n, src, data, len);
        break;
    case EKC_CH_CTL:
        n->stats.rx_ctl++;
        if (n->cfg.caps & EKC_CAP_CTL) ctl_on_datagram(n, src, data, len);
        break;
    }
}

void ekc_on_peer(ekc_node_t *n, uint64_t now_ms, const ekc_peer_info_t *p) {
    start_if_needed(n, now_ms);
    if (!p || !valid_node_id(p->node_id) || strcmp(p->node_id, n->cfg.node_id) == 0 || !p->ipv4 ||
        !p->roj_port)
        return;
    int idx = member_add(n, p->node_id); /* ROJ-DISC-3 */
    if (idx < 0) return;
    ekc_member_t *m = &n->members[idx];
    m->addr_known = true;
    m->ipv4 = p->ipv4;
    m->roj_port = p->roj_port;
    if (p->kor_port) m->kor_port = p->kor_port;
    if (p->ctl_port) m->ctl_port = p->ctl_port;
    if (p->module_id) m->module_id = p->module_id;
    if (!m->announced) m->caps = p->caps;
}

void ekc_tick(ekc_node_t *n, uint64_t now_ms) {
    start_if_needed(n, now_ms);
    roj_tick(n);
    kor_tick(n);
    if (n->persist_dirty && now_ms >= n->next_persist_ms) {
        persist_save(n);
        n->next_persist_ms = now_ms + 1000;
    }
}

void ekc_persist_flush(ekc_node_t *n) {
    if (n->persist_dirty) persist_save(n);
}

uint32_t ekc_next_deadline_ms(const ekc_node_t *n, uint64_t now_ms) {
    uint64_t next = now_ms + 1000;
    if (!n->started) return 0;
    if (n->next_announce_ms < next) next = n->next_announce_ms;
    for (int i = 0; i < EKC_MAX_PENDING; i++) {
        const ekc_proposal_t *p = &n->props[i];
        if (p->state == EKC_PROP_PENDING && p->deadline_ms < next) next = p->deadline_ms;
        if (p->state == EKC_PROP_BACKOFF && p->retry_ms < next) next = p->retry_ms;
    }
    for (int i = 0; i < EKC_MAX_LOCKS; i++)
        if (n->locks[i].used && n->locks[i].expires_ms < next) next = n->locks[i].expires_ms;
    for (int i = 0; i < n->vv_count; i++)
        if (n->vv[i].gap_outstanding && n->vv[i].gap_req_ms + 500 < next) next = n->vv[i].gap_req_ms + 500;
    return next <= now_ms ? 0 : (uint32_t)(next - now_ms);
}

uint8_t ekc_live_count(const ekc_node_t *n) {
    uint8_t c = 0;
    for (int i = 0; i < n->member_count; i++) c += member_live(n, i);
    return c;
}

uint32_t event_timestamp_us(ekc_node_t *n) {
    uint64_t us = n->cfg.clock_us ? n->cfg.clock_us(n->cfg.clock_ctx) : n->now_ms * 1000ull;
    return (uint32_t)(us + (uint64_t)n->clock_skew_us);
}

/* ---- persistence blob: "EKC1" | module | vv_count | (origin, seq)* | count u16 | events* | fnv64 */

#define PERSIST_MAGIC "EKC1"

typedef struct {
    ekc_node_t *n;
    uint8_t chunk[256];
    size_t fill, offset;
    uint64_t h;
    bool failed;
} persist_writer_t;

static void pw_flush(persist_writer_t *w, bool last) {
    if (w->failed) return;
    if (w->n->cfg.persist.save(w->n->cfg.persist.ctx, w->offset, w->chunk, w->fill, last) != 0)
        w->failed = true;
    w->offset += w->fill;
    w->fill = 0;
}
static void pw_put(persist_writer_t *w, const uint8_t *p, size_t len, bool hash) {
    for (size_t i = 0; i < len; i++) {
        if (hash) {
            w->h ^= p[i];
            w->h *= 0x100000001b3ull;
        }
        w->chunk[w->fill++] = p[i];
        if (w->fill == sizeof w->chunk) pw_flush(w, false);
    }
}

void persist_save(ekc_node_t *n) {
    if (!persist_active(n)) return;
    persist_writer_t w;
    memset(&w, 0, sizeof w);
    w.n = n;
    w.h = 0xcbf29ce484222325ull;
    uint8_t b[8];
    pw_put(&w, (const uint8_t *)PERSIST_MAGIC, 4, true);
    b[0] = n->cfg.module_id;
    b[1] = n->vv_count;
    pw_put(&w, b, 2, true);
    for (int i = 0; i < n->vv_count; i++) {
        b[0] = n->vv[i].origin;
        put32(b + 1, n->vv[i].seq);
        pw_put(&w, b, 5, true);
    }
    put16(b, n->store_count);
    pw_put(&w, b, 2, true);
    for (uint16_t k = 0; k < n->store_count; k++)
        pw_put(&w, n->store[(n->store_head + k) % EKC_EVENT_STORE].bytes, EKC_EVENT_LEN, true);
    uint64_t h = w.h;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(h >> (8 * i));
    pw_put(&w, b, 8, false);
    pw_flush(&w, true);
    if (w.failed) {
        n->stats.persist_errors++;
        node_log(n, EKC_LOG_ERROR, "persisting state failed", "CTL-PERSIST-1", "");
    } else {
        n->persist_dirty = false;
    }
}

typedef struct {
    ekc_node_t *n;
    size_t offset;
    uint64_t h;
    bool failed;
} persist_reader_t;

static bool pr_get(persist_reader_t *r, uint8_t *out, size_t len, bool hash) {
    size_t got = 0;
    while (got < len) {
        long k = r->n->cfg.persist.load(r->n->cfg.persist.ctx, r->offset, out + got, len - got);
        if (k <= 0) {
            r->failed = true;
            return false;
        }
        got += (size_t)k;
        r->offset += (size_t)k;
    }
    if (hash)
        for (size_t i = 0; i < len; i++) {
            r->h ^= out[i];
            r->h *= 0x100000001b3ull;
        }
    return true;
}

void persist_load(ekc_node_t *n) {
    uint8_t probe[1];
    if (n->cfg.persist.load(n->cfg.persist.ctx, 0, probe, 1) < 0) {
        /* No saved state: the state directory is authoritative, this is the first life. */
        n->emit_allowed = true;
        node_log(n, EKC_LOG_INFO, "no persisted state; starting fresh", "CTL-PERSIST-1", "");
        return;
    }
    persist_reader_t r = {n, 0, 0xcbf29ce484222325ull, false};
    uint8_t b[8];
    ekc_vv_entry_t vv[EKC_MAX_ORIGINS];
    uint8_t vv_count = 0;
    if (!pr_get(&r, b, 4, true) || memcmp(b, PERSIST_MAGIC, 4) != 0) goto bad;
    if (!pr_get(&r, b, 2, true) || b[0] != n->cfg.module_id || b[1] > EKC_MAX_ORIGINS) goto bad;
    vv_count = b[1];
    memset(vv, 0, sizeof vv);
    for (int i = 0; i < vv_count; i++) {
        if (!pr_get(&r, b, 5, true)) goto bad;
        vv[i].origin = b[0];
        vv[i].seq = le32(b + 1);
        if (i > 0 && vv[i].origin <= vv[i - 1].origin) goto bad;
    }
    if (!pr_get(&r, b, 2, true)) goto bad;
    uint16_t count = le16(b);
    if (count > EKC_EVENT_STORE) goto bad;
    for (uint16_t k = 0; k < count; k++) {
        uint8_t ev[EKC_EVENT_LEN];
        if (!pr_get(&r, ev, EKC_EVENT_LEN, true) || ekc_evt_check(ev) != EKC_KOR_OK) goto bad;
        memcpy(n->store[k].bytes, ev, EKC_EVENT_LEN);
    }
    uint64_t h = r.h;
    if (!pr_get(&r, b, 8, false)) goto bad;
    for (int i = 0; i < 8; i++)
        if (b[i] != (uint8_t)(h >> (8 * i))) goto bad;
    n->store_head = 0;
    n->store_count = count;
    memcpy(n->vv, vv, sizeof vv);
    n->vv_count = vv_count;
    /* Rebuild registers and committed KV from the log (BRIDGE-3). */
    for (uint16_t k = 0; k < count; k++) kor_apply_effects(n, n->store[k].bytes);
    n->emit_allowed = true;
    {
        char buf[64];
        ekc_wr_t w;
        wr_init(&w, buf, sizeof buf);
        wr_str(&w, "\"events\":");
        wr_u64(&w, count);
        wr_str(&w, ",\"own_seq\":");
        wr_u64(&w, ekc_vv_get(n, n->cfg.module_id));
        node_log(n, EKC_LOG_INFO, "persisted state loaded", "CTL-PERSIST-1", wr_cstr(&w));
    }
    return;
bad:
    memset(n->store, 0, sizeof n->store);
    n->store_count = 0;
    n->store_head = 0;
    n->emit_allowed = false; /* fall back to CTL-PERSIST-2 */
    node_log(n, EKC_LOG_ERROR, "persisted state unreadable; recovering from neighbours",
             "CTL-PERSIST-2", "");
}
