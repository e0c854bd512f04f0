/*
 * util.c - the core's private plumbing: bounded JSON writer, strict JSON reading over jsmn tokens,
 * field validators, the bounded outbox, rate-limited logging of invalid input (CTL-LOG-2), the
 * seeded PRNG (CTL-ENV-11) and the member and key-value tables.
 */
#include "internal.h"

/* ---- writer ---- */
void wr_init(ekc_wr_t *w, char *buf, size_t cap) {
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}
void wr_raw(ekc_wr_t *w, const char *s, size_t n) {
    if (w->len + n > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}
void wr_str(ekc_wr_t *w, const char *s) { wr_raw(w, s, strlen(s)); }
void wr_jstr(ekc_wr_t *w, const char *s) {
    static const char hex[] = "0123456789abcdef";
    wr_raw(w, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            wr_raw(w, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            wr_raw(w, e, 6);
        } else {
            wr_raw(w, (const char *)&c, 1);
        }
    }
    wr_raw(w, "\"", 1);
}
void wr_u64(ekc_wr_t *w, uint64_t v) {
    char tmp[20];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char out[20];
    for (int k = 0; k < i; k++) out[k] = tmp[i - 1 - k];
    wr_raw(w, out, (size_t)i);
}
void wr_i64(ekc_wr_t *w, int64_t v) {
    if (v < 0) {
        wr_raw(w, "-", 1);
        wr_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        wr_u64(w, (uint64_t)v);
    }
}
void wr_hex(ekc_wr_t *w, const uint8_t *b, size_t n) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char e[2] = {hex[b[i] >> 4], hex[b[i] & 15]};
        wr_raw(w, e, 2);
    }
}
void wr_hex64(ekc_wr_t *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
    wr_hex(w, b, 8);
}
void wr_hex32(ekc_wr_t *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_hex(w, b, 4);
}
const char *wr_cstr(ekc_wr_t *w) {
    if (w->cap == 0) return "";
    if (w->len >= w->cap) w->len = w->cap - 1;
    w->buf[w->len] = 0;
    return w->buf;
}

/* ---- JSON reader ---- */
/* ROJ-WIRE-1: well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_ok(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { need = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { need = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { need = 3; cp = c & 0x07; }
        else return false;
        if (i + need >= n) return false;
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || (p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/* jsmn is lenient about the structure JSON requires: it accepts a comma before '}' or ']', a
 * leading comma, two values with nothing between them ("a""b", 1 2, {}{}), two separators in a row
 * ("k"::v), a colon after a value that is no key ("k":[]:1), and raw control characters inside
 * strings, all of which a strict parser rejects (ROJ-WIRE-1). This scan checks the RFC 8259
 * structure itself, as a pushdown automaton over the bytes (strings and primitives skipped; their
 * insides are checked by jsmn's escape check and primitive_ok), before jsmn tokenises. Nesting
 * deeper than JSON_MAX_DEPTH is refused, as serde_json (the oracle's parser) refuses it. */
#define JSON_MAX_DEPTH 127
typedef enum { EXPECT_VALUE, EXPECT_VALUE_OR_CLOSE, EXPECT_KEY, EXPECT_KEY_OR_CLOSE, EXPECT_COLON,
               EXPECT_COMMA_OR_CLOSE, EXPECT_END } json_expect_t;
static int hex4(const char *s);

/* The length of the escape that starts at js[i] (a backslash), 0 if it is not JSON. A \u escape of
 * a UTF-16 surrogate must be a high one followed by a low one (ROJ-WIRE-1: RFC 8259 section 8.2
 * leaves a lone surrogate to the parser, and serde_json, the oracle's parser, refuses it). */
