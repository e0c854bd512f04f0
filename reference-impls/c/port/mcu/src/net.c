/* net.c - see net.h. */
#include "net.h"

#include <string.h>

#include "lan9118.h"

#define ETH_HDR 14u
#define IP_HDR 20u
#define UDP_HDR 8u
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP 0x0806u
#define FRAME_MAX 1514u
#define ARP_ENTRIES 8u
#define ARP_TTL_MS 60000u
#define ARP_RETRY_MS 250u
#define QUEUE_SLOTS 4u
#define QUEUE_TTL_MS 1000u

typedef struct {
    uint32_t ip;
    uint8_t mac[6];
    uint64_t updated_ms;
    int valid;
} arp_entry_t;

typedef struct {
    int used;
    uint32_t next_hop;
    uint64_t queued_ms, last_request_ms;
    uint16_t len;
    uint8_t frame[FRAME_MAX];
} pending_t;

static uint8_t my_mac[6];
static uint32_t my_ip, my_mask, my_group;
static net_udp_handler_t udp_handler;
static net_stats_t stats;
static arp_entry_t arp[ARP_ENTRIES];
static pending_t pending[QUEUE_SLOTS];
static uint8_t rx_frame[1536];
static uint8_t tx_frame[FRAME_MAX];
static uint16_t ip_ident;

static const uint8_t broadcast_mac[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* ---- checked field access (big-endian wire) ---- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

/* RFC 1071 one's-complement sum, folded later. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += rd16(p + i);
    }
    if (len & 1u) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}
static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xFFFFu) + (sum >> 16);
    }
    return (uint16_t)~sum;
}
static uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
    uint8_t pseudo[12];
    wr32(pseudo, src);
    wr32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = 17;
    wr16(pseudo + 10, (uint16_t)len);
    uint16_t c = csum_fold(csum_add(csum_add(0, pseudo, sizeof pseudo), udp, len));
    return c == 0 ? 0xFFFFu : c;
}

static int on_link(uint32_t ip) { return (ip & my_mask) == (my_ip & my_mask); }

static void multicast_mac(uint32_t group, uint8_t mac[6])
{
    mac[0] = 0x01;
    mac[1] = 0x00;
    mac[2] = 0x5E;
    mac[3] = (uint8_t)((group >> 16) & 0x7Fu);
    mac[4] = (uint8_t)(group >> 8);
    mac[5] = (uint8_t)group;
}

/* ---- ARP ---- */

static arp_entry_t *arp_find(uint32_t ip)
{
    for (unsigned i = 0; i < ARP_ENTRIES; i++) {
        if (arp[i].valid && arp[i].ip == ip) {
            return &arp[i];
        }
    }
    return NULL;
}

static void transmit(uint8_t *frame, size_t len)
{
    if (eth_send(frame, len) == 0) {
        stats.tx_frames++;
    } else {
        stats.tx_dropped++;
    }
}

static void arp_update(uint64_t now_ms, uint32_t ip, const uint8_t mac[6], int create)
{
    if (ip == 0 || !on_link(ip) || (mac[0] & 1u)) {
        return;
    }
    arp_entry_t *e = arp_find(ip);
    if (!e && !create) {
        return;
    }
    if (!e) {
        e = &arp[0];
        for (unsigned i = 0; i < ARP_ENTRIES; i++) { /* free slot, else the oldest */
            if (!arp[i].valid) {
                e = &arp[i];
                break;
            }
            if (arp[i].updated_ms < e->updated_ms) {
                e = &arp[i];
            }
        }
    }
    e->ip = ip;
    memcpy(e->mac, mac, 6);
    e->updated_ms = now_ms;
    e->valid = 1;
    for (unsigned i = 0; i < QUEUE_SLOTS; i++) {
        if (pending[i].used && pending[i].next_hop == ip) {
            memcpy(pending[i].frame, mac, 6);
            transmit(pending[i].frame, pending[i].len);
            pending[i].used = 0;
        }
    }
}

static void arp_send(uint16_t op, const uint8_t dst_mac[6], uint32_t target_ip,
                     const uint8_t target_mac[6])
{
    uint8_t f[42];
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, my_mac, 6);
    wr16(f + 12, ETHERTYPE_ARP);
    wr16(f + 14, 1);      /* Ethernet */
    wr16(f + 16, 0x0800); /* IPv4 */
    f[18] = 6;
    f[19] = 4;
    wr16(f + 20, op);
    memcpy(f + 22, my_mac, 6);
    wr32(f + 28, my_ip);
    memcpy(f + 32, target_mac, 6);
    wr32(f + 38, target_ip);
    transmit(f, sizeof f);
}

