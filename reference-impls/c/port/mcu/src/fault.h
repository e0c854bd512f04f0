/* fault.h - last-resort error path: log one line on the UART and stop the emulator with failure. */
#ifndef MCU_FAULT_H
#define MCU_FAULT_H

#include <stdint.h>

__attribute__((noreturn)) void fault_stop(const char *why);
/* Deepest main-stack use since reset, in bytes (from the paint pattern; startup.c). */
uint32_t stack_peak_bytes(void);

#endif