static size_t escape_len(const char *js, size_t i, size_t len) {
    if (i + 1 >= len) return 0;
    switch (js[i + 1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return 2;
    case 'u': break;
    default: return 0;
    }
    if (i + 6 > len) return 0;
    int v = hex4(js + i + 2);
    if (v < 0 || (v >= 0xdc00 && v <= 0xdfff)) return 0; /* not hex, or a lone low surrogate */
    if (v < 0xd800 || v > 0xdbff) return 6;
    if (i + 12 > len || js[i + 6] != '\\' || js[i + 7] != 'u') return 0;
    int lo = hex4(js + i + 8);
    return lo >= 0xdc00 && lo <= 0xdfff ? 12 : 0;
}

static bool structure_ok(const char *js, size_t len) {
    uint64_t is_object[2] = {0, 0}; /* one bit per open container: 1 = object, 0 = array */
    int depth = 0;
    json_expect_t want = EXPECT_VALUE;
#define TOP_IS_OBJECT() ((is_object[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1u)
#define AFTER_VALUE() (want = depth == 0 ? EXPECT_END : EXPECT_COMMA_OR_CLOSE)
    for (size_t i = 0; i < len; i++) {
        char c = js[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        bool value_wanted = want == EXPECT_VALUE || want == EXPECT_VALUE_OR_CLOSE;
        switch (c) {
        case '{':
        case '[':
            if (!value_wanted || depth == JSON_MAX_DEPTH) return false;
            if (c == '{') is_object[depth / 64] |= (uint64_t)1 << (depth % 64);
            else is_object[depth / 64] &= ~((uint64_t)1 << (depth % 64));
            depth++;
            want = c == '{' ? EXPECT_KEY_OR_CLOSE : EXPECT_VALUE_OR_CLOSE;
            break;
        case '}':
        case ']':
            if (depth == 0 || (bool)TOP_IS_OBJECT() != (c == '}')) return false;
            if (want != EXPECT_COMMA_OR_CLOSE && want != (c == '}' ? EXPECT_KEY_OR_CLOSE : EXPECT_VALUE_OR_CLOSE))
                return false;
            depth--;
            AFTER_VALUE();
            break;
        case ':':
            if (want != EXPECT_COLON) return false;
            want = EXPECT_VALUE;
            break;
        case ',':
            if (want != EXPECT_COMMA_OR_CLOSE) return false;
            want = TOP_IS_OBJECT() ? EXPECT_KEY : EXPECT_VALUE;
            break;
        case '"': {
            bool key = want == EXPECT_KEY || want == EXPECT_KEY_OR_CLOSE;
            if (!key && !value_wanted) return false;
            for (i++; i < len && js[i] != '"'; i++) {
                if ((unsigned char)js[i] < 0x20) return false; /* raw control character */
                if (js[i] == '\\') {
                    size_t escape = escape_len(js, i, len);
                    if (escape == 0) return false;
                    i += escape - 1;
                }
            }
            if (i >= len) return false; /* unterminated */
            if (key) want = EXPECT_COLON;
            else AFTER_VALUE();
            break;
        }
        default: /* a primitive: it runs to the next delimiter (primitive_ok checks its text) */
            if (!value_wanted) return false;
            while (i + 1 < len && js[i + 1] != ',' && js[i + 1] != ':' && js[i + 1] != '}' && js[i + 1] != ']' &&
                   js[i + 1] != ' ' && js[i + 1] != '\n' && js[i + 1] != '\r' && js[i + 1] != '\t' &&
                   js[i + 1] != '"' && js[i + 1] != '{' && js[i + 1] != '[')
                i++;
            AFTER_VALUE();
        }
    }
#undef TOP_IS_OBJECT
#undef AFTER_VALUE
    return want == EXPECT_END;
}

/* jsmn (even with JSMN_STRICT) checks only a primitive's first character, so "-", "tru", "nul",
 * "01", "1." and "1e" pass it (ROJ-WIRE-1). A primitive is true, false, null or a number:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
/* ROJ-WIRE-5 (I-JSON): a number must not round to infinity as a double. The smallest magnitude that
 * does is 2^1024 - 2^970 (half an ulp above DBL_MAX, rounding to even), whose digits are below;
 * s is a grammatical JSON number. Decides on the decimal exponent of the first significant digit,
 * and on the digits when that exponent is 308. */
static const char DOUBLE_OVERFLOW_DIGITS[] =
    "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775"
    "8720709633028641669288791094655554785194040263065748867150582068190890200070838367627385484581"
    "7711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699"
    "508093042880177904174497792";
static bool number_in_double_range(const char *s, size_t n) {
    size_t i = s[0] == '-' ? 1 : 0, int_start = i;
    while (i < n && is_digit(s[i])) i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i])) i++;
        frac_end = i;
    }
    long exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool neg = s[++i] == '-';
        if (s[i] == '+' || s[i] == '-') i++;
        for (; i < n; i++) exp10 = exp10 < 100000 ? exp10 * 10 + (s[i] - '0') : exp10; /* saturate */
        if (neg) exp10 = -exp10;
    }
    /* position of the first significant digit, and its decimal exponent */
    size_t first = int_start;
    while (first < frac_end && (s[first] == '0' || s[first] == '.')) first++;
    if (first >= frac_end) return true; /* zero */
    long lead = first < int_end ? (long)(int_end - first) - 1 : -(long)(first - frac_start) - 1;
    long magnitude = lead + exp10;
    if (magnitude != 308) return magnitude < 308;
    /* same exponent as the threshold: compare the significant digits with its digits */
    size_t d = 0;
    for (size_t k = first; k < frac_end; k++) {
        if (s[k] == '.') continue;
        char want = DOUBLE_OVERFLOW_DIGITS[d];
        if (want == 0) return false; /* all of the threshold's digits matched: at or above it */
        if (s[k] != want) return s[k] < want;
        d++;
    }
    return DOUBLE_OVERFLOW_DIGITS[d] != 0; /* a proper prefix is below (the threshold ends in 2) */
}

