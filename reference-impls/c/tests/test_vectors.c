/*
 * test_vectors.c - runs the repository's golden vectors (the JSON files in vectors/) through the C codec:
 * roj-messages.json (every datagram fed to a node: valid ones must not count as invalid input,
 * invalid ones must, ROJ-WIRE-4), kor-frames.json (frame check verdicts, decoded fields through
 * the accessors, byte-exact re-emission), threshold.json (ROJ-THR-1), lww.json (KOR-LWW-1),
 * vv.json summaries (KOR-GOS-2) and digest.json (CTL-DIGEST-1..3). The JSON is read with jsmn
 * into static arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "internal.h"

static const char *vec_dir;
static char text[400000];
static jsmntok_t toks[120000];
static ekc_json_t J;

static void load(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", vec_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open vector file %s", path);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    if (n == sizeof text - 1) fail_msg("%s is larger than the test buffer", path);
    text[n] = 0;
    jsmn_parser p;
    jsmn_init(&p);
    int r = jsmn_parse(&p, text, n, toks, sizeof toks / sizeof toks[0]);
    if (r < 1) fail_msg("%s: jsmn error %d", path, r);
    J.js = text;
    J.len = n;
    J.tok = toks;
    J.ntok = r;
}

/* Decodes a JSON string token with escapes (\" \\ \/ \n \t \r \b \f \uXXXX for < 0x100). */
static size_t jstr_decode(int t, char *out, size_t cap) {
    const char *s = J.js + J.tok[t].start;
    size_t n = (size_t)(J.tok[t].end - J.tok[t].start), w = 0;
    for (size_t i = 0; i < n && w + 1 < cap; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            if (e == 'u' && i + 4 < n) {
                out[w++] = (char)strtol((char[]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
                i += 4;
                continue;
            }
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        }
        out[w++] = c;
    }
    out[w] = 0;
    return w;
}

static int64_t get_int(int obj, const char *k) {
    int t = json_get(&J, obj, k);
    if (t < 0) fail_msg("missing %s", k);
    return strtoll(J.js + J.tok[t].start, NULL, 10);
}
static bool get_bool(int obj, const char *k) {
    int t = json_get(&J, obj, k);
    return t >= 0 && J.js[J.tok[t].start] == 't';
}
static void get_str(int obj, const char *k, char *out, size_t cap) {
    int t = json_get(&J, obj, k);
    if (t < 0 || J.tok[t].type != JSMN_STRING) fail_msg("missing string %s", k);
    jstr_decode(t, out, cap);
}
static size_t hex_decode(const char *h, uint8_t *out, size_t cap) {
    size_t n = strlen(h) / 2;
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)strtol((char[]){h[2 * i], h[2 * i + 1], 0}, NULL, 16);
    return n;
}

static ekc_node_t node;

static uint32_t invalid_total(void) {
    uint32_t c = 0;
    for (int k = 0; k < EKC_INVALID_KINDS; k++) c += node.stats.invalid[k].count;
    return c;
}

static void test_roj_messages(void **s) {
    (void)s;
    load("roj-messages.json");
    int checked = 0, failures = 0;
    int i = 1;
    for (int v = 0; v < J.tok[0].size; v++) {
        int obj = i;
        char id[96], verdict[16], raw[4096];
        get_str(obj, "id", id, sizeof id);
        get_str(obj, "verdict", verdict, sizeof verdict);
        size_t rl;
        if (json_get(&J, obj, "hex") >= 0) { /* exact bytes (e.g. invalid UTF-8) */
            char hex[2 * sizeof raw];
            get_str(obj, "hex", hex, sizeof hex);
            rl = hex_decode(hex, (uint8_t *)raw, sizeof raw);
        } else {
            rl = jstr_decode(json_get(&J, obj, "raw"), raw, sizeof raw);
        }
        ekc_config_t cfg;
        ekc_config_defaults(&cfg);
        strcpy(cfg.node_id, "zz-vector-node");
        cfg.module_id = 250;
        ekc_init(&node, &cfg);
        ekc_tick(&node, 1000);
        uint32_t before = invalid_total();
        ekc_on_datagram(&node, 1001, EKC_CH_ROJ, (ekc_addr_t){0x0a000002, 9990}, (const uint8_t *)raw, rl);
        bool judged_invalid = invalid_total() > before;
        bool want_invalid = strcmp(verdict, "invalid") == 0;
        if (judged_invalid != want_invalid) {
            printf("MISMATCH %s: vector says %s, C node judged %s\n", id, verdict,
                   judged_invalid ? "invalid" : "valid");
            failures++;
        }
        checked++;
        i = json_skip(&J, i);
    }
    printf("roj-messages: %d vectors checked, %d mismatches\n", checked, failures);
    assert_true(checked > 0);
    assert_int_equal(failures, 0);
}

