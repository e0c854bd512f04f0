/*
 * roj.c - EK-ROJ v1 protocol logic (docs/spec/ek-roj.md): message parsing and strict validation
 * (ROJ-WIRE-*, ROJ-ENV-*), membership and ANNOUNCE (ROJ-MEMB-*, ROJ-ANN-*), proposing
 * (ROJ-PROP-*), voting with per-key locks (ROJ-VOTE-1..9), commit at t(n) (ROJ-COMMIT-*, ROJ-KV-*),
 * ABORT (ROJ-ABORT-*), deadlines and seeded retry backoff (ROJ-TIME-*, ROJ-RETRY-*), and the commit
 * side of the bridge (BRIDGE-1).
 */
#include "internal.h"
#include "ekc_mdns.h"

typedef enum { MSG_ANNOUNCE, MSG_PROPOSE, MSG_VOTE, MSG_COMMIT, MSG_ABORT } roj_type_t;
typedef enum { R_OK = 0, R_MEMBERSHIP, R_STALE, R_LOCKED, R_CAPACITY } vote_reason_t;
static const char *const reason_names[] = {"ok", "membership", "stale", "locked", "capacity"};

typedef struct {
    roj_type_t type;
    char node_id[EKC_NODE_ID_MAX + 1];
    /* ANNOUNCE */
    uint8_t module_id;
    char lang[EKC_LANG_MAX + 1];
    char version_str[EKC_VERSION_STR_MAX + 1];
    uint32_t caps;
    uint32_t incarnation, seq;
    uint16_t kor_port, ctl_port;
    /* members (ANNOUNCE, PROPOSE) or voters (COMMIT) */
    char list[EKC_MAX_MEMBERS][EKC_NODE_ID_MAX + 1];
    uint8_t list_n;
    /* PROPOSE / VOTE / COMMIT / ABORT */
    char pid[EKC_PID_MAX];
    char key[EKC_KEY_MAX + 1];
    char value[EKC_VALUE_MAX + 1];
    uint32_t version;
    uint32_t n;
    uint32_t timeout_ms;
    bool accept;
    uint8_t reason;
} roj_msg_t;

/* ---- parsing ---- */

static bool parse_semver(const char *s) {
    /* ^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ */
    const char *p = s;
    for (int part = 0; part < 3; part++) {
        if (*p < '0' || *p > '9') return false;
        if (*p == '0' && p[1] >= '0' && p[1] <= '9') return false;
        while (*p >= '0' && *p <= '9') p++;
        if (part < 2) {
            if (*p != '.') return false;
            p++;
        }
    }
    for (int sect = 0; sect < 2; sect++) {
        char lead = sect == 0 ? '-' : '+';
        if (*p == lead) {
            p++;
            const char *q = p;
            while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   *p == '.' || *p == '-')
                p++;
            if (p == q) return false;
        }
    }
    return *p == 0;
}

/* Parses a sorted, distinct node_id array (ROJ-ANN-1, ROJ-PROP-4, ROJ-COMMIT-2). */
static bool parse_id_list(const ekc_json_t *j, int tok, roj_msg_t *m) {
    if (tok < 0 || j->tok[tok].type != JSMN_ARRAY) return false;
    int cnt = j->tok[tok].size;
    if (cnt < 1 || cnt > EKC_MAX_MEMBERS) return false;
    int i = tok + 1;
    for (int k = 0; k < cnt; k++) {
        if (!json_str(j, i, m->list[k], EKC_NODE_ID_MAX) || !valid_node_id(m->list[k])) return false;
        if (k > 0 && strcmp(m->list[k - 1], m->list[k]) >= 0) return false;
        i = json_skip(j, i);
    }
    m->list_n = (uint8_t)cnt;
    return true;
}

static bool list_has(const roj_msg_t *m, const char *id) {
    for (int i = 0; i < m->list_n; i++)
        if (strcmp(m->list[i], id) == 0) return true;
    return false;
}

