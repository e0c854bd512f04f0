package core

// A deterministic in-memory network for unit tests of the core: datagrams queue in order, time
// advances only when the test says so, and a filter can drop or record traffic.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"ekcnode/codec"
)

type simPacket struct {
	from netip.AddrPort
	d    Datagram
}

type sim struct {
	t       *testing.T
	nodes   []*Node
	byIP    map[netip.Addr]*Node
	now     int64 // µs
	queue   []simPacket
	drop    func(p simPacket) bool
	sent    []simPacket
	ctlResp []map[string]any
}

var clientAddr = netip.MustParseAddrPort("10.0.0.200:40000")

func nodeIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}) }

func testConfig(i, total int) Config {
	var peers []netip.AddrPort
	for j := 0; j < total; j++ {
		if j != i {
			peers = append(peers, netip.AddrPortFrom(nodeIP(j), 9990))
		}
	}
	return Config{NodeID: fmt.Sprintf("n%d", i+1), ModuleID: uint8(i + 1), Lang: "go", BindIP: nodeIP(i),
		RojPort: 9990, KorPort: 9991, CtlPort: 9992, StaticPeers: peers, AnnounceMs: 1000, LivenessMs: 3000,
		AntiEntropyMs: 10000, ProposalTimeoutMs: 1000, Seed: uint64(i + 1), Incarnation: 0x1000 + uint32(i)}
}

// newSim starts total nodes that know each other through static peers and lets them converge.
func newSim(t *testing.T, total int, tweak func(i int, c *Config)) *sim {
	s := &sim{t: t, byIP: map[netip.Addr]*Node{}}
	for i := 0; i < total; i++ {
		c := testConfig(i, total)
		if tweak != nil {
			tweak(i, &c)
		}
		n := New(c)
		s.nodes = append(s.nodes, n)
		s.byIP[c.BindIP] = n
	}
	for _, n := range s.nodes {
		n.Start(s.now)
		s.collect(n)
	}
	s.run()
	s.advance(400_000) // past the CTL-PERSIST-2 start-up exchange
	return s
}

func (s *sim) portOf(n *Node, ch Channel) uint16 {
	return [...]uint16{n.cfg.RojPort, n.cfg.KorPort, n.cfg.CtlPort}[ch]
}

func (s *sim) collect(n *Node) {
	for _, d := range n.TakeOutput() {
		s.queue = append(s.queue, simPacket{from: netip.AddrPortFrom(n.cfg.BindIP, s.portOf(n, d.Chan)), d: d})
	}
	n.TakeLogs()
}

// run delivers queued datagrams until the network is quiet.
func (s *sim) run() {
	for steps := 0; len(s.queue) > 0; steps++ {
		if steps > 100000 {
			s.t.Fatal("network never went quiet")
		}
		p := s.queue[0]
		s.queue = s.queue[1:]
		if s.drop != nil && s.drop(p) {
			continue
		}
		s.sent = append(s.sent, p)
		if p.d.To == clientAddr {
			var m map[string]any
			if err := json.Unmarshal(p.d.Data, &m); err != nil {
				s.t.Fatalf("control response not JSON: %s", p.d.Data)
			}
			s.ctlResp = append(s.ctlResp, m)
			continue
		}
		n := s.byIP[p.d.To.Addr()]
		if n == nil {
			continue
		}
		switch p.d.To.Port() {
		case n.cfg.RojPort:
			n.HandleRoj(s.now, p.from, p.d.Data)
		case n.cfg.KorPort:
			n.HandleKor(s.now, p.from, p.d.Data)
		case n.cfg.CtlPort:
			n.HandleCtl(s.now, p.from, p.d.Data)
		}
		s.collect(n)
	}
}

// advance moves time forward in 10 ms ticks, delivering traffic after each.
func (s *sim) advance(us int64) {
	end := s.now + us
	for s.now < end {
		s.now += 10_000
		for _, n := range s.nodes {
			n.Tick(s.now)
			s.collect(n)
		}
		s.run()
	}
}

// ctl sends one control request to node i and returns the response.
func (s *sim) ctl(i int, req string) map[string]any {
	s.ctlResp = nil
	n := s.nodes[i]
	n.HandleCtl(s.now, clientAddr, []byte(req))
	s.collect(n)
	s.run()
	if len(s.ctlResp) != 1 {
		s.t.Fatalf("%d responses to %s", len(s.ctlResp), req)
	}
	return s.ctlResp[0]
}

func (s *sim) countSent(typ string) int {
	c := 0
	for _, p := range s.sent {
		if p.d.Chan == ChanRoj {
			if m, err := codec.DecodeRoj(p.d.Data); err == nil && m.Type == typ {
				c++
			}
		}
	}
	return c
}

// inject delivers a raw EK-ROJ datagram to node i as if from addr.
func (s *sim) injectRoj(i int, from netip.AddrPort, data []byte) {
	n := s.nodes[i]
	n.HandleRoj(s.now, from, data)
	s.collect(n)
	s.run()
}

func (s *sim) injectKor(i int, from netip.AddrPort, data []byte) {
	n := s.nodes[i]
	n.HandleKor(s.now, from, data)
	s.collect(n)
	s.run()
}
