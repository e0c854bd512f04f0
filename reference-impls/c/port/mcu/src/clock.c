/* clock.c - SysTick time base and WFI idle accounting. */
#include "clock.h"

#include "board.h"

#define TICKS_PER_MS (BOARD_SYSCLK_HZ / 1000u)

static volatile uint32_t ms_lo, ms_hi;
static uint64_t idle_us;

void systick_handler(void)
{
    uint32_t lo = ms_lo + 1u;
    if (lo == 0) {
        ms_hi++;
    }
    ms_lo = lo;
}

void clock_init(void)
{
    REG32(SYST_RVR) = TICKS_PER_MS - 1u;
    REG32(SYST_CVR) = 0;
    REG32(SYST_CSR) = 0x7u; /* processor clock, interrupt, enable */
}

uint64_t clock_us(void)
{
    uint32_t saved = cpu_irq_save();
    uint32_t lo = ms_lo, hi = ms_hi;
    uint32_t cvr = REG32(SYST_CVR);
    /* A wrap that happened after the disable has not been counted yet. */
    if (REG32(SCB_ICSR) & ICSR_PENDSTSET) {
        cvr = REG32(SYST_CVR);
        if (++lo == 0) {
            hi++;
        }
    }
    cpu_irq_restore(saved);
    uint64_t ms = ((uint64_t)hi << 32) | lo;
    uint32_t sub = (TICKS_PER_MS - 1u - cvr) / (BOARD_SYSCLK_HZ / 1000000u);
    return ms * 1000u + sub;
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
