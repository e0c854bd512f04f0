/*
 * main.c - the POSIX shell of the C reference node: reads the environment (control.md CTL-ENV-*),
 * opens the UDP sockets (ROJ, KOR, CTL, mDNS 5353 with a multicast join), runs a select() loop that
 * feeds the sans-IO core and its mDNS module, sends what they queue, writes JSON log lines to stdout
 * (CTL-LOG-1), keeps the persistence blob under EKC_STATE_DIR and stops on SIGTERM (CTL-IMG-3).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ekc_core.h"
#include "ekc_mdns.h"

static ekc_node_t node;
static ekc_mdns_t mdns;
static volatile sig_atomic_t stop_requested;
static uint64_t start_mono_ms;
static int log_json = 1;
static char state_path[512], state_tmp[512];
static FILE *state_out;

static void die(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "ekc-node: configuration error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_us(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void json_escape(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static const char *level_name(ekc_log_level_t l) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    return names[l];
}

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void log_line(ekc_log_level_t lvl, const char *msg, const char *clause, const char *fields) {
    uint64_t ts = mono_ms() - start_mono_ms;
    if (log_json) {
        /* mono_us: the host's monotonic clock, comparable across the nodes of one machine. */
        printf("{\"ts\":%llu,\"mono_us\":%llu,\"level\":\"%s\",\"node\":", (unsigned long long)ts,
               (unsigned long long)mono_us(), level_name(lvl));
        json_escape(stdout, node.cfg.node_id[0] ? node.cfg.node_id : "?");
        printf(",\"msg\":");
        json_escape(stdout, msg);
        if (clause) {
            printf(",\"clause\":");
            json_escape(stdout, clause);
        }
        if (fields && fields[0]) printf(",%s", fields);
        printf("}\n");
    } else {
        printf("%llu %s %s%s%s%s%s\n", (unsigned long long)ts, level_name(lvl), msg,
               clause ? " [" : "", clause ? clause : "", clause ? "] " : " ", fields ? fields : "");
    }
    fflush(stdout);
}

static void core_log(void *ctx, const ekc_log_record_t *r) {
    (void)ctx;
    log_line(r->level, r->msg, r->clause, r->fields);
}

/* ---- persistence: one file, written to a temp file and renamed on the last chunk ---- */
static int persist_save_cb(void *ctx, size_t offset, const uint8_t *chunk, size_t len, bool last) {
    (void)ctx;
    if (offset == 0) {
        if (state_out) fclose(state_out);
        state_out = fopen(state_tmp, "wb");
        if (!state_out) return -1;
    }
    if (!state_out) return -1;
    if (len && fwrite(chunk, 1, len, state_out) != len) {
        fclose(state_out);
        state_out = NULL;
        return -1;
    }
    if (last) {
        int ok = fflush(state_out) == 0 && fsync(fileno(state_out)) == 0;
        fclose(state_out);
        state_out = NULL;
        if (!ok || rename(state_tmp, state_path) != 0) return -1;
    }
    return 0;
}

static long persist_load_cb(void *ctx, size_t offset, uint8_t *buf, size_t cap) {
    (void)ctx;
    FILE *f = fopen(state_path, "rb");
    if (!f) return -1;
    long r = -1;
    if (fseek(f, (long)offset, SEEK_SET) == 0) r = (long)fread(buf, 1, cap, f);
    fclose(f);
    return r;
}

/* ---- environment (CTL-ENV-*) ---- */
static const char *env(const char *k) {
    const char *v = getenv(k);
    return v;
}

static uint64_t env_uint(const char *k, uint64_t def, uint64_t lo, uint64_t hi) {
    const char *v = env(k);
    if (!v) return def;
    char *end;
    errno = 0;
    if (!*v || *v == '-' || *v == '+') die("%s=%s is not an unsigned integer", k, v);
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end) die("%s=%s is not an unsigned integer", k, v);
    if (x < lo || x > hi) die("%s=%s is out of range", k, v);
    return x;
}

static uint32_t parse_ipv4(const char *k, const char *v) {
    struct in_addr a;
    if (inet_pton(AF_INET, v, &a) != 1) die("%s: '%s' is not an IPv4 address", k, v);
    return ntohl(a.s_addr);
}