static const char *kor_type_name(uint8_t t) {
    switch (t) {
    case 0x60: return "EVENT_GOSSIP";
    case 0x61: return "EVENT_ACK";
    case 0x62: return "EVENT_REQUEST";
    case 0x63: return "VV_SYNC";
    }
    return "?";
}

static void test_kor_frames(void **s) {
    (void)s;
    load("kor-frames.json");
    int checked = 0, failures = 0, i = 1;
    for (int v = 0; v < J.tok[0].size; v++) {
        int obj = i;
        char id[96], verdict[16], hex[300];
        uint8_t buf[160];
        get_str(obj, "id", id, sizeof id);
        get_str(obj, "verdict", verdict, sizeof verdict);
        get_str(obj, "hex", hex, sizeof hex);
        size_t len = hex_decode(hex, buf, sizeof buf);
        ekc_kor_frame_t f;
        ekc_kor_error_t err = ekc_kor_frame_check(buf, len, &f);
        bool want_valid = strcmp(verdict, "valid") == 0;
        if ((err == EKC_KOR_OK) != want_valid) {
            printf("MISMATCH %s: vector says %s, codec says error %d\n", id, verdict, (int)err);
            failures++;
        }
        int dec = json_get(&J, obj, "decoded");
        if (err == EKC_KOR_OK && dec >= 0) {
            char mt[32];
            get_str(dec, "msg_type", mt, sizeof mt);
            bool ok = strcmp(mt, kor_type_name(ekc_kor_msg_type(f))) == 0 &&
                      get_int(dec, "source_module") == ekc_kor_source_module(f);
            uint8_t re[64];
            size_t rlen = 0;
            switch (ekc_kor_msg_type(f)) {
            case 0x60: {
                int e = json_get(&J, dec, "event");
                const uint8_t *ev = ekc_kor_gossip_event(f);
                ok = ok && get_int(e, "sequence") == ekc_evt_sequence(ev) &&
                     get_int(e, "timestamp_us") == ekc_evt_timestamp_us(ev) &&
                     get_int(e, "event_type") == ekc_evt_type(ev) && get_int(e, "flags") == ekc_evt_flags(ev) &&
                     get_int(e, "origin_id") == ekc_evt_origin(ev) && get_int(e, "hop_count") == ekc_evt_hop(ev) &&
                     get_int(e, "origin_seq") == ekc_evt_origin_seq(ev);
                ekc_event_repr_t r;
                uint8_t evb[36];
                ok = ok && ekc_event_parse(ev, &r) == EKC_KOR_OK;
                ekc_event_emit(&r, evb);
                rlen = ekc_kor_emit_gossip(re, sizeof re, ekc_kor_source_module(f), ekc_kor_gossip_vv_summary(f), evb);
                break;
            }
            case 0x61: {
                uint8_t o[4];
                uint32_t q[4];
                for (unsigned k = 0; k < ekc_kor_ack_count(f); k++) {
                    o[k] = ekc_kor_ack_origin(f, k);
                    q[k] = ekc_kor_ack_seq(f, k);
                }
                ok = ok && get_int(dec, "ack_count") == ekc_kor_ack_count(f);
                rlen = ekc_kor_emit_ack(re, sizeof re, ekc_kor_source_module(f), ekc_kor_ack_count(f), o, q);
                break;
            }
            case 0x62:
                ok = ok && get_int(dec, "target_origin") == ekc_kor_req_target(f) &&
                     get_int(dec, "from_seq") == ekc_kor_req_from(f) && get_int(dec, "to_seq") == ekc_kor_req_to(f);
                rlen = ekc_kor_emit_request(re, sizeof re, ekc_kor_source_module(f), ekc_kor_req_target(f),
                                            ekc_kor_req_from(f), ekc_kor_req_to(f));
                break;
            case 0x63: {
                uint8_t o[11];
                uint32_t q[11];
                for (unsigned k = 0; k < ekc_kor_sync_count(f); k++) {
                    o[k] = ekc_kor_sync_origin(f, k);
                    q[k] = ekc_kor_sync_seq(f, k);
                }
                ok = ok && get_int(dec, "lo") == ekc_kor_sync_lo(f) && get_int(dec, "hi") == ekc_kor_sync_hi(f) &&
                     get_int(dec, "count") == ekc_kor_sync_count(f);
                rlen = ekc_kor_emit_sync(re, sizeof re, ekc_kor_source_module(f), ekc_kor_sync_lo(f),
                                         ekc_kor_sync_hi(f), ekc_kor_sync_count(f), o, q);
                break;
            }
            }
            if (!ok || rlen != len || memcmp(re, buf, len) != 0) {
                printf("MISMATCH %s: decoded fields or re-emitted bytes differ\n", id);
                failures++;
            }
        }
        checked++;
        i = json_skip(&J, i);
    }
    printf("kor-frames: %d vectors checked, %d mismatches\n", checked, failures);
    assert_true(checked > 0);
    assert_int_equal(failures, 0);
}

