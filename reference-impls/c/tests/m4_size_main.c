/* Minimal Cortex-M4 image referencing the core's entry points, for the size report only. The real
 * firmware lives in port/mcu/. The node and the mDNS state are static (.bss), as on the MCU. */
#include "ekc_core.h"
#include "ekc_mdns.h"

static ekc_node_t node;
static ekc_mdns_t mdns;
volatile uint32_t sink;

int main(void) {
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    cfg.node_id[0] = 'm';
    cfg.module_id = 1;
    ekc_init(&node, &cfg);
    ekc_output_t out;
    ekc_addr_t a = {1, 9990};
    ekc_on_datagram(&node, 1, EKC_CH_ROJ, a, (const uint8_t *)"{}", 2);
    ekc_on_datagram(&node, 1, EKC_CH_KOR, a, (const uint8_t *)"{}", 2);
    ekc_on_datagram(&node, 1, EKC_CH_CTL, a, (const uint8_t *)"{}", 2);
    ekc_tick(&node, 2);
    while (ekc_next_output(&node, &out)) sink += (uint32_t)out.len;
    ekc_mdns_config_t mc = {0};
    mc.node_id[0] = 'm';
    mc.ipv4 = 1;
    mc.roj_port = 9990;
    ekc_mdns_init(&mdns, &mc);
    ekc_mdns_on_packet(&mdns, 1, a, (const uint8_t *)"", 0);
    ekc_mdns_tick(&mdns, 1);
    while (ekc_mdns_next_output(&mdns, &out)) sink += (uint32_t)out.len;
    ekc_peer_info_t p;
    while (ekc_mdns_next_peer(&mdns, &p)) ekc_on_peer(&node, 3, &p);
    return 0;
}
