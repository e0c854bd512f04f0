/* fmt.h - bounded text building without stdio (newlib's printf family is too big and may allocate). */
#ifndef MCU_FMT_H
#define MCU_FMT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap, len; /* len stops at cap - 1; `truncated` records an overflow */
    int truncated;
} fmt_t;

void fmt_init(fmt_t *f, char *buf, size_t cap);
void fmt_str(fmt_t *f, const char *s);
void fmt_mem(fmt_t *f, const char *s, size_t n);
void fmt_u64(fmt_t *f, uint64_t v);
void fmt_i64(fmt_t *f, int64_t v);
void fmt_ipv4(fmt_t *f, uint32_t ip);
void fmt_json_str(fmt_t *f, const char *s); /* quoted and escaped */
const char *fmt_cstr(fmt_t *f);             /* NUL-terminated view */

#endif
