/*
 * startup.c - Cortex-M4F reset path: vector table, .data copy, .bss clear, FPU enable, then main().
 * Faults print the fault registers on the UART log and stop the emulator with a failure status
 * (semihosting), so a firmware crash ends the node visibly instead of hanging it.
 */
#include <stdint.h>

#include "board.h"
#include "fault.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_top,
    __stack_limit;

#define STACK_PAINT 0xC0FFEE11u
extern int main(void);
void systick_handler(void);
void eth_irq_handler(void);

void reset_handler(void);
static void default_handler(void);
static void hardfault_handler(void);

__attribute__((noreturn)) void reset_handler(void)
{
    /* Hard-float ABI: CP10/CP11 full access before any compiler-generated FPU instruction. */
    REG32(SCB_CPACR) |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");

    const uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0;
    }
    /* Paint the unused stack (below this frame, minus a margin) to measure its peak use later. */
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__stack_limit; p < sp - 16;) {
        *p++ = STACK_PAINT;
    }
    (void)main();
    fault_stop("main returned");
}

uint32_t stack_peak_bytes(void)
{
    const uint32_t *p = &__stack_limit;
    while (p < &__stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)p);
}

static void default_handler(void) { fault_stop("unexpected interrupt"); }

static void hardfault_report(void) { fault_stop("hard fault"); }

/* A stack overflow ran SP off the bottom of SRAM: reload the top of the stack before reporting
 * (the node stops anyway), so the report itself cannot fault again. */
__attribute__((naked)) static void hardfault_handler(void)
{
    __asm volatile("ldr r0, =__stack_top\n\t"
                   "msr msp, r0\n\t"
                   "b %0" ::"i"(hardfault_report));
}

#define VECTOR(fn) ((uintptr_t)(fn))

/* 16 system exceptions + 32 external interrupts (the AN386 uses lines 0..31). */
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16 + 32] = {
    [0] = (uintptr_t)&__stack_top,
    [1] = VECTOR(reset_handler),
    [2] = VECTOR(default_handler),   /* NMI */
    [3] = VECTOR(hardfault_handler), /* HardFault */
    [4] = VECTOR(hardfault_handler), /* MemManage */
    [5] = VECTOR(hardfault_handler), /* BusFault */
    [6] = VECTOR(hardfault_handler), /* UsageFault */
    [11] = VECTOR(default_handler),  /* SVCall */
    [12] = VECTOR(default_handler),  /* DebugMonitor */
    [14] = VECTOR(default_handler),  /* PendSV */
    [15] = VECTOR(systick_handler),
    [16 + LAN9118_IRQN] = VECTOR(eth_irq_handler),
};
