/* fmt.c - see fmt.h. */
#include "fmt.h"

void fmt_init(fmt_t *f, char *buf, size_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    f->truncated = 0;
    if (cap) {
        buf[0] = 0;
    }
}

static void put(fmt_t *f, char c)
{
    if (f->len + 1 < f->cap) {
        f->buf[f->len++] = c;
        f->buf[f->len] = 0;
    } else {
        f->truncated = 1;
    }
}

void fmt_mem(fmt_t *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        put(f, s[i]);
    }
}

void fmt_str(fmt_t *f, const char *s)
{
    while (*s) {
        put(f, *s++);
    }
}

void fmt_u64(fmt_t *f, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        put(f, tmp[--n]);
    }
}

void fmt_i64(fmt_t *f, int64_t v)
{
    if (v < 0) {
        put(f, '-');
        fmt_u64(f, (uint64_t)0 - (uint64_t)v);
    } else {
        fmt_u64(f, (uint64_t)v);
    }
}

void fmt_ipv4(fmt_t *f, uint32_t ip)
{
    for (int i = 3; i >= 0; i--) {
        fmt_u64(f, (ip >> (8 * i)) & 0xFFu);
        if (i) {
            put(f, '.');
        }
    }
}

void fmt_json_str(fmt_t *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(f, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put(f, '\\');
            put(f, (char)c);
        } else if (c < 0x20) {
            fmt_str(f, "\\u00");
            put(f, hex[c >> 4]);
            put(f, hex[c & 15]);
        } else {
            put(f, (char)c);
        }
    }
    put(f, '"');
}

const char *fmt_cstr(fmt_t *f) { return f->cap ? f->buf : ""; }