static bool primitive_ok(const char *s, size_t n) {
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0) ||
        (n == 4 && memcmp(s, "null", 4) == 0))
        return true;
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') i++;
    else if (i < n && is_digit(s[i])) while (i < n && is_digit(s[i])) i++;
    else return false;
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i])) return false;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) return false;
        while (i < n && is_digit(s[i])) i++;
    }
    return i == n && number_in_double_range(s, n);
}

/* The next code point of a JSON string token's raw text s[*k..n) (escapes decoded, a surrogate
 * pair joined); -1 at the end. The text was checked by utf8_ok and structure_ok. */
static int32_t str_next_cp(const char *s, size_t n, size_t *k) {
    if (*k >= n) return -1;
    unsigned char c = (unsigned char)s[*k];
    if (c == '\\' && *k + 1 < n) {
        char e = s[*k + 1];
        *k += 2;
        switch (e) {
        case 'b': return '\b';
        case 'f': return '\f';
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'u': {
            if (*k + 4 > n) return -1;
            int32_t v = hex4(s + *k);
            *k += 4;
            if (v >= 0xd800 && v <= 0xdbff) { /* structure_ok: a low surrogate's \u escape follows */
                int32_t lo = hex4(s + *k + 2);
                *k += 6;
                return 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
            }
            return v;
        }
        default: return (unsigned char)e; /* " \ / */
        }
    }
    size_t need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
    int32_t cp = need == 0 ? c : need == 1 ? (c & 0x1f) : need == 2 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i <= need && *k + i < n; i++) cp = (cp << 6) | (s[*k + i] & 0x3f);
    *k += need + 1;
    return cp;
}

/* Do string tokens a and b hold the same string once decoded ("ty" and "\u0074y" do)? */
static bool str_tok_same(const char *js, const jsmntok_t *a, const jsmntok_t *b) {
    size_t ka = 0, kb = 0, na = (size_t)(a->end - a->start), nb = (size_t)(b->end - b->start);
    for (;;) {
        int32_t ca = str_next_cp(js + a->start, na, &ka), cb = str_next_cp(js + b->start, nb, &kb);
        if (ca != cb) return false;
        if (ca < 0) return true;
    }
}

