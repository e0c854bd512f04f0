/*
 * net.h - the firmware's own minimal IPv4 stack over eth_*: Ethernet II, ARP (request/reply, an
 * 8-entry cache filled from replies and from every on-link IPv4 frame received, and a small queue of
 * frames waiting for a reply), IPv4 without fragmentation or options on transmit, UDP with
 * checksums, ICMP echo reply, and receive of one multicast group (mDNS 224.0.0.251). No gateway: the
 * node only talks on its own subnet (control.md CTL-IMG-2, no route out).
 * Byte views follow smoltcp's wire style: every field is read through a bounds-checked accessor.
 */
#ifndef MCU_NET_H
#define MCU_NET_H

#include <stddef.h>
#include <stdint.h>

typedef void (*net_udp_handler_t)(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip,
                                  uint16_t dst_port, const uint8_t *data, size_t len);

typedef struct {
    uint32_t rx_frames, rx_dropped, tx_frames, tx_dropped;
    uint32_t arp_requests_rx, arp_replies_tx, arp_requests_tx, arp_queue_drops;
    uint32_t icmp_echo, udp_rx, udp_bad_checksum, ip_bad, no_route;
} net_stats_t;

/* ip/netmask in host byte order. The multicast group (host order, 0 = none) is joined at the MAC. */
int net_init(const uint8_t mac[6], uint32_t ip, uint32_t netmask, uint32_t mcast_group,
             net_udp_handler_t handler);
/* Receives and handles every waiting frame; expires ARP state. Returns frames handled. */
int net_poll(uint64_t now_ms);
/* Sends one UDP datagram. Returns 0 if sent or queued for ARP, -1 if dropped. */
int net_udp_send(uint64_t now_ms, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                 const uint8_t *data, size_t len);
const net_stats_t *net_stats(void);

#define NET_MAX_UDP_PAYLOAD 1472u

#endif
