/*
 * test_core.c - cmocka unit tests of the sans-IO core: EK-ROJ voting/commit/retry rules and their
 * limits, EK-KOR delivery, gap repair, forwarding and anti-entropy, the control protocol, the mDNS
 * codec, persistence and malformed input. Each test drives the core with datagrams and explicit
 * time and asserts on the datagrams it queues and on its state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ekc_core.h"
#include "ekc_kor_wire.h"
#include "ekc_mdns.h"

/* ---- harness ---- */

#define MAX_CAP 512
typedef struct {
    ekc_channel_t ch;
    ekc_addr_t dst;
    size_t len;
    uint8_t data[1500];
} cap_t;
static cap_t caps[MAX_CAP];
static int ncap;

static void drain(ekc_node_t *n) {
    ekc_output_t o;
    ncap = 0;
    while (ekc_next_output(n, &o)) {
        if (ncap < MAX_CAP) {
            caps[ncap].ch = o.channel;
            caps[ncap].dst = o.dst;
            caps[ncap].len = o.len;
            memcpy(caps[ncap].data, o.data, o.len);
            caps[ncap].data[o.len] = 0;
            ncap++;
        }
    }
}

static int count_type(const char *needle) {
    int c = 0;
    for (int i = 0; i < ncap; i++)
        if (caps[i].ch != EKC_CH_KOR && strstr((const char *)caps[i].data, needle)) c++;
    return c;
}

static int count_kor(uint8_t type) {
    int c = 0;
    for (int i = 0; i < ncap; i++)
        if (caps[i].ch == EKC_CH_KOR && caps[i].data[0] == type) c++;
    return c;
}

/* in-memory persistence */
typedef struct {
    uint8_t blob[16384];
    size_t len;
    bool present;
    uint8_t tmp[16384];
} mem_store_t;
static int mem_save(void *ctx, size_t off, const uint8_t *c, size_t len, bool last) {
    mem_store_t *m = ctx;
    if (off + len > sizeof m->tmp) return -1;
    memcpy(m->tmp + off, c, len);
    if (last) {
        memcpy(m->blob, m->tmp, off + len);
        m->len = off + len;
        m->present = true;
    }
    return 0;
}
static long mem_load(void *ctx, size_t off, uint8_t *buf, size_t cap) {
    mem_store_t *m = ctx;
    if (!m->present) return -1;
    if (off >= m->len) return 0;
    size_t k = m->len - off < cap ? m->len - off : cap;
    memcpy(buf, m->blob + off, k);
    return (long)k;
}

static ekc_node_t nodes[3];
static mem_store_t stores[3];

static ekc_addr_t ip(int last, uint16_t port) {
    ekc_addr_t a = {0x0a000000u | (uint32_t)last, port};
    return a;
}

/* A node "c-<k>" (module k) at 10.0.0.k with in-memory persistence (so it may emit at once). */
static ekc_node_t *mk(int slot, int k) {
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    snprintf(cfg.node_id, sizeof cfg.node_id, "c-%d", k & 0xff);
    cfg.module_id = (uint8_t)k;
    cfg.bind_ipv4 = ip(k, 0).ipv4;
    cfg.seed = 42;
    cfg.incarnation = 0x2a;
    memset(&stores[slot], 0, sizeof stores[slot]);
    cfg.persist.ctx = &stores[slot];
    cfg.persist.save = mem_save;
    cfg.persist.load = mem_load;
    assert_int_equal(ekc_init(&nodes[slot], &cfg), EKC_OK);
    ekc_tick(&nodes[slot], 1000);
    drain(&nodes[slot]);
    return &nodes[slot];
}

static void rx_roj(ekc_node_t *n, uint64_t t, int from, const char *json) {
    ekc_on_datagram(n, t, EKC_CH_ROJ, ip(from, 9990), (const uint8_t *)json, strlen(json));
}

/* Makes node n learn member c-<k> (module k) through a valid ANNOUNCE. */
static void announce_from(ekc_node_t *n, uint64_t t, int k, const char *members) {
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"proto\":1,\"type\":\"ANNOUNCE\",\"node_id\":\"c-%d\",\"payload\":{\"module_id\":%d,"
             "\"lang\":\"c\",\"version\":\"0.1.0\",\"caps\":[\"roj\",\"kor\",\"ctl\",\"abort\"],"
             "\"incarnation\":7,\"seq\":0,\"members\":%s,\"kor_port\":9991,\"ctl_port\":9992}}",
             k, k, members);
    rx_roj(n, t, k, buf);
}

static void propose_from(ekc_node_t *n, uint64_t t, int k, int counter, const char *key,
                         const char *value, int version, const char *members, int nmem) {
    char buf[600];
    snprintf(buf, sizeof buf,
             "{\"proto\":1,\"type\":\"PROPOSE\",\"node_id\":\"c-%d\",\"payload\":{\"pid\":\"c-%d:00000007:%d\","
             "\"key\":\"%s\",\"value\":\"%s\",\"version\":%d,\"members\":%s,\"n\":%d,\"timeout_ms\":1000}}",
             k, k, counter, key, value, version, members, nmem);
    rx_roj(n, t, k, buf);
}

static void vote_from(ekc_node_t *n, uint64_t t, int k, const char *pid, bool accept, const char *reason) {
    char buf[300];
    snprintf(buf, sizeof buf,
             "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-%d\",\"payload\":{\"pid\":\"%s\",\"accept\":%s,"
             "\"reason\":\"%s\"}}",
             k, pid, accept ? "true" : "false", reason);
    rx_roj(n, t, k, buf);
}

static void commit_from(ekc_node_t *n, uint64_t t, int k, int counter, const char *key,
                        const char *value, int version, const char *voters, int nmem) {
    char buf[600];
    snprintf(buf, sizeof buf,
             "{\"proto\":1,\"type\":\"COMMIT\",\"node_id\":\"c-%d\",\"payload\":{\"pid\":\"c-%d:00000007:%d\","
             "\"key\":\"%s\",\"value\":\"%s\",\"version\":%d,\"n\":%d,\"voters\":%s}}",
             k, k, counter, key, value, version, nmem, voters);
    rx_roj(n, t, k, buf);
}

/* ---- EK-ROJ ---- */

static void test_threshold_integer_formula(void **s) {
    (void)s;
    /* ROJ-THR-1 */
    assert_int_equal(ekc_threshold(1), 1);
    assert_int_equal(ekc_threshold(2), 2);
    assert_int_equal(ekc_threshold(3), 3);
    assert_int_equal(ekc_threshold(4), 3);
    assert_int_equal(ekc_threshold(5), 4);
    assert_int_equal(ekc_threshold(32), 22);
    assert_int_equal(ekc_threshold(1500), 1005); /* the double formula gives 1006 here */
}

static void test_commit_at_threshold_counts_each_voter_once(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    announce_from(n, 1001, 3, "[\"c-1\",\"c-3\"]");
    announce_from(n, 1001, 4, "[\"c-1\",\"c-4\"]");
    drain(n);
    char pid[EKC_PID_MAX];
    uint32_t ver;
    assert_int_equal(ekc_propose(n, 1002, "bay3", "11000", pid, &ver), EKC_OK);
    assert_int_equal(ver, 1);
    assert_string_equal(pid, "c-1:0000002a:1");
    drain(n);
    assert_int_equal(count_type("\"PROPOSE\""), 3); /* ROJ-PROP-6: every other member */
    /* n = 4, t = 3: self + c-2 is 2; a duplicate from c-2 must not count (ROJ-THR-3) */
    vote_from(n, 1003, 2, pid, true, "ok");
    vote_from(n, 1003, 2, pid, true, "ok");
    drain(n);
    assert_int_equal(count_type("\"COMMIT\""), 0);
    vote_from(n, 1004, 3, pid, true, "ok");
    drain(n);
    assert_int_equal(count_type("\"COMMIT\""), 3);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 3); /* BRIDGE-1 event to neighbours */
    assert_non_null(ekc_kv_get(n, "bay3"));
    assert_int_equal(ekc_kv_get(n, "bay3")->version, 1);
    assert_int_equal(ekc_lock_count(n), 0);
    assert_int_equal(ekc_pending_count(n), 0);
    assert_int_equal(ekc_vv_get(n, 1), 1);
}