static uint32_t first_non_loopback(void) {
    struct ifaddrs *ifa, *i;
    uint32_t ip = 0;
    if (getifaddrs(&ifa) != 0) return 0;
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
        ip = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        break;
    }
    freeifaddrs(ifa);
    return ip;
}

static void configure(ekc_config_t *cfg, int *mdns_on, uint32_t *tick_ms) {
    ekc_config_defaults(cfg);
    const char *id = env("EKC_NODE_ID");
    if (!id) die("EKC_NODE_ID is required%s%s", "", "");
    if (strlen(id) > EKC_NODE_ID_MAX) die("EKC_NODE_ID=%s is longer than 16 characters%s", id, "");
    strcpy(cfg->node_id, id);
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && p != id)))
            die("EKC_NODE_ID=%s must match ^[a-z0-9][a-z0-9-]{0,15}$%s", id, "");
    if (!env("EKC_MODULE_ID")) die("EKC_MODULE_ID is required%s%s", "", "");
    cfg->module_id = (uint8_t)env_uint("EKC_MODULE_ID", 0, 1, 255);
    const char *bip = env("EKC_BIND_IP");
    cfg->bind_ipv4 = bip ? parse_ipv4("EKC_BIND_IP", bip) : first_non_loopback();
    if (!cfg->bind_ipv4) die("EKC_BIND_IP unset and no non-loopback IPv4 address found%s%s", "", "");
    cfg->roj_port = (uint16_t)env_uint("EKC_ROJ_PORT", 9990, 1, 65535);
    cfg->kor_port = (uint16_t)env_uint("EKC_KOR_PORT", 9991, 1, 65535);
    cfg->ctl_port = env("EKC_CTL_PORT") ? (uint16_t)env_uint("EKC_CTL_PORT", 9992, 1, 65535) : 0;
    const char *md = env("EKC_MDNS");
    *mdns_on = 1;
    if (md) {
        if (strcmp(md, "1") == 0) *mdns_on = 1;
        else if (strcmp(md, "0") == 0) *mdns_on = 0;
        else die("EKC_MDNS=%s must be 0 or 1%s", md, "");
    }
    /* Static claims (CTL-CAP-2): this port implements mDNS and persistence whether or not a run
     * switches them on, so the suite can select their tests from `caps`. */
    cfg->caps |= EKC_CAP_MDNS | EKC_CAP_PERSIST;
    const char *peers = env("EKC_PEERS");
    if (peers && *peers) {
        char buf[1024];
        if (strlen(peers) >= sizeof buf) die("EKC_PEERS is too long%s%s", "", "");
        strcpy(buf, peers);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (cfg->static_peer_count >= EKC_MAX_STATIC_PEERS) die("EKC_PEERS lists more than 32 peers%s%s", "", "");
            char *colon = strchr(tok, ':');
            uint16_t port = cfg->roj_port;
            if (colon) {
                *colon = 0;
                char *end;
                long p = strtol(colon + 1, &end, 10);
                if (*end || p < 1 || p > 65535 || colon[1] == 0) die("EKC_PEERS: bad port in '%s:%s'", tok, colon + 1);
                port = (uint16_t)p;
            }
            ekc_addr_t a = {parse_ipv4("EKC_PEERS", tok), port};
            cfg->static_peers[cfg->static_peer_count++] = a;
        }
    }
    cfg->announce_ms = (uint32_t)env_uint("EKC_ANNOUNCE_MS", 1000, 10, 3600000);
    cfg->liveness_ms = (uint32_t)env_uint("EKC_LIVENESS_MS", 3ull * cfg->announce_ms, 10, 36000000);
    cfg->anti_entropy_ms = (uint32_t)env_uint("EKC_ANTI_ENTROPY_MS", 10000, 10, 3600000);
    cfg->proposal_timeout_ms = (uint32_t)env_uint("EKC_PROPOSAL_TIMEOUT_MS", 10000, 100, 60000);
    uint64_t h = 0xcbf29ce484222325ull; /* default seed derived from node_id (CTL-ENV-11) */
    for (const char *p = id; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    cfg->seed = env_uint("EKC_SEED", h, 0, UINT64_MAX);
    *tick_ms = (uint32_t)env_uint("EKC_TICK_MS", 10, 1, 1000);
    const char *lg = env("EKC_LOG");
    if (lg) {
        if (strcmp(lg, "json") == 0) log_json = 1;
        else if (strcmp(lg, "text") == 0) log_json = 0;
        else die("EKC_LOG=%s must be json or text%s", lg, "");
    }
    const char *sd = env("EKC_STATE_DIR");
    if (sd) {
        struct stat st;
        if (stat(sd, &st) != 0 || !S_ISDIR(st.st_mode)) die("EKC_STATE_DIR=%s is not a directory%s", sd, "");
        if (strlen(sd) > 400) die("EKC_STATE_DIR=%s is too long%s", sd, "");
        snprintf(state_path, sizeof state_path, "%s/ekc-state.bin", sd);
        snprintf(state_tmp, sizeof state_tmp, "%s/ekc-state.tmp", sd);
        cfg->persist.save = persist_save_cb;
        cfg->persist.load = persist_load_cb;
    }
    const char *lt = env("EKC_LANG_TAG");
    if (lt) {
        if (strlen(lt) < 1 || strlen(lt) > EKC_LANG_MAX) die("EKC_LANG_TAG=%s must match ^[a-z0-9-]{1,16}$%s", lt, "");
        for (const char *p = lt; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                die("EKC_LANG_TAG=%s must match ^[a-z0-9-]{1,16}$%s", lt, "");
        strcpy(cfg->lang, lt);
    }
    /* Incarnation differs across restarts with high probability (ROJ-ANN-1). */
    uint32_t inc = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &inc, sizeof inc) != (ssize_t)sizeof inc) inc = 0;
        close(fd);
    }
    if (!inc) inc = (uint32_t)(wall_us(NULL) ^ ((uint64_t)getpid() << 16));
    cfg->incarnation = inc;
    cfg->clock_us = wall_us;
    cfg->log = core_log;
}

