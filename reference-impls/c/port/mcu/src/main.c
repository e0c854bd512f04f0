/*
 * main.c - the firmware's I/O shell around the unchanged sans-IO C core: reads the boot
 * configuration blob, brings up the clock, UART log, LAN9118 and IPv4 stack, runs the core's mDNS
 * responder/browser, and moves datagrams between the stack and ekc_node_t in a single-threaded
 * loop that sleeps (WFI) whenever nothing is due. All state is static; nothing allocates.
 */
#include <string.h>

#include "board.h"
#include "clock.h"
#include "ekc_core.h"
#include "ekc_mdns.h"
#include "fault.h"
#include "fmt.h"
#include "lan9118.h"
#include "log.h"
#include "mcu_config.h"
#include "net.h"
#include "semihost.h"
#include "uart.h"

#define LOAD_REPORT_MS 5000u

static ekc_node_t node;
static ekc_mdns_t mdns;
static mcu_config_t cfg; /* validated copy of the blob */
static char fields[256];

/* ---- persistence through semihosting (CTL-PERSIST-1) ---- */

static char state_tmp[MCU_CFG_PATH_MAX + 8];
static int save_fd = -1, load_fd = -1;

static int persist_save(void *ctx, size_t offset, const uint8_t *chunk, size_t len, bool last)
{
    (void)ctx;
    if (offset == 0) {
        if (save_fd >= 0) {
            (void)sh_close(save_fd);
        }
        save_fd = sh_open(state_tmp, SH_MODE_WB);
    }
    if (save_fd < 0) {
        return -1;
    }
    if (len && sh_write(save_fd, chunk, len) != (long)len) {
        (void)sh_close(save_fd);
        save_fd = -1;
        return -1;
    }
    if (last) {
        int ok = sh_close(save_fd) == 0;
        save_fd = -1;
        /* Atomic replace: the host's rename() over the previous blob. */
        if (!ok || sh_rename(state_tmp, cfg.state_path) != 0) {
            return -1;
        }
    }
    return 0;
}

static long persist_load(void *ctx, size_t offset, uint8_t *buf, size_t cap)
{
    (void)ctx;
    if (offset == 0 && load_fd < 0) {
        load_fd = sh_open(cfg.state_path, SH_MODE_RB);
        if (load_fd < 0) {
            return -1;
        }
    }
    if (load_fd < 0 || sh_seek(load_fd, offset) != 0) {
        return -1;
    }
    long n = sh_read(load_fd, buf, cap);
    if (n <= 0) {
        (void)sh_close(load_fd);
        load_fd = -1;
    }
    return n;
}

/* ---- clock hook: wall clock set at boot (epoch_us) plus uptime ---- */

static uint64_t wall_clock_us(void *ctx)
{
    (void)ctx;
    return cfg.epoch_us + clock_us();
}

/* ---- datagram dispatch ---- */

static void on_udp(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
                   const uint8_t *data, size_t len)
{
    uint64_t now = clock_ms();
    ekc_addr_t src = {.ipv4 = src_ip, .port = src_port};
    if (dst_port == EKC_MDNS_PORT) {
        if (cfg.mdns) {
            ekc_mdns_on_packet(&mdns, now, src, data, len);
        }
        return;
    }
    if (dst_ip != cfg.ipv4) {
        return; /* EK-ROJ/KOR/control are unicast only (ROJ-WIRE-3) */
    }
    if (dst_port == cfg.roj_port) {
        ekc_on_datagram(&node, now, EKC_CH_ROJ, src, data, len);
    } else if (dst_port == cfg.kor_port) {
        ekc_on_datagram(&node, now, EKC_CH_KOR, src, data, len);
    } else if (cfg.ctl_port && dst_port == cfg.ctl_port) {
        ekc_on_datagram(&node, now, EKC_CH_CTL, src, data, len);
    }
}