static void test_vote_from_non_member_ignored(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    char pid[EKC_PID_MAX];
    assert_int_equal(ekc_propose(n, 1002, "k", "v", pid, NULL), EKC_OK);
    drain(n);
    vote_from(n, 1003, 9, pid, true, "ok"); /* ROJ-VOTE-9 */
    drain(n);
    assert_int_equal(count_type("\"COMMIT\""), 0);
    assert_int_equal(ekc_pending_count(n), 1);
}

static void test_17th_proposal_rejected_with_capacity(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]"); /* t(2) = 2: proposals stay pending */
    drain(n);
    char key[16];
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(ekc_propose(n, 1002, key, "v", NULL, NULL), EKC_OK);
    }
    drain(n);
    assert_int_equal(count_type("\"PROPOSE\""), 16);
    assert_int_equal(ekc_propose(n, 1003, "k16", "v", NULL, NULL), EKC_ERR_CAPACITY); /* ROJ-PROP-8 */
    drain(n);
    assert_int_equal(ncap, 0); /* nothing sent */
    assert_int_equal(ekc_pending_count(n), 16);
}

static void test_65th_key_refused_by_voter_and_commit_dropped(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    char key[16];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "k%d", i);
        commit_from(n, 1002, 2, i + 1, key, "v", 1, "[\"c-1\",\"c-2\"]", 2);
    }
    assert_int_equal(ekc_kv_count(n), 64);
    drain(n);
    propose_from(n, 1003, 2, 100, "k64", "v", 1, "[\"c-1\",\"c-2\"]", 2);
    drain(n);
    assert_int_equal(ncap, 1);
    assert_non_null(strstr((const char *)caps[0].data, "\"accept\":false,\"reason\":\"capacity\""));
    /* an existing key is still fine */
    propose_from(n, 1003, 2, 101, "k5", "w", 2, "[\"c-1\",\"c-2\"]", 2);
    drain(n);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"ok\""));
    /* ROJ-KV-2: a COMMIT for a 65th key is dropped */
    commit_from(n, 1004, 2, 102, "k99", "v", 1, "[\"c-1\",\"c-2\"]", 2);
    assert_int_equal(ekc_kv_count(n), 64);
    assert_null(ekc_kv_get(n, "k99"));
    /* and the own proposer refuses a 65th key too (ROJ-PROP-7 under ROJ-VOTE-5) */
    assert_int_equal(ekc_propose(n, 1005, "k98", "v", NULL, NULL), EKC_ERR_CAPACITY);
}

static void test_locked_stale_membership_and_duplicate(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    announce_from(n, 1001, 3, "[\"c-1\",\"c-3\"]");
    drain(n);
    const char *all = "[\"c-1\",\"c-2\",\"c-3\"]";
    propose_from(n, 1002, 2, 1, "bay", "a", 1, all, 3);
    drain(n);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"ok\""));
    assert_int_equal(caps[0].dst.ipv4, ip(2, 0).ipv4); /* ROJ-VOTE-1: unicast to the proposer */
    propose_from(n, 1002, 3, 1, "bay", "b", 1, all, 3);
    drain(n);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"locked\"")); /* ROJ-VOTE-4 */
    /* duplicate PROPOSE: same decision again, state unchanged (ROJ-VOTE-1) */
    propose_from(n, 1003, 2, 1, "bay", "a", 1, all, 3);
    drain(n);
    assert_int_equal(ncap, 1);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"ok\""));
    assert_int_equal(ekc_lock_count(n), 1);
    /* membership: proposer that misses c-3 (ROJ-VOTE-2) */
    propose_from(n, 1003, 2, 2, "other", "a", 1, "[\"c-1\",\"c-2\"]", 2);
    drain(n);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"membership\""));
    /* stale (ROJ-VOTE-3) */
    commit_from(n, 1004, 2, 1, "bay", "a", 1, all, 3);
    assert_int_equal(ekc_lock_count(n), 0); /* ROJ-KV-3 released */
    propose_from(n, 1005, 3, 2, "bay", "c", 1, all, 3);
    drain(n);
    assert_non_null(strstr((const char *)caps[0].data, "\"reason\":\"stale\""));
}

static void test_lock_expires_after_timeout(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    propose_from(n, 1002, 2, 1, "bay", "a", 1, "[\"c-1\",\"c-2\"]", 2);
    assert_int_equal(ekc_lock_count(n), 1);
    ekc_tick(n, 1002 + 999);
    assert_int_equal(ekc_lock_count(n), 1);
    ekc_tick(n, 1002 + 1000); /* ROJ-TIME-2 */
    assert_int_equal(ekc_lock_count(n), 0);
}

static void test_rejection_gives_up_aborts_and_retries_with_new_pid(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    announce_from(n, 1001, 3, "[\"c-1\",\"c-3\"]");
    drain(n);
    char pid[EKC_PID_MAX];
    assert_int_equal(ekc_propose(n, 1002, "bay", "x", pid, NULL), EKC_OK);
    drain(n);
    /* n = 3, t = 3: one reject makes t unreachable (ROJ-RETRY-1) */
    vote_from(n, 1003, 2, pid, false, "locked");
    drain(n);
    assert_int_equal(count_type("\"ABORT\""), 2); /* both announced `abort` */
    assert_int_equal(ekc_lock_count(n), 0);
    assert_int_equal(ekc_pending_count(n), 1); /* waiting to retry */
    ekc_tick(n, 1003 + 99);
    drain(n);
    assert_int_equal(count_type("\"PROPOSE\""), 0); /* backoff is at least 100 ms */
    ekc_tick(n, 1003 + 1001);
    drain(n);
    assert_int_equal(count_type("\"PROPOSE\""), 2);
    assert_int_equal(count_type("\"pid\":\"c-1:0000002a:2\""), 2); /* new pid */
}

static void test_deadline_timeout_then_no_commit(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    drain(n);
    char pid[EKC_PID_MAX];
    assert_int_equal(ekc_propose(n, 1002, "bay", "x", pid, NULL), EKC_OK);
    ekc_tick(n, 1002 + 10000); /* default timeout */
    drain(n);
    assert_int_equal(count_type("\"ABORT\""), 1);
    vote_from(n, 1002 + 10001, 2, pid, true, "ok"); /* too late (ROJ-TIME-1) */
    drain(n);
    assert_int_equal(count_type("\"COMMIT\""), 0);
}