/* ROJ-PROP-1: "<node_id>:<8 hex>:<counter>"; the node part must equal `node_id`. */
static bool valid_pid(const char *pid, const char *node_id) {
    const char *c1 = strchr(pid, ':');
    if (!c1) return false;
    size_t idn = (size_t)(c1 - pid);
    if (idn != strlen(node_id) || memcmp(pid, node_id, idn) != 0) return false;
    const char *h = c1 + 1;
    for (int i = 0; i < 8; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    if (h[8] != ':') return false;
    const char *d = h + 9;
    if (*d < '1' || *d > '9') return false;
    uint64_t v = 0;
    size_t nd = 0;
    for (; *d; d++, nd++) {
        if (*d < '0' || *d > '9' || nd >= 10) return false;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    return v <= 0xffffffffull;
}

static bool parse_u32(const ekc_json_t *j, int obj, const char *k, int64_t lo, int64_t hi, uint32_t *out) {
    int64_t v;
    if (!json_int(j, json_get(j, obj, k), lo, hi, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

/* Returns -1 on success, else the invalid kind (ekc_invalid_kind_t, which starts at 0). */
static int roj_parse(ekc_node_t *n, const uint8_t *data, size_t len, roj_msg_t *m) {
    ekc_json_t j;
    if (len > EKC_ROJ_MAX_DATAGRAM) return INV_ROJ_SIZE;
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) return INV_ROJ_JSON;
    if (!json_parse(&j, (const char *)data, len, (jsmntok_t *)n->json_scratch, EKC_JSON_TOKEN_SLOTS))
        return INV_ROJ_JSON;
    static const char *const env_keys[] = {"proto", "type", "node_id", "payload", NULL};
    if (!json_keys_ok(&j, 0, env_keys)) return INV_ROJ_ENVELOPE;
    int64_t proto;
    if (!json_int(&j, json_get(&j, 0, "proto"), 1, 1, &proto)) return INV_ROJ_ENVELOPE;
    int t = json_get(&j, 0, "type");
    if (json_str_eq(&j, t, "ANNOUNCE")) m->type = MSG_ANNOUNCE;
    else if (json_str_eq(&j, t, "PROPOSE")) m->type = MSG_PROPOSE;
    else if (json_str_eq(&j, t, "VOTE")) m->type = MSG_VOTE;
    else if (json_str_eq(&j, t, "COMMIT")) m->type = MSG_COMMIT;
    else if (json_str_eq(&j, t, "ABORT")) m->type = MSG_ABORT;
    else return INV_ROJ_ENVELOPE;
    if (!json_str(&j, json_get(&j, 0, "node_id"), m->node_id, EKC_NODE_ID_MAX) ||
        !valid_node_id(m->node_id))
        return INV_ROJ_ENVELOPE;
    int p = json_get(&j, 0, "payload");
    if (p < 0 || j.tok[p].type != JSMN_OBJECT) return INV_ROJ_ENVELOPE;

    switch (m->type) {
    case MSG_ANNOUNCE: {
        static const char *const k[] = {"module_id", "lang", "version", "caps", "incarnation",
                                        "seq", "members", "kor_port", "ctl_port", NULL};
        if (!json_keys_ok(&j, p, k) || j.tok[p].size != 9) return INV_ROJ_PAYLOAD;
        uint32_t v;
        if (!parse_u32(&j, p, "module_id", 1, 255, &v)) return INV_ROJ_PAYLOAD;
        m->module_id = (uint8_t)v;
        if (!json_str(&j, json_get(&j, p, "lang"), m->lang, EKC_LANG_MAX) || !valid_lang(m->lang))
            return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "version"), m->version_str, EKC_VERSION_STR_MAX) ||
            !parse_semver(m->version_str))
            return INV_ROJ_PAYLOAD;
        int c = json_get(&j, p, "caps");
        if (c < 0 || j.tok[c].type != JSMN_ARRAY || j.tok[c].size > 16) return INV_ROJ_PAYLOAD;
        {
            char caps[16][17];
            int i = c + 1;
            m->caps = 0;
            for (int q = 0; q < j.tok[c].size; q++) {
                if (!json_str(&j, i, caps[q], 16) || !valid_cap_token(caps[q], strlen(caps[q])))
                    return INV_ROJ_PAYLOAD;
                for (int r = 0; r < q; r++)
                    if (strcmp(caps[r], caps[q]) == 0) return INV_ROJ_PAYLOAD;
                m->caps |= ekc_caps_parse_token(caps[q]);
                i = json_skip(&j, i);
            }
        }
        if (!parse_u32(&j, p, "incarnation", 0, 0xffffffffll, &m->incarnation) ||
            !parse_u32(&j, p, "seq", 0, 0xffffffffll, &m->seq))
            return INV_ROJ_PAYLOAD;
        if (!parse_id_list(&j, json_get(&j, p, "members"), m) || !list_has(m, m->node_id))
            return INV_ROJ_PAYLOAD; /* ROJ-ANN-2 */
        if (!parse_u32(&j, p, "kor_port", 1, 65535, &v)) return INV_ROJ_PAYLOAD;
        m->kor_port = (uint16_t)v;
        if (!parse_u32(&j, p, "ctl_port", 1, 65535, &v)) return INV_ROJ_PAYLOAD;
        m->ctl_port = (uint16_t)v;
        return -1;
    }
    case MSG_PROPOSE: {
        static const char *const k[] = {"pid", "key", "value", "version", "members", "n",
                                        "timeout_ms", NULL};
        if (!json_keys_ok(&j, p, k) || j.tok[p].size != 7) return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "pid"), m->pid, EKC_PID_MAX - 1) ||
            !valid_pid(m->pid, m->node_id))
            return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "key"), m->key, EKC_KEY_MAX) || !valid_key(m->key))
            return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "value"), m->value, EKC_VALUE_MAX) ||
            !valid_value(m->value))
            return INV_ROJ_PAYLOAD;
        if (!parse_u32(&j, p, "version", 1, 0xffffffffll, &m->version)) return INV_ROJ_PAYLOAD;
        if (!parse_id_list(&j, json_get(&j, p, "members"), m) || !list_has(m, m->node_id))
            return INV_ROJ_PAYLOAD;
        if (!parse_u32(&j, p, "n", 1, 32, &m->n) || m->n != m->list_n) return INV_ROJ_PAYLOAD;
        if (!parse_u32(&j, p, "timeout_ms", 100, 60000, &m->timeout_ms)) return INV_ROJ_PAYLOAD;
        return -1;
    }
    case MSG_VOTE: {
        static const char *const k[] = {"pid", "accept", "reason", NULL};
        if (!json_keys_ok(&j, p, k) || j.tok[p].size != 3) return INV_ROJ_PAYLOAD;
        char pidnode[EKC_NODE_ID_MAX + 1];
        if (!json_str(&j, json_get(&j, p, "pid"), m->pid, EKC_PID_MAX - 1)) return INV_ROJ_PAYLOAD;
        const char *c1 = strchr(m->pid, ':');
        if (!c1 || (size_t)(c1 - m->pid) > EKC_NODE_ID_MAX) return INV_ROJ_PAYLOAD;
        memcpy(pidnode, m->pid, (size_t)(c1 - m->pid));
        pidnode[c1 - m->pid] = 0;
        if (!valid_node_id(pidnode) || !valid_pid(m->pid, pidnode)) return INV_ROJ_PAYLOAD;
        if (!json_bool(&j, json_get(&j, p, "accept"), &m->accept)) return INV_ROJ_PAYLOAD;
        int r = json_get(&j, p, "reason");
        m->reason = 0xff;
        for (uint8_t q = 0; q < 5; q++)
            if (json_str_eq(&j, r, reason_names[q])) m->reason = q;
        if (m->reason == 0xff) return INV_ROJ_PAYLOAD;
        if (m->accept != (m->reason == R_OK)) return INV_ROJ_PAYLOAD; /* ROJ-VOTE-7 */
        return -1;
    }
    case MSG_COMMIT: {
        static const char *const k[] = {"pid", "key", "value", "version", "n", "voters", NULL};
        if (!json_keys_ok(&j, p, k) || j.tok[p].size != 6) return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "pid"), m->pid, EKC_PID_MAX - 1) ||
            !valid_pid(m->pid, m->node_id))
            return INV_ROJ_PAYLOAD; /* ROJ-COMMIT-4 */
        if (!json_str(&j, json_get(&j, p, "key"), m->key, EKC_KEY_MAX) || !valid_key(m->key))
            return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "value"), m->value, EKC_VALUE_MAX) ||
            !valid_value(m->value))
            return INV_ROJ_PAYLOAD;
        if (!parse_u32(&j, p, "version", 1, 0xffffffffll, &m->version)) return INV_ROJ_PAYLOAD;
        if (!parse_u32(&j, p, "n", 1, 32, &m->n)) return INV_ROJ_PAYLOAD;
        if (!parse_id_list(&j, json_get(&j, p, "voters"), m)) return INV_ROJ_PAYLOAD;
        if (m->list_n < ekc_threshold(m->n) || m->list_n > m->n || !list_has(m, m->node_id))
            return INV_ROJ_COMMIT_VOTERS; /* voters include the proposer itself */
        return -1;
    }
    case MSG_ABORT: {
        static const char *const k[] = {"pid", "reason", NULL};
        if (!json_keys_ok(&j, p, k) || j.tok[p].size != 2) return INV_ROJ_PAYLOAD;
        if (!json_str(&j, json_get(&j, p, "pid"), m->pid, EKC_PID_MAX - 1) ||
            !valid_pid(m->pid, m->node_id))
            return INV_ROJ_PAYLOAD;
        int r = json_get(&j, p, "reason");
        if (!json_str_eq(&j, r, "rejected") && !json_str_eq(&j, r, "timeout")) return INV_ROJ_PAYLOAD;
        return -1;
    }
    }
    return INV_ROJ_ENVELOPE;
}