static uint16_t channel_port(ekc_channel_t ch)
{
    switch (ch) {
    case EKC_CH_ROJ: return cfg.roj_port;
    case EKC_CH_KOR: return cfg.kor_port;
    default: return cfg.ctl_port;
    }
}

static void drain(uint64_t now)
{
    ekc_output_t out;
    ekc_peer_info_t peer;
    if (cfg.mdns) {
        while (ekc_mdns_next_peer(&mdns, &peer)) {
            fmt_t f;
            fmt_init(&f, fields, sizeof fields);
            fmt_str(&f, "\"member\":");
            fmt_json_str(&f, peer.node_id);
            fmt_str(&f, ",\"ip\":\"");
            fmt_ipv4(&f, peer.ipv4);
            fmt_str(&f, "\"");
            log_line(EKC_LOG_INFO, "peer resolved by mDNS", "ROJ-DISC-3", fmt_cstr(&f));
            ekc_on_peer(&node, now, &peer);
        }
        while (ekc_mdns_next_output(&mdns, &out)) {
            (void)net_udp_send(now, out.dst.ipv4, EKC_MDNS_PORT, out.dst.port, out.data, out.len);
        }
    }
    while (ekc_next_output(&node, &out)) {
        (void)net_udp_send(now, out.dst.ipv4, channel_port(out.channel), out.dst.port, out.data,
                           out.len);
    }
}

/* ---- configuration ---- */