static void test_malformed_roj_input_changes_nothing(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    static const char *const bad[] = {
        "not json", "[1,2]", "{\"proto\":2,\"type\":\"ANNOUNCE\",\"node_id\":\"x\",\"payload\":{}}",
        "{\"proto\":1,\"type\":\"HELLO\",\"node_id\":\"x\",\"payload\":{}}",
        "{\"proto\":1,\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"x\",\"payload\":{}}",
        "{\"proto\":1.0,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\"}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"stale\"}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"C-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\"}}",
        "{\"proto\":1,\"type\":\"COMMIT\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-2:00000007:1\",\"key\":\"k\",\"value\":\"v\",\"version\":1,\"n\":3,\"voters\":[\"c-2\"]}}",
        "{\"proto\":1,\"type\":\"COMMIT\",\"node_id\":\"c-3\",\"payload\":{\"pid\":\"c-2:00000007:1\",\"key\":\"k\",\"value\":\"v\",\"version\":1,\"n\":1,\"voters\":[\"c-2\"]}}",
        "{\"proto\":1,\"type\":\"COMMIT\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-2:00000007:1\",\"key\":\"TOOLONGKEY\",\"value\":\"v\",\"version\":1,\"n\":1,\"voters\":[\"c-2\"]}}",
        "{\"proto\":1,\"type\":\"ANNOUNCE\",\"node_id\":\"c-2\",\"payload\":{\"module_id\":2,\"lang\":\"c\",\"version\":\"0.1.0\",\"caps\":[],\"incarnation\":1,\"seq\":0,\"members\":[\"c-3\",\"c-2\"],\"kor_port\":9991,\"ctl_port\":9992}}",
        "{\"proto\":1,\"type\":\"ANNOUNCE\",\"node_id\":\"c-2\",\"payload\":{\"module_id\":2,\"lang\":\"c\",\"version\":\"0.1.0\",\"caps\":[],\"incarnation\":1,\"seq\":0,\"members\":[\"c-2\"],\"kor_port\":9991,\"ctl_port\":9992,\"extra\":1}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\"}} trailing",
        "{\"proto\":1,\"type\":\"VOTE\"",
        "{\"proto\"}", /* key without value: jsmn accepts it, the reader must not (found by fuzzing) */
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\"}}",
        /* two values with no separator: jsmn accepts them, JSON does not (found by differential fuzzing) */
        "{\"proto\":1,\"type\":\"ANNOUNCE\",\"node_id\":\"c-2\",\"payload\":{\"module_id\":2,\"lang\":\"c\",\"version\":\"0.1.0\",\"caps\":[],\"incarnation\":1,\"seq\":0,\"members\":[\"c-1\"\"c-2\"],\"kor_port\":9991,\"ctl_port\":9992}}",
        "{\"proto\":1 \"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\"}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true \"reason\":\"ok\"}}",
        /* two separators in a row: jsmn accepts them, JSON does not (found by differential fuzzing) */
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\"::{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\"}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":,true,\"reason\":\"ok\"}}",
        "{\"proto\":1,\"type\":\"VOTE\",\"node_id\":\"c-2\",\"payload\":{\"pid\":\"c-1:0000002a:1\",\"accept\":true,\"reason\":\"ok\":}}",
        "",
    };
    uint64_t before = ekc_kv_digest(n);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rx_roj(n, 1002, 2, bad[i]);
        if (n->member_count != 1) fail_msg("accepted invalid message %zu: %s", i, bad[i]);
    }
    uint8_t big[1500];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[1499] = '}';
    ekc_on_datagram(n, 1003, EKC_CH_ROJ, ip(2, 9990), big, sizeof big); /* ROJ-WIRE-2 */
    drain(n);
    assert_int_equal(ncap, 0);
    assert_int_equal(n->member_count, 1);
    assert_int_equal(ekc_kv_count(n), 0);
    assert_true(ekc_kv_digest(n) == before);
    uint32_t invalid = 0;
    for (int k = 0; k < EKC_INVALID_KINDS; k++) invalid += n->stats.invalid[k].count;
    assert_int_equal(invalid, sizeof bad / sizeof bad[0] + 1);
}

static void test_33rd_member_ignored(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    for (int k = 2; k <= 40; k++) {
        char m[32];
        snprintf(m, sizeof m, "[\"c-%d\"]", k);
        announce_from(n, 1001, k, m);
    }
    assert_int_equal(n->member_count, 32); /* ROJ-MEMB-3 */
}

/* ---- EK-KOR ---- */

static void make_event(uint8_t ev[36], uint8_t origin, uint32_t seq, uint8_t type, uint8_t hop,
                       uint8_t flags, uint32_t ts) {
    ekc_event_repr_t r;
    memset(&r, 0, sizeof r);
    r.timestamp_us = ts;
    r.event_type = type;
    r.flags = flags;
    r.origin_id = origin;
    r.hop_count = hop;
    r.origin_seq = seq;
    r.payload[0] = 5;
    r.payload[1] = (uint8_t)seq;
    ekc_event_emit(&r, ev);
}

static void rx_gossip(ekc_node_t *n, uint64_t t, uint8_t from, const uint8_t ev[36]) {
    uint8_t f[64];
    uint8_t sum[7] = {0};
    size_t len = ekc_kor_emit_gossip(f, sizeof f, from, sum, ev);
    assert_int_equal(len, 46);
    ekc_on_datagram(n, t, EKC_CH_KOR, ip(from, 9991), f, len);
}

static ekc_node_t *kor_node(void) {
    ekc_node_t *n = mk(0, 1);
    for (int k = 2; k <= 4; k++) {
        char m[32];
        snprintf(m, sizeof m, "[\"c-1\",\"c-%d\"]", k);
        announce_from(n, 1001, k, m);
    }
    drain(n);
    return n;
}

static void test_gossip_in_order_delivery_ack_and_forward(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t ev[36];
    make_event(ev, 2, 1, EKC_EVT_FIELD_PUBLISHED, 0, 0, 100);
    rx_gossip(n, 1002, 2, ev);
    drain(n);
    assert_int_equal(ekc_vv_get(n, 2), 1);
    assert_int_equal(count_kor(EKC_KOR_EVENT_ACK), 1);
    /* KOR-HOP-1: forwarded with hop 1 to neighbours except sender/origin (c-3, c-4) */
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 2);
    for (int i = 0; i < ncap; i++)
        if (caps[i].data[0] == EKC_KOR_EVENT_GOSSIP) {
            assert_int_equal(caps[i].data[10 + 11], 1);
            assert_true(caps[i].dst.ipv4 != ip(2, 0).ipv4);
        }
    /* duplicate (a forwarded copy, hop 1): acked, not forwarded (KOR-HOP-2) */
    make_event(ev, 2, 1, EKC_EVT_FIELD_PUBLISHED, 1, 0, 100);
    rx_gossip(n, 1003, 3, ev);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_ACK), 1);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 0);
    /* hop 3 delivered but not forwarded; REPAIR delivered, not forwarded */
    make_event(ev, 2, 2, 0x80, 3, 0, 100);
    rx_gossip(n, 1004, 3, ev);
    make_event(ev, 2, 3, 0x80, 1, EKC_EVT_FLAG_REPAIR, 100);
    rx_gossip(n, 1004, 3, ev);
    drain(n);
    assert_int_equal(ekc_vv_get(n, 2), 3);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 0);
}

static void test_gap_buffer_request_and_full_buffer_drop(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t ev[36];
    make_event(ev, 2, 3, 0x80, 0, 0, 1);
    rx_gossip(n, 1002, 2, ev);
    drain(n);
    assert_int_equal(ekc_vv_get(n, 2), 0); /* KOR-CAUSAL-1: not delivered */
    assert_int_equal(count_kor(EKC_KOR_EVENT_REQUEST), 1);
    for (int i = 0; i < ncap; i++)
        if (caps[i].data[0] == EKC_KOR_EVENT_REQUEST) {
            ekc_kor_frame_t f;
            assert_int_equal(ekc_kor_frame_check(caps[i].data, caps[i].len, &f), EKC_KOR_OK);
            assert_int_equal(ekc_kor_req_target(f), 2);
            assert_int_equal(ekc_kor_req_from(f), 1); /* KOR-GAP-1: [VV+1, s-1] */
            assert_int_equal(ekc_kor_req_to(f), 2);
        }
    /* fill the gap buffer: 15 more out-of-order events (seq 4..18) */
    for (uint32_t q = 4; q < 4 + EKC_GAP_BUFFER - 1; q++) {
        make_event(ev, 2, q, 0x80, 0, 0, 1);
        rx_gossip(n, 1003, 2, ev);
    }
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_ACK), EKC_GAP_BUFFER - 1);
    assert_int_equal(count_kor(EKC_KOR_EVENT_REQUEST), 0); /* one outstanding per origin */
    make_event(ev, 2, 40, 0x80, 0, 0, 1); /* 17th out-of-order: buffer full (KOR-GAP-2) */
    rx_gossip(n, 1004, 2, ev);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_ACK), 0); /* dropped, not acknowledged */
    /* re-request after 500 ms */
    ekc_tick(n, 1002 + 499);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_REQUEST), 0);
    ekc_tick(n, 1002 + 500);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_REQUEST), 1);
    /* filling the gap delivers everything buffered, in order */
    make_event(ev, 2, 1, 0x80, 0, 0, 1);
    rx_gossip(n, 1600, 2, ev);
    make_event(ev, 2, 2, 0x80, 0, 0, 1);
    rx_gossip(n, 1600, 2, ev);
    assert_int_equal(ekc_vv_get(n, 2), 3 + EKC_GAP_BUFFER - 1);
}

