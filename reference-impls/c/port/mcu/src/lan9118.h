/*
 * lan9118.h - SMSC LAN9118 driver (PIO FIFOs, 32-bit bus): reset, MAC address, receive filter
 * (own MAC, broadcast, and the 64-bin multicast hash for the groups the node joins: no promiscuous
 * mode, no pass-all-multicast), frame transmit and receive. The RX-status interrupt (IRQ 13) only
 * wakes the main loop; frames are read there.
 */
#ifndef MCU_LAN9118_H
#define MCU_LAN9118_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0, or -1 if the chip is absent (BYTE_TEST mismatch) or never became ready. */
int eth_init(const uint8_t mac[6], const uint8_t (*groups)[6], size_t group_count);
/* Sends one frame (14-byte header included, no FCS). Returns 0, or -1 when the TX FIFO is full. */
int eth_send(const uint8_t *frame, size_t len);
/* Copies the next received frame (without FCS) into buf; returns its length, 0 if none is
 * waiting, or -1 for a frame dropped as errored or longer than cap (it is consumed either way). */
int eth_recv(uint8_t *buf, size_t cap);
/* True once the interrupt has signalled a frame since eth_irq_clear(). */
int eth_irq_pending_peek(void);
void eth_irq_clear(void);
/* Bin (0..63) of a multicast address in the hash filter: top 6 bits of the Ethernet CRC. */
unsigned eth_hash_bin(const uint8_t mac[6]);

#endif