/* ---- emitting ---- */

static void wr_envelope(ekc_wr_t *w, const ekc_node_t *n, const char *type) {
    wr_str(w, "{\"proto\":1,\"type\":\"");
    wr_str(w, type);
    wr_str(w, "\",\"node_id\":");
    wr_jstr(w, n->cfg.node_id);
    wr_str(w, ",\"payload\":{");
}

static void wr_id_list(ekc_wr_t *w, const ekc_node_t *n, ekc_member_mask_t mask) {
    uint8_t idx[EKC_MAX_MEMBERS];
    int c = members_sorted(n, mask, idx);
    wr_raw(w, "[", 1);
    for (int i = 0; i < c; i++) {
        if (i) wr_raw(w, ",", 1);
        wr_jstr(w, n->members[idx[i]].node_id);
    }
    wr_raw(w, "]", 1);
}

static ekc_member_mask_t all_members(const ekc_node_t *n) {
    return n->member_count >= 32 ? 0xffffffffu : ((1u << n->member_count) - 1u);
}

/* Builds a message into the outbox and sends it to `mask` (or to `dst` when mask == 0). */
typedef void (*roj_body_fn)(ekc_wr_t *w, ekc_node_t *n, const void *arg);
static void roj_send(ekc_node_t *n, ekc_member_mask_t mask, const ekc_addr_t *dst, roj_body_fn fn,
                     const void *arg) {
    uint8_t *buf = out_reserve(n, EKC_ROJ_MAX_DATAGRAM);
    if (!buf) return;
    ekc_wr_t w;
    wr_init(&w, (char *)buf, EKC_ROJ_MAX_DATAGRAM);
    fn(&w, n, arg);
    if (w.overflow) return;
    if (dst) out_commit_to(n, EKC_CH_ROJ, *dst, w.len);
    else if (mask) out_commit_mask(n, EKC_CH_ROJ, mask, w.len);
}