static void test_request_served_with_repair_flag(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t pl[20] = {1};
    for (int i = 0; i < 3; i++) assert_int_equal(ekc_emit(n, 1002, 0x80, pl, NULL, NULL), EKC_OK);
    drain(n);
    uint8_t f[12];
    size_t len = ekc_kor_emit_request(f, sizeof f, 3, 1, 2, 5);
    ekc_on_datagram(n, 1003, EKC_CH_KOR, ip(3, 9991), f, len);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 2); /* seq 2, 3; 4..5 silently skipped */
    for (int i = 0; i < ncap; i++) {
        assert_int_equal(caps[i].dst.ipv4, ip(3, 0).ipv4);
        assert_int_equal(caps[i].data[10 + 9], EKC_EVT_FLAG_REPAIR);
    }
}

static void test_vv_sync_repairs_and_requests(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t pl[20] = {1};
    for (int i = 0; i < 40; i++) assert_int_equal(ekc_emit(n, 1002, 0x80, pl, NULL, NULL), EKC_OK);
    drain(n);
    /* remote knows nothing of origin 1 but is ahead on origin 7 */
    uint8_t origins[1] = {7};
    uint32_t seqs[1] = {5};
    uint8_t f[64];
    size_t len = ekc_kor_emit_sync(f, sizeof f, 3, 1, 255, 1, origins, seqs);
    ekc_on_datagram(n, 1003, EKC_CH_KOR, ip(3, 9991), f, len);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 32); /* KOR-AE-3 pacing */
    assert_int_equal(count_kor(EKC_KOR_EVENT_REQUEST), 1);  /* KOR-AE-2 */
}

static void test_kor_malformed_frames_dropped(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t ev[36], f[80];
    make_event(ev, 2, 1, 0x80, 0, 0, 1);
    uint8_t sum[7] = {0};
    ekc_kor_emit_gossip(f, sizeof f, 2, sum, ev);
    struct {
        size_t len;
        int byte;
        uint8_t val;
    } cases[] = {
        {65, -1, 0},  /* oversize (KOR-WIRE-2) */
        {45, -1, 0},  /* short (KOR-FRAME-3) */
        {47, -1, 0},  /* trailing byte */
        {46, 0, 0x64},/* unknown type */
        {46, 1, 0},   /* source 0 */
        {46, 2, 2},   /* event_count 2 */
        {46, 18, 0x08}, /* reserved event type */
        {46, 19, 0x02}, /* flags bit 1 */
        {46, 21, 4},  /* hop 4 */
        {46, 1, 3},   /* hop 0 but source != origin */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t g[80];
        memcpy(g, f, sizeof g);
        if (cases[i].byte >= 0) g[cases[i].byte] = cases[i].val;
        ekc_on_datagram(n, 1002, EKC_CH_KOR, ip(2, 9991), g, cases[i].len);
    }
    drain(n);
    assert_int_equal(ncap, 0);
    assert_int_equal(ekc_vv_get(n, 2), 0);
}

static void test_bridge_event_applies_kv(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t ev[36];
    make_event(ev, 2, 1, EKC_EVT_CONSENSUS_RESULT, 0, 0, 1);
    memset(ev + 16, 0, 20);
    memcpy(ev + 16, "bay3", 4);
    memcpy(ev + 24, "11000", 5);
    ev[32] = 4; /* version 4 LE */
    rx_gossip(n, 1002, 2, ev);
    const ekc_kv_entry_t *e = ekc_kv_get(n, "bay3");
    assert_non_null(e); /* BRIDGE-3 */
    assert_string_equal(e->value, "11000");
    assert_int_equal(e->version, 4);
    /* bad padding is invalid (KOR-TYPE-1) */
    make_event(ev, 2, 2, EKC_EVT_CONSENSUS_RESULT, 0, 0, 1);
    memset(ev + 16, 0, 20);
    memcpy(ev + 16, "ba", 2);
    ev[19] = 'x';
    ev[32] = 1;
    rx_gossip(n, 1002, 2, ev);
    assert_int_equal(ekc_vv_get(n, 2), 1);
}

static void test_lww_order_and_crc(void **s) {
    (void)s;
    /* KOR-LWW-1 */
    assert_true(ekc_lww_newer(5, 1, 1, 4, 9, 9));
    assert_true(ekc_lww_newer(1, 1, 1, 0xfffffff0u, 1, 1)); /* wrap-around */
    assert_true(ekc_lww_newer(0x80000000u, 1, 1, 0, 1, 1)); /* exactly 2^31: larger wins */
    assert_false(ekc_lww_newer(0, 1, 1, 0x80000000u, 1, 1));
    assert_true(ekc_lww_newer(7, 3, 1, 7, 2, 9));
    assert_true(ekc_lww_newer(7, 3, 2, 7, 3, 1));
    assert_false(ekc_lww_newer(7, 3, 2, 7, 3, 2));
    /* CRC-16/CCITT-FALSE check value */
    assert_int_equal(ekc_crc16_ccitt_false((const uint8_t *)"123456789", 9, 0xffff), 0x29b1);
}

/* ---- control ---- */

static const char *ctl(ekc_node_t *n, const char *req) {
    ekc_on_datagram(n, 1500, EKC_CH_CTL, ip(9, 40000), (const uint8_t *)req, strlen(req));
    drain(n);
    for (int i = 0; i < ncap; i++)
        if (caps[i].ch == EKC_CH_CTL) {
            assert_int_equal(caps[i].dst.port, 40000);
            return (const char *)caps[i].data;
        }
    fail_msg("no control response to %s", req);
    return NULL;
}

/* Every request of reqs[0..count) must be refused as not JSON: bad_request with id 0. */
static void expect_bad_requests(ekc_node_t *n, const char *const *reqs, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const char *reply = ctl(n, reqs[i]);
        if (!strstr(reply, "\"id\":0,\"ok\":false,\"error\":\"bad_request\"")) fail_msg("%s answered %s", reqs[i], reply);
    }
}

