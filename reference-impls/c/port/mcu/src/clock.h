/*
 * clock.h - monotonic time and idle accounting. Time comes from a free-running 32-bit hardware
 * counter (CMSDK TIMER0 at SYSCLK), extended to 64 bits on every read, so it stays right even when
 * timer interrupts are late or coalesced (under QEMU, when the host deschedules the emulator,
 * counting SysTick interrupts lost about 30 % of wall time). SysTick only wakes the CPU, once per
 * core tick (EKC_TICK_MS); frames wake it through the NIC interrupt.
 */
#ifndef MCU_CLOCK_H
#define MCU_CLOCK_H

#include <stdint.h>

void clock_init(uint32_t wake_ms); /* SysTick wake-up period */
uint64_t clock_us(void); /* microseconds since boot */
uint64_t clock_ms(void);
/* Set by every SysTick interrupt: time to call the core's tick. */
int clock_tick_due(void);
void clock_tick_clear(void);
/* Sleeps (WFI) until the next interrupt; the time spent asleep is added to the idle total. Call
 * with interrupts masked (see clock.c). */
void clock_idle_until_irq(void);
uint64_t clock_idle_us(void);

#endif
