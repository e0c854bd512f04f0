/* log.c - see log.h. */
#include "log.h"

#include "clock.h"
#include "fmt.h"
#include "uart.h"

static const char *log_node = "mcu";
static int log_text;
static char line[512];

static const char *level_name(ekc_log_level_t l)
{
    switch (l) {
    case EKC_LOG_DEBUG: return "debug";
    case EKC_LOG_INFO: return "info";
    case EKC_LOG_WARN: return "warn";
    default: return "error";
    }
}

void log_setup(const char *node_id, int text_mode)
{
    log_node = node_id;
    log_text = text_mode;
}

const char *log_node_name(void) { return log_node; }

void log_line(ekc_log_level_t level, const char *msg, const char *clause, const char *fields)
{
    fmt_t f;
    fmt_init(&f, line, sizeof line - 1); /* room for the newline */
    if (log_text) {
        fmt_u64(&f, clock_ms());
        fmt_str(&f, " ");
        fmt_str(&f, level_name(level));
        fmt_str(&f, " ");
        fmt_str(&f, log_node);
        fmt_str(&f, " ");
        fmt_str(&f, msg);
        if (clause) {
            fmt_str(&f, " [");
            fmt_str(&f, clause);
            fmt_str(&f, "]");
        }
        if (fields && fields[0]) {
            fmt_str(&f, " ");
            fmt_str(&f, fields);
        }
    } else {
        fmt_str(&f, "{\"ts\":");
        fmt_u64(&f, clock_ms());
        fmt_str(&f, ",\"level\":\"");
        fmt_str(&f, level_name(level));
        fmt_str(&f, "\",\"node\":");
        fmt_json_str(&f, log_node);
        fmt_str(&f, ",\"msg\":");
        fmt_json_str(&f, msg);
        if (clause) {
            fmt_str(&f, ",\"clause\":");
            fmt_json_str(&f, clause);
        }
        if (fields && fields[0]) {
            fmt_str(&f, ",");
            fmt_str(&f, fields);
        }
        if (f.truncated) {
            /* Never emit a broken JSON line: drop the extra members instead. */
            fmt_init(&f, line, sizeof line - 1);
            fmt_str(&f, "{\"ts\":");
            fmt_u64(&f, clock_ms());
            fmt_str(&f, ",\"level\":\"");
            fmt_str(&f, level_name(level));
            fmt_str(&f, "\",\"node\":");
            fmt_json_str(&f, log_node);
            fmt_str(&f, ",\"msg\":\"log record truncated\",\"truncated\":true");
        }
        fmt_str(&f, "}");
    }
    line[f.len] = '\n';
    uart_write(line, f.len + 1);
}

void log_core_hook(void *ctx, const ekc_log_record_t *rec)
{
    (void)ctx;
    log_line(rec->level, rec->msg, rec->clause, rec->fields);
}
