/*
 * mcu_config.h - the boot configuration blob: everything a node takes from EKC_* (control.md
 * section 1) plus the link settings, placed at MCU_CFG_ADDR without rebuilding the image (QEMU
 * `-device loader,file=cfg.bin,addr=0x7f800`; on a G474 the last flash page, written at
 * provisioning). Shared verbatim by the firmware and the host tool that builds the blob
 * (tools/mkcfg.c), so both sides agree on one layout: little-endian, naturally aligned, no implicit
 * padding (checked by the static assertions below on both compilers), CRC-32 (IEEE) over every
 * byte before `crc32`.
 */
#ifndef MCU_CONFIG_H
#define MCU_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define MCU_CFG_ADDR 0x0007F800u
#define MCU_CFG_MAGIC 0x4D434B45u /* "EKCM" little-endian */
#define MCU_CFG_VERSION 1u
#define MCU_CFG_MAX_PEERS 32u
#define MCU_CFG_PATH_MAX 64u

enum { MCU_LOG_JSON = 0, MCU_LOG_TEXT = 1 };

typedef struct {
    uint32_t magic;   /* MCU_CFG_MAGIC */
    uint16_t version; /* MCU_CFG_VERSION */
    uint16_t length;  /* sizeof(mcu_config_t) */

    char node_id[20]; /* CTL-ENV-1, NUL-terminated (<= 16 chars) */
    char lang[20];    /* CTL-ENV-15, NUL-terminated (<= 16 chars) */
    uint8_t module_id; /* CTL-ENV-2 */
    uint8_t mdns;      /* CTL-ENV-5: 1 run responder and browser */
    uint8_t log_mode;  /* CTL-ENV-13: MCU_LOG_JSON or MCU_LOG_TEXT */
    uint8_t persist;   /* CTL-ENV-14 set: keep state through semihosting at state_path */
    uint8_t semihosting; /* the emulator serves semihosting calls (needed for persist and exit) */
    uint8_t seed_set;  /* CTL-ENV-11 given; otherwise the core derives it from node_id */
    uint8_t static_peer_count; /* CTL-ENV-6 */
    uint8_t reserved0;

    uint8_t mac[6];
    uint16_t reserved1;
    uint32_t ipv4;    /* CTL-ENV-3, host byte order */
    uint32_t netmask; /* host byte order */

    uint16_t roj_port, kor_port, ctl_port; /* CTL-ENV-4; ctl_port 0 = control disabled */
    uint16_t reserved2;

    uint32_t announce_ms;         /* CTL-ENV-7, 0 = default */
    uint32_t liveness_ms;         /* CTL-ENV-8 */
    uint32_t anti_entropy_ms;     /* CTL-ENV-9 */
    uint32_t proposal_timeout_ms; /* CTL-ENV-10 */
    uint32_t tick_ms;             /* CTL-ENV-12 */
    uint32_t boot_entropy;        /* drawn by the host per boot: ROJ-ANN-1 incarnation */

    uint64_t seed;            /* CTL-ENV-11 */
    uint64_t epoch_us;        /* host wall clock at boot (an RTC set at power-up) for timestamp_us */

    uint32_t static_peer_ip[MCU_CFG_MAX_PEERS];   /* host byte order */
    uint16_t static_peer_port[MCU_CFG_MAX_PEERS]; /* 0 = the default EK-ROJ port */

    char state_path[MCU_CFG_PATH_MAX]; /* semihosting file for the persisted blob */

    uint32_t reserved3;
    uint32_t crc32; /* IEEE CRC-32 over all bytes before this field */
} mcu_config_t;


_Static_assert(sizeof(mcu_config_t) == 384, "mcu_config_t layout changed: bump MCU_CFG_VERSION");
_Static_assert(offsetof(mcu_config_t, seed) == 104, "seed must stay 8-aligned at 104");
_Static_assert(offsetof(mcu_config_t, crc32) == sizeof(mcu_config_t) - 4, "crc32 must be last");


/* IEEE 802.3 CRC-32 (reflected, poly 0xEDB88320), as zlib's crc32(). */
static inline uint32_t mcu_crc32(const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

#endif
