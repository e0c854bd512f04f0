/*
 * ekc_fuzz_shim.c - parse-only entry points into the C reference node's core for the fuzz targets.
 *
 * The C core's EK-ROJ parser (roj_parse) is file-static, so this shim compiles roj.c as part of
 * itself (the build leaves roj.c out of the core object list) and wraps the parser; nothing in the
 * C tree changes. Every entry point renders what the C node decoded as one canonical text line
 * (the same format the Rust side renders for the oracle and the Rust node), so verdicts compare
 * as strings and replays print them.
 */
#include "roj.c"

#include <stdarg.h>
#include <stdio.h>

#include "ekc_kor_wire.h"
#include "ekc_mdns.h"

static ekc_node_t shim_node;
static int shim_ready;

static void shim_init(void) {
    if (shim_ready) return;
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    strcpy(cfg.node_id, "c-fuzz");
    cfg.module_id = 1;
    ekc_init(&shim_node, &cfg);
    shim_ready = 1;
}

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, const char *fmt, ...) {
    if (o->len >= o->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (w > 0) o->len += (size_t)w < o->cap - o->len ? (size_t)w : o->cap - o->len - 1;
}

static void put_list(out_t *o, const char *name, const roj_msg_t *m) {
    put(o, " %s=", name);
    for (uint8_t i = 0; i < m->list_n; i++) put(o, "%s%s", i ? "," : "", m->list[i]);
}

/* Parses one EK-ROJ datagram exactly as the C node's receive path does before any state is
 * consulted. Returns 1 and the canonical line if accepted, 0 and "reject <invalid kind>" if not. */
int ekc_fuzz_c_roj(const uint8_t *data, size_t len, char *out, size_t cap) {
    shim_init();
    roj_msg_t m;
    memset(&m, 0, sizeof m);
    out_t o = {out, cap, 0};
    out[0] = 0;
    int bad = roj_parse(&shim_node, data, len, &m);
    if (bad >= 0) {
        put(&o, "reject %d", bad);
        return 0;
    }
    static const char *const type_names[] = {"ANNOUNCE", "PROPOSE", "VOTE", "COMMIT", "ABORT"};
    put(&o, "%s node_id=%s", type_names[m.type], m.node_id);
    switch (m.type) {
    case MSG_ANNOUNCE:
        put(&o, " module_id=%u lang=%s version=%s incarnation=%u seq=%u", m.module_id, m.lang,
            m.version_str, m.incarnation, m.seq);
        put_list(&o, "members", &m);
        put(&o, " kor_port=%u ctl_port=%u", m.kor_port, m.ctl_port);
        break;
    case MSG_PROPOSE:
        put(&o, " pid=%s key=%s value=%s version=%u", m.pid, m.key, m.value, m.version);
        put_list(&o, "members", &m);
        put(&o, " n=%u timeout_ms=%u", m.n, m.timeout_ms);
        break;
    case MSG_VOTE:
        put(&o, " pid=%s accept=%s reason=%s", m.pid, m.accept ? "true" : "false",
            reason_names[m.reason]);
        break;
    case MSG_COMMIT:
        put(&o, " pid=%s key=%s value=%s version=%u n=%u", m.pid, m.key, m.value, m.version, m.n);
        put_list(&o, "voters", &m);
        break;
    case MSG_ABORT: {
        /* roj_parse checks the reason but does not keep it: read it back from the same tokens. */
        ekc_json_t j;
        json_parse(&j, (const char *)data, len, (jsmntok_t *)shim_node.json_scratch,
                   EKC_JSON_TOKEN_SLOTS);
        int r = json_get(&j, json_get(&j, 0, "payload"), "reason");
        put(&o, " pid=%s reason=%s", m.pid, json_str_eq(&j, r, "rejected") ? "rejected" : "timeout");
        break;
    }
    }
    return 1;
}

static void put_hex(out_t *o, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) put(o, "%02x", b[i]);
}

/* Checks one EK-KOR frame with the C node's zero-copy codec (ekc_kor_frame_check). Returns 1 and the
 * canonical line if valid, 0 and "reject <error code>" if not. */
