/* clock.c - see clock.h. */
#include "clock.h"

#include "board.h"

#define TICKS_PER_US (BOARD_SYSCLK_HZ / 1000000u)

static uint64_t ticks_total; /* counter ticks since clock_init, extended from 32 bits */
static uint32_t last_value;
static uint64_t idle_us;

static volatile int tick_flag = 1; /* the first loop iteration ticks */

/* The core's tick: wakes the idle loop every EKC_TICK_MS; time is read from the counter. */
void systick_handler(void) { tick_flag = 1; }

int clock_tick_due(void) { return tick_flag; }

void clock_tick_clear(void) { tick_flag = 0; }

void clock_init(uint32_t wake_ms)
{
    REG32(TIMER0_BASE + TIMER_CTRL) = 0;
    REG32(TIMER0_BASE + TIMER_RELOAD) = 0xFFFFFFFFu;
    REG32(TIMER0_BASE + TIMER_VALUE) = 0xFFFFFFFFu;
    REG32(TIMER0_BASE + TIMER_CTRL) = 1u; /* enable, no interrupt */
    last_value = REG32(TIMER0_BASE + TIMER_VALUE);

    /* SysTick reload is 24 bits: at most 0xFFFFFF ticks (671 ms at 25 MHz). */
    uint32_t reload = wake_ms * (BOARD_SYSCLK_HZ / 1000u);
    if (reload == 0 || reload > 0x1000000u) {
        reload = 0x1000000u;
    }
    REG32(SYST_RVR) = reload - 1u;
    REG32(SYST_CVR) = 0;
    REG32(SYST_CSR) = 0x7u; /* processor clock, interrupt, enable */
}

uint64_t clock_us(void)
{
    uint32_t saved = cpu_irq_save();
    uint32_t v = REG32(TIMER0_BASE + TIMER_VALUE);
    /* Down counter: elapsed = last - now modulo 2^32. Correct while reads are < 171 s apart; the
     * main loop reads at least every millisecond. */
    ticks_total += (uint32_t)(last_value - v);
    last_value = v;
    uint64_t t = ticks_total;
    cpu_irq_restore(saved);
    return t / TICKS_PER_US;
}

uint64_t clock_ms(void) { return clock_us() / 1000u; }

void clock_idle_until_irq(void)
{
    /* Called with interrupts masked: WFI still wakes on a pending interrupt, which then runs once
     * the mask is lifted, so an event between the caller's check and the WFI is never slept on. */
    uint64_t t0 = clock_us();
    cpu_wfi();
    idle_us += clock_us() - t0;
}

uint64_t clock_idle_us(void) { return idle_us; }
