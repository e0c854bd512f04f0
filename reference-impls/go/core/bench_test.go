package core

import (
	"fmt"
	"testing"
)

// BenchmarkCommitRound5: one proposal through the pure core of a 5-node cluster on the in-memory
// network (PROPOSE, 4 VOTEs, COMMIT, bridge event gossip and acks), without sockets.
func BenchmarkCommitRound5(b *testing.B) {
	t := &testing.T{}
	s := newSim(t, 5, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.nodes[0].Propose(s.now, fmt.Sprintf("k%d", i%8), "v"); err != nil {
			b.Fatal(err)
		}
		s.collect(s.nodes[0])
		s.run()
		s.sent = s.sent[:0] // the simulator's trace is for tests; keep it from growing here
		if i%64 == 63 {
			s.advance(10_000) // flush acks, fire timers
		}
	}
	if s.nodes[4].roj.store["k0"].Version == 0 {
		b.Fatal("nothing committed")
	}
}
