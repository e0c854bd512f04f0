/* lan9118.c - see lan9118.h. Register numbers from the SMSC LAN9118 datasheet (section 5). */
#include "lan9118.h"

#include "board.h"

#define R(off) REG32(LAN9118_BASE + (off))

enum {
    RX_DATA_FIFO = 0x00,
    TX_DATA_FIFO = 0x20,
    RX_STATUS_FIFO = 0x40,
    TX_STATUS_FIFO = 0x48,
    ID_REV = 0x50,
    IRQ_CFG = 0x54,
    INT_STS = 0x58,
    INT_EN = 0x5C,
    BYTE_TEST = 0x64,
    FIFO_INT = 0x68,
    RX_CFG = 0x6C,
    TX_CFG = 0x70,
    HW_CFG = 0x74,
    RX_FIFO_INF = 0x7C,
    TX_FIFO_INF = 0x80,
    PMT_CTRL = 0x84,
    MAC_CSR_CMD = 0xA4,
    MAC_CSR_DATA = 0xA8,
};

enum { MAC_CR = 1, MAC_ADDRH = 2, MAC_ADDRL = 3, MAC_HASHH = 4, MAC_HASHL = 5 };

#define MAC_CR_HPFILT (1u << 13) /* multicast through the hash filter */
#define MAC_CR_FDPX (1u << 20)
#define MAC_CR_TXEN (1u << 3)
#define MAC_CR_RXEN (1u << 2)
#define INT_RSFL (1u << 3) /* RX status FIFO level */
#define IRQ_CFG_EN (1u << 8)
#define IRQ_CFG_POL_HIGH (1u << 4)
#define IRQ_CFG_PUSH_PULL (1u << 0)
#define HW_CFG_SRST 1u
#define PMT_READY 1u
#define TX_CFG_TX_ON (1u << 1)
#define RX_STS_ERROR (1u << 15)

static volatile int irq_flag;
static uint16_t tx_tag;

void eth_irq_handler(void)
{
    R(INT_STS) = INT_RSFL; /* level interrupt: acknowledge, the main loop drains the FIFO */
    irq_flag = 1;
}

int eth_irq_pending_peek(void) { return irq_flag; }

void eth_irq_clear(void) { irq_flag = 0; }

static int mac_busy_wait(void)
{
    for (int i = 0; i < 100000; i++) {
        if (!(R(MAC_CSR_CMD) & 0x80000000u)) {
            return 0;
        }
    }
    return -1;
}

static void mac_write(unsigned reg, uint32_t value)
{
    (void)mac_busy_wait();
    R(MAC_CSR_DATA) = value;
    R(MAC_CSR_CMD) = 0x80000000u | reg;
    (void)mac_busy_wait();
}

unsigned eth_hash_bin(const uint8_t mac[6])
{
    /* Ethernet CRC-32 computed MSB-first over the LSB-first bit stream (802.3 transmit order). */
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 0; i < 6; i++) {
        uint8_t b = mac[i];
        for (int j = 0; j < 8; j++) {
            uint32_t carry = ((crc >> 31) ^ b) & 1u;
            crc <<= 1;
            b >>= 1;
            if (carry) {
                crc ^= 0x04C11DB7u;
            }
        }
    }
    return crc >> 26;
}

int eth_init(const uint8_t mac[6], const uint8_t (*groups)[6], size_t group_count)
{
    if (R(BYTE_TEST) != 0x87654321u) {
        return -1;
    }
    R(HW_CFG) = HW_CFG_SRST;
    int ready = 0;
    for (int i = 0; i < 100000 && !ready; i++) {
        ready = !(R(HW_CFG) & HW_CFG_SRST) && (R(PMT_CTRL) & PMT_READY);
    }
    if (!ready) {
        return -1;
    }
    mac_write(MAC_ADDRL, (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 |
                             (uint32_t)mac[3] << 24);
    mac_write(MAC_ADDRH, (uint32_t)mac[4] | (uint32_t)mac[5] << 8);
    uint32_t hash[2] = {0, 0};
    for (size_t g = 0; g < group_count; g++) {
        unsigned bin = eth_hash_bin(groups[g]);
        hash[bin >> 5] |= 1u << (bin & 31u);
    }
    mac_write(MAC_HASHL, hash[0]);
    mac_write(MAC_HASHH, hash[1]);
    /* Leaves reset's promiscuous mode: own address, broadcast and the hashed groups only. */
    mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX | MAC_CR_HPFILT);
    R(TX_CFG) = TX_CFG_TX_ON;
    R(RX_CFG) = 0; /* no offset, no end padding */
    R(FIFO_INT) = 0x48000000u; /* RX status level 0: interrupt on every frame */
    R(INT_STS) = 0xFFFFFFFFu;
    R(INT_EN) = INT_RSFL;
    R(IRQ_CFG) = IRQ_CFG_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_PUSH_PULL;
    REG32(NVIC_ISER0) = 1u << LAN9118_IRQN;
    return 0;
}

int eth_send(const uint8_t *frame, size_t len)
{
    if (len < 14 || len > 1514) {
        return -1;
    }
    /* Drain TX status words so the status FIFO never fills. */
    while ((R(TX_FIFO_INF) >> 16) & 0xFFu) {
        (void)R(TX_STATUS_FIFO);
    }
    size_t words = (len + 3u) / 4u;
    if ((R(TX_FIFO_INF) & 0xFFFFu) < words * 4u + 8u) {
        return -1;
    }
    tx_tag++;
    R(TX_DATA_FIFO) = (1u << 13) | (1u << 12) | (uint32_t)len; /* first+last segment, length */
    R(TX_DATA_FIFO) = (uint32_t)tx_tag << 16 | (uint32_t)len;
    for (size_t w = 0; w < words; w++) {
        uint32_t v = 0;
        for (size_t b = 0; b < 4; b++) {
            size_t i = w * 4u + b;
            if (i < len) {
                v |= (uint32_t)frame[i] << (8u * b);
            }
        }
        R(TX_DATA_FIFO) = v;
    }
    return 0;
}

int eth_recv(uint8_t *buf, size_t cap)
{
    if (((R(RX_FIFO_INF) >> 16) & 0xFFu) == 0) {
        return 0;
    }
    uint32_t status = R(RX_STATUS_FIFO);
    size_t len = (status >> 16) & 0x3FFFu; /* includes the 4-byte FCS */
    size_t words = (len + 3u) / 4u;
    int bad = (status & RX_STS_ERROR) || len < 18u || len - 4u > cap;
    for (size_t w = 0; w < words; w++) {
        uint32_t v = R(RX_DATA_FIFO);
        if (!bad) {
            for (size_t b = 0; b < 4; b++) {
                size_t i = w * 4u + b;
                if (i < len - 4u) {
                    buf[i] = (uint8_t)(v >> (8u * b));
                }
            }
        }
    }
    return bad ? -1 : (int)(len - 4u);
}
