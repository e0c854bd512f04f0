/*
 * ctl.c - the test-control protocol (docs/spec/control.md section 3): request parsing
 * (CTL-WIRE-1..3), every command of CTL-CMD-1..13, the capability statement (CTL-CAP-1) and the
 * response cache for repeated propose/emit ids (CTL-WIRE-4). Responses are written straight into
 * the outbox with the bounded writer.
 */
#include "internal.h"
#include "ekc_mdns.h"

static void wr_err(ekc_wr_t *w, uint32_t id, const char *code, const char *detail) {
    w->len = 0;
    w->overflow = false;
    wr_str(w, "{\"id\":");
    wr_u64(w, id);
    wr_str(w, ",\"ok\":false,\"error\":");
    wr_jstr(w, code);
    wr_str(w, ",\"detail\":");
    wr_jstr(w, detail);
    wr_str(w, "}");
}

static void wr_ok_head(ekc_wr_t *w, uint32_t id) {
    wr_str(w, "{\"id\":");
    wr_u64(w, id);
    wr_str(w, ",\"ok\":true,\"result\":");
}

static bool args_empty_ok(const ekc_json_t *j, int args) {
    return args < 0 || (j->tok[args].type == JSMN_OBJECT && j->tok[args].size == 0);
}

static const char *status_code(ekc_status_t st) {
    switch (st) {
    case EKC_ERR_LOCKED: return "locked";
    case EKC_ERR_CAPACITY: return "capacity";
    case EKC_ERR_BUSY: return "busy";
    case EKC_ERR_STALE: return "stale";
    default: return "bad_request";
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void cmd_caps(ekc_wr_t *w, const ekc_node_t *n) {
    char caps[128];
    size_t cl = ekc_caps_format(n->cfg.caps, caps, sizeof caps);
    wr_str(w, "{\"node_id\":");
    wr_jstr(w, n->cfg.node_id);
    wr_str(w, ",\"lang\":");
    wr_jstr(w, n->cfg.lang);
    wr_str(w, ",\"impl\":\"" EKC_IMPL_NAME "\",\"version\":\"" EKC_IMPL_VERSION
              "\",\"spec\":\"" EKC_SPEC_VERSION "\",\"caps\":[");
    for (size_t i = 0, start = 0; i <= cl; i++) {
        if (i == cl || caps[i] == ',') {
            if (start) wr_raw(w, ",", 1);
            wr_raw(w, "\"", 1);
            wr_raw(w, caps + start, i - start);
            wr_raw(w, "\"", 1);
            start = i + 1;
        }
    }
    wr_str(w, "],\"limits\":{\"max_members\":");
    wr_u64(w, EKC_MAX_MEMBERS);
    wr_str(w, ",\"max_pending\":");
    wr_u64(w, EKC_MAX_PENDING);
    wr_str(w, ",\"max_keys\":");
    wr_u64(w, EKC_MAX_KEYS);
    wr_str(w, ",\"gap_buffer\":");
    wr_u64(w, EKC_GAP_BUFFER);
    wr_str(w, ",\"event_store\":");
    wr_u64(w, EKC_EVENT_STORE);
    wr_str(w, ",\"max_origins\":");
    wr_u64(w, EKC_MAX_ORIGINS);
    wr_str(w, "}}");
}

static void cmd_peers(ekc_wr_t *w, const ekc_node_t *n) {
    uint8_t idx[EKC_MAX_MEMBERS];
    ekc_member_mask_t all = n->member_count >= 32 ? 0xffffffffu : ((1u << n->member_count) - 1u);
    int c = members_sorted(n, all, idx);
    wr_str(w, "{\"members\":[");
    for (int i = 0; i < c; i++) {
        if (i) wr_raw(w, ",", 1);
        wr_jstr(w, n->members[idx[i]].node_id);
    }
    wr_str(w, "],\"live\":[");
    bool first = true;
    for (int i = 0; i < c; i++) {
        if (!member_live(n, idx[i])) continue;
        if (!first) wr_raw(w, ",", 1);
        wr_jstr(w, n->members[idx[i]].node_id);
        first = false;
    }
    wr_str(w, "],\"neighbours\":[");
    ekc_member_mask_t nb = kor_neighbours(n);
    first = true;
    for (int i = 1; i < n->member_count; i++) {
        if (!((nb >> i) & 1u)) continue;
        if (!first) wr_raw(w, ",", 1);
        wr_u64(w, n->members[i].module_id);
        first = false;
    }
    wr_str(w, "]}");
}

static void cmd_state(ekc_wr_t *w, const ekc_node_t *n) {
    uint32_t log_count;
    uint64_t ld = ekc_log_digest(n, &log_count);
    wr_str(w, "{\"kv_count\":");
    wr_u64(w, n->kv_count);
    wr_str(w, ",\"kv_digest\":\"");
    wr_hex64(w, ekc_kv_digest(n));
    wr_str(w, "\",\"vv\":{");
    bool first = true;
    for (int i = 0; i < n->vv_count; i++) {
        if (!n->vv[i].seq) continue;
        if (!first) wr_raw(w, ",", 1);
        wr_raw(w, "\"", 1);
        wr_u64(w, n->vv[i].origin);
        wr_str(w, "\":");
        wr_u64(w, n->vv[i].seq);
        first = false;
    }
    wr_str(w, "},\"log_count\":");
    wr_u64(w, log_count);
    wr_str(w, ",\"log_digest\":\"");
    wr_hex64(w, ld);
    wr_str(w, "\",\"fields_count\":");
    wr_u64(w, n->fields_count);
    wr_str(w, ",\"fields_digest\":\"");
    wr_hex64(w, ekc_fields_digest(n));
    wr_str(w, "\",\"locks\":");
    wr_u64(w, ekc_lock_count(n));
    wr_str(w, ",\"pending\":");
    wr_u64(w, ekc_pending_count(n));
    wr_str(w, "}");
}

static void cmd_stats(ekc_wr_t *w, const ekc_node_t *n) {
    wr_str(w, "{\"rx\":{\"roj\":");
    wr_u64(w, n->stats.rx_roj);
    wr_str(w, ",\"kor\":");
    wr_u64(w, n->stats.rx_kor);
    wr_str(w, ",\"ctl\":");
    wr_u64(w, n->stats.rx_ctl);
    wr_str(w, "},\"tx\":{\"roj\":");
    wr_u64(w, n->stats.tx_roj);
    wr_str(w, ",\"kor\":");
    wr_u64(w, n->stats.tx_kor);
    wr_str(w, ",\"ctl\":");
    wr_u64(w, n->stats.tx_ctl);
    wr_str(w, ",\"roj_announce\":");
    wr_u64(w, n->stats.tx_roj_announce);
    wr_str(w, ",\"dropped_outbox\":");
    wr_u64(w, n->stats.outbox_dropped);
    wr_str(w, "},\"invalid\":{");
    bool first = true;
    for (int k = 0; k < INV_KIND_COUNT; k++) {
        if (!n->stats.invalid[k].count) continue;
        if (!first) wr_raw(w, ",", 1);
        wr_jstr(w, ekc_invalid_names[k]);
        wr_raw(w, ":", 1);
        wr_u64(w, n->stats.invalid[k].count);
        first = false;
    }
    wr_str(w, "}}");
}

/* Handles one parsed request; writes the complete response into w. */
static void dispatch(ekc_node_t *n, const ekc_json_t *j, uint32_t id, int args, ekc_wr_t *w,
                     bool *cacheable) {
    int c = json_get(j, 0, "cmd");
    char cmd[33];
    if (!json_str(j, c, cmd, 32)) {
        wr_err(w, id, "bad_request", "cmd must be a string");
        return;
    }
    /* CTL-WIRE-2: a name outside ^[a-z_]{1,32}$ is a malformed request, not an unknown command. */
    bool is_name = cmd[0] != 0;
    for (const char *p = cmd; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_')) is_name = false;
    if (!is_name) {
        wr_err(w, id, "bad_request", "cmd is not a command name (CTL-WIRE-2)");
        return;
    }
    if (args >= 0 && j->tok[args].type != JSMN_OBJECT) {
        wr_err(w, id, "bad_request", "args must be an object");
        return;
    }
    bool no_args = strcmp(cmd, "ping") == 0 || strcmp(cmd, "caps") == 0 ||
                   strcmp(cmd, "peers") == 0 || strcmp(cmd, "state") == 0 ||
                   strcmp(cmd, "stats") == 0;
    if (no_args && !args_empty_ok(j, args)) {
        wr_err(w, id, "bad_request", "this command takes no args");
        return;
    }
    if (strcmp(cmd, "ping") == 0) { /* CTL-CMD-1 */
        wr_ok_head(w, id);
        wr_str(w, "{\"node_id\":");
        wr_jstr(w, n->cfg.node_id);
        wr_str(w, ",\"module_id\":");
        wr_u64(w, n->cfg.module_id);
        wr_str(w, ",\"uptime_ms\":");
        wr_u64(w, n->now_ms - n->start_ms);
        wr_str(w, "}}");
    } else if (strcmp(cmd, "caps") == 0) { /* CTL-CMD-2 */
        wr_ok_head(w, id);
        cmd_caps(w, n);
        wr_str(w, "}");
    } else if (strcmp(cmd, "peers") == 0) { /* CTL-CMD-3 */
        wr_ok_head(w, id);
        cmd_peers(w, n);
        wr_str(w, "}");
    } else if (strcmp(cmd, "propose") == 0) { /* CTL-CMD-4 */
        static const char *const k[] = {"key", "value", NULL};
        char key[EKC_KEY_MAX + 1], value[EKC_VALUE_MAX + 1];
        if (args < 0 || !json_keys_ok(j, args, k) ||
            !json_str(j, json_get(j, args, "key"), key, EKC_KEY_MAX) ||
            !json_str(j, json_get(j, args, "value"), value, EKC_VALUE_MAX) || !valid_key(key) ||
            !valid_value(value)) {
            wr_err(w, id, "bad_request", "args: key ^[a-z0-9_.-]{1,8}$, value ^[A-Za-z0-9_.:+-]{0,8}$");
            return;
        }
        char pid[EKC_PID_MAX];
        uint32_t version;
        ekc_status_t st = ekc_propose(n, n->now_ms, key, value, pid, &version);
        *cacheable = true;
        if (st != EKC_OK) {
            wr_err(w, id, status_code(st),
                   st == EKC_ERR_CAPACITY ? "ROJ-PROP-8/ROJ-VOTE-5: no room for another proposal"
                   : st == EKC_ERR_LOCKED ? "ROJ-PROP-7: key locked by another proposal"
                   : st == EKC_ERR_BUSY   ? "CTL-PERSIST-2: waiting for anti-entropy before emitting"
                                          : "proposal refused");
            return;
        }
        wr_ok_head(w, id);
        wr_str(w, "{\"pid\":");
        wr_jstr(w, pid);
        wr_str(w, ",\"version\":");
        wr_u64(w, version);
        wr_str(w, "}}");
    } else if (strcmp(cmd, "emit") == 0) { /* CTL-CMD-5 */
        static const char *const k[] = {"event_type", "payload_hex", NULL};
        int64_t et;
        char hex[41];
        uint8_t payload[EKC_EVENT_PAYLOAD_LEN];
        bool ok = args >= 0 && json_keys_ok(j, args, k) &&
                  json_int(j, json_get(j, args, "event_type"), 0, 255, &et) &&
                  json_str(j, json_get(j, args, "payload_hex"), hex, 40) && strlen(hex) == 40;
        for (int i = 0; ok && i < 20; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) ok = false;
            else payload[i] = (uint8_t)(hi << 4 | lo);
        }
        if (!ok) {
            wr_err(w, id, "bad_request", "args: event_type u8, payload_hex 40 lowercase hex digits");
            return;
        }
        uint8_t origin;
        uint32_t seq;
        ekc_status_t st = ekc_emit(n, n->now_ms, (uint8_t)et, payload, &origin, &seq);
        *cacheable = true;
        if (st != EKC_OK) {
            /* fuzz/ tells this core refusal from a request-parse refusal by the detail's prefix */
            wr_err(w, id, status_code(st),
                   st == EKC_ERR_BAD ? "KOR-EVT-2/KOR-TYPE-1/BRIDGE-4: event type or payload invalid"
                                     : "event not emitted");
            return;
        }
        wr_ok_head(w, id);
        wr_str(w, "{\"origin_id\":");
        wr_u64(w, origin);
        wr_str(w, ",\"origin_seq\":");
        wr_u64(w, seq);
        wr_str(w, "}}");
    } else if (strcmp(cmd, "state") == 0) { /* CTL-CMD-6 */
        wr_ok_head(w, id);
        cmd_state(w, n);
        wr_str(w, "}");
    } else if (strcmp(cmd, "kv") == 0) { /* CTL-CMD-7 */
        static const char *const k[] = {"offset", NULL};
        int64_t off = 0;
        int o = args >= 0 ? json_get(j, args, "offset") : -1;
        if ((args >= 0 && !json_keys_ok(j, args, k)) || (o >= 0 && !json_int(j, o, 0, 64, &off))) {
            wr_err(w, id, "bad_request", "args: offset 0..64");
            return;
        }
        wr_ok_head(w, id);
        wr_str(w, "{\"total\":");
        wr_u64(w, n->kv_count);
        wr_str(w, ",\"entries\":[");
        for (int i = (int)off, c2 = 0; i < n->kv_count && c2 < 16; i++, c2++) {
            if (c2) wr_raw(w, ",", 1);
            wr_str(w, "{\"key\":");
            wr_jstr(w, n->kv[i].key);
            wr_str(w, ",\"value\":");
            wr_jstr(w, n->kv[i].value);
            wr_str(w, ",\"version\":");
            wr_u64(w, n->kv[i].version);
            wr_str(w, "}");
        }
        wr_str(w, "]}}");
    } else if (strcmp(cmd, "fields") == 0) { /* CTL-CMD-8 */
        static const char *const k[] = {"offset", NULL};
        int64_t off = 0;
        int o = args >= 0 ? json_get(j, args, "offset") : -1;
        if ((args >= 0 && !json_keys_ok(j, args, k)) || (o >= 0 && !json_int(j, o, 0, 256, &off))) {
            wr_err(w, id, "bad_request", "args: offset 0..256");
            return;
        }
        wr_ok_head(w, id);
        wr_str(w, "{\"total\":");
        wr_u64(w, n->fields_count);
        wr_str(w, ",\"entries\":[");
        int seen = 0, emitted = 0;
        for (int f = 0; f < EKC_MAX_FIELDS && emitted < 8; f++) {
            if (!n->fields[f].used) continue;
            if (seen++ < off) continue;
            const uint8_t *e = n->fields[f].ev.bytes;
            if (emitted++) wr_raw(w, ",", 1);
            wr_str(w, "{\"field_id\":");
            wr_u64(w, (uint64_t)f);
            wr_str(w, ",\"value_hex\":\"");
            wr_hex(w, e + 17, 19);
            wr_str(w, "\",\"ts\":");
            wr_u64(w, ekc_evt_timestamp_us(e));
            wr_str(w, ",\"origin_id\":");
            wr_u64(w, ekc_evt_origin(e));
            wr_str(w, ",\"origin_seq\":");
            wr_u64(w, ekc_evt_origin_seq(e));
            wr_str(w, "}");
        }
        wr_str(w, "]}}");
    } else if (strcmp(cmd, "set_neighbours") == 0) { /* CTL-CMD-9 */
        static const char *const k[] = {"modules", NULL};
        int a = args >= 0 ? json_get(j, args, "modules") : -1;
        bool ok = args >= 0 && json_keys_ok(j, args, k) && a >= 0 && j->tok[a].type == JSMN_ARRAY &&
                  j->tok[a].size <= EKC_MAX_NEIGHBOURS;
        uint8_t mods[EKC_MAX_NEIGHBOURS];
        int cnt = ok ? j->tok[a].size : 0;
        for (int i = 0, t = a + 1; ok && i < cnt; i++, t = json_skip(j, t)) {
            int64_t v;
            if (!json_int(j, t, 1, 255, &v)) ok = false;
            else mods[i] = (uint8_t)v;
            for (int q = 0; ok && q < i; q++)
                if (mods[q] == mods[i]) ok = false;
        }
        if (!ok) {
            wr_err(w, id, "bad_request", "args: modules, at most 7 distinct integers 1..255");
            return;
        }
        memcpy(n->nbr_override, mods, (size_t)cnt);
        n->nbr_override_count = (uint8_t)cnt;
        wr_ok_head(w, id);
        wr_str(w, "{}}");
    } else if (strcmp(cmd, "stats") == 0) { /* CTL-CMD-10 */
        wr_ok_head(w, id);
        cmd_stats(w, n);
        wr_str(w, "}");
    } else if (strcmp(cmd, "set_clock_skew") == 0 && (n->cfg.caps & EKC_CAP_CLOCK_SKEW)) {
        static const char *const k[] = {"offset_us", NULL};
        int64_t v;
        if (args < 0 || !json_keys_ok(j, args, k) ||
            !json_int(j, json_get(j, args, "offset_us"), -4294967295ll, 4294967295ll, &v)) {
            wr_err(w, id, "bad_request", "args: offset_us integer");
            return;
        }
        n->clock_skew_us = v; /* CTL-CMD-11 */
        wr_ok_head(w, id);
        wr_str(w, "{}}");
    } else if (strcmp(cmd, "log") == 0) { /* CTL-CMD-12 */
        static const char *const k[] = {"origin", "from", NULL};
        int64_t origin, from;
        if (args < 0 || !json_keys_ok(j, args, k) ||
            !json_int(j, json_get(j, args, "origin"), 1, 255, &origin) ||
            !json_int(j, json_get(j, args, "from"), 1, 4294967295ll, &from)) {
            /* origin_seq starts at 1 (KOR-EMIT-1), so from is 1..2^32-1 (ctl-request.json) */
            wr_err(w, id, "bad_request", "args: origin 1..255, from 1..4294967295");
            return;
        }
        wr_ok_head(w, id);
        wr_str(w, "{\"events\":[");
        /* ascending origin_seq >= from, at most 16 */
        uint32_t last = 0;
        bool first = true;
        for (int cnt = 0; cnt < 16; cnt++) {
            const uint8_t *best = NULL;
            for (uint16_t q = 0; q < n->store_count; q++) {
                const uint8_t *e = n->store[(n->store_head + q) % EKC_EVENT_STORE].bytes;
                uint32_t s = ekc_evt_origin_seq(e);
                if (ekc_evt_origin(e) != origin || s < from || (!first && s <= last)) continue;
                if (!best || s < ekc_evt_origin_seq(best)) best = e;
            }
            if (!best) break;
            if (!first) wr_raw(w, ",", 1);
            wr_raw(w, "\"", 1);
            wr_hex(w, best, EKC_EVENT_LEN);
            wr_raw(w, "\"", 1);
            last = ekc_evt_origin_seq(best);
            first = false;
        }
        wr_str(w, "]}}");
    } else { /* CTL-CMD-13 */
        wr_err(w, id, "unsupported", "command not implemented by this node");
    }
}

static void ctl_send(ekc_node_t *n, ekc_addr_t dst, const uint8_t *bytes, size_t len) {
    uint8_t *out = out_reserve(n, len);
    if (!out) return;
    memcpy(out, bytes, len);
    out_commit_to(n, EKC_CH_CTL, dst, len);
}

void ctl_on_datagram(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len) {
    /* The response is built in node scratch: commands may queue datagrams of their own first. */
    uint8_t *buf = n->ctl_scratch;
    ekc_wr_t w;
    wr_init(&w, (char *)buf, EKC_ROJ_MAX_DATAGRAM);
    ekc_json_t j;
    int64_t id64;
    if (len > EKC_ROJ_MAX_DATAGRAM ||
        !json_parse(&j, (const char *)data, len, (jsmntok_t *)n->json_scratch, EKC_JSON_TOKEN_SLOTS) ||
        !json_int(&j, json_get(&j, 0, "id"), 0, 0xffffffffll, &id64)) {
        note_invalid(n, INV_CTL_REQUEST, NULL);
        wr_err(&w, 0, "bad_request", "request must be a JSON object with an integer id (CTL-WIRE-3)");
        ctl_send(n, src, buf, w.len);
        return;
    }
    uint32_t id = (uint32_t)id64;
    static const char *const top[] = {"id", "cmd", "args", NULL};
    if (!json_keys_ok(&j, 0, top) || json_get(&j, 0, "cmd") < 0) {
        wr_err(&w, id, "bad_request", "members: id, cmd, args");
        ctl_send(n, src, buf, w.len);
        return;
    }
    /* CTL-WIRE-4: a repeated propose/emit id is answered from the cache. */
    int c = json_get(&j, 0, "cmd");
    if (json_str_eq(&j, c, "propose") || json_str_eq(&j, c, "emit")) {
        for (int i = 0; i < EKC_CTL_CACHE; i++) {
            ekc_ctl_memo_t *m = &n->ctl_cache[i];
            if (m->used && m->id == id && m->src.ipv4 == src.ipv4 && m->src.port == src.port) {
                ctl_send(n, src, m->bytes, m->len);
                return;
            }
        }
    }
    bool cacheable = false;
    dispatch(n, &j, id, json_get(&j, 0, "args"), &w, &cacheable);
    if (w.overflow) wr_err(&w, id, "bad_request", "response would exceed 1400 bytes");
    if (cacheable && w.len <= EKC_CTL_CACHE_BYTES) {
        ekc_ctl_memo_t *m = &n->ctl_cache[n->ctl_cache_next];
        n->ctl_cache_next = (uint8_t)((n->ctl_cache_next + 1) % EKC_CTL_CACHE);
        m->used = true;
        m->id = id;
        m->src = src;
        m->len = (uint16_t)w.len;
        memcpy(m->bytes, buf, w.len);
    }
    ctl_send(n, src, buf, w.len);
}