static void test_threshold_table(void **s) {
    (void)s;
    load("threshold.json");
    int rows = json_get(&J, 0, "rows"), checked = 0;
    int i = rows + 1;
    for (int v = 0; v < J.tok[rows].size; v++) {
        int64_t n = get_int(i, "n"), t = get_int(i, "t");
        if ((int64_t)ekc_threshold((uint32_t)n) != t) fail_msg("t(%lld) = %u, vector says %lld", (long long)n, ekc_threshold((uint32_t)n), (long long)t);
        checked++;
        i = json_skip(&J, i);
    }
    printf("threshold: %d rows checked\n", checked);
    assert_true(checked >= 2000);
}

static void test_lww_cases(void **s) {
    (void)s;
    load("lww.json");
    int cases = json_get(&J, 0, "cases"), checked = 0, i = cases + 1;
    for (int v = 0; v < J.tok[cases].size; v++) {
        int a = json_get(&J, i, "a"), b = json_get(&J, i, "b");
        bool an = ekc_lww_newer((uint32_t)get_int(a, "ts"), (uint8_t)get_int(a, "origin"), (uint32_t)get_int(a, "seq"),
                                (uint32_t)get_int(b, "ts"), (uint8_t)get_int(b, "origin"), (uint32_t)get_int(b, "seq"));
        bool bn = ekc_lww_newer((uint32_t)get_int(b, "ts"), (uint8_t)get_int(b, "origin"), (uint32_t)get_int(b, "seq"),
                                (uint32_t)get_int(a, "ts"), (uint8_t)get_int(a, "origin"), (uint32_t)get_int(a, "seq"));
        char id[96];
        get_str(i, "id", id, sizeof id);
        if (an != get_bool(i, "a_newer") || bn != get_bool(i, "b_newer")) fail_msg("lww vector %s disagrees", id);
        checked++;
        i = json_skip(&J, i);
    }
    printf("lww: %d cases checked\n", checked);
    assert_true(checked > 0);
}

