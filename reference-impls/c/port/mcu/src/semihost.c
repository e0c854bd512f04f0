/* semihost.c - the handful of semihosting operations the firmware needs (ARM IHI 0006 numbering). */
#include "semihost.h"

#include <string.h>

int semihost_enabled;

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_SEEK = 0x0A,
    SYS_RENAME = 0x0F,
    SYS_EXIT = 0x18,
};

static long sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (long)(int32_t)r0;
}

int sh_open(const char *path, int mode)
{
    if (!semihost_enabled) {
        return -1;
    }
    const uint32_t args[3] = {(uint32_t)(uintptr_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    long r = sh_call(SYS_OPEN, args);
    return r < 0 ? -1 : (int)r;
}

int sh_close(int fd)
{
    const uint32_t args[1] = {(uint32_t)fd};
    return sh_call(SYS_CLOSE, args) == 0 ? 0 : -1;
}

long sh_write(int fd, const void *buf, size_t len)
{
    const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    long not_written = sh_call(SYS_WRITE, args);
    return not_written < 0 ? -1 : (long)len - not_written;
}

long sh_read(int fd, void *buf, size_t len)
{
    const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    long not_read = sh_call(SYS_READ, args);
    if (not_read < 0 || (size_t)not_read > len) {
        return -1;
    }
    return (long)len - not_read;
}

int sh_seek(int fd, size_t pos)
{
    const uint32_t args[2] = {(uint32_t)fd, (uint32_t)pos};
    return sh_call(SYS_SEEK, args) == 0 ? 0 : -1;
}

int sh_rename(const char *from, const char *to)
{
    const uint32_t args[4] = {(uint32_t)(uintptr_t)from, (uint32_t)strlen(from),
                              (uint32_t)(uintptr_t)to, (uint32_t)strlen(to)};
    return sh_call(SYS_RENAME, args) == 0 ? 0 : -1;
}

void sh_exit(int failure)
{
    if (semihost_enabled) {
        /* ADP_Stopped_ApplicationExit (QEMU exits 0) or ADP_Stopped_RunTimeErrorUnknown (exit 1). */
        (void)sh_call(SYS_EXIT, (const void *)(uintptr_t)(failure ? 0x20024u : 0x20026u));
    }
    for (;;) {
        __asm volatile("cpsid i\n\twfi");
    }
}