static void arp_input(uint64_t now_ms, const uint8_t *p, size_t len)
{
    if (len < 28 || rd16(p) != 1 || rd16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) {
        stats.rx_dropped++;
        return;
    }
    uint16_t op = rd16(p + 6);
    const uint8_t *sha = p + 8;
    uint32_t spa = rd32(p + 14);
    uint32_t tpa = rd32(p + 24);
    int for_me = tpa == my_ip;
    arp_update(now_ms, spa, sha, for_me);
    if (op == 1 && for_me) {
        stats.arp_requests_rx++;
        arp_send(2, sha, spa, sha);
        stats.arp_replies_tx++;
    }
}

/* ---- IPv4 / ICMP / UDP receive ---- */

static void icmp_input(const uint8_t *frame, const uint8_t *ip, size_t ihl, size_t total)
{
    const uint8_t *icmp = ip + ihl;
    size_t len = total - ihl;
    if (len < 8 || icmp[0] != 8 || csum_fold(csum_add(0, icmp, len)) != 0) {
        return; /* only valid echo requests are answered */
    }
    if (ETH_HDR + IP_HDR + len > sizeof tx_frame) {
        return;
    }
    stats.icmp_echo++;
    uint8_t *f = tx_frame;
    memcpy(f, frame + 6, 6);
    memcpy(f + 6, my_mac, 6);
    wr16(f + 12, ETHERTYPE_IPV4);
    uint8_t *o = f + ETH_HDR;
    o[0] = 0x45;
    o[1] = 0;
    wr16(o + 2, (uint16_t)(IP_HDR + len));
    wr16(o + 4, ip_ident++);
    wr16(o + 6, 0x4000); /* DF */
    o[8] = 64;
    o[9] = 1;
    wr16(o + 10, 0);
    wr32(o + 12, my_ip);
    wr32(o + 16, rd32(ip + 12));
    wr16(o + 10, csum_fold(csum_add(0, o, IP_HDR)));
    uint8_t *r = o + IP_HDR;
    memcpy(r, icmp, len);
    r[0] = 0; /* echo reply */
    wr16(r + 2, 0);
    wr16(r + 2, csum_fold(csum_add(0, r, len)));
    transmit(f, ETH_HDR + IP_HDR + len);
}

static void ipv4_input(uint64_t now_ms, const uint8_t *frame, size_t frame_len)
{
    const uint8_t *ip = frame + ETH_HDR;
    size_t avail = frame_len - ETH_HDR;
    if (avail < IP_HDR || (ip[0] >> 4) != 4) {
        stats.ip_bad++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 0x0Fu) * 4u;
    size_t total = rd16(ip + 2);
    if (ihl < IP_HDR || total < ihl || total > avail || csum_fold(csum_add(0, ip, ihl)) != 0) {
        stats.ip_bad++;
        return;
    }
    if (rd16(ip + 6) & 0x3FFFu) { /* MF or a fragment offset: fragments are not reassembled */
        stats.ip_bad++;
        return;
    }
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    uint32_t subnet_bcast = my_ip | ~my_mask;
    int unicast = dst == my_ip;
    if (!unicast && dst != 0xFFFFFFFFu && dst != subnet_bcast && !(my_group && dst == my_group)) {
        return;
    }
    arp_update(now_ms, src, frame + 6, 0); /* refresh only: gleaning stays bounded */
    if (ip[9] == 1 && unicast) {
        icmp_input(frame, ip, ihl, total);
        return;
    }
    if (ip[9] != 17) {
        return;
    }
    const uint8_t *udp = ip + ihl;
    size_t ulen = total - ihl;
    if (ulen < UDP_HDR || rd16(udp + 4) < UDP_HDR || rd16(udp + 4) > ulen) {
        stats.ip_bad++;
        return;
    }
    ulen = rd16(udp + 4);
    if (rd16(udp + 6) != 0 && csum_fold(csum_add(csum_add(0, udp, ulen), (const uint8_t[]){
                                  (uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8),
                                  (uint8_t)src, (uint8_t)(dst >> 24), (uint8_t)(dst >> 16),
                                  (uint8_t)(dst >> 8), (uint8_t)dst, 0, 17,
                                  (uint8_t)(ulen >> 8), (uint8_t)ulen}, 12)) != 0) {
        stats.udp_bad_checksum++;
        return;
    }
    /* Learn the sender of any datagram addressed to us or to the group, so replies need no ARP. */
    arp_update(now_ms, src, frame + 6, 1);
    stats.udp_rx++;
    if (udp_handler) {
        udp_handler(src, rd16(udp), dst, rd16(udp + 2), udp + UDP_HDR, ulen - UDP_HDR);
    }
}

/* ---- public ---- */

