/*
 * mdns.c - sans-IO mDNS responder and browser for `_roj._udp.local` (ek-roj.md ROJ-DISC-1..3,
 * RFC 6762/6763). Parses DNS messages with bounded name decompression, answers PTR/SRV/TXT/A (and
 * ANY) queries for the node's own instance, announces it at start-up, browses on the ROJ-DISC-2
 * schedule and resolves instances (SRV + TXT + A) into ekc_peer_info_t. No OS calls, no malloc.
 */
#include "internal.h"
#include "ekc_mdns.h"

#define T_A 1
#define T_PTR 12
#define T_TXT 16
#define T_SRV 33
#define T_ANY 255
#define CLASS_IN 1
#define SERVICE "_roj._udp.local"

/* ---- names ---- */

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }
static bool name_eq(const char *a, const char *b) {
    while (*a && *b)
        if (lower(*a++) != lower(*b++)) return false;
    return *a == *b;
}

/* Reads a possibly compressed name at *off into out (dotted, no trailing dot). */
static bool read_name(const uint8_t *p, size_t len, size_t *off, char *out, size_t cap) {
    size_t o = *off, w = 0;
    bool jumped = false;
    int hops = 0;
    for (;;) {
        if (o >= len) return false;
        uint8_t l = p[o];
        if (l == 0) {
            if (!jumped) *off = o + 1;
            break;
        }
        if ((l & 0xc0) == 0xc0) {
            if (o + 1 >= len || ++hops > 16) return false;
            size_t target = (size_t)((l & 0x3f) << 8 | p[o + 1]);
            if (!jumped) *off = o + 2;
            jumped = true;
            if (target >= len) return false;
            o = target;
            continue;
        }
        if (l & 0xc0) return false;
        if (o + 1 + l > len) return false;
        if (w + l + 2 > cap) return false;
        if (w) out[w++] = '.';
        memcpy(out + w, p + o + 1, l);
        w += l;
        o += 1 + (size_t)l;
    }
    out[w] = 0;
    return true;
}

typedef struct {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
} dns_wr_t;

static void dw_bytes(dns_wr_t *w, const void *b, size_t n) {
    if (w->len + n > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, b, n);
    w->len += n;
}
static void dw_u16(dns_wr_t *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dw_bytes(w, b, 2);
}
static void dw_u32(dns_wr_t *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    dw_bytes(w, b, 4);
}
/* Writes a dotted name uncompressed; `first` may be a label that contains no dot handling. */
static void dw_name2(dns_wr_t *w, const char *label, const char *rest) {
    if (label) {
        uint8_t l = (uint8_t)strlen(label);
        dw_bytes(w, &l, 1);
        dw_bytes(w, label, l);
    }
    const char *s = rest;
    while (*s) {
        const char *d = s;
        while (*d && *d != '.') d++;
        uint8_t l = (uint8_t)(d - s);
        dw_bytes(w, &l, 1);
        dw_bytes(w, s, l);
        s = *d ? d + 1 : d;
    }
    uint8_t z = 0;
    dw_bytes(w, &z, 1);
}
static void dw_rr_head(dns_wr_t *w, const char *label, const char *rest, uint16_t type,
                       bool flush, uint32_t ttl) {
    dw_name2(w, label, rest);
    dw_u16(w, type);
    dw_u16(w, (uint16_t)(CLASS_IN | (flush ? 0x8000 : 0)));
    dw_u32(w, ttl);
}

/* ---- building ---- */

size_t ekc_mdns_build_query(uint8_t *buf, size_t cap, const char *name, uint16_t qtype) {
    dns_wr_t w = {buf, cap, 0, false};
    uint8_t hdr[12] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    dw_bytes(&w, hdr, 12);
    dw_name2(&w, NULL, name);
    dw_u16(&w, qtype);
    dw_u16(&w, CLASS_IN);
    return w.overflow ? 0 : w.len;
}

static void txt_kv(dns_wr_t *w, const char *k, const char *v) {
    uint8_t l = (uint8_t)(strlen(k) + 1 + strlen(v));
    dw_bytes(w, &l, 1);
    dw_bytes(w, k, strlen(k));
    dw_bytes(w, "=", 1);
    dw_bytes(w, v, strlen(v));
}
static void txt_kv_u(dns_wr_t *w, const char *k, uint32_t v) {
    char b[12];
    ekc_wr_t ww;
    wr_init(&ww, b, sizeof b);
    wr_u64(&ww, v);
    txt_kv(w, k, wr_cstr(&ww));
}