int ekc_fuzz_c_kor(const uint8_t *data, size_t len, char *out, size_t cap) {
    out_t o = {out, cap, 0};
    out[0] = 0;
    ekc_kor_frame_t f;
    ekc_kor_error_t e = ekc_kor_frame_check(data, len, &f);
    if (e != EKC_KOR_OK) {
        put(&o, "reject %d", (int)e);
        return 0;
    }
    switch (ekc_kor_msg_type(f)) {
    case EKC_KOR_EVENT_GOSSIP: {
        const uint8_t *ev = ekc_kor_gossip_event(f);
        put(&o, "GOSSIP src=%u vv=", ekc_kor_source_module(f));
        put_hex(&o, ekc_kor_gossip_vv_summary(f), 7);
        put(&o, " seq=%u ts=%u type=%u flags=%u origin=%u hop=%u oseq=%u payload=",
            ekc_evt_sequence(ev), ekc_evt_timestamp_us(ev), ekc_evt_type(ev), ekc_evt_flags(ev),
            ekc_evt_origin(ev), ekc_evt_hop(ev), ekc_evt_origin_seq(ev));
        put_hex(&o, ekc_evt_payload(ev), 20);
        break;
    }
    case EKC_KOR_EVENT_ACK:
        put(&o, "ACK src=%u entries=", ekc_kor_source_module(f));
        for (unsigned i = 0; i < ekc_kor_ack_count(f); i++)
            put(&o, "%s%u:%u", i ? "," : "", ekc_kor_ack_origin(f, i), ekc_kor_ack_seq(f, i));
        break;
    case EKC_KOR_EVENT_REQUEST:
        put(&o, "REQUEST src=%u target=%u from=%u to=%u", ekc_kor_source_module(f),
            ekc_kor_req_target(f), ekc_kor_req_from(f), ekc_kor_req_to(f));
        break;
    case EKC_KOR_VV_SYNC:
        put(&o, "VV_SYNC src=%u lo=%u hi=%u entries=", ekc_kor_source_module(f), ekc_kor_sync_lo(f),
            ekc_kor_sync_hi(f));
        for (unsigned i = 0; i < ekc_kor_sync_count(f); i++)
            put(&o, "%s%u:%u", i ? "," : "", ekc_kor_sync_origin(f, i), ekc_kor_sync_seq(f, i));
        break;
    default:
        put(&o, "accepted unknown msg_type %u", ekc_kor_msg_type(f));
        break;
    }
    return 1;
}

/* KOR-LWW-1 as the C node decides it. */
int ekc_fuzz_c_lww_newer(uint32_t ts_a, uint8_t origin_a, uint32_t seq_a, uint32_t ts_b,
                         uint8_t origin_b, uint32_t seq_b) {
    return ekc_lww_newer(ts_a, origin_a, seq_a, ts_b, origin_b, seq_b) ? 1 : 0;
}

/* KOR-GOS-2 vv_summary as the C node computes it. */
void ekc_fuzz_c_vv_summary(const uint8_t *origins, const uint32_t *seqs, size_t count,
                           uint8_t out[7]) {
    ekc_vv_summary(origins, seqs, count, out);
}

/* Feeds one packet to a fresh-per-process mDNS responder/browser (ekc_mdns_on_packet) and drains
 * what it produced. Returns the number of peers it resolved from this packet. */
static ekc_mdns_t shim_mdns;
static int shim_mdns_ready;
static uint64_t shim_mdns_now = 1000;

int ekc_fuzz_c_mdns(const uint8_t *data, size_t len) {
    if (!shim_mdns_ready) {
        ekc_mdns_config_t mc;
        memset(&mc, 0, sizeof mc);
        strcpy(mc.node_id, "c-fuzz");
        mc.ipv4 = 0x0a000001;
        mc.roj_port = 9990;
        mc.browse = true;
        if (!ekc_mdns_init(&shim_mdns, &mc)) __builtin_trap();
        shim_mdns_ready = 1;
    }
    shim_mdns_now += 7;
    ekc_addr_t src = {0x0a000002u, 5353};
    ekc_mdns_on_packet(&shim_mdns, shim_mdns_now, src, data, len);
    int peers = 0;
    ekc_peer_info_t p;
    while (ekc_mdns_next_peer(&shim_mdns, &p)) peers++;
    ekc_mdns_tick(&shim_mdns, shim_mdns_now);
    ekc_output_t out;
    while (ekc_mdns_next_output(&shim_mdns, &out))
        if (out.len > EKC_MDNS_MAX_PACKET) __builtin_trap();
    return peers;
}

/* The C node's control request handling (CTL-WIRE-1..3, CTL-CMD-n). Its parser is not separable
 * from command dispatch (ctl.c parses and acts in one pass), so the request goes to a node freshly
 * initialised for every call (no state carried from one input to the next: a propose or
 * set_neighbours of an earlier input cannot change this one's answer) and its reply is returned.
 * Returns 1 and the reply datagram (NUL-terminated, cut to cap - 1 bytes) if the node answered on
 * the control channel, 0 if it did not answer. */
static ekc_node_t shim_ctl_node;

int ekc_fuzz_c_ctl(const uint8_t *data, size_t len, char *out, size_t cap) {
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    strcpy(cfg.node_id, "c-fuzz");
    cfg.module_id = 1;
    if (ekc_init(&shim_ctl_node, &cfg) != EKC_OK) __builtin_trap();
    ekc_addr_t src = {0x0a000002u, 40000};
    ekc_on_datagram(&shim_ctl_node, 1, EKC_CH_CTL, src, data, len);
    int answered = 0;
    out[0] = 0;
    ekc_output_t o;
    while (ekc_next_output(&shim_ctl_node, &o)) {
        if (o.channel != EKC_CH_CTL || answered) continue;
        if (o.dst.ipv4 != src.ipv4 || o.dst.port != src.port) __builtin_trap(); /* CTL-WIRE-1 */
        if (o.len > EKC_ROJ_MAX_DATAGRAM) __builtin_trap();                       /* CTL-WIRE-1 */
        size_t n = o.len < cap - 1 ? o.len : cap - 1;
        memcpy(out, o.data, n);
        out[n] = 0;
        answered = 1;
    }
    return answered;
}