int net_init(const uint8_t mac[6], uint32_t ip, uint32_t netmask, uint32_t mcast_group,
             net_udp_handler_t handler)
{
    memcpy(my_mac, mac, 6);
    my_ip = ip;
    my_mask = netmask;
    my_group = mcast_group;
    udp_handler = handler;
    uint8_t group_mac[1][6];
    multicast_mac(mcast_group, group_mac[0]);
    if (eth_init(mac, group_mac, mcast_group ? 1u : 0u) != 0) {
        return -1;
    }
    /* Gratuitous ARP: neighbours that cached another MAC for this address (the container's own
     * interface before the address moved to the MCU) update it now. */
    arp_send(1, broadcast_mac, my_ip, (const uint8_t[6]){0});
    return 0;
}

int net_poll(uint64_t now_ms)
{
    int handled = 0;
    for (;;) {
        int n = eth_recv(rx_frame, sizeof rx_frame);
        if (n == 0) {
            break;
        }
        handled++;
        if (n < 0) {
            stats.rx_dropped++;
            continue;
        }
        stats.rx_frames++;
        uint16_t type = rd16(rx_frame + 12);
        if (type == ETHERTYPE_ARP) {
            arp_input(now_ms, rx_frame + ETH_HDR, (size_t)n - ETH_HDR);
        } else if (type == ETHERTYPE_IPV4) {
            ipv4_input(now_ms, rx_frame, (size_t)n);
        }
    }
    for (unsigned i = 0; i < QUEUE_SLOTS; i++) {
        pending_t *q = &pending[i];
        if (!q->used) {
            continue;
        }
        if (now_ms - q->queued_ms > QUEUE_TTL_MS) {
            q->used = 0;
            stats.arp_queue_drops++;
        } else if (now_ms - q->last_request_ms >= ARP_RETRY_MS) {
            q->last_request_ms = now_ms;
            arp_send(1, broadcast_mac, q->next_hop, (const uint8_t[6]){0});
            stats.arp_requests_tx++;
        }
    }
    for (unsigned i = 0; i < ARP_ENTRIES; i++) {
        if (arp[i].valid && now_ms - arp[i].updated_ms > ARP_TTL_MS) {
            arp[i].valid = 0;
        }
    }
    return handled;
}

int net_udp_send(uint64_t now_ms, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                 const uint8_t *data, size_t len)
{
    if (len > NET_MAX_UDP_PAYLOAD) {
        stats.tx_dropped++;
        return -1;
    }
    uint8_t dst_mac[6];
    int resolved = 1;
    if (dst_ip == 0xFFFFFFFFu || dst_ip == (my_ip | ~my_mask)) {
        memcpy(dst_mac, broadcast_mac, 6);
    } else if ((dst_ip >> 28) == 0xEu) {
        multicast_mac(dst_ip, dst_mac);
    } else if (!on_link(dst_ip)) {
        stats.no_route++;
        return -1;
    } else {
        arp_entry_t *e = arp_find(dst_ip);
        if (e) {
            memcpy(dst_mac, e->mac, 6);
        } else {
            resolved = 0;
            memset(dst_mac, 0, 6);
        }
    }
    uint8_t *f = tx_frame;
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, my_mac, 6);
    wr16(f + 12, ETHERTYPE_IPV4);
    uint8_t *ip = f + ETH_HDR;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)(IP_HDR + UDP_HDR + len));
    wr16(ip + 4, ip_ident++);
    wr16(ip + 6, 0x4000);
    ip[8] = (dst_ip >> 28) == 0xEu ? 255 : 64; /* mDNS requires TTL 255 (RFC 6762 section 11) */
    ip[9] = 17;
    wr16(ip + 10, 0);
    wr32(ip + 12, my_ip);
    wr32(ip + 16, dst_ip);
    wr16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));
    uint8_t *udp = ip + IP_HDR;
    wr16(udp, src_port);
    wr16(udp + 2, dst_port);
    wr16(udp + 4, (uint16_t)(UDP_HDR + len));
    wr16(udp + 6, 0);
    memcpy(udp + UDP_HDR, data, len);
    wr16(udp + 6, udp_checksum(my_ip, dst_ip, udp, UDP_HDR + len));
    size_t flen = ETH_HDR + IP_HDR + UDP_HDR + len;
    if (resolved) {
        transmit(f, flen);
        return 0;
    }
    for (unsigned i = 0; i < QUEUE_SLOTS; i++) {
        if (!pending[i].used) {
            pending_t *q = &pending[i];
            q->used = 1;
            q->next_hop = dst_ip;
            q->queued_ms = now_ms;
            q->last_request_ms = now_ms;
            q->len = (uint16_t)flen;
            memcpy(q->frame, f, flen);
            arp_send(1, broadcast_mac, dst_ip, (const uint8_t[6]){0});
            stats.arp_requests_tx++;
            return 0;
        }
    }
    stats.arp_queue_drops++;
    return -1;
}

const net_stats_t *net_stats(void) { return &stats; }