static size_t build_records(const ekc_mdns_t *m, uint8_t *buf, size_t cap, uint16_t id,
                            bool ptr, bool srv_txt, bool a, uint32_t ttl) {
    const ekc_mdns_config_t *c = &m->cfg;
    dns_wr_t w = {buf, cap, 0, false};
    char host[EKC_NODE_ID_MAX + 8];
    ekc_wr_t hw;
    wr_init(&hw, host, sizeof host);
    wr_str(&hw, c->node_id);
    wr_str(&hw, ".local");
    wr_cstr(&hw);
    uint16_t an = (uint16_t)((ptr ? 1 : 0) + (srv_txt ? 2 : 0) + (a ? 1 : 0));
    dw_u16(&w, id);
    dw_u16(&w, 0x8400);
    dw_u16(&w, 0);
    dw_u16(&w, an);
    dw_u16(&w, 0);
    dw_u16(&w, 0);
    if (ptr) {
        dw_rr_head(&w, NULL, SERVICE, T_PTR, false, ttl);
        size_t rdlen_at = w.len;
        dw_u16(&w, 0);
        size_t start = w.len;
        dw_name2(&w, c->node_id, SERVICE);
        if (!w.overflow) {
            buf[rdlen_at] = (uint8_t)((w.len - start) >> 8);
            buf[rdlen_at + 1] = (uint8_t)(w.len - start);
        }
    }
    if (srv_txt) {
        dw_rr_head(&w, c->node_id, SERVICE, T_SRV, true, ttl);
        size_t rdlen_at = w.len;
        dw_u16(&w, 0);
        size_t start = w.len;
        dw_u16(&w, 0);
        dw_u16(&w, 0);
        dw_u16(&w, c->roj_port);
        dw_name2(&w, NULL, host);
        if (!w.overflow) {
            buf[rdlen_at] = (uint8_t)((w.len - start) >> 8);
            buf[rdlen_at + 1] = (uint8_t)(w.len - start);
        }
        dw_rr_head(&w, c->node_id, SERVICE, T_TXT, true, ttl);
        rdlen_at = w.len;
        dw_u16(&w, 0);
        start = w.len;
        char caps[128];
        ekc_caps_format(c->caps, caps, sizeof caps);
        txt_kv(&w, "node", c->node_id);
        txt_kv_u(&w, "mod", c->module_id);
        txt_kv(&w, "lang", c->lang);
        txt_kv(&w, "version", c->version);
        txt_kv(&w, "proto", "1");
        txt_kv(&w, "caps", caps);
        txt_kv_u(&w, "kor", c->kor_port);
        txt_kv_u(&w, "ctl", c->ctl_port);
        if (!w.overflow) {
            buf[rdlen_at] = (uint8_t)((w.len - start) >> 8);
            buf[rdlen_at + 1] = (uint8_t)(w.len - start);
        }
    }
    if (a) {
        dw_rr_head(&w, NULL, host, T_A, true, ttl);
        dw_u16(&w, 4);
        dw_u32(&w, c->ipv4);
    }
    return w.overflow ? 0 : w.len;
}

size_t ekc_mdns_build_response(const ekc_mdns_t *m, uint8_t *buf, size_t cap) {
    return build_records(m, buf, cap, 0, true, true, true, EKC_MDNS_TTL_S);
}

/* ---- outbox ---- */

static ekc_mdns_packet_t *out_slot(ekc_mdns_t *m) {
    if (m->out_count >= EKC_MDNS_OUTBOX) return NULL;
    ekc_mdns_packet_t *p = &m->out[(m->out_head + m->out_count) % EKC_MDNS_OUTBOX];
    return p;
}
static void out_push_pkt(ekc_mdns_t *m, ekc_mdns_packet_t *p, size_t len, ekc_addr_t dst) {
    if (!len) return;
    p->len = (uint16_t)len;
    p->dst = dst;
    m->out_count++;
}
static const ekc_addr_t mcast = {EKC_MDNS_GROUP, EKC_MDNS_PORT};