static int valid_node_id(const char *s)
{
    size_t n = strlen(s); /* load_config() NUL-terminated it */
    if (n < 1 || n > EKC_NODE_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static const char *load_config(void)
{
    const mcu_config_t *blob = (const mcu_config_t *)(uintptr_t)MCU_CFG_ADDR;
    if (blob->magic != MCU_CFG_MAGIC) {
        return "no configuration blob at 0x7f800 (bad magic)";
    }
    if (blob->version != MCU_CFG_VERSION || blob->length != sizeof(mcu_config_t)) {
        return "configuration blob version/length mismatch";
    }
    if (mcu_crc32(blob, offsetof(mcu_config_t, crc32)) != blob->crc32) {
        return "configuration blob CRC mismatch";
    }
    memcpy(&cfg, blob, sizeof cfg);
    cfg.node_id[sizeof cfg.node_id - 1] = 0;
    cfg.lang[sizeof cfg.lang - 1] = 0;
    cfg.state_path[sizeof cfg.state_path - 1] = 0;
    if (!valid_node_id(cfg.node_id)) {
        return "EKC_NODE_ID invalid";
    }
    if (cfg.module_id == 0) {
        return "EKC_MODULE_ID invalid";
    }
    if (cfg.ipv4 == 0 || cfg.netmask == 0 || cfg.roj_port == 0 || cfg.kor_port == 0) {
        return "address or port invalid";
    }
    if (cfg.static_peer_count > MCU_CFG_MAX_PEERS || cfg.static_peer_count > EKC_MAX_STATIC_PEERS) {
        return "too many static peers";
    }
    if (cfg.persist && (!cfg.semihosting || cfg.state_path[0] == 0)) {
        return "persistence needs semihosting and a state path";
    }
    return NULL;
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s) {
        h ^= (uint8_t)*s++;
        h *= 0x100000001b3ull;
    }
    return h;
}

static void start_core(uint64_t now)
{
    ekc_config_t c;
    ekc_config_defaults(&c);
    memcpy(c.node_id, cfg.node_id, sizeof c.node_id - 1);
    c.node_id[sizeof c.node_id - 1] = 0;
    c.module_id = cfg.module_id;
    if (cfg.lang[0]) {
        strncpy(c.lang, cfg.lang, sizeof c.lang - 1);
        c.lang[sizeof c.lang - 1] = 0;
    }
    /* Claims describe the firmware, not this boot (CTL-CAP-5): it implements mDNS even when
     * EKC_MDNS=0, and it can persist whenever the emulator serves semihosting, so the suite can
     * select the persistence tests from `caps`; the hooks below decide what this boot does. */
    c.caps |= EKC_CAP_MDNS;
    if (cfg.semihosting) {
        c.caps |= EKC_CAP_PERSIST;
    }
    if (cfg.persist) {
        c.persist.save = persist_save;
        c.persist.load = persist_load;
        fmt_t f;
        fmt_init(&f, state_tmp, sizeof state_tmp);
        fmt_str(&f, cfg.state_path);
        fmt_str(&f, ".tmp");
    }
    c.bind_ipv4 = cfg.ipv4;
    c.roj_port = cfg.roj_port;
    c.kor_port = cfg.kor_port;
    c.ctl_port = cfg.ctl_port;
    c.announce_ms = cfg.announce_ms;
    c.liveness_ms = cfg.liveness_ms;
    c.anti_entropy_ms = cfg.anti_entropy_ms;
    c.proposal_timeout_ms = cfg.proposal_timeout_ms;
    c.seed = cfg.seed_set ? cfg.seed : fnv1a64(cfg.node_id); /* CTL-ENV-11 default */
    /* ROJ-ANN-1: the host draws fresh entropy per boot (a G474 would read its RNG peripheral). */
    c.incarnation = cfg.boot_entropy ^ (uint32_t)cfg.epoch_us;
    for (unsigned i = 0; i < cfg.static_peer_count; i++) {
        c.static_peers[i].ipv4 = cfg.static_peer_ip[i];
        c.static_peers[i].port = cfg.static_peer_port[i] ? cfg.static_peer_port[i] : cfg.roj_port;
    }
    c.static_peer_count = cfg.static_peer_count;
    c.clock_us = wall_clock_us;
    c.log = log_core_hook;
    if (ekc_init(&node, &c) != EKC_OK) {
        fault_stop("core rejected the configuration (ekc_init)");
    }
    if (cfg.mdns) {
        ekc_mdns_config_t m;
        memset(&m, 0, sizeof m);
        memcpy(m.node_id, c.node_id, sizeof m.node_id);
        m.module_id = c.module_id;
        memcpy(m.lang, c.lang, sizeof m.lang);
        strncpy(m.version, EKC_IMPL_VERSION, sizeof m.version - 1);
        m.caps = node.cfg.caps; /* CTL-CAP-4: TXT caps == ANNOUNCE caps == `caps` */
        m.ipv4 = cfg.ipv4;
        m.roj_port = cfg.roj_port;
        m.kor_port = cfg.kor_port;
        m.ctl_port = cfg.ctl_port;
        m.browse = true;
        if (!ekc_mdns_init(&mdns, &m)) {
            fault_stop("mDNS rejected the configuration (ekc_mdns_init)");
        }
    }
    (void)now;
}

/* ---- reporting ---- */

static void log_boot(uint64_t now)
{
    fmt_t f;
    fmt_init(&f, fields, sizeof fields);
    fmt_str(&f, "\"ip\":\"");
    fmt_ipv4(&f, cfg.ipv4);
    fmt_str(&f, "\",\"mac\":\"");
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        char b[3] = {hex[cfg.mac[i] >> 4], hex[cfg.mac[i] & 15], i < 5 ? ':' : 0};
        fmt_mem(&f, b, i < 5 ? 3u : 2u);
    }
    fmt_str(&f, "\",\"module_id\":");
    fmt_u64(&f, cfg.module_id);
    fmt_str(&f, ",\"boot_ms\":");
    fmt_u64(&f, now);
    fmt_str(&f, ",\"node_bytes\":");
    fmt_u64(&f, sizeof node);
    fmt_str(&f, ",\"mdns_bytes\":");
    fmt_u64(&f, sizeof mdns);
    log_line(EKC_LOG_INFO, "mcu firmware up", NULL, fmt_cstr(&f));
}

