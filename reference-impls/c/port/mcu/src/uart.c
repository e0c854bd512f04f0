/* uart.c - CMSDK APB UART0 transmit-only driver (polled; the log is the only user). */
#include "uart.h"

#include "board.h"

void uart_init(void)
{
    REG32(UART0_BASE + UART_BAUDDIV) = BOARD_SYSCLK_HZ / 115200u;
    REG32(UART0_BASE + UART_CTRL) = 1u; /* TX enable */
}

void uart_write(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (REG32(UART0_BASE + UART_STATE) & 1u) {
        }
        REG32(UART0_BASE + UART_DATA) = (uint8_t)s[i];
    }
}

void uart_puts(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    uart_write(s, n);
}
