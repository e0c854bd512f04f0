/* Links the whole core (every public entry point) under --wrap=malloc/free/realloc/calloc with no
 * __wrap_ definitions: if any core object referenced an allocator, this link would fail. */
#include "ekc_core.h"
#include "ekc_mdns.h"
#include "ekc_kor_wire.h"

static ekc_node_t node;
static ekc_mdns_t mdns;

int main(void) {
    ekc_config_t cfg;
    ekc_config_defaults(&cfg);
    cfg.node_id[0] = 'a';
    cfg.module_id = 1;
    if (ekc_init(&node, &cfg) != EKC_OK) return 1;
    ekc_addr_t a = {0x7f000001u, 9990};
    ekc_output_t out;
    ekc_on_datagram(&node, 1, EKC_CH_ROJ, a, (const uint8_t *)"{}", 2);
    ekc_tick(&node, 2);
    while (ekc_next_output(&node, &out)) {}
    ekc_mdns_config_t mc = {0};
    mc.node_id[0] = 'a';
    mc.ipv4 = 1;
    mc.roj_port = 9990;
    ekc_mdns_init(&mdns, &mc);
    ekc_mdns_tick(&mdns, 1);
    ekc_peer_info_t p;
    while (ekc_mdns_next_peer(&mdns, &p)) ekc_on_peer(&node, 3, &p);
    return 0;
}