bool ekc_mdns_next_output(ekc_mdns_t *m, ekc_output_t *out) {
    if (!m->out_count) return false;
    ekc_mdns_packet_t *p = &m->out[m->out_head];
    m->out_head = (uint8_t)((m->out_head + 1) % EKC_MDNS_OUTBOX);
    m->out_count--;
    out->channel = EKC_CH_ROJ; /* not meaningful for mDNS: the shell sends on its 5353 socket */
    out->dst = p->dst;
    out->data = p->bytes;
    out->len = p->len;
    return true;
}

static void queue_query(ekc_mdns_t *m, const char *name, uint16_t qtype) {
    ekc_mdns_packet_t *p = out_slot(m);
    if (!p) return;
    out_push_pkt(m, p, ekc_mdns_build_query(p->bytes, sizeof p->bytes, name, qtype), mcast);
}

/* ---- init / tick ---- */

bool ekc_mdns_init(ekc_mdns_t *m, const ekc_mdns_config_t *cfg) {
    memset(m, 0, sizeof *m);
    if (!cfg || !valid_node_id(cfg->node_id) || !cfg->ipv4 || !cfg->roj_port) return false;
    m->cfg = *cfg;
    if (!m->cfg.version[0]) strcpy(m->cfg.version, EKC_IMPL_VERSION);
    if (!m->cfg.lang[0]) strcpy(m->cfg.lang, "c");
    m->announcements_left = 2; /* RFC 6762 section 8.3 */
    return true;
}

void ekc_mdns_tick(ekc_mdns_t *m, uint64_t now_ms) {
    if (!m->started) {
        m->started = true;
        m->start_ms = now_ms;
        m->next_query_ms = now_ms;
        m->next_announce_ms = now_ms;
    }
    if (m->announcements_left && now_ms >= m->next_announce_ms) {
        ekc_mdns_packet_t *p = out_slot(m);
        if (p) {
            out_push_pkt(m, p, ekc_mdns_build_response(m, p->bytes, sizeof p->bytes), mcast);
            m->announcements_left--;
            m->next_announce_ms = now_ms + 1000;
        }
    }
    if (!m->cfg.browse) return;
    if (now_ms >= m->next_query_ms) { /* ROJ-DISC-2 */
        queue_query(m, SERVICE, T_PTR);
        m->next_query_ms = now_ms + (now_ms - m->start_ms < 10000 ? 2000 : 10000);
    }
    for (int i = 0; i < EKC_MDNS_MAX_INSTANCES; i++) {
        ekc_mdns_instance_t *in = &m->inst[i];
        if (!in->used || (in->have_srv && in->have_txt && in->have_a)) continue;
        if (in->last_query_ms && now_ms - in->last_query_ms < 1000) continue;
        in->last_query_ms = now_ms;
        char full[EKC_MDNS_NAME_MAX + 20];
        ekc_wr_t w;
        wr_init(&w, full, sizeof full);
        wr_str(&w, in->instance);
        wr_str(&w, "." SERVICE);
        wr_cstr(&w);
        if (!in->have_srv || !in->have_txt) queue_query(m, full, T_ANY);
        if (in->have_srv && !in->have_a) queue_query(m, in->host, T_A);
    }
}

/* ---- receiving ---- */

static ekc_mdns_instance_t *instance_get(ekc_mdns_t *m, const char *label, bool create) {
    for (int i = 0; i < EKC_MDNS_MAX_INSTANCES; i++)
        if (m->inst[i].used && name_eq(m->inst[i].instance, label)) return &m->inst[i];
    if (!create) return NULL;
    for (int i = 0; i < EKC_MDNS_MAX_INSTANCES; i++)
        if (!m->inst[i].used) {
            memset(&m->inst[i], 0, sizeof m->inst[i]);
            m->inst[i].used = true;
            strcpy(m->inst[i].instance, label);
            return &m->inst[i];
        }
    return NULL;
}

/* "<label>._roj._udp.local" -> label; false for other names. */
static bool instance_label(const char *full, char *label, size_t cap) {
    size_t n = strlen(full), s = strlen("." SERVICE);
    if (n <= s || !name_eq(full + n - s, "." SERVICE) || n - s >= cap) return false;
    memcpy(label, full, n - s);
    label[n - s] = 0;
    return strchr(label, '.') == NULL;
}

