/* uart.h - polled transmit on the CMSDK UART0: the node's stdout (CTL-LOG-1 lines). */
#ifndef MCU_UART_H
#define MCU_UART_H

#include <stddef.h>

void uart_init(void);
void uart_write(const char *s, size_t len);
void uart_puts(const char *s);

#endif