bool json_parse(ekc_json_t *j, const char *js, size_t len, jsmntok_t *tok, int cap) {
    if (!utf8_ok((const uint8_t *)js, len) || !structure_ok(js, len)) return false;
    jsmn_parser p;
    jsmn_init(&p);
    int r = jsmn_parse(&p, js, len, tok, (unsigned)cap);
    if (r < 1 || tok[0].type != JSMN_OBJECT) return false;
    /* jsmn accepts trailing garbage after the root in some cases: the root must span the input
     * (up to trailing whitespace). */
    size_t end = (size_t)tok[0].end;
    for (size_t i = end; i < len; i++)
        if (js[i] != ' ' && js[i] != '\n' && js[i] != '\r' && js[i] != '\t') return false;
    for (size_t i = 0; i < (size_t)tok[0].start; i++)
        if (js[i] != ' ' && js[i] != '\n' && js[i] != '\r' && js[i] != '\t') return false;
    j->js = js;
    j->len = len;
    j->tok = tok;
    j->ntok = r;
    /* jsmn accepts some malformed objects (e.g. {"id"}): every object member must be a string key
     * with exactly one value, and every subtree must lie within the tokens. */
    for (int t = 0; t < r; t++) {
        if (tok[t].type == JSMN_PRIMITIVE && !primitive_ok(js + tok[t].start, (size_t)(tok[t].end - tok[t].start)))
            return false;
        if (tok[t].type != JSMN_OBJECT && tok[t].type != JSMN_ARRAY) continue;
        int c = t + 1;
        for (int k = 0; k < tok[t].size; k++) {
            if (c >= r) return false;
            if (tok[t].type == JSMN_OBJECT) {
                if (tok[c].type != JSMN_STRING || tok[c].size != 1 || c + 1 >= r) return false;
                /* ROJ-WIRE-5 / CTL-WIRE-2: no two members of one object share a name, in every
                 * object, read or not (earlier keys are found by walking the object again) */
                for (int e = t + 1, m = 0; m < k; m++) {
                    if (str_tok_same(js, &tok[e], &tok[c])) return false;
                    e = json_skip(j, e + 1);
                }
                c++;
            }
            c = json_skip(j, c);
            if (c > r) return false;
        }
    }
    return json_skip(j, 0) == r;
}
int json_skip(const ekc_json_t *j, int i) {
    int pending = 1;
    while (pending > 0 && i < j->ntok) {
        const jsmntok_t *t = &j->tok[i];
        pending--;
        if (t->type == JSMN_OBJECT) pending += 2 * t->size;
        else if (t->type == JSMN_ARRAY) pending += t->size;
        i++;
    }
    return i;
}
static bool tok_eq(const ekc_json_t *j, int i, const char *s) {
    size_t n = strlen(s);
    const jsmntok_t *t = &j->tok[i];
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           memcmp(j->js + t->start, s, n) == 0;
}
int json_get(const ekc_json_t *j, int obj, const char *key) {
    if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSMN_OBJECT) return -1;
    int i = obj + 1;
    for (int k = 0; k < j->tok[obj].size; k++) {
        if (tok_eq(j, i, key)) return i + 1;
        i = json_skip(j, i + 1);
    }
    return -1;
}
bool json_keys_ok(const ekc_json_t *j, int obj, const char *const *allowed) {
    if (obj < 0 || j->tok[obj].type != JSMN_OBJECT) return false;
    uint32_t seen = 0;
    int i = obj + 1;
    for (int k = 0; k < j->tok[obj].size; k++) {
        int a = 0;
        for (; allowed[a]; a++)
            if (tok_eq(j, i, allowed[a])) break;
        if (!allowed[a]) return false;
        if (seen & (1u << a)) return false; /* ROJ-WIRE-5 duplicate member */
        seen |= 1u << a;
        i = json_skip(j, i + 1);
    }
    return true;
}
bool json_is_str(const ekc_json_t *j, int i) { return i >= 0 && j->tok[i].type == JSMN_STRING; }
bool json_str_eq(const ekc_json_t *j, int i, const char *s) { return i >= 0 && tok_eq(j, i, s); }
static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes a string token (escapes included) into out; only ASCII results are accepted, which is
 * all any EK-ROJ or control string may hold (patterns of ROJ-ENV-4, ROJ-PROP-2, ...). */
bool json_str(const ekc_json_t *j, int i, char *out, size_t max) {
    if (!json_is_str(j, i)) return false;
    size_t n = (size_t)(j->tok[i].end - j->tok[i].start), w = 0;
    const char *s = j->js + j->tok[i].start;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c >= 0x80) return false;
        if (c == '\\') {
            if (k + 1 >= n) return false;
            char e = s[++k];
            switch (e) {
            case '"': case '\\': case '/': c = (unsigned char)e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (k + 4 >= n) return false;
                int v = hex4(s + k + 1);
                if (v < 0 || v >= 0x80) return false;
                c = (unsigned char)v;
                k += 4;
                break;
            }
            default: return false;
            }
        }
        if (w >= max) return false;
        out[w++] = (char)c;
    }
    out[w] = 0;
    return strlen(out) == w; /* no embedded NUL */
}