static void test_control_commands(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    assert_string_equal(ctl(n, "nonsense"),
                        "{\"id\":0,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"request must be a JSON object with an integer id (CTL-WIRE-3)\"}");
    assert_non_null(strstr(ctl(n, "{\"id\"}"), "\"id\":0,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":1,\"cmd\":\"ping\"}"), "\"node_id\":\"c-1\",\"module_id\":1"));
    assert_non_null(strstr(ctl(n, "{\"id\":2,\"cmd\":\"caps\"}"),
                           "\"caps\":[\"roj\",\"kor\",\"ctl\",\"abort\",\"persist\",\"clock-skew\"]"));
    assert_non_null(strstr(ctl(n, "{\"id\":3,\"cmd\":\"frobnicate\"}"), "\"error\":\"unsupported\""));
    assert_non_null(strstr(ctl(n, "{\"id\":4,\"cmd\":\"propose\",\"args\":{\"key\":\"BAD\",\"value\":\"v\"}}"),
                           "\"error\":\"bad_request\""));
    const char *r = ctl(n, "{\"id\":5,\"cmd\":\"propose\",\"args\":{\"key\":\"bay\",\"value\":\"v\"}}");
    assert_non_null(strstr(r, "\"pid\":\"c-1:0000002a:1\",\"version\":1"));
    /* CTL-WIRE-4: a repeated id is answered from the cache, not proposed twice */
    r = ctl(n, "{\"id\":5,\"cmd\":\"propose\",\"args\":{\"key\":\"bay\",\"value\":\"v\"}}");
    assert_non_null(strstr(r, "\"pid\":\"c-1:0000002a:1\""));
    assert_int_equal(ekc_pending_count(n), 1);
    assert_non_null(strstr(ctl(n, "{\"id\":6,\"cmd\":\"propose\",\"args\":{\"key\":\"bay\",\"value\":\"w\"}}"),
                           "\"error\":\"locked\""));
    r = ctl(n, "{\"id\":7,\"cmd\":\"emit\",\"args\":{\"event_type\":2,\"payload_hex\":\"0511111111111111111111111111111111111111\"}}");
    assert_non_null(strstr(r, "\"origin_id\":1,\"origin_seq\":1"));
    assert_non_null(strstr(ctl(n, "{\"id\":8,\"cmd\":\"emit\",\"args\":{\"event_type\":5,\"payload_hex\":\"0511111111111111111111111111111111111111\"}}"),
                           "\"error\":\"bad_request\"")); /* BRIDGE-4 */
    r = ctl(n, "{\"id\":9,\"cmd\":\"fields\"}");
    assert_non_null(strstr(r, "\"total\":1,\"entries\":[{\"field_id\":5,\"value_hex\":\"11111111111111111111111111111111111111\""));
    r = ctl(n, "{\"id\":10,\"cmd\":\"log\",\"args\":{\"origin\":1,\"from\":1}}");
    assert_non_null(strstr(r, "\"events\":[\"01000000"));
    r = ctl(n, "{\"id\":11,\"cmd\":\"state\"}");
    assert_non_null(strstr(r, "\"kv_count\":0,\"kv_digest\":\"cbf29ce484222325\",\"vv\":{\"1\":1},\"log_count\":1"));
    assert_non_null(strstr(r, "\"locks\":1,\"pending\":1"));
    assert_non_null(strstr(ctl(n, "{\"id\":12,\"cmd\":\"set_neighbours\",\"args\":{\"modules\":[3]}}"), "\"ok\":true"));
    assert_non_null(strstr(ctl(n, "{\"id\":13,\"cmd\":\"peers\"}"), "\"neighbours\":[3]"));
    assert_non_null(strstr(ctl(n, "{\"id\":14,\"cmd\":\"set_neighbours\",\"args\":{\"modules\":[1,2,3,4,5,6,7,8]}}"), "bad_request"));
    assert_non_null(strstr(ctl(n, "{\"id\":15,\"cmd\":\"ping\",\"args\":{\"x\":1}}"), "bad_request"));
    assert_non_null(strstr(ctl(n, "{\"id\":16,\"cmd\":\"stats\"}"), "\"invalid\":{\"ctl_request\":2}"));
    assert_non_null(strstr(ctl(n, "{\"id\":17,\"cmd\":\"kv\",\"args\":{\"offset\":0}}"), "\"total\":0,\"entries\":[]"));
    assert_non_null(strstr(ctl(n, "{\"id\":18,\"cmd\":\"set_clock_skew\",\"args\":{\"offset_us\":-5}}"), "\"ok\":true"));
    /* CTL-WIRE-2: a cmd outside ^[a-z_]{1,32}$ is bad_request, not unsupported (fuzz finding 8). */
    assert_non_null(strstr(ctl(n, "{\"id\":19,\"cmd\":\"re;oot\"}"), "\"id\":19,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":20,\"cmd\":\"\"}"), "\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":21,\"cmd\":\"Ping\"}"), "\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":22,\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"), "\"error\":\"bad_request\""));
    /* an escaped name is the name it decodes to */
    assert_non_null(strstr(ctl(n, "{\"id\":23,\"cmd\":\"\\u0070ing\"}"), "\"id\":23,\"ok\":true"));
    assert_non_null(strstr(ctl(n, "{\"id\":24,\"cmd\":\"re_boot\"}"), "\"error\":\"unsupported\""));
    /* A primitive that is not JSON is a malformed request even where no command reads it: jsmn checks
     * only its first character (fuzz finding 9). */
    static const char *const not_json[] = {"-", "tru", "nul", "01", "1.", "1e", "-e", "1e+", "falsey", "0x1"};
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
        char req[96];
        snprintf(req, sizeof req, "{\"id\":25,\"cmd\":\"re_boot\",\"args\":{\"x\":%s}}", not_json[i]);
        const char *r2 = ctl(n, req);
        if (!strstr(r2, "\"id\":0,\"ok\":false,\"error\":\"bad_request\"")) fail_msg("%s answered %s", req, r2);
    }
    /* Duplicate member names in an object no command reads, also when escaped (fuzz finding 14). */
    assert_non_null(strstr(ctl(n, "{\"id\":30,\"cmd\":\"re_boot\",\"args\":{\"moo\":1,\"ty\":9,\"ty\":9}}"), "\"id\":0,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":31,\"cmd\":\"re_boot\",\"args\":{\"ty\":1,\"\\u0074y\":2}}"), "\"id\":0,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":32,\"cmd\":\"re_boot\",\"args\":{\"x\":{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}}}"), "\"id\":0,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":33,\"cmd\":\"re_boot\",\"args\":{\"ty\":1,\"tz\":{\"ty\":2},\"t\":3}}"), "\"id\":33,\"ok\":false,\"error\":\"unsupported\""));
    /* A colon after a value that is no key, and other structure jsmn lets through (fuzz finding 16). */
    static const char *const bad_structure[] = {
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{\"m\":[ ]:16,\"cmd\"}}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{\"m\":1,\"n\"}}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":[1:2]}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{\"m\":[1,]}}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{1:2}}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{\"m\":[}]}}",
        "{\"id\":16,\"cmd\":\"re_boot\",\"args\":{\"m\":\"x}}",
    };
    expect_bad_requests(n, bad_structure, sizeof bad_structure / sizeof bad_structure[0]);
    /* nesting: 127 levels parse (as serde_json), 128 do not */
    static char deep[400];
    for (int levels = 125; levels <= 128; levels++) {
        int o = snprintf(deep, sizeof deep, "{\"id\":34,\"cmd\":\"re_boot\",\"args\":{\"x\":");
        for (int l = 0; l < levels - 2; l++) deep[o++] = '[';
        for (int l = 0; l < levels - 2; l++) deep[o++] = ']';
        o += snprintf(deep + o, sizeof deep - (size_t)o, "}}");
        const char *r2 = ctl(n, deep);
        bool refused = strstr(r2, "\"id\":0,\"ok\":false,\"error\":\"bad_request\"") != NULL;
        if (refused != (levels > 127)) fail_msg("%d levels: %s", levels, r2);
    }
    /* log's from starts at 1, like origin_seq (fuzz finding 13). */
    assert_non_null(strstr(ctl(n, "{\"id\":29,\"cmd\":\"log\",\"args\":{\"origin\":1,\"from\":0}}"), "\"id\":29,\"ok\":false,\"error\":\"bad_request\""));
    /* A raw control character inside a string no command reads (fuzz finding 12). */
    const char *r3 = ctl(n, "{\"id\":27,\"cmd\":\"re_boot\",\"args\":{\"x\":\"a\x19" "b\"}}");
    assert_non_null(strstr(r3, "\"id\":0,\"ok\":false,\"error\":\"bad_request\""));
    assert_non_null(strstr(ctl(n, "{\"id\":28,\"cmd\":\"re_boot\",\"args\":{\"x\":\"a\\u0019b\"}}"), "\"error\":\"unsupported\""));
    /* A \u escape of a surrogate must be a high one followed by a low one (fuzz finding 17). */
    static const char *const lone_surrogates[] = {
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"\\uDADD\":1}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\udc00\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\ud83d\\u0041\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\ud83d\\ud83d\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\ud83d\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\ud83dx\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\u00g0\"}}",
        "{\"id\":17,\"cmd\":\"re_boot\",\"args\":{\"x\":\"\\x\"}}",
    };
    expect_bad_requests(n, lone_surrogates, sizeof lone_surrogates / sizeof lone_surrogates[0]);
    assert_non_null(strstr(ctl(n, "{\"id\":18,\"cmd\":\"re_boot\",\"args\":{\"\\uD83D\\uDE00\":\"\\ud7ff\\ue000\"}}"), "\"id\":18,\"ok\":false,\"error\":\"unsupported\""));
    /* Numbers beyond a double's range are refused like serde_json does (I-JSON, fuzz finding 15). */
    static const char *const overflow[] = {"41e996", "1e309", "-1e309", "1.7976931348623159e308",
                                           "0.00018e313", "17976931348623159e292", "1e99999999999"};
    for (size_t i = 0; i < sizeof overflow / sizeof overflow[0]; i++) {
        char req[96];
        snprintf(req, sizeof req, "{\"id\":25,\"cmd\":\"re_boot\",\"args\":{\"x\":%s}}", overflow[i]);
        const char *r2 = ctl(n, req);
        if (!strstr(r2, "\"id\":0,\"ok\":false,\"error\":\"bad_request\"")) fail_msg("%s answered %s", req, r2);
    }
    static const char *const json_primitives[] = {"-0", "0", "-1.5e-3", "2E+10", "0.25", "true", "false", "null",
                                                  "1e308", "1.7976931348623157e308", "1.7976931348623158e308",
                                                  "-1.79769313486231580793e308", "0.0001e312", "1e-400", "0e99999"};
    for (size_t i = 0; i < sizeof json_primitives / sizeof json_primitives[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "{\"id\":26,\"cmd\":\"re_boot\",\"args\":{\"x\":%s}}", json_primitives[i]);
        const char *r2 = ctl(n, req);
        if (!strstr(r2, "\"id\":26,\"ok\":false,\"error\":\"unsupported\"")) fail_msg("%s answered %s", req, r2);
    }
}

