/* libFuzzer target: arbitrary bytes into every input of the core (EK-ROJ, EK-KOR, control, mDNS)
 * with explicit time, draining all outputs. The first byte picks the channel; the node keeps its
 * state across inputs so stateful paths (gaps, locks, proposals) are reached. Any crash, sanitizer
 * report or hang is a bug (ROJ-WIRE-4, KOR-WIRE-4: "MUST NOT crash"). */
#include <stdint.h>
#include <string.h>

#include "ekc_core.h"
#include "ekc_mdns.h"

static ekc_node_t node;
static ekc_mdns_t mdns;
static uint64_t now = 1000;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        ekc_config_t cfg;
        ekc_config_defaults(&cfg);
        strcpy(cfg.node_id, "c-1");
        cfg.module_id = 1;
        cfg.proposal_timeout_ms = 200;
        ekc_init(&node, &cfg);
        ekc_mdns_config_t mc;
        memset(&mc, 0, sizeof mc);
        strcpy(mc.node_id, "c-1");
        mc.ipv4 = 0x0a000001;
        mc.roj_port = 9990;
        mc.browse = true;
        ekc_mdns_init(&mdns, &mc);
        ready = 1;
    }
    if (size < 2) return 0;
    now += data[1];
    ekc_addr_t src = {0x0a000000u | (data[0] >> 4), 9990};
    switch (data[0] & 3) {
    case 0: ekc_on_datagram(&node, now, EKC_CH_ROJ, src, data + 2, size - 2); break;
    case 1: ekc_on_datagram(&node, now, EKC_CH_KOR, src, data + 2, size - 2); break;
    case 2: ekc_on_datagram(&node, now, EKC_CH_CTL, src, data + 2, size - 2); break;
    case 3: {
        ekc_mdns_on_packet(&mdns, now, src, data + 2, size - 2);
        ekc_peer_info_t p;
        while (ekc_mdns_next_peer(&mdns, &p)) ekc_on_peer(&node, now, &p);
        ekc_output_t o;
        ekc_mdns_tick(&mdns, now);
        while (ekc_mdns_next_output(&mdns, &o)) {}
        break;
    }
    }
    ekc_tick(&node, now);
    ekc_output_t out;
    while (ekc_next_output(&node, &out))
        if (out.len > 1400) __builtin_trap();
    return 0;
}