static void parse_txt(ekc_mdns_instance_t *in, const uint8_t *p, size_t len) {
    size_t o = 0;
    while (o < len) {
        uint8_t l = p[o++];
        if (o + l > len) return;
        const char *s = (const char *)p + o;
        const char *eq = memchr(s, '=', l);
        if (eq) {
            size_t kl = (size_t)(eq - s), vl = l - kl - 1;
            const char *v = eq + 1;
            char val[64];
            if (vl < sizeof val) {
                memcpy(val, v, vl);
                val[vl] = 0;
                uint32_t num = 0;
                bool isnum = vl > 0 && vl <= 5;
                for (size_t i = 0; i < vl; i++) {
                    if (val[i] < '0' || val[i] > '9') isnum = false;
                    else num = num * 10 + (uint32_t)(val[i] - '0');
                }
                if (kl == 4 && memcmp(s, "node", 4) == 0 && vl <= EKC_NODE_ID_MAX && valid_node_id(val))
                    strcpy(in->info.node_id, val);
                else if (kl == 3 && memcmp(s, "mod", 3) == 0 && isnum && num >= 1 && num <= 255)
                    in->info.module_id = (uint8_t)num;
                else if (kl == 3 && memcmp(s, "kor", 3) == 0 && isnum && num >= 1 && num <= 65535)
                    in->info.kor_port = (uint16_t)num;
                else if (kl == 3 && memcmp(s, "ctl", 3) == 0 && isnum && num >= 1 && num <= 65535)
                    in->info.ctl_port = (uint16_t)num;
                else if (kl == 4 && memcmp(s, "caps", 4) == 0)
                    in->info.caps = ekc_caps_parse(val, vl);
            }
        }
        o += l;
    }
    in->have_txt = true;
}

static void respond(ekc_mdns_t *m, ekc_addr_t src, uint16_t id, bool ptr, bool srv_txt, bool a) {
    ekc_mdns_packet_t *p = out_slot(m);
    if (!p) return;
    bool legacy = src.port != EKC_MDNS_PORT; /* RFC 6762 section 6.7: unicast to the querier */
    size_t len = build_records(m, p->bytes, sizeof p->bytes, legacy ? id : 0, ptr, srv_txt || ptr,
                               a || ptr || srv_txt, legacy ? 10 : EKC_MDNS_TTL_S);
    out_push_pkt(m, p, len, legacy ? src : mcast);
}