static void test_kv_digest_matches_spec_example(void **s) {
    (void)s;
    ekc_node_t *n = mk(0, 1);
    assert_true(ekc_kv_digest(n) == 0xcbf29ce484222325ull); /* CTL-DIGEST-1 empty store */
    announce_from(n, 1001, 2, "[\"c-1\",\"c-2\"]");
    commit_from(n, 1002, 2, 1, "a", "x", 1, "[\"c-1\",\"c-2\"]", 2);
    /* independent FNV-1a over "a=x@1\n" */
    const char *txt = "a=x@1\n";
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = txt; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    assert_true(ekc_kv_digest(n) == h);
}

/* ---- persistence ---- */

static void test_persistence_round_trip(void **s) {
    (void)s;
    ekc_node_t *n = kor_node();
    uint8_t pl[20] = {5, 1, 2};
    for (int i = 0; i < 5; i++) assert_int_equal(ekc_emit(n, 1002, 2, pl, NULL, NULL), EKC_OK);
    uint8_t ev[36];
    make_event(ev, 2, 1, EKC_EVT_CONSENSUS_RESULT, 0, 0, 1);
    memset(ev + 16, 0, 20);
    memcpy(ev + 16, "bay", 3);
    memcpy(ev + 24, "v", 1);
    ev[32] = 2;
    rx_gossip(n, 1003, 2, ev);
    ekc_tick(n, 5000); /* periodic save of delivered events */
    uint64_t fd = ekc_fields_digest(n);
    assert_true(stores[0].present);
    /* restart: a new node on the same store */
    mem_store_t saved = stores[0];
    ekc_config_t cfg = n->cfg;
    static ekc_node_t again;
    stores[1] = saved;
    cfg.persist.ctx = &stores[1];
    assert_int_equal(ekc_init(&again, &cfg), EKC_OK);
    assert_int_equal(ekc_vv_get(&again, 1), 5);
    assert_int_equal(ekc_vv_get(&again, 2), 1);
    assert_non_null(ekc_kv_get(&again, "bay")); /* rebuilt from the log (BRIDGE-3) */
    assert_true(ekc_fields_digest(&again) == fd);
    uint32_t seq;
    ekc_tick(&again, 10);
    assert_int_equal(ekc_emit(&again, 10, 0x80, pl, NULL, &seq), EKC_OK);
    assert_int_equal(seq, 6); /* CTL-PERSIST-1: never reused */
    /* a corrupted blob is refused, and the node waits before emitting (CTL-PERSIST-2) */
    stores[1].blob[10] ^= 0xff;
    assert_int_equal(ekc_init(&again, &cfg), EKC_OK);
    assert_int_equal(ekc_vv_get(&again, 1), 0);
    assert_int_equal(ekc_emit(&again, 10, 0x80, pl, NULL, &seq), EKC_ERR_BUSY);
}

static void test_restart_without_persistence_defers_bridge_event(void **s) {
    (void)s;
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    strcpy(cfg.node_id, "c-1");
    cfg.module_id = 1;
    cfg.seed = 1;
    ekc_node_t *n = &nodes[2];
    assert_int_equal(ekc_init(n, &cfg), EKC_OK); /* no persistence hooks: CTL-PERSIST-2 applies */
    ekc_tick(n, 1000);
    announce_from(n, 1000, 2, "[\"c-1\",\"c-2\"]");
    ekc_tick(n, 1001);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 1); /* start-up VV_SYNC to every live neighbour */
    uint8_t pl[20] = {0};
    assert_int_equal(ekc_emit(n, 1002, 0x80, pl, NULL, NULL), EKC_ERR_BUSY);
    char pid[EKC_PID_MAX];
    assert_int_equal(ekc_propose(n, 1002, "bay", "v", pid, NULL), EKC_OK);
    vote_from(n, 1003, 2, pid, true, "ok");
    drain(n);
    assert_int_equal(count_type("\"COMMIT\""), 1);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 0); /* BRIDGE-1 event deferred */
    /* a peer shows it holds our events up to 2: we must catch up before emitting */
    uint8_t origins[1] = {1};
    uint32_t seqs[1] = {2};
    uint8_t f[16];
    size_t len = ekc_kor_emit_sync(f, sizeof f, 2, 1, 255, 1, origins, seqs);
    ekc_on_datagram(n, 1100, EKC_CH_KOR, ip(2, 9991), f, len);
    ekc_tick(n, 1400);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 0); /* still behind own history */
    uint8_t ev[36];
    make_event(ev, 1, 1, 0x80, 0, EKC_EVT_FLAG_REPAIR, 5);
    rx_gossip(n, 1500, 2, ev); /* a repaired hop-0 frame from a non-origin is valid (KOR-GOS-3) */
    make_event(ev, 1, 2, 0x80, 0, EKC_EVT_FLAG_REPAIR, 6);
    rx_gossip(n, 1500, 2, ev);
    assert_int_equal(ekc_vv_get(n, 1), 2);
    ekc_tick(n, 1501);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 1);
    for (int i = 0; i < ncap; i++)
        if (caps[i].data[0] == EKC_KOR_EVENT_GOSSIP) {
            assert_int_equal(caps[i].data[10 + 8], EKC_EVT_CONSENSUS_RESULT);
            assert_int_equal(ekc_evt_origin_seq(caps[i].data + 10), 3); /* continues after 2 */
        }
}

/* ---- restart without persistence and the anti-entropy answer (KOR-AE-2..4, CTL-PERSIST-2) ---- */

/* The crash-restart-gossip capture: origins 1..4 with 22, 7, 2 and 2 events. */
static const uint8_t hist_origin[4] = {1, 2, 3, 4};
static const uint32_t hist_count[4] = {22, 7, 2, 2};

/* A node c-<k> (module k) without persistence hooks: a restart without state (CTL-PERSIST-2). */
static ekc_node_t *fresh_node(int slot, int k) {
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    snprintf(cfg.node_id, sizeof cfg.node_id, "c-%d", k);
    cfg.module_id = (uint8_t)k;
    cfg.bind_ipv4 = ip(k, 0).ipv4;
    cfg.seed = 7;
    ekc_node_t *n = &nodes[slot];
    assert_int_equal(ekc_init(n, &cfg), EKC_OK);
    ekc_tick(n, 1000);
    drain(n);
    return n;
}

static void learn_members(ekc_node_t *n, uint64_t t, int self, const int *mods, int count) {
    for (int i = 0; i < count; i++) {
        char m[32];
        snprintf(m, sizeof m, "[\"c-%d\",\"c-%d\"]", self < mods[i] ? self : mods[i],
                 self < mods[i] ? mods[i] : self);
        announce_from(n, t, mods[i], m);
    }
}

/* The 32 repairs of a responder that sends origins ascending: (4, 2) is cut off. */
static int rx_cut_repairs(ekc_node_t *n, uint64_t t, uint8_t from) {
    int sent = 0;
    for (int h = 0; h < 4; h++)
        for (uint32_t q = 1; q <= hist_count[h] && sent < 32; q++, sent++) {
            uint8_t ev[36];
            make_event(ev, hist_origin[h], q, 0x80, 0, EKC_EVT_FLAG_REPAIR, q * 10);
            rx_gossip(n, t, from, ev);
        }
    return sent;
}

static void rx_repair(ekc_node_t *n, uint64_t t, uint8_t from, uint8_t origin, uint32_t seq) {
    uint8_t ev[36];
    make_event(ev, origin, seq, 0x80, 0, EKC_EVT_FLAG_REPAIR, seq * 10);
    rx_gossip(n, t, from, ev);
}

static void rx_sync(ekc_node_t *n, uint64_t t, uint8_t from, uint8_t lo, uint8_t hi, unsigned c,
                    const uint8_t *origins, const uint32_t *seqs) {
    uint8_t f[64];
    size_t len = ekc_kor_emit_sync(f, sizeof f, from, lo, hi, c, origins, seqs);
    assert_true(len > 0);
    ekc_on_datagram(n, t, EKC_CH_KOR, ip(from, 9991), f, len);
}

