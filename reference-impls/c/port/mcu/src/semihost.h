/*
 * semihost.h - ARM semihosting calls (bkpt 0xAB) used for the node's durable storage and for
 * stopping the emulator. Under QEMU (`-semihosting-config enable=on,target=native`) the files live
 * on the host, so the container keeps them across restarts. On a real G474 this file is replaced by
 * a flash-page store behind the same persist hooks.
 */
#ifndef MCU_SEMIHOST_H
#define MCU_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

extern int semihost_enabled; /* set from the boot configuration; a bkpt without a host faults */

enum { SH_MODE_RB = 1, SH_MODE_WB = 5 };

int sh_open(const char *path, int mode);                 /* handle or -1 */
int sh_close(int fd);                                    /* 0 or -1 */
long sh_write(int fd, const void *buf, size_t len);      /* bytes written or -1 */
long sh_read(int fd, void *buf, size_t len);             /* bytes read (0 at end) or -1 */
int sh_seek(int fd, size_t pos);                         /* 0 or -1 */
int sh_rename(const char *from, const char *to);         /* 0 or -1 */
__attribute__((noreturn)) void sh_exit(int failure);

#endif