bool json_int(const ekc_json_t *j, int i, int64_t lo, int64_t hi, int64_t *out) {
    if (i < 0 || j->tok[i].type != JSMN_PRIMITIVE) return false;
    const char *s = j->js + j->tok[i].start;
    size_t n = (size_t)(j->tok[i].end - j->tok[i].start);
    bool neg = false;
    size_t k = 0;
    if (n > 0 && s[0] == '-') {
        neg = true;
        k = 1;
    }
    if (k >= n || n - k > 19) return false;
    if (s[k] == '0' && n - k > 1) return false;
    uint64_t v = 0;
    for (; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') return false;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return false;
    int64_t r = neg ? -(int64_t)v : (int64_t)v;
    if (neg && v == 0) return false; /* "-0" */
    if (r < lo || r > hi) return false;
    *out = r;
    return true;
}
bool json_bool(const ekc_json_t *j, int i, bool *out) {
    if (i < 0 || j->tok[i].type != JSMN_PRIMITIVE) return false;
    const char *s = j->js + j->tok[i].start;
    size_t n = (size_t)(j->tok[i].end - j->tok[i].start);
    if (n == 4 && memcmp(s, "true", 4) == 0) { *out = true; return true; }
    if (n == 5 && memcmp(s, "false", 5) == 0) { *out = false; return true; }
    return false;
}

/* ---- validators ---- */
static bool lower_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool valid_node_id(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > EKC_NODE_ID_MAX || !lower_digit(s[0])) return false;
    for (size_t i = 1; i < n; i++)
        if (!lower_digit(s[i]) && s[i] != '-') return false;
    return true;
}
bool valid_key(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > EKC_KEY_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_digit(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-') return false;
    return true;
}
bool valid_value(const char *s) {
    size_t n = strlen(s);
    if (n > EKC_VALUE_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!lower_digit(c) && !(c >= 'A' && c <= 'Z') && c != '_' && c != '.' && c != ':' &&
            c != '+' && c != '-')
            return false;
    }
    return true;
}
bool valid_cap_token(const char *s, size_t n) {
    if (n < 1 || n > 16) return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_digit(s[i]) && s[i] != '-') return false;
    return true;
}
bool valid_lang(const char *s) { return valid_cap_token(s, strlen(s)); }

/* ---- invalid input ---- */
const char *const ekc_invalid_names[INV_KIND_COUNT] = {
    "roj_json", "roj_envelope", "roj_payload", "roj_size", "roj_abort_unsupported",
    "roj_commit_voters", "roj_kv_capacity", "roj_member_capacity",
    "kor_length", "kor_type", "kor_source", "kor_event", "kor_hop", "kor_ack",
    "kor_request", "kor_sync", "kor_origin_capacity", "kor_gap_full", "kor_payload",
    "ctl_request",
};
const char *const ekc_invalid_clause[INV_KIND_COUNT] = {
    "ROJ-WIRE-4", "ROJ-ENV-1", "ROJ-ENV-5", "ROJ-WIRE-2", "ROJ-ABORT-1",
    "ROJ-COMMIT-2", "ROJ-KV-2", "ROJ-MEMB-3",
    "KOR-FRAME-3", "KOR-FRAME-1", "KOR-FRAME-2", "KOR-EVT-2", "KOR-GOS-3", "KOR-ACK-1",
    "KOR-REQ-1", "KOR-SYNC-1", "KOR-VV-1", "KOR-GAP-2", "KOR-TYPE-1",
    "CTL-WIRE-3",
};

void node_log(ekc_node_t *n, ekc_log_level_t lvl, const char *msg, const char *clause,
              const char *fields) {
    if (!n->cfg.log) return;
    ekc_log_record_t r = {lvl, msg, clause, fields ? fields : ""};
    n->cfg.log(n->cfg.log_ctx, &r);
}