static int udp_socket(uint32_t ip, uint16_t port, const char *what) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
        perror("socket");
        exit(1);
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(ip);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        char ipbuf[32];
        struct in_addr ia = {htonl(ip)};
        inet_ntop(AF_INET, &ia, ipbuf, sizeof ipbuf);
        fprintf(stderr, "ekc-node: cannot bind %s socket to %s:%u: %s\n", what, ipbuf, port, strerror(errno));
        exit(1);
    }
    return s;
}

static int mdns_socket(uint32_t bind_ip) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    if (s < 0) return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(EKC_MDNS_PORT);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "ekc-node: cannot bind mDNS socket to 0.0.0.0:5353: %s\n", strerror(errno));
        exit(1);
    }
    struct ip_mreq mr;
    mr.imr_multiaddr.s_addr = htonl(EKC_MDNS_GROUP);
    mr.imr_interface.s_addr = htonl(bind_ip);
    if (setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        fprintf(stderr, "ekc-node: cannot join 224.0.0.251 on the EKC_BIND_IP interface: %s\n", strerror(errno));
        exit(1);
    }
    struct in_addr ifa = {htonl(bind_ip)};
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa);
    unsigned char ttl = 255, loop = 1;
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    return s;
}

static void send_to(int s, ekc_addr_t dst, const uint8_t *data, size_t len) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(dst.port);
    a.sin_addr.s_addr = htonl(dst.ipv4);
    (void)sendto(s, data, len, 0, (struct sockaddr *)&a, sizeof a);
}

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int main(void) {
    static ekc_config_t cfg;
    int mdns_on;
    uint32_t tick_ms;
    start_mono_ms = mono_ms();
    setvbuf(stdout, NULL, _IOLBF, 0);
    configure(&cfg, &mdns_on, &tick_ms);
    if (ekc_init(&node, &cfg) != EKC_OK) die("the core rejected the configuration%s%s", "", "");

    int socks[3] = {-1, -1, -1};
    socks[EKC_CH_ROJ] = udp_socket(cfg.bind_ipv4, cfg.roj_port, "EK-ROJ");
    socks[EKC_CH_KOR] = udp_socket(cfg.bind_ipv4, cfg.kor_port, "EK-KOR");
    if (cfg.ctl_port) socks[EKC_CH_CTL] = udp_socket(cfg.bind_ipv4, cfg.ctl_port, "control");
    int ms = -1;
    if (mdns_on) {
        ekc_mdns_config_t mc;
        memset(&mc, 0, sizeof mc);
        strcpy(mc.node_id, cfg.node_id);
        mc.module_id = cfg.module_id;
        strcpy(mc.lang, cfg.lang);
        strcpy(mc.version, EKC_IMPL_VERSION);
        mc.caps = node.cfg.caps; /* CTL-CAP-4: same list everywhere */
        mc.ipv4 = cfg.bind_ipv4;
        mc.roj_port = cfg.roj_port;
        mc.kor_port = cfg.kor_port;
        mc.ctl_port = cfg.ctl_port ? cfg.ctl_port : 9992;
        mc.browse = true;
        if (!ekc_mdns_init(&mdns, &mc)) die("mDNS configuration rejected%s%s", "", "");
        ms = mdns_socket(cfg.bind_ipv4);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    {
        char f[160];
        struct in_addr ia = {htonl(cfg.bind_ipv4)};
        char ipbuf[32];
        inet_ntop(AF_INET, &ia, ipbuf, sizeof ipbuf);
        snprintf(f, sizeof f, "\"ip\":\"%s\",\"roj\":%u,\"kor\":%u,\"ctl\":%u,\"mdns\":%s,\"module_id\":%u",
                 ipbuf, cfg.roj_port, cfg.kor_port, cfg.ctl_port, mdns_on ? "true" : "false", cfg.module_id);
        log_line(EKC_LOG_INFO, "node started", NULL, f);
    }

    static uint8_t buf[2048];
    uint64_t last_tick = 0;
    while (!stop_requested) {
        uint64_t now = mono_ms();
        if (now - last_tick >= tick_ms || last_tick == 0) {
            ekc_tick(&node, now);
            if (ms >= 0) ekc_mdns_tick(&mdns, now);
            last_tick = now;
        }
        ekc_output_t out;
        while (ekc_next_output(&node, &out)) send_to(socks[out.channel], out.dst, out.data, out.len);
        if (ms >= 0) {
            while (ekc_mdns_next_output(&mdns, &out)) send_to(ms, out.dst, out.data, out.len);
            ekc_peer_info_t p;
            while (ekc_mdns_next_peer(&mdns, &p)) {
                char f[96];
                snprintf(f, sizeof f, "\"peer\":\"%s\",\"module_id\":%u", p.node_id, p.module_id);
                log_line(EKC_LOG_INFO, "mDNS instance resolved", "ROJ-DISC-3", f);
                ekc_on_peer(&node, now, &p);
            }
        }
        uint32_t wait = ekc_next_deadline_ms(&node, now);
        if (wait > tick_ms) wait = tick_ms;
        fd_set rd;
        FD_ZERO(&rd);
        int maxfd = -1;
        for (int c = 0; c < 3; c++)
            if (socks[c] >= 0) {
                FD_SET(socks[c], &rd);
                if (socks[c] > maxfd) maxfd = socks[c];
            }
        if (ms >= 0) {
            FD_SET(ms, &rd);
            if (ms > maxfd) maxfd = ms;
        }
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
        int r = select(maxfd + 1, &rd, NULL, NULL, &tv);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("select");
            return 1;
        }
        now = mono_ms();
        for (int c = 0; c < 3; c++) {
            if (socks[c] < 0 || !FD_ISSET(socks[c], &rd)) continue;
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(socks[c], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n < 0) continue;
            ekc_addr_t src = {ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
            ekc_on_datagram(&node, now, (ekc_channel_t)c, src, buf, (size_t)n);
        }
        if (ms >= 0 && FD_ISSET(ms, &rd)) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(ms, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n > 0) {
                ekc_addr_t src = {ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
                ekc_mdns_on_packet(&mdns, now, src, buf, (size_t)n);
            }
        }
    }
    ekc_persist_flush(&node);
    log_line(EKC_LOG_INFO, "stopping on signal", "CTL-IMG-3", "");
    return 0;
}