static void body_announce(ekc_wr_t *w, ekc_node_t *n, const void *arg) {
    (void)arg;
    char caps[128];
    wr_envelope(w, n, "ANNOUNCE");
    wr_str(w, "\"module_id\":");
    wr_u64(w, n->cfg.module_id);
    wr_str(w, ",\"lang\":");
    wr_jstr(w, n->cfg.lang);
    wr_str(w, ",\"version\":\"" EKC_IMPL_VERSION "\",\"caps\":[");
    size_t cl = ekc_caps_format(n->cfg.caps, caps, sizeof caps);
    for (size_t i = 0, start = 0; i <= cl; i++) {
        if (i == cl || caps[i] == ',') {
            if (start) wr_raw(w, ",", 1);
            wr_raw(w, "\"", 1);
            wr_raw(w, caps + start, i - start);
            wr_raw(w, "\"", 1);
            start = i + 1;
        }
    }
    wr_str(w, "],\"incarnation\":");
    wr_u64(w, n->cfg.incarnation);
    wr_str(w, ",\"seq\":");
    wr_u64(w, n->announce_seq);
    wr_str(w, ",\"members\":");
    wr_id_list(w, n, all_members(n));
    wr_str(w, ",\"kor_port\":");
    wr_u64(w, n->cfg.kor_port);
    wr_str(w, ",\"ctl_port\":");
    wr_u64(w, n->cfg.ctl_port ? n->cfg.ctl_port : 9992);
    wr_str(w, "}}");
}

static void body_propose(ekc_wr_t *w, ekc_node_t *n, const void *arg) {
    const ekc_proposal_t *p = arg;
    wr_envelope(w, n, "PROPOSE");
    wr_str(w, "\"pid\":");
    wr_jstr(w, p->pid);
    wr_str(w, ",\"key\":");
    wr_jstr(w, p->key);
    wr_str(w, ",\"value\":");
    wr_jstr(w, p->value);
    wr_str(w, ",\"version\":");
    wr_u64(w, p->version);
    wr_str(w, ",\"members\":");
    wr_id_list(w, n, p->members);
    wr_str(w, ",\"n\":");
    wr_u64(w, p->n);
    wr_str(w, ",\"timeout_ms\":");
    wr_u64(w, p->timeout_ms);
    wr_str(w, "}}");
}

static void body_commit(ekc_wr_t *w, ekc_node_t *n, const void *arg) {
    const ekc_proposal_t *p = arg;
    wr_envelope(w, n, "COMMIT");
    wr_str(w, "\"pid\":");
    wr_jstr(w, p->pid);
    wr_str(w, ",\"key\":");
    wr_jstr(w, p->key);
    wr_str(w, ",\"value\":");
    wr_jstr(w, p->value);
    wr_str(w, ",\"version\":");
    wr_u64(w, p->version);
    wr_str(w, ",\"n\":");
    wr_u64(w, p->n);
    wr_str(w, ",\"voters\":");
    wr_id_list(w, n, p->accepts);
    wr_str(w, "}}");
}

typedef struct {
    const char *pid;
    uint8_t reason;
    const char *abort_reason;
} small_arg_t;

