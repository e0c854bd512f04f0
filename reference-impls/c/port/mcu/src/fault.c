/* fault.c - see fault.h. */
#include "fault.h"

#include "board.h"
#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "semihost.h"
#include "uart.h"

void fault_stop(const char *why)
{
    cpu_irq_disable();
    char buf[200];
    fmt_t f;
    fmt_init(&f, buf, sizeof buf);
    fmt_str(&f, "{\"ts\":");
    fmt_u64(&f, clock_ms());
    fmt_str(&f, ",\"level\":\"error\",\"node\":");
    fmt_json_str(&f, log_node_name());
    fmt_str(&f, ",\"msg\":");
    fmt_json_str(&f, why);
    fmt_str(&f, ",\"cfsr\":");
    fmt_u64(&f, REG32(SCB_CFSR));
    fmt_str(&f, ",\"hfsr\":");
    fmt_u64(&f, REG32(SCB_HFSR));
    fmt_str(&f, "}\n");
    uart_write(buf, f.len);
    sh_exit(1);
}