static void report_load(uint64_t now_us, uint64_t *last_us, uint64_t *last_idle_us)
{
    uint64_t idle = clock_idle_us();
    uint64_t span = now_us - *last_us;
    if (span < (uint64_t)LOAD_REPORT_MS * 1000u) {
        return;
    }
    uint64_t idle_span = idle - *last_idle_us;
    const net_stats_t *s = net_stats();
    fmt_t f;
    fmt_init(&f, fields, sizeof fields);
    fmt_str(&f, "\"busy_permille\":");
    fmt_u64(&f, idle_span >= span ? 0 : (span - idle_span) * 1000u / span);
    fmt_str(&f, ",\"window_ms\":");
    fmt_u64(&f, span / 1000u);
    fmt_str(&f, ",\"rx_frames\":");
    fmt_u64(&f, s->rx_frames);
    fmt_str(&f, ",\"tx_frames\":");
    fmt_u64(&f, s->tx_frames);
    fmt_str(&f, ",\"tx_dropped\":");
    fmt_u64(&f, s->tx_dropped);
    fmt_str(&f, ",\"arp_queue_drops\":");
    fmt_u64(&f, s->arp_queue_drops);
    fmt_str(&f, ",\"no_route\":");
    fmt_u64(&f, s->no_route);
    fmt_str(&f, ",\"stack_peak\":");
    fmt_u64(&f, stack_peak_bytes());
    log_line(EKC_LOG_DEBUG, "mcu load", NULL, fmt_cstr(&f));
    *last_us = now_us;
    *last_idle_us = idle;
}

#ifdef MCU_PROOF_STACK_OVERFLOW
/* Test-only build (tools/fault-proofs.sh): unbounded recursion must end in a reported fault. */
static volatile uint32_t proof_sink;
static uint32_t proof_recurse(uint32_t n)
{
    volatile uint8_t frame[128];
    frame[0] = (uint8_t)n;
    proof_sink = frame[0];
    if (n == UINT32_MAX) { /* never: 128 B frames exhaust 8 KiB long before */
        return 0;
    }
    return proof_recurse(n + 1) + frame[0];
}
#endif

int main(void)
{
    uart_init();
    const char *err = load_config();
    clock_init(err == NULL && cfg.tick_ms ? cfg.tick_ms : 10u);
    /* An unusable blob cannot say whether semihosting is there: try it so QEMU exits with a
     * failure status (without a host the breakpoint faults and the core locks up: stopped too). */
    semihost_enabled = err != NULL || cfg.semihosting;
    if (err) {
        log_line(EKC_LOG_ERROR, err, "CTL-IMG-1", "");
        fault_stop("invalid configuration");
    }
    log_setup(cfg.node_id, cfg.log_mode == MCU_LOG_TEXT);
#ifdef MCU_PROOF_STACK_OVERFLOW
    log_line(EKC_LOG_INFO, "stack overflow proof: recursing", NULL, "");
    proof_sink = proof_recurse(0);
#endif
    if (net_init(cfg.mac, cfg.ipv4, cfg.netmask, cfg.mdns ? EKC_MDNS_GROUP : 0u, on_udp) != 0) {
        fault_stop("LAN9118 not found or not ready");
    }
    uint64_t now = clock_ms();
    start_core(now);
    log_boot(now);

    uint64_t last_us = clock_us(), last_idle = clock_idle_us();
    for (;;) {
        now = clock_ms();
        eth_irq_clear();
        (void)net_poll(now);
        if (clock_tick_due()) { /* every EKC_TICK_MS from SysTick (CTL-ENV-12) */
            clock_tick_clear();
            ekc_tick(&node, now);
            if (cfg.mdns) {
                ekc_mdns_tick(&mdns, now);
            }
        }
        drain(now);
        report_load(clock_us(), &last_us, &last_idle);

        uint32_t saved = cpu_irq_save();
        if (!eth_irq_pending_peek() && !clock_tick_due()) {
            clock_idle_until_irq();
        }
        cpu_irq_restore(saved);
    }
}