static void body_vote(ekc_wr_t *w, ekc_node_t *n, const void *arg) {
    const small_arg_t *a = arg;
    wr_envelope(w, n, "VOTE");
    wr_str(w, "\"pid\":");
    wr_jstr(w, a->pid);
    wr_str(w, a->reason == R_OK ? ",\"accept\":true,\"reason\":\"" : ",\"accept\":false,\"reason\":\"");
    wr_str(w, reason_names[a->reason]);
    wr_str(w, "\"}}");
}

static void body_abort(ekc_wr_t *w, ekc_node_t *n, const void *arg) {
    const small_arg_t *a = arg;
    wr_envelope(w, n, "ABORT");
    wr_str(w, "\"pid\":");
    wr_jstr(w, a->pid);
    wr_str(w, ",\"reason\":");
    wr_jstr(w, a->abort_reason);
    wr_str(w, "}}");
}

static void log_pid(ekc_node_t *n, ekc_log_level_t lvl, const char *msg, const char *clause,
                    const char *pid, const char *key, const char *extra_k, const char *extra_v) {
    char buf[200];
    ekc_wr_t w;
    wr_init(&w, buf, sizeof buf);
    wr_str(&w, "\"pid\":");
    wr_jstr(&w, pid);
    if (key) {
        wr_str(&w, ",\"key\":");
        wr_jstr(&w, key);
    }
    if (extra_k) {
        wr_str(&w, ",\"");
        wr_str(&w, extra_k);
        wr_str(&w, "\":");
        wr_jstr(&w, extra_v);
    }
    node_log(n, lvl, msg, clause, wr_cstr(&w));
}

/* ---- locks ---- */

static void locks_expire(ekc_node_t *n) {
    for (int i = 0; i < EKC_MAX_LOCKS; i++)
        if (n->locks[i].used && n->now_ms >= n->locks[i].expires_ms) {
            log_pid(n, EKC_LOG_DEBUG, "lock expired", "ROJ-TIME-2", n->locks[i].pid,
                    n->locks[i].key, NULL, NULL);
            n->locks[i].used = false;
        }
}

static ekc_lock_t *lock_for_key(ekc_node_t *n, const char *key) {
    for (int i = 0; i < EKC_MAX_LOCKS; i++)
        if (n->locks[i].used && strcmp(n->locks[i].key, key) == 0) return &n->locks[i];
    return NULL;
}

void roj_lock_release_pid(ekc_node_t *n, const char *pid) {
    for (int i = 0; i < EKC_MAX_LOCKS; i++)
        if (n->locks[i].used && strcmp(n->locks[i].pid, pid) == 0) n->locks[i].used = false;
}

uint8_t ekc_lock_count(const ekc_node_t *n) {
    uint8_t c = 0;
    for (int i = 0; i < EKC_MAX_LOCKS; i++) c += n->locks[i].used;
    return c;
}

/* ROJ-VOTE-3..6 (membership is judged by the caller). Takes the lock on success. */
static vote_reason_t lock_decide(ekc_node_t *n, const char *key, uint32_t version, const char *pid,
                                 uint32_t timeout_ms) {
    locks_expire(n);
    if (kv_version(n, key) >= version) return R_STALE;
    ekc_lock_t *l = lock_for_key(n, key);
    if (l && strcmp(l->pid, pid) != 0) return R_LOCKED;
    if (l) return R_OK; /* same pid: already held */
    int used = 0, absent_locked = 0;
    ekc_lock_t *free_slot = NULL;
    for (int i = 0; i < EKC_MAX_LOCKS; i++) {
        if (n->locks[i].used) {
            used++;
            absent_locked += n->locks[i].key_absent && !ekc_kv_get(n, n->locks[i].key);
        } else if (!free_slot) {
            free_slot = &n->locks[i];
        }
    }
    bool absent = ekc_kv_get(n, key) == NULL;
    if (used >= EKC_MAX_LOCKS || !free_slot) return R_CAPACITY;
    if (absent && n->kv_count + absent_locked + 1 > EKC_MAX_KEYS) return R_CAPACITY;
    free_slot->used = true;
    strcpy(free_slot->key, key);
    strcpy(free_slot->pid, pid);
    free_slot->expires_ms = n->now_ms + timeout_ms;
    free_slot->key_absent = absent;
    return R_OK;
}

/* ---- proposer ---- */

static uint8_t pending_count(const ekc_node_t *n) {
    uint8_t c = 0;
    for (int i = 0; i < EKC_MAX_PENDING; i++) c += n->props[i].state != EKC_PROP_FREE;
    return c;
}
uint8_t ekc_pending_count(const ekc_node_t *n) { return pending_count(n); }

static void make_pid(ekc_node_t *n, char out[EKC_PID_MAX]) {
    ekc_wr_t w;
    wr_init(&w, out, EKC_PID_MAX);
    wr_str(&w, n->cfg.node_id);
    wr_raw(&w, ":", 1);
    wr_hex32(&w, n->cfg.incarnation);
    wr_raw(&w, ":", 1);
    if (n->pid_counter == 0xffffffffu) n->pid_counter = 0; /* never reached in a test lifetime */
    wr_u64(&w, ++n->pid_counter);
    wr_cstr(&w);
}