static bool captured_request(uint8_t target, uint32_t from, uint32_t to, int dst) {
    for (int i = 0; i < ncap; i++) {
        ekc_kor_frame_t f;
        if (caps[i].data[0] != EKC_KOR_EVENT_REQUEST ||
            ekc_kor_frame_check(caps[i].data, caps[i].len, &f) != EKC_KOR_OK)
            continue;
        if (ekc_kor_req_target(f) == target && ekc_kor_req_from(f) == from &&
            ekc_kor_req_to(f) == to && caps[i].dst.ipv4 == ip(dst, 0).ipv4)
            return true;
    }
    return false;
}

static void test_restarted_node_busy_while_own_history_cut_off(void **s) {
    (void)s;
    /* (a): 32 repairs from c-1 end at (4, 1); c-2's repair of (4, 3) shows the sequence went
     * further. Emitting 2 would reuse a sequence (KOR-VV-2). */
    ekc_node_t *n = fresh_node(2, 4);
    const int nb[2] = {1, 2};
    learn_members(n, 1000, 4, nb, 2);
    ekc_tick(n, 1001);
    drain(n);
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 2); /* start-up VV_SYNC to every live neighbour */
    assert_int_equal(rx_cut_repairs(n, 1010, 1), 32);
    rx_repair(n, 1015, 2, 4, 3);
    drain(n);
    assert_int_equal(ekc_vv_get(n, 4), 1);
    assert_true(captured_request(4, 2, 2, 2)); /* KOR-GAP-1 for the missing own event */
    uint8_t pl[20] = {0};
    const uint64_t at[4] = {1100, 1400, 2000, 2900};
    for (int i = 0; i < 4; i++) {
        ekc_tick(n, at[i]);
        assert_int_equal(ekc_emit(n, at[i], 0x80, pl, NULL, NULL), EKC_ERR_BUSY);
    }
    learn_members(n, 3000, 4, nb, 2);
    rx_repair(n, 3000, 1, 4, 2);
    assert_int_equal(ekc_vv_get(n, 4), 3);
    ekc_tick(n, 3100);
    assert_int_equal(ekc_emit(n, 3100, 0x80, pl, NULL, NULL), EKC_ERR_BUSY); /* settles 300 ms */
    ekc_tick(n, 3300);
    uint32_t seq = 0;
    assert_int_equal(ekc_emit(n, 3300, 0x80, pl, NULL, &seq), EKC_OK);
    assert_int_equal(seq, 4);
}

static void test_restarted_node_waits_for_the_sequence_a_vv_sync_states(void **s) {
    (void)s;
    /* (b): c-1's VV_SYNC states (4, 2); its repairs are cut off at (4, 1). */
    ekc_node_t *n = fresh_node(2, 4);
    const int nb[1] = {1};
    learn_members(n, 1000, 4, nb, 1);
    ekc_tick(n, 1001);
    drain(n);
    rx_sync(n, 1010, 1, 1, 255, 4, hist_origin, hist_count);
    drain(n);
    assert_true(captured_request(4, 1, 2, 1)); /* own history requested from who stated it */
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 0); /* c-1 is not behind on its own origin */
    rx_cut_repairs(n, 1011, 1);
    assert_int_equal(ekc_vv_get(n, 4), 1);
    uint8_t pl[20] = {0};
    const uint64_t at[4] = {1020, 1400, 2000, 2900};
    for (int i = 0; i < 4; i++) {
        ekc_tick(n, at[i]);
        assert_int_equal(ekc_emit(n, at[i], 0x80, pl, NULL, NULL), EKC_ERR_BUSY);
    }
    learn_members(n, 3000, 4, nb, 1);
    rx_repair(n, 3000, 1, 4, 2);
    ekc_tick(n, 3001); /* the only neighbour answered and VV[self] reached 2 */
    uint32_t seq = 0;
    assert_int_equal(ekc_emit(n, 3001, 0x80, pl, NULL, &seq), EKC_OK);
    assert_int_equal(seq, 3);
}

static void test_emit_gate_waits_for_every_neighbour(void **s) {
    (void)s;
    /* c-1 knows (4, 1) only and answers first; c-2 knows (4, 2). */
    ekc_node_t *n = fresh_node(2, 4);
    const int nb[2] = {1, 2};
    learn_members(n, 1000, 4, nb, 2);
    ekc_tick(n, 1001);
    uint8_t o4[1] = {4};
    uint32_t one[1] = {1}, two[1] = {2};
    rx_sync(n, 1010, 1, 1, 255, 1, o4, one);
    rx_repair(n, 1011, 1, 4, 1);
    uint8_t pl[20] = {0};
    ekc_tick(n, 1020);
    assert_int_equal(ekc_emit(n, 1020, 0x80, pl, NULL, NULL), EKC_ERR_BUSY);
    rx_sync(n, 1030, 2, 1, 255, 1, o4, two);
    ekc_tick(n, 1040);
    assert_int_equal(ekc_emit(n, 1040, 0x80, pl, NULL, NULL), EKC_ERR_BUSY); /* 1 < 2 stated */
    rx_repair(n, 1050, 2, 4, 2);
    ekc_tick(n, 1060);
    uint32_t seq = 0;
    assert_int_equal(ekc_emit(n, 1060, 0x80, pl, NULL, &seq), EKC_OK);
    assert_int_equal(seq, 3);
}

/* A node c-9 holding the capture's history, learnt as hop-0 gossip from each origin. */
static ekc_node_t *responder_node(void) {
    ekc_node_t *n = mk(0, 9);
    const int mods[4] = {1, 2, 3, 4};
    learn_members(n, 1001, 9, mods, 4);
    for (int h = 0; h < 4; h++)
        for (uint32_t q = 1; q <= hist_count[h]; q++) {
            uint8_t ev[36];
            make_event(ev, hist_origin[h], q, 0x80, 0, 0, q * 10);
            rx_gossip(n, 1002, hist_origin[h], ev);
        }
    assert_int_equal(ekc_vv_get(n, 1), 22);
    /* Before its restart, c-4 had synced with us: the once-only answer to a new member is spent. */
    rx_sync(n, 1003, 4, 1, 255, 4, hist_origin, hist_count);
    drain(n);
    return n;
}

static void test_vv_sync_from_node_behind_on_own_origin_answered_then_own_history_first(void **s) {
    (void)s;
    ekc_node_t *r = responder_node();
    /* KOR-AE-4, KOR-AE-2, KOR-AE-3: the restarted c-4 sends its start-up VV_SYNC (empty). */
    rx_sync(r, 1100, 4, 1, 255, 0, NULL, NULL);
    drain(r);
    assert_true(ncap > 0);
    ekc_kor_frame_t f;
    assert_int_equal(caps[0].data[0], EKC_KOR_VV_SYNC); /* the answer comes first */
    assert_int_equal(ekc_kor_frame_check(caps[0].data, caps[0].len, &f), EKC_KOR_OK);
    assert_true(ekc_kor_sync_lo(f) <= 4 && 4 <= ekc_kor_sync_hi(f));
    assert_int_equal(ekc_kor_sync_count(f), 4);
    assert_int_equal(ekc_kor_sync_origin(f, 3), 4);
    assert_int_equal(ekc_kor_sync_seq(f, 3), 2);
    int repairs = 0;
    uint8_t order_o[40];
    uint32_t order_s[40];
    for (int i = 0; i < ncap; i++) {
        assert_int_equal(caps[i].dst.ipv4, ip(4, 0).ipv4);
        if (caps[i].data[0] == EKC_KOR_VV_SYNC) assert_int_equal(repairs, 0); /* before repairs */
        if (caps[i].data[0] != EKC_KOR_EVENT_GOSSIP) continue;
        assert_int_equal(caps[i].data[10 + 9], EKC_EVT_FLAG_REPAIR);
        if (repairs < 40) {
            order_o[repairs] = ekc_evt_origin(caps[i].data + 10);
            order_s[repairs] = ekc_evt_origin_seq(caps[i].data + 10);
        }
        repairs++;
    }
    assert_int_equal(repairs, 32); /* KOR-AE-3 */
    assert_int_equal(order_o[0], 4); /* the syncing node's own origin first */
    assert_int_equal(order_s[0], 1);
    assert_int_equal(order_o[1], 4);
    assert_int_equal(order_s[1], 2);
    assert_int_equal(order_o[2], 1); /* then the other origins ascending */
    assert_int_equal(order_s[2], 1);

    /* Fed to the restarted node, the answer and the 32 repairs are enough to emit 3, not 2. */
    static cap_t answer[MAX_CAP];
    int nanswer = ncap;
    memcpy(answer, caps, sizeof(cap_t) * (size_t)ncap);
    ekc_node_t *n = fresh_node(2, 4);
    const int nb[1] = {9};
    learn_members(n, 1000, 4, nb, 1);
    ekc_tick(n, 1001);
    drain(n);
    for (int i = 0; i < nanswer; i++)
        ekc_on_datagram(n, 1010, EKC_CH_KOR, ip(9, 9991), answer[i].data, answer[i].len);
    assert_int_equal(ekc_vv_get(n, 4), 2);
    ekc_tick(n, 1020);
    uint8_t pl[20] = {0};
    uint32_t seq = 0;
    assert_int_equal(ekc_emit(n, 1020, 0x80, pl, NULL, &seq), EKC_OK);
    assert_int_equal(seq, 3);
}