void note_invalid(ekc_node_t *n, ekc_invalid_kind_t kind, const char *detail) {
    ekc_invalid_counter_t *c = &n->stats.invalid[kind];
    c->count++;
    if (c->logged && n->now_ms - c->last_log_ms < 10000) {
        c->suppressed++;
        return;
    }
    char buf[160];
    ekc_wr_t w;
    wr_init(&w, buf, sizeof buf);
    wr_str(&w, "\"kind\":");
    wr_jstr(&w, ekc_invalid_names[kind]);
    wr_str(&w, ",\"suppressed\":");
    wr_u64(&w, c->suppressed);
    if (detail) {
        wr_str(&w, ",\"detail\":");
        wr_jstr(&w, detail);
    }
    node_log(n, EKC_LOG_INFO, "invalid input dropped", ekc_invalid_clause[kind], wr_cstr(&w));
    c->logged = true;
    c->last_log_ms = n->now_ms;
    c->suppressed = 0;
}

/* ---- outbox: a linear byte area reset whenever the shell has drained it ---- */
uint8_t *out_reserve(ekc_node_t *n, size_t need) {
    if (n->out_count == 0) {
        n->out_bytes_used = 0;
        n->out_head = 0;
        n->out_cursor = 0;
    }
    if (n->out_count >= EKC_OUTBOX_ENTRIES || n->out_bytes_used + need > EKC_OUTBOX_BYTES) {
        n->stats.outbox_dropped++;
        return NULL;
    }
    return n->outbox + n->out_bytes_used;
}
static ekc_outbox_entry_t *out_push(ekc_node_t *n, ekc_channel_t ch, size_t len) {
    uint16_t idx = (uint16_t)((n->out_head + n->out_count) % EKC_OUTBOX_ENTRIES);
    ekc_outbox_entry_t *e = &n->out_entries[idx];
    memset(e, 0, sizeof *e);
    e->channel = (uint8_t)ch;
    e->off = n->out_bytes_used;
    e->len = (uint16_t)len;
    n->out_bytes_used = (uint16_t)(n->out_bytes_used + len);
    n->out_count++;
    return e;
}
void out_commit_to(ekc_node_t *n, ekc_channel_t ch, ekc_addr_t dst, size_t len) {
    ekc_outbox_entry_t *e = out_push(n, ch, len);
    e->to_mask = 0;
    e->dst = dst;
}
void out_commit_mask(ekc_node_t *n, ekc_channel_t ch, ekc_member_mask_t mask, size_t len) {
    ekc_outbox_entry_t *e = out_push(n, ch, len);
    e->to_mask = 1;
    e->dst_mask = mask;
}

bool ekc_next_output(ekc_node_t *n, ekc_output_t *out) {
    while (n->out_count > 0) {
        ekc_outbox_entry_t *e = &n->out_entries[n->out_head];
        if (!e->to_mask) {
            out->channel = (ekc_channel_t)e->channel;
            out->dst = e->dst;
            out->data = n->outbox + e->off;
            out->len = e->len;
            n->out_head = (uint16_t)((n->out_head + 1) % EKC_OUTBOX_ENTRIES);
            n->out_count--;
            n->out_cursor = 0;
        } else {
            while (n->out_cursor < EKC_MAX_MEMBERS &&
                   !((e->dst_mask >> n->out_cursor) & 1u &&
                     n->members[n->out_cursor].addr_known))
                n->out_cursor++;
            if (n->out_cursor >= EKC_MAX_MEMBERS) {
                n->out_head = (uint16_t)((n->out_head + 1) % EKC_OUTBOX_ENTRIES);
                n->out_count--;
                n->out_cursor = 0;
                continue;
            }
            const ekc_member_t *m = &n->members[n->out_cursor++];
            out->channel = (ekc_channel_t)e->channel;
            out->dst.ipv4 = m->ipv4;
            out->dst.port = e->channel == EKC_CH_KOR ? m->kor_port : m->roj_port;
            out->data = n->outbox + e->off;
            out->len = e->len;
            if (out->dst.port == 0) continue;
        }
        switch (out->channel) {
        case EKC_CH_ROJ: n->stats.tx_roj++; break;
        case EKC_CH_KOR: n->stats.tx_kor++; break;
        case EKC_CH_CTL: n->stats.tx_ctl++; break;
        }
        return true;
    }
    return false;
}