static void do_commit(ekc_node_t *n, ekc_proposal_t *p) {
    /* ROJ-COMMIT-3: to every member other than the proposer whose address it knows. */
    roj_send(n, all_members(n) & ~1u, NULL, body_commit, p);
    n->stats.commits_sent++;
    kv_apply(n, p->key, p->value, p->version);
    roj_lock_release_pid(n, p->pid); /* ROJ-KV-3 */
    char votes[4];
    ekc_wr_t w;
    wr_init(&w, votes, sizeof votes);
    wr_u64(&w, (uint64_t)popcount32(p->accepts));
    log_pid(n, EKC_LOG_INFO, "commit sent", "ROJ-COMMIT-1", p->pid, p->key, "accepts", wr_cstr(&w));
    kor_emit_consensus_result(n, p->key, p->value, p->version); /* BRIDGE-1: same tick */
    memset(p, 0, sizeof *p);
}

/* Starts (or restarts, for a retry) proposal p. Returns a status. */
static ekc_status_t start_proposal(ekc_node_t *n, ekc_proposal_t *p) {
    char pid[EKC_PID_MAX];
    uint32_t version = kv_version(n, p->key) + 1;
    uint32_t saved_counter = n->pid_counter;
    make_pid(n, pid);
    vote_reason_t r = lock_decide(n, p->key, version, pid, n->cfg.proposal_timeout_ms);
    if (r != R_OK) {
        n->pid_counter = saved_counter; /* nothing was sent: the pid was never used */
        return r == R_LOCKED ? EKC_ERR_LOCKED : r == R_STALE ? EKC_ERR_STALE : EKC_ERR_CAPACITY;
    }
    strcpy(p->pid, pid);
    p->version = version;
    p->timeout_ms = n->cfg.proposal_timeout_ms;
    p->members = all_members(n);
    p->n = n->member_count;
    p->accepts = 1u; /* ROJ-THR-3: own accept implied */
    p->rejects = 0;
    p->stale_rejects = 0;
    p->sent_ms = n->now_ms;
    p->deadline_ms = n->now_ms + p->timeout_ms;
    p->state = EKC_PROP_PENDING;
    p->wait_version = 0;
    roj_send(n, p->members & ~1u, NULL, body_propose, p);
    log_pid(n, EKC_LOG_INFO, "proposal sent", "ROJ-PROP-6", p->pid, p->key, "value", p->value);
    if ((uint32_t)popcount32(p->accepts) >= ekc_threshold(p->n)) do_commit(n, p);
    return EKC_OK;
}

ekc_status_t ekc_propose(ekc_node_t *n, uint64_t now_ms, const char *key, const char *value,
                         char pid_out[EKC_PID_MAX], uint32_t *version_out) {
    if (now_ms > n->now_ms) n->now_ms = now_ms;
    if (!key || !value || !valid_key(key) || !valid_value(value)) return EKC_ERR_BAD;
    ekc_proposal_t *slot = NULL;
    for (int i = 0; i < EKC_MAX_PENDING; i++)
        if (n->props[i].state == EKC_PROP_FREE) {
            slot = &n->props[i];
            break;
        }
    if (!slot) return EKC_ERR_CAPACITY; /* ROJ-PROP-8 */
    memset(slot, 0, sizeof *slot);
    strcpy(slot->key, key);
    strcpy(slot->value, value);
    ekc_status_t st = start_proposal(n, slot);
    if (st != EKC_OK) {
        memset(slot, 0, sizeof *slot);
        return st;
    }
    if (pid_out) strcpy(pid_out, slot->pid[0] ? slot->pid : "");
    if (version_out) *version_out = slot->version;
    return EKC_OK;
}

/* ROJ-RETRY-1/2: give up, release the own lock, ABORT, schedule a retry with seeded backoff. */
static void give_up(ekc_node_t *n, ekc_proposal_t *p, const char *why) {
    roj_lock_release_pid(n, p->pid);
    log_pid(n, EKC_LOG_INFO, "proposal given up", "ROJ-RETRY-1", p->pid, p->key, "reason", why);
    if (n->cfg.caps & EKC_CAP_ABORT) {
        ekc_member_mask_t m = 0;
        for (int i = 1; i < n->member_count; i++)
            if (n->members[i].caps & EKC_CAP_ABORT) m |= 1u << i;
        small_arg_t a = {p->pid, 0, why};
        if (m) roj_send(n, m, NULL, body_abort, &a);
    }
    if (p->attempt >= 3) {
        log_pid(n, EKC_LOG_INFO, "proposal abandoned after 3 retries", "ROJ-RETRY-2", p->pid,
                p->key, NULL, NULL);
        memset(p, 0, sizeof *p);
        return;
    }
    uint32_t backoff = rng_range(n, 100, 1000) << p->attempt;
    p->attempt++;
    p->state = EKC_PROP_BACKOFF;
    p->retry_ms = n->now_ms + backoff;
    /* A stale majority waits for the newer version before retrying. */
    p->wait_version = (p->stale_rejects * 2 >= popcount32(p->rejects) && p->stale_rejects) ? p->version : 0;
}

