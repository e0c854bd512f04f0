/*
 * clock.h - monotonic time from SysTick (1 ms interrupt at SYSCLK, sub-millisecond from the counter)
 * plus the idle accounting used to report emulated CPU load.
 */
#ifndef MCU_CLOCK_H
#define MCU_CLOCK_H

#include <stdint.h>

void clock_init(void);
uint64_t clock_us(void); /* microseconds since boot */
uint64_t clock_ms(void);
/* Sleeps (WFI) until the next interrupt; the time spent asleep is added to the idle total. */
void clock_idle_until_irq(void);
uint64_t clock_idle_us(void);

#endif