/* ---- PRNG ---- */
uint64_t rng_next(ekc_node_t *n) {
    uint64_t z = (n->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
uint32_t rng_range(ekc_node_t *n, uint32_t lo, uint32_t hi) {
    if (hi <= lo) return lo;
    return lo + (uint32_t)(rng_next(n) % ((uint64_t)hi - lo + 1));
}

/* ---- members ---- */
int member_find(const ekc_node_t *n, const char *id) {
    for (int i = 0; i < n->member_count; i++)
        if (strcmp(n->members[i].node_id, id) == 0) return i;
    return -1;
}
int member_find_module(const ekc_node_t *n, uint8_t module_id) {
    for (int i = 1; i < n->member_count; i++)
        if (n->members[i].module_id == module_id) return i;
    return -1;
}
int member_add(ekc_node_t *n, const char *id) {
    int i = member_find(n, id);
    if (i >= 0) return i;
    if (n->member_count >= EKC_MAX_MEMBERS) {
        note_invalid(n, INV_ROJ_MEMBER_CAPACITY, id);
        return -1;
    }
    i = n->member_count++;
    memset(&n->members[i], 0, sizeof n->members[i]);
    strcpy(n->members[i].node_id, id);
    char buf[64];
    ekc_wr_t w;
    wr_init(&w, buf, sizeof buf);
    wr_str(&w, "\"member\":");
    wr_jstr(&w, id);
    node_log(n, EKC_LOG_INFO, "member learned", "ROJ-MEMB-1", wr_cstr(&w));
    return i;
}
bool member_live(const ekc_node_t *n, int idx) {
    if (idx == 0) return true;
    const ekc_member_t *m = &n->members[idx];
    return m->heard && n->now_ms - m->last_heard_ms <= n->cfg.liveness_ms;
}
int members_sorted(const ekc_node_t *n, ekc_member_mask_t mask, uint8_t out[EKC_MAX_MEMBERS]) {
    int c = 0;
    for (int i = 0; i < n->member_count; i++) {
        if (!((mask >> i) & 1u)) continue;
        int k = c++;
        while (k > 0 && strcmp(n->members[out[k - 1]].node_id, n->members[i].node_id) > 0) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = (uint8_t)i;
    }
    return c;
}

/* ---- KV (sorted by key) ---- */
ekc_kv_entry_t *kv_find(ekc_node_t *n, const char *key) {
    for (int i = 0; i < n->kv_count; i++)
        if (strcmp(n->kv[i].key, key) == 0) return &n->kv[i];
    return NULL;
}
uint32_t kv_version(const ekc_node_t *n, const char *key) {
    const ekc_kv_entry_t *e = ekc_kv_get(n, key);
    return e ? e->version : 0;
}
int kv_apply(ekc_node_t *n, const char *key, const char *value, uint32_t version) {
    ekc_kv_entry_t *e = kv_find(n, key);
    if (e) {
        if (version > e->version || (version == e->version && strcmp(value, e->value) > 0)) {
            strcpy(e->value, value);
            e->version = version;
            return 1;
        }
        return 0;
    }
    if (n->kv_count >= EKC_MAX_KEYS) return -1;
    int pos = n->kv_count;
    while (pos > 0 && strcmp(n->kv[pos - 1].key, key) > 0) {
        n->kv[pos] = n->kv[pos - 1];
        pos--;
    }
    memset(&n->kv[pos], 0, sizeof n->kv[pos]);
    strcpy(n->kv[pos].key, key);
    strcpy(n->kv[pos].value, value);
    n->kv[pos].version = version;
    n->kv_count++;
    return 1;
}
const ekc_kv_entry_t *ekc_kv_get(const ekc_node_t *n, const char *key) {
    for (int i = 0; i < n->kv_count; i++)
        if (strcmp(n->kv[i].key, key) == 0) return &n->kv[i];
    return NULL;
}
uint8_t ekc_kv_count(const ekc_node_t *n) { return n->kv_count; }