static void test_vv_sync_answer_only_for_node_behind_on_own_origin(void **s) {
    (void)s;
    ekc_node_t *r = responder_node();
    uint8_t o4[1] = {4};
    uint32_t two[1] = {2};
    rx_sync(r, 1100, 4, 1, 255, 1, o4, two); /* as far as we know it: no answer */
    drain(r);
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 0);
    assert_int_equal(count_kor(EKC_KOR_EVENT_GOSSIP), 31);
    rx_sync(r, 1101, 4, 1, 3, 0, NULL, NULL); /* not covering the sender: says nothing of it */
    drain(r);
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 0);
}

static void test_vv_sync_answer_leads_with_frame_covering_sender(void **s) {
    (void)s;
    ekc_node_t *r = mk(0, 100);
    for (int o = 1; o <= 13; o++) {
        uint8_t ev[36];
        make_event(ev, (uint8_t)o, 1, 0x80, 0, 0, 1);
        rx_gossip(r, 1002, (uint8_t)o, ev);
    }
    drain(r);
    rx_sync(r, 1003, 13, 12, 255, 0, NULL, NULL);
    drain(r);
    assert_int_equal(count_kor(EKC_KOR_VV_SYNC), 2);
    ekc_kor_frame_t f;
    assert_int_equal(caps[0].data[0], EKC_KOR_VV_SYNC);
    assert_int_equal(ekc_kor_frame_check(caps[0].data, caps[0].len, &f), EKC_KOR_OK);
    assert_int_equal(ekc_kor_sync_lo(f), 12);
    assert_int_equal(ekc_kor_sync_hi(f), 255);
    assert_int_equal(caps[1].data[0], EKC_KOR_VV_SYNC);
    assert_int_equal(ekc_kor_frame_check(caps[1].data, caps[1].len, &f), EKC_KOR_OK);
    assert_int_equal(ekc_kor_sync_lo(f), 1);
}

/* ---- mDNS ---- */

static void test_mdns_responder_and_browser_resolve(void **s) {
    (void)s;
    static ekc_mdns_t a, b;
    ekc_mdns_config_t ca = {0}, cb = {0};
    strcpy(ca.node_id, "go-1");
    ca.module_id = 7;
    strcpy(ca.lang, "go");
    ca.caps = EKC_CAP_ROJ | EKC_CAP_KOR | EKC_CAP_CTL | EKC_CAP_ABORT;
    ca.ipv4 = 0x0a000007;
    ca.roj_port = 9990;
    ca.kor_port = 9991;
    ca.ctl_port = 9992;
    cb = ca;
    strcpy(cb.node_id, "c-1");
    cb.module_id = 1;
    cb.ipv4 = 0x0a000001;
    cb.browse = true;
    assert_true(ekc_mdns_init(&a, &ca));
    assert_true(ekc_mdns_init(&b, &cb));
    ekc_mdns_tick(&b, 0);
    ekc_output_t o;
    int queries = 0;
    ekc_addr_t from_b = {0x0a000001, 5353}, from_a = {0x0a000007, 5353};
    ekc_mdns_tick(&a, 0);
    while (ekc_mdns_next_output(&a, &o)) {} /* a's announcement is not needed here */
    while (ekc_mdns_next_output(&b, &o)) {
        assert_int_equal(o.dst.ipv4, EKC_MDNS_GROUP);
        ekc_mdns_on_packet(&a, 1, from_b, o.data, o.len);
        queries++;
    }
    assert_true(queries >= 1);
    int answers = 0;
    while (ekc_mdns_next_output(&a, &o)) {
        ekc_mdns_on_packet(&b, 2, from_a, o.data, o.len);
        answers++;
    }
    assert_int_equal(answers, 1);
    ekc_peer_info_t p;
    assert_true(ekc_mdns_next_peer(&b, &p));
    assert_string_equal(p.node_id, "go-1");
    assert_int_equal(p.ipv4, 0x0a000007);
    assert_int_equal(p.roj_port, 9990);
    assert_int_equal(p.kor_port, 9991);
    assert_int_equal(p.module_id, 7);
    assert_true(p.caps & EKC_CAP_ABORT);
    assert_false(ekc_mdns_next_peer(&b, &p)); /* reported once */
    /* truncated / garbage packets are counted, never crash */
    uint8_t junk[40];
    memset(junk, 0xc0, sizeof junk);
    junk[2] = 0x84;
    junk[7] = 5;
    ekc_mdns_on_packet(&b, 3, from_a, junk, sizeof junk);
    ekc_mdns_on_packet(&b, 3, from_a, junk, 5);
    assert_int_equal(b.invalid_packets, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_integer_formula),
        cmocka_unit_test(test_commit_at_threshold_counts_each_voter_once),
        cmocka_unit_test(test_vote_from_non_member_ignored),
        cmocka_unit_test(test_17th_proposal_rejected_with_capacity),
        cmocka_unit_test(test_65th_key_refused_by_voter_and_commit_dropped),
        cmocka_unit_test(test_locked_stale_membership_and_duplicate),
        cmocka_unit_test(test_lock_expires_after_timeout),
        cmocka_unit_test(test_rejection_gives_up_aborts_and_retries_with_new_pid),
        cmocka_unit_test(test_deadline_timeout_then_no_commit),
        cmocka_unit_test(test_malformed_roj_input_changes_nothing),
        cmocka_unit_test(test_33rd_member_ignored),
        cmocka_unit_test(test_gossip_in_order_delivery_ack_and_forward),
        cmocka_unit_test(test_gap_buffer_request_and_full_buffer_drop),
        cmocka_unit_test(test_request_served_with_repair_flag),
        cmocka_unit_test(test_vv_sync_repairs_and_requests),
        cmocka_unit_test(test_kor_malformed_frames_dropped),
        cmocka_unit_test(test_bridge_event_applies_kv),
        cmocka_unit_test(test_lww_order_and_crc),
        cmocka_unit_test(test_control_commands),
        cmocka_unit_test(test_kv_digest_matches_spec_example),
        cmocka_unit_test(test_persistence_round_trip),
        cmocka_unit_test(test_restart_without_persistence_defers_bridge_event),
        cmocka_unit_test(test_restarted_node_busy_while_own_history_cut_off),
        cmocka_unit_test(test_restarted_node_waits_for_the_sequence_a_vv_sync_states),
        cmocka_unit_test(test_emit_gate_waits_for_every_neighbour),
        cmocka_unit_test(test_vv_sync_from_node_behind_on_own_origin_answered_then_own_history_first),
        cmocka_unit_test(test_vv_sync_answer_only_for_node_behind_on_own_origin),
        cmocka_unit_test(test_vv_sync_answer_leads_with_frame_covering_sender),
        cmocka_unit_test(test_mdns_responder_and_browser_resolve),
    };
    return cmocka_run_group_tests_name("ekc_core", tests, NULL, NULL);
}
