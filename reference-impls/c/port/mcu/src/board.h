/*
 * board.h - addresses of the emulated board (QEMU mps2-an386: Cortex-M4F, CMSDK peripherals, SMSC
 * LAN9118) and of the Cortex-M4 system registers the firmware touches. Nothing else in the firmware
 * hard-codes an address, so a port to the real STM32G474 + SPI MAC replaces this file and the drivers.
 */
#ifndef MCU_BOARD_H
#define MCU_BOARD_H

#include <stdint.h>

#define BOARD_SYSCLK_HZ 25000000u /* MPS2 FPGA image clock; QEMU models SysTick from it */

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA 0x00u
#define UART_STATE 0x04u /* bit0 TX buffer full */
#define UART_CTRL 0x08u  /* bit0 TX enable */
#define UART_BAUDDIV 0x10u

/* CMSDK APB TIMER0: 32-bit down counter at PCLK (= SYSCLK) */
#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL 0x00u
#define TIMER_VALUE 0x04u
#define TIMER_RELOAD 0x08u

/* SMSC LAN9118 on the static memory bus, interrupt line 13 */
#define LAN9118_BASE 0x40200000u
#define LAN9118_IRQN 13u

/* Cortex-M4 system control space */
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define NVIC_ISER0 0xE000E100u
#define SCB_ICSR 0xE000ED04u
#define SCB_VTOR 0xE000ED08u
#define SCB_AIRCR 0xE000ED0Cu
#define SCB_CPACR 0xE000ED88u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_BFAR 0xE000ED38u

#define ICSR_PENDSTSET (1u << 26)

static inline void cpu_irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void cpu_irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline uint32_t cpu_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void cpu_irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}
static inline void cpu_wfi(void) { __asm volatile("dsb\n\twfi" ::: "memory"); }

#endif
