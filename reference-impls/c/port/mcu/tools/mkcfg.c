/*
 * mkcfg.c - host tool: turns the node environment (control.md section 1, EKC_*) plus the firmware's
 * link settings into the boot configuration blob the firmware reads at MCU_CFG_ADDR.
 *
 *   mkcfg OUT.bin      reads the environment, writes OUT.bin, exit 0
 *                      on a malformed value: one line on stderr, exit 2 (CTL-IMG-1, CTL-ENV-16)
 *
 * Firmware-only variables (ignored by other nodes under CTL-ENV-16):
 *   EKC_MCU_MAC          aa:bb:cc:dd:ee:ff (default 02:ec:<the four bytes of EKC_BIND_IP>)
 *   EKC_MCU_PREFIX       subnet prefix length of EKC_BIND_IP, 8..30 (default 24)
 *   EKC_MCU_SEMIHOSTING  1 (default) if the emulator serves semihosting, else 0
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcu_config.h"

static mcu_config_t cfg;

static void die(const char *var, const char *why)
{
    fprintf(stderr, "ekc-mcu: invalid configuration: %s: %s\n", var, why);
    exit(2);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

static unsigned long long parse_uint(const char *var, const char *s, unsigned long long max)
{
    if (!s[0]) {
        die(var, "empty");
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            die(var, "not a decimal integer");
        }
    }
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v > max) {
        die(var, "out of range");
    }
    return v;
}

static unsigned long long uint_env(const char *var, unsigned long long def, unsigned long long min,
                                   unsigned long long max)
{
    const char *s = env(var);
    if (!s) {
        return def;
    }
    unsigned long long v = parse_uint(var, s, max);
    if (v < min) {
        die(var, "out of range");
    }
    return v;
}

static int parse_ipv4(const char *s, size_t n, uint32_t *out)
{
    uint32_t ip = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
            v = v * 10u + (unsigned)(s[i++] - '0');
        }
        if (i == start || v > 255) {
            return -1;
        }
        ip = ip << 8 | v;
        parts++;
        if (parts < 4) {
            if (i >= n || s[i] != '.') {
                return -1;
            }
            i++;
        }
    }
    if (i != n) {
        return -1;
    }
    *out = ip;
    return 0;
}

static void copy_name(const char *var, char *dst, size_t cap, const char *s, int node_id)
{
    size_t n = strlen(s);
    if (n < 1 || n > 16 || n >= cap) {
        die(var, "must be 1 to 16 characters");
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && (i > 0 || !node_id));
        if (!ok) {
            die(var, node_id ? "must match ^[a-z0-9][a-z0-9-]{0,15}$" : "must match [a-z0-9-]{1,16}");
        }
    }
    memcpy(dst, s, n + 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkcfg OUT.bin (configuration from EKC_* environment variables)\n");
        return 2;
    }
    cfg.magic = MCU_CFG_MAGIC;
    cfg.version = MCU_CFG_VERSION;
    cfg.length = sizeof cfg;

    const char *s = env("EKC_NODE_ID");
    if (!s) {
        die("EKC_NODE_ID", "required");
    }
    copy_name("EKC_NODE_ID", cfg.node_id, sizeof cfg.node_id, s, 1);
    s = env("EKC_MODULE_ID");
    if (!s) {
        die("EKC_MODULE_ID", "required");
    }
    cfg.module_id = (uint8_t)parse_uint("EKC_MODULE_ID", s, 255);
    if (cfg.module_id == 0) {
        die("EKC_MODULE_ID", "must be 1..255");
    }
    s = env("EKC_BIND_IP");
    if (!s) {
        die("EKC_BIND_IP", "required for the MCU node (the entrypoint passes the container's address)");
    }
    if (parse_ipv4(s, strlen(s), &cfg.ipv4) != 0 || cfg.ipv4 == 0) {
        die("EKC_BIND_IP", "not an IPv4 address");
    }
    unsigned prefix = (unsigned)uint_env("EKC_MCU_PREFIX", 24, 8, 30);
    cfg.netmask = 0xFFFFFFFFu << (32 - prefix);

    cfg.roj_port = (uint16_t)uint_env("EKC_ROJ_PORT", 9990, 1, 65535);
    cfg.kor_port = (uint16_t)uint_env("EKC_KOR_PORT", 9991, 1, 65535);
    /* The control channel only opens when EKC_CTL_PORT is set (control.md, section 3 preamble). */
    cfg.ctl_port = (uint16_t)uint_env("EKC_CTL_PORT", 0, 1, 65535);

    s = env("EKC_MDNS");
    if (s && strcmp(s, "0") != 0 && strcmp(s, "1") != 0) {
        die("EKC_MDNS", "must be 0 or 1");
    }
    cfg.mdns = !s || strcmp(s, "1") == 0;
    cfg.announce_ms = (uint32_t)uint_env("EKC_ANNOUNCE_MS", 0, 1, 600000);
    cfg.liveness_ms = (uint32_t)uint_env("EKC_LIVENESS_MS", 0, 1, 3600000);
    cfg.anti_entropy_ms = (uint32_t)uint_env("EKC_ANTI_ENTROPY_MS", 0, 1, 3600000);
    cfg.proposal_timeout_ms = (uint32_t)uint_env("EKC_PROPOSAL_TIMEOUT_MS", 0, 100, 60000);
    cfg.tick_ms = (uint32_t)uint_env("EKC_TICK_MS", 10, 1, 1000);
    s = env("EKC_SEED");
    if (s) {
        cfg.seed = parse_uint("EKC_SEED", s, UINT64_MAX);
        cfg.seed_set = 1;
    }
    s = env("EKC_LOG");
    if (s && strcmp(s, "json") != 0 && strcmp(s, "text") != 0) {
        die("EKC_LOG", "must be json or text");
    }
    cfg.log_mode = (s && strcmp(s, "text") == 0) ? MCU_LOG_TEXT : MCU_LOG_JSON;
    copy_name("EKC_LANG_TAG", cfg.lang, sizeof cfg.lang, env("EKC_LANG_TAG") ? env("EKC_LANG_TAG") : "mcu", 0);

    cfg.semihosting = (uint8_t)uint_env("EKC_MCU_SEMIHOSTING", 1, 0, 1);
    s = env("EKC_STATE_DIR");
    if (s) {
        int n = snprintf(cfg.state_path, sizeof cfg.state_path, "%s/mcu-state.bin", s);
        if (n < 0 || (size_t)n >= sizeof cfg.state_path) {
            die("EKC_STATE_DIR", "path too long for the firmware (max 48 characters)");
        }
        if (!cfg.semihosting) {
            die("EKC_STATE_DIR", "persistence needs EKC_MCU_SEMIHOSTING=1");
        }
        cfg.persist = 1;
    }

    s = env("EKC_PEERS");
    if (s) {
        const char *p = s;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            const char *colon = memchr(p, ':', n);
            size_t ipn = colon ? (size_t)(colon - p) : n;
            uint32_t ip;
            if (cfg.static_peer_count >= MCU_CFG_MAX_PEERS) {
                die("EKC_PEERS", "more than 32 peers");
            }
            if (parse_ipv4(p, ipn, &ip) != 0) {
                die("EKC_PEERS", "entry is not IPv4 or IPv4:port");
            }
            uint16_t port = 0;
            if (colon) {
                char buf[8];
                size_t pn = n - ipn - 1;
                if (pn == 0 || pn >= sizeof buf) {
                    die("EKC_PEERS", "bad port");
                }
                memcpy(buf, colon + 1, pn);
                buf[pn] = 0;
                port = (uint16_t)parse_uint("EKC_PEERS", buf, 65535);
                if (port == 0) {
                    die("EKC_PEERS", "bad port");
                }
            }
            cfg.static_peer_ip[cfg.static_peer_count] = ip;
            cfg.static_peer_port[cfg.static_peer_count] = port;
            cfg.static_peer_count++;
            if (!end) {
                break;
            }
            p = end + 1;
            if (!*p) {
                die("EKC_PEERS", "trailing comma");
            }
        }
    }

    s = env("EKC_MCU_MAC");
    if (s) {
        unsigned m[6];
        char tail;
        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6 ||
            (m[0] & 1u)) {
            die("EKC_MCU_MAC", "must be a unicast aa:bb:cc:dd:ee:ff");
        }
        for (int i = 0; i < 6; i++) {
            cfg.mac[i] = (uint8_t)m[i];
        }
    } else {
        /* Locally administered, derived from the IP so every MCU on a network differs. */
        uint8_t d[6] = {0x02, 0xEC, (uint8_t)(cfg.ipv4 >> 24), (uint8_t)(cfg.ipv4 >> 16),
                        (uint8_t)(cfg.ipv4 >> 8), (uint8_t)cfg.ipv4};
        memcpy(cfg.mac, d, 6);
    }

    FILE *rnd = fopen("/dev/urandom", "rb");
    if (!rnd || fread(&cfg.boot_entropy, sizeof cfg.boot_entropy, 1, rnd) != 1) {
        fprintf(stderr, "ekc-mcu: cannot read /dev/urandom for the boot entropy\n");
        return 1;
    }
    fclose(rnd);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cfg.epoch_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    cfg.crc32 = mcu_crc32(&cfg, offsetof(mcu_config_t, crc32));

    FILE *out = fopen(argv[1], "wb");
    if (!out || fwrite(&cfg, sizeof cfg, 1, out) != 1 || fclose(out) != 0) {
        fprintf(stderr, "ekc-mcu: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
