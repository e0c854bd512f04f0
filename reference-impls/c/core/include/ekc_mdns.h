/*
 * ekc_mdns.h - sans-IO mDNS (RFC 6762/6763) responder and browser for `_roj._udp.local`.
 *
 * Responsible for ek-roj.md ROJ-DISC-1..3: answering PTR/SRV/TXT/A queries for the node's own
 * service instance, browsing for other instances (query at start, every 2 s for 10 s, then every
 * 10 s) and resolving them into ekc_peer_info_t for ekc_on_peer(). No OS calls, no malloc, no global
 * state: the caller owns an ekc_mdns_t, joins 224.0.0.251:5353 itself and moves the bytes.
 */
#ifndef EKC_MDNS_H
#define EKC_MDNS_H

#include "ekc_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EKC_MDNS_PORT 5353
#define EKC_MDNS_GROUP 0xE00000FBu /* 224.0.0.251, host byte order */
#define EKC_MDNS_MAX_PACKET 1500
#define EKC_MDNS_MAX_INSTANCES 32
#define EKC_MDNS_OUTBOX 4
#define EKC_MDNS_NAME_MAX 64
#define EKC_MDNS_TTL_S 120

/* What the node advertises (ROJ-DISC-1). */
typedef struct {
    char node_id[EKC_NODE_ID_MAX + 1]; /* instance name and TXT `node`; host is <node_id>.local */
    uint8_t module_id;                 /* TXT `mod` */
    char lang[EKC_LANG_MAX + 1];       /* TXT `lang` */
    char version[EKC_VERSION_STR_MAX + 1];
    uint32_t caps; /* TXT `caps`, EKC_CAP_* */
    uint32_t ipv4; /* A record */
    uint16_t roj_port, kor_port, ctl_port;
    bool browse; /* run the browser as well as the responder */
} ekc_mdns_config_t;

typedef struct {
    bool used;
    char instance[EKC_MDNS_NAME_MAX]; /* instance label, e.g. "go-1" */
    char host[EKC_MDNS_NAME_MAX];     /* SRV target, e.g. "go-1.local" */
    bool have_srv, have_txt, have_a, reported;
    ekc_peer_info_t info;
    uint64_t last_query_ms;
} ekc_mdns_instance_t;

typedef struct {
    uint16_t len;
    ekc_addr_t dst;
    uint8_t bytes[EKC_MDNS_MAX_PACKET];
} ekc_mdns_packet_t;

typedef struct {
    ekc_mdns_config_t cfg;
    uint64_t start_ms;
    bool started;
    uint64_t next_query_ms;
    uint8_t announcements_left;
    uint64_t next_announce_ms;
    ekc_mdns_instance_t inst[EKC_MDNS_MAX_INSTANCES];
    uint8_t peer_cursor; /* next instance to check for ekc_mdns_next_peer */
    ekc_mdns_packet_t out[EKC_MDNS_OUTBOX];
    uint8_t out_head, out_count;
    uint32_t invalid_packets;
    uint32_t hosts_pending; /* unused bit set, reserved */
} ekc_mdns_t;

/* Initialises the responder/browser. Returns false if cfg is invalid (node_id, ipv4 0, port 0). */
bool ekc_mdns_init(ekc_mdns_t *m, const ekc_mdns_config_t *cfg);

/* An mDNS packet received from src (any port). Malformed packets are counted and ignored. */
void ekc_mdns_on_packet(ekc_mdns_t *m, uint64_t now_ms, ekc_addr_t src, const uint8_t *data,
                        size_t len);

/* Sends queries/announcements that are due. */
void ekc_mdns_tick(ekc_mdns_t *m, uint64_t now_ms);

/* Pops the next packet to send (to 224.0.0.251:5353, or unicast to a legacy querier). */
bool ekc_mdns_next_output(ekc_mdns_t *m, ekc_output_t *out);

/* Pops the next newly resolved (or changed) instance; feed it to ekc_on_peer(). */
bool ekc_mdns_next_peer(ekc_mdns_t *m, ekc_peer_info_t *peer);

/* Low-level codec helpers, exposed for tests. Build a query for `name` with qtype (12 PTR, 33 SRV,
 * 16 TXT, 1 A); returns the length or 0 if buf is too small. */
size_t ekc_mdns_build_query(uint8_t *buf, size_t cap, const char *name, uint16_t qtype);
/* Builds the full response (PTR + SRV + TXT + A) for the node's instance; returns length or 0. */
size_t ekc_mdns_build_response(const ekc_mdns_t *m, uint8_t *buf, size_t cap);

/* Parses "roj,kor,ctl,abort" into EKC_CAP_* bits (unknown capabilities are ignored). */
uint32_t ekc_caps_parse(const char *s, size_t len);
/* Writes the capability list, comma-separated, into buf; returns length (CTL-CAP-4 ordering). */
size_t ekc_caps_format(uint32_t caps, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* EKC_MDNS_H */