void ekc_mdns_on_packet(ekc_mdns_t *m, uint64_t now_ms, ekc_addr_t src, const uint8_t *d,
                        size_t len) {
    (void)now_ms;
    if (len < 12 || len > EKC_MDNS_MAX_PACKET) {
        m->invalid_packets++;
        return;
    }
    uint16_t id = (uint16_t)(d[0] << 8 | d[1]);
    uint16_t flags = (uint16_t)(d[2] << 8 | d[3]);
    unsigned qd = (unsigned)(d[4] << 8 | d[5]);
    unsigned rr = (unsigned)(d[6] << 8 | d[7]) + (unsigned)(d[8] << 8 | d[9]) +
                  (unsigned)(d[10] << 8 | d[11]);
    size_t off = 12;
    char name[EKC_MDNS_NAME_MAX * 2];
    char own_instance[EKC_MDNS_NAME_MAX], own_host[EKC_MDNS_NAME_MAX];
    {
        ekc_wr_t w;
        wr_init(&w, own_instance, sizeof own_instance);
        wr_str(&w, m->cfg.node_id);
        wr_str(&w, "." SERVICE);
        wr_cstr(&w);
        wr_init(&w, own_host, sizeof own_host);
        wr_str(&w, m->cfg.node_id);
        wr_str(&w, ".local");
        wr_cstr(&w);
    }
    if (!(flags & 0x8000)) { /* query */
        bool want_ptr = false, want_srv = false, want_a = false;
        for (unsigned q = 0; q < qd; q++) {
            if (!read_name(d, len, &off, name, sizeof name) || off + 4 > len) {
                m->invalid_packets++;
                return;
            }
            uint16_t qt = (uint16_t)(d[off] << 8 | d[off + 1]);
            off += 4;
            if (name_eq(name, SERVICE) && (qt == T_PTR || qt == T_ANY)) want_ptr = true;
            if (name_eq(name, own_instance) && (qt == T_SRV || qt == T_TXT || qt == T_ANY))
                want_srv = true;
            if (name_eq(name, own_host) && (qt == T_A || qt == T_ANY)) want_a = true;
        }
        if (want_ptr || want_srv || want_a) respond(m, src, id, want_ptr, want_srv, want_a);
        return;
    }
    /* response: skip questions, then two passes over the records (A records may precede SRV) */
    for (unsigned q = 0; q < qd; q++) {
        if (!read_name(d, len, &off, name, sizeof name) || off + 4 > len) {
            m->invalid_packets++;
            return;
        }
        off += 4;
    }
    if (!m->cfg.browse) return;
    size_t rr_start = off;
    for (int pass = 0; pass < 2; pass++) {
        off = rr_start;
        for (unsigned r = 0; r < rr; r++) {
            if (!read_name(d, len, &off, name, sizeof name) || off + 10 > len) {
                m->invalid_packets++;
                return;
            }
            uint16_t type = (uint16_t)(d[off] << 8 | d[off + 1]);
            uint32_t ttl = (uint32_t)d[off + 4] << 24 | (uint32_t)d[off + 5] << 16 |
                           (uint32_t)d[off + 6] << 8 | d[off + 7];
            uint16_t rdlen = (uint16_t)(d[off + 8] << 8 | d[off + 9]);
            off += 10;
            if (off + rdlen > len) {
                m->invalid_packets++;
                return;
            }
            size_t rd = off;
            off += rdlen;
            char label[EKC_MDNS_NAME_MAX];
            if (pass == 0 && type == T_PTR && name_eq(name, SERVICE) && ttl > 0) {
                char target[EKC_MDNS_NAME_MAX * 2];
                size_t o2 = rd;
                if (read_name(d, len, &o2, target, sizeof target) &&
                    instance_label(target, label, sizeof label) && !name_eq(label, m->cfg.node_id))
                    instance_get(m, label, true);
            } else if (pass == 0 && type == T_SRV && instance_label(name, label, sizeof label) &&
                       !name_eq(label, m->cfg.node_id) && rdlen >= 7) {
                ekc_mdns_instance_t *in = instance_get(m, label, true);
                size_t o2 = rd + 6;
                char host[EKC_MDNS_NAME_MAX];
                if (in && read_name(d, len, &o2, host, sizeof host)) {
                    uint16_t port = (uint16_t)(d[rd + 4] << 8 | d[rd + 5]);
                    if (in->info.roj_port != port || !name_eq(in->host, host)) in->reported = false;
                    in->info.roj_port = port;
                    strcpy(in->host, host);
                    in->have_srv = port != 0;
                }
            } else if (pass == 0 && type == T_TXT && instance_label(name, label, sizeof label) &&
                       !name_eq(label, m->cfg.node_id)) {
                ekc_mdns_instance_t *in = instance_get(m, label, true);
                if (in) parse_txt(in, d + rd, rdlen);
            } else if (pass == 1 && type == T_A && rdlen == 4) {
                uint32_t ip = (uint32_t)d[rd] << 24 | (uint32_t)d[rd + 1] << 16 |
                              (uint32_t)d[rd + 2] << 8 | d[rd + 3];
                for (int i = 0; i < EKC_MDNS_MAX_INSTANCES; i++) {
                    ekc_mdns_instance_t *in = &m->inst[i];
                    if (!in->used || !in->have_srv || !name_eq(in->host, name)) continue;
                    if (in->info.ipv4 != ip) in->reported = false;
                    in->info.ipv4 = ip;
                    in->have_a = ip != 0;
                }
            }
        }
    }
}

bool ekc_mdns_next_peer(ekc_mdns_t *m, ekc_peer_info_t *peer) {
    for (int k = 0; k < EKC_MDNS_MAX_INSTANCES; k++) {
        ekc_mdns_instance_t *in = &m->inst[k];
        if (!in->used || in->reported || !in->have_srv || !in->have_txt || !in->have_a) continue;
        in->reported = true;
        *peer = in->info;
        if (!peer->node_id[0]) { /* ROJ-DISC-3: fall back to the instance name */
            if (strlen(in->instance) > EKC_NODE_ID_MAX || !valid_node_id(in->instance)) continue;
            strcpy(peer->node_id, in->instance);
        }
        return true;
    }
    return false;
}