static void test_vv_summaries(void **s) {
    (void)s;
    load("vv.json");
    int arr = json_get(&J, 0, "summary"), checked = 0, i = arr + 1;
    for (int v = 0; v < J.tok[arr].size; v++) {
        int vv = json_get(&J, i, "vv");
        uint8_t origins[256];
        uint32_t seqs[256];
        size_t c = 0;
        int k = vv + 1;
        for (int e = 0; e < J.tok[vv].size; e++) { /* keys ascending numerically */
            uint8_t o = (uint8_t)strtol(J.js + J.tok[k].start, NULL, 10);
            uint32_t q = (uint32_t)strtoull(J.js + J.tok[k + 1].start, NULL, 10);
            size_t pos = c++;
            while (pos > 0 && origins[pos - 1] > o) {
                origins[pos] = origins[pos - 1];
                seqs[pos] = seqs[pos - 1];
                pos--;
            }
            origins[pos] = o;
            seqs[pos] = q;
            k = json_skip(&J, k + 1);
        }
        uint8_t got[7], want[7];
        char hex[32], id[96];
        get_str(i, "summary", hex, sizeof hex);
        get_str(i, "id", id, sizeof id);
        hex_decode(hex, want, 7);
        ekc_vv_summary(origins, seqs, c, got);
        if (memcmp(got, want, 7) != 0) fail_msg("vv summary %s differs", id);
        checked++;
        i = json_skip(&J, i);
    }
    printf("vv summaries: %d checked\n", checked);
    assert_true(checked > 0);
}

static void test_digests(void **s) {
    (void)s;
    load("digest.json");
    int checked = 0;
    char want[32], got[32];
    /* kv */
    int arr = json_get(&J, 0, "kv"), i = arr + 1;
    for (int v = 0; v < J.tok[arr].size; v++) {
        memset(&node, 0, sizeof node);
        int es = json_get(&J, i, "entries"), e = es + 1;
        for (int q = 0; q < J.tok[es].size; q++) {
            char key[16], value[16];
            get_str(e, "key", key, sizeof key);
            get_str(e, "value", value, sizeof value);
            kv_apply(&node, key, value, (uint32_t)get_int(e, "version"));
            e = json_skip(&J, e);
        }
        get_str(i, "digest", want, sizeof want);
        ekc_wr_t w;
        wr_init(&w, got, sizeof got);
        wr_hex64(&w, ekc_kv_digest(&node));
        wr_cstr(&w);
        assert_string_equal(got, want);
        checked++;
        i = json_skip(&J, i);
    }
    /* log */
    arr = json_get(&J, 0, "log");
    i = arr + 1;
    for (int v = 0; v < J.tok[arr].size; v++) {
        memset(&node, 0, sizeof node);
        int es = json_get(&J, i, "events"), e = es + 1;
        for (int q = 0; q < J.tok[es].size; q++) {
            char hex[80];
            uint8_t ev[36];
            jstr_decode(e, hex, sizeof hex);
            hex_decode(hex, ev, 36);
            kor_store_append(&node, ev);
            e = json_skip(&J, e);
        }
        get_str(i, "digest", want, sizeof want);
        ekc_wr_t w;
        wr_init(&w, got, sizeof got);
        wr_hex64(&w, ekc_log_digest(&node, NULL));
        wr_cstr(&w);
        assert_string_equal(got, want);
        checked++;
        i = json_skip(&J, i);
    }
    /* fields */
    arr = json_get(&J, 0, "fields");
    i = arr + 1;
    for (int v = 0; v < J.tok[arr].size; v++) {
        memset(&node, 0, sizeof node);
        int es = json_get(&J, i, "fields"), e = es + 1;
        for (int q = 0; q < J.tok[es].size; q++) {
            char hex[80];
            int fid = (int)get_int(e, "field_id");
            get_str(e, "event", hex, sizeof hex);
            hex_decode(hex, node.fields[fid].ev.bytes, 36);
            node.fields[fid].used = true;
            e = json_skip(&J, e);
        }
        get_str(i, "digest", want, sizeof want);
        ekc_wr_t w;
        wr_init(&w, got, sizeof got);
        wr_hex64(&w, ekc_fields_digest(&node));
        wr_cstr(&w);
        assert_string_equal(got, want);
        checked++;
        i = json_skip(&J, i);
    }
    printf("digests: %d checked\n", checked);
    assert_true(checked >= 3);
}

int main(int argc, char **argv) {
    vec_dir = argc > 1 ? argv[1] : "../../vectors";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roj_messages), cmocka_unit_test(test_kor_frames),
        cmocka_unit_test(test_threshold_table), cmocka_unit_test(test_lww_cases),
        cmocka_unit_test(test_vv_summaries), cmocka_unit_test(test_digests),
    };
    return cmocka_run_group_tests_name("ekc_vectors", tests, NULL, NULL);
}
