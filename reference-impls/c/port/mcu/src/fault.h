/* fault.h - last-resort error path: log one line on the UART and stop the emulator with failure. */
#ifndef MCU_FAULT_H
#define MCU_FAULT_H

__attribute__((noreturn)) void fault_stop(const char *why);

#endif