static void proposer_on_vote(ekc_node_t *n, int sender, const roj_msg_t *m) {
    for (int i = 0; i < EKC_MAX_PENDING; i++) {
        ekc_proposal_t *p = &n->props[i];
        if (p->state != EKC_PROP_PENDING || strcmp(p->pid, m->pid) != 0) continue;
        if (sender < 0 || !((p->members >> sender) & 1u)) return; /* ROJ-VOTE-9 / THR-4 */
        ekc_member_mask_t bit = 1u << sender;
        if ((p->accepts | p->rejects) & bit) return; /* counted once (ROJ-THR-3) */
        if (m->accept) p->accepts |= bit;
        else {
            p->rejects |= bit;
            if (m->reason == R_STALE) p->stale_rejects++;
        }
        uint32_t t = ekc_threshold(p->n);
        if ((uint32_t)popcount32(p->accepts) >= t) {
            if (n->now_ms < p->deadline_ms) do_commit(n, p); /* ROJ-TIME-1 */
        } else if ((uint32_t)popcount32(p->rejects) > p->n - t) {
            give_up(n, p, "rejected");
        }
        return;
    }
}

/* ---- voter ---- */

static ekc_vote_memo_t *vote_memo(ekc_node_t *n, const char *pid) {
    for (int i = 0; i < EKC_VOTE_CACHE; i++)
        if (n->votes[i].used && strcmp(n->votes[i].pid, pid) == 0) return &n->votes[i];
    return NULL;
}

static void voter_on_propose(ekc_node_t *n, ekc_addr_t src, const roj_msg_t *m) {
    small_arg_t a = {m->pid, 0, NULL};
    ekc_vote_memo_t *memo = vote_memo(n, m->pid);
    if (memo) { /* ROJ-VOTE-1: duplicate: same decision, no state change */
        a.reason = memo->reason;
        roj_send(n, 0, &src, body_vote, &a);
        return;
    }
    vote_reason_t r = R_OK;
    if (!list_has(m, n->cfg.node_id)) r = R_MEMBERSHIP;
    for (int i = 0; r == R_OK && i < n->member_count; i++)
        if (!list_has(m, n->members[i].node_id)) r = R_MEMBERSHIP; /* ROJ-VOTE-2 */
    if (r == R_OK) {
        ekc_lock_t *l = lock_for_key(n, m->key);
        if (l && strcmp(l->pid, m->pid) == 0) r = R_OK; /* lock outlived the memo */
        else r = lock_decide(n, m->key, m->version, m->pid, m->timeout_ms);
    }
    ekc_vote_memo_t *slot = &n->votes[n->vote_next];
    n->vote_next = (uint8_t)((n->vote_next + 1) % EKC_VOTE_CACHE);
    slot->used = true;
    strcpy(slot->pid, m->pid);
    slot->reason = (uint8_t)r;
    slot->expires_ms = n->now_ms + m->timeout_ms;
    a.reason = (uint8_t)r;
    roj_send(n, 0, &src, body_vote, &a);
    log_pid(n, EKC_LOG_INFO, "vote cast", r == R_OK ? "ROJ-VOTE-6" : "ROJ-VOTE-1", m->pid, m->key,
            "reason", reason_names[r]);
}

/* ---- receive ---- */

static void on_announce(ekc_node_t *n, ekc_addr_t src, const roj_msg_t *m) {
    int idx = member_add(n, m->node_id);
    if (idx < 0) return; /* ROJ-MEMB-3 */
    ekc_member_t *mb = &n->members[idx];
    if (mb->announced && mb->incarnation != m->incarnation) {
        char buf[64];
        ekc_wr_t w;
        wr_init(&w, buf, sizeof buf);
        wr_str(&w, "\"member\":");
        wr_jstr(&w, m->node_id);
        node_log(n, EKC_LOG_INFO, "member restarted (new incarnation)", "ROJ-ANN-5", wr_cstr(&w));
    }
    mb->announced = true;
    mb->addr_known = true;
    mb->ipv4 = src.ipv4;
    mb->roj_port = src.port;
    mb->kor_port = m->kor_port;
    mb->ctl_port = m->ctl_port;
    mb->module_id = m->module_id;
    mb->caps = m->caps;
    mb->incarnation = m->incarnation;
}

void roj_on_datagram(ekc_node_t *n, ekc_addr_t src, const uint8_t *data, size_t len) {
    roj_msg_t m;
    memset(&m, 0, sizeof m);
    int bad = roj_parse(n, data, len, &m);
    if (bad >= 0) {
        note_invalid(n, (ekc_invalid_kind_t)bad, NULL);
        return;
    }
    if (strcmp(m.node_id, n->cfg.node_id) == 0) return; /* our own echo */
    if (m.type == MSG_ABORT && !(n->cfg.caps & EKC_CAP_ABORT)) {
        note_invalid(n, INV_ROJ_ABORT_UNSUPPORTED, NULL); /* ROJ-ABORT-1 */
        return;
    }
    if (m.type == MSG_ANNOUNCE) on_announce(n, src, &m);
    int sender = member_find(n, m.node_id);
    if (sender > 0) { /* ROJ-ANN-4 */
        n->members[sender].heard = true;
        n->members[sender].last_heard_ms = n->now_ms;
    }
    switch (m.type) {
    case MSG_ANNOUNCE: break;
    case MSG_PROPOSE: voter_on_propose(n, src, &m); break;
    case MSG_VOTE: proposer_on_vote(n, sender, &m); break;
    case MSG_COMMIT: {
        int r = kv_apply(n, m.key, m.value, m.version);
        if (r < 0) {
            note_invalid(n, INV_ROJ_KV_CAPACITY, m.key); /* ROJ-KV-2 */
        } else {
            n->stats.commits_applied++;
            log_pid(n, EKC_LOG_INFO, r ? "commit applied" : "commit seen (kept newer)", "ROJ-KV-1",
                    m.pid, m.key, "value", m.value);
        }
        roj_lock_release_pid(n, m.pid); /* ROJ-KV-3 */
        break;
    }
    case MSG_ABORT:
        roj_lock_release_pid(n, m.pid); /* ROJ-ABORT-2 */
        log_pid(n, EKC_LOG_DEBUG, "abort received", "ROJ-ABORT-2", m.pid, NULL, NULL, NULL);
        break;
    }
}

/* ---- timers ---- */

static void send_announces(ekc_node_t *n) {
    ekc_member_mask_t mask = 0;
    for (int i = 1; i < n->member_count; i++)
        if (n->members[i].addr_known) mask |= 1u << i;
    if (mask) {
        roj_send(n, mask, NULL, body_announce, NULL);
        n->stats.tx_roj_announce += (uint64_t)popcount32(mask);
    }
    /* ROJ-DISC-4 / ROJ-ANN-3: static peers that have not announced yet. */
    for (int s = 0; s < n->cfg.static_peer_count; s++) {
        ekc_addr_t a = n->cfg.static_peers[s];
        bool known = false;
        for (int i = 1; i < n->member_count; i++)
            if (n->members[i].addr_known && n->members[i].ipv4 == a.ipv4 &&
                n->members[i].roj_port == a.port)
                known = true;
        if (!known) {
            roj_send(n, 0, &a, body_announce, NULL);
            n->stats.tx_roj_announce++;
        }
    }
    n->announce_seq++;
}

void roj_tick(ekc_node_t *n) {
    if (n->now_ms >= n->next_announce_ms) {
        send_announces(n);
        uint32_t period = n->cfg.announce_ms;
        n->next_announce_ms = n->now_ms + period - rng_range(n, 0, period / 10);
    }
    locks_expire(n);
    for (int i = 0; i < EKC_VOTE_CACHE; i++)
        if (n->votes[i].used && n->now_ms >= n->votes[i].expires_ms + 60000) n->votes[i].used = false;
    for (int i = 0; i < EKC_MAX_PENDING; i++) {
        ekc_proposal_t *p = &n->props[i];
        if (p->state == EKC_PROP_PENDING && n->now_ms >= p->deadline_ms) {
            give_up(n, p, "timeout");
        } else if (p->state == EKC_PROP_BACKOFF && n->now_ms >= p->retry_ms) {
            if (p->wait_version && kv_version(n, p->key) < p->wait_version) {
                if (n->now_ms >= p->retry_ms + 3ull * n->cfg.proposal_timeout_ms) {
                    log_pid(n, EKC_LOG_INFO, "proposal abandoned: newer version never learned",
                            "ROJ-RETRY-2", p->pid, p->key, NULL, NULL);
                    memset(p, 0, sizeof *p);
                }
                continue;
            }
            ekc_status_t st = start_proposal(n, p);
            if (st != EKC_OK) {
                if (p->attempt >= 3) memset(p, 0, sizeof *p);
                else {
                    p->retry_ms = n->now_ms + (rng_range(n, 100, 1000) << p->attempt);
                    p->attempt++;
                }
            }
        }
    }
}

/* Called at init: first ANNOUNCE goes out at the first tick (ROJ-ANN-3 "immediately"). */
