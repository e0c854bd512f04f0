package core

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"ekcnode/codec"
)

func TestClusterCommits(t *testing.T) {
	for _, total := range []int{1, 2, 3, 5, 8} {
		t.Run(fmt.Sprintf("n=%d", total), func(t *testing.T) {
			s := newSim(t, total, nil)
			for _, n := range s.nodes {
				if got := len(n.Membership()); got != total {
					t.Fatalf("%s knows %d members, want %d", n.cfg.NodeID, got, total)
				}
			}
			s.sent = nil
			pid, ver, err := s.nodes[0].Propose(s.now, "bay3", "11000")
			if err != nil || ver != 1 || !strings.HasPrefix(pid, "n1:00001000:") {
				t.Fatalf("propose: %q %d %v", pid, ver, err)
			}
			s.collect(s.nodes[0])
			s.run()
			for _, n := range s.nodes {
				if kv := n.roj.store["bay3"]; kv != (KV{"11000", 1}) {
					t.Fatalf("%s stores %+v", n.cfg.NodeID, kv)
				}
				if len(n.roj.locks) != 0 || len(n.roj.pending) != 0 {
					t.Fatalf("%s holds %d locks, %d pending after commit", n.cfg.NodeID, len(n.roj.locks), len(n.roj.pending))
				}
			}
			// D8: 3(n-1) EK-ROJ messages per commit in a loss-free cluster.
			msgs := s.countSent("PROPOSE") + s.countSent("VOTE") + s.countSent("COMMIT")
			if msgs != 3*(total-1) {
				t.Fatalf("%d messages for one commit, want %d", msgs, 3*(total-1))
			}
			// BRIDGE-1: exactly one CONSENSUS_RESULT, emitted by the proposer.
			for i, n := range s.nodes {
				if total > 1 && n.kor.vv[1] != 1 {
					t.Fatalf("node %d did not deliver the bridge event (VV[1]=%d)", i, n.kor.vv[1])
				}
				if i > 0 && n.kor.vv[uint8(i+1)] != 0 {
					t.Fatalf("non-proposer %d emitted", i)
				}
			}
		})
	}
}

func TestThresholdWithSilentMembers(t *testing.T) {
	// n=5, t=4: three voters plus the proposer suffice; with two silent it must not commit.
	for _, silent := range []int{1, 2} {
		s := newSim(t, 5, nil)
		dead := map[netip.Addr]bool{}
		for i := 5 - silent; i < 5; i++ {
			dead[nodeIP(i)] = true
		}
		s.drop = func(p simPacket) bool { return dead[p.d.To.Addr()] || dead[p.from.Addr()] }
		s.nodes[0].Propose(s.now, "k", "v")
		s.collect(s.nodes[0])
		s.run()
		committed := s.nodes[0].roj.store["k"].Version == 1
		if committed != (silent == 1) {
			t.Fatalf("%d silent of 5: committed=%v", silent, committed)
		}
	}
}

func TestVoterRules(t *testing.T) {
	s := newSim(t, 3, nil)
	proposer := netip.MustParseAddrPort("10.0.0.9:9990")
	prop := func(pid, key string, version uint32, members ...string) []byte {
		sort.Strings(members)
		return codec.EncodeRoj(codec.TypePropose, strings.Split(pid, ":")[0], codec.Propose{Pid: pid, Key: key, Value: "x",
			Version: version, Members: members, N: len(members), TimeoutMs: 1000})
	}
	lastVote := func() *codec.Vote {
		for i := len(s.sent) - 1; i >= 0; i-- {
			if m, err := codec.DecodeRoj(s.sent[i].d.Data); err == nil && m.Type == codec.TypeVote {
				return m.Vote
			}
		}
		t.Fatal("no vote sent")
		return nil
	}
	all := []string{"n1", "n2", "n3"}
	s.nodes[1].roj.store["old"] = KV{"v", 5}
	steps := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"ROJ-VOTE-2 voter not listed", prop("n1:00000001:1", "a", 1, "n1", "n3"), codec.ReasonMembership},
		{"ROJ-VOTE-2 proposer misses a member", prop("n1:00000001:2", "a", 1, "n1", "n2"), codec.ReasonMembership},
		{"ROJ-VOTE-3 stale", prop("n1:00000001:3", "old", 5, all...), codec.ReasonStale},
		{"ROJ-VOTE-6 ok", prop("n1:00000001:4", "a", 1, all...), codec.ReasonOK},
		{"ROJ-VOTE-4 locked by another pid", prop("n3:00000003:1", "a", 1, all...), codec.ReasonLocked},
		{"ROJ-VOTE-1 duplicate re-sends ok", prop("n1:00000001:4", "a", 1, all...), codec.ReasonOK},
		{"ROJ-VOTE-6 newer version accepted", prop("n1:00000001:5", "old", 6, all...), codec.ReasonOK},
	}
	for _, st := range steps {
		s.injectRoj(1, proposer, st.data)
		v := lastVote()
		if v.Reason != st.reason || v.Accept != (st.reason == "ok") {
			t.Fatalf("%s: vote %+v, want %s", st.name, v, st.reason)
		}
	}
	if got := len(s.nodes[1].roj.locks); got != 2 {
		t.Fatalf("%d locks held, want 2", got)
	}
	// ROJ-TIME-2: locks expire timeout_ms after the PROPOSE arrived, then the key is free again.
	s.advance(1_010_000)
	s.injectRoj(1, proposer, prop("n3:00000003:2", "a", 1, all...))
	if v := lastVote(); v.Reason != codec.ReasonOK {
		t.Fatalf("after expiry: %+v", v)
	}
	// A COMMIT for the pid releases the lock (ROJ-KV-3).
	s.injectRoj(1, proposer, codec.EncodeRoj(codec.TypeCommit, "n3", codec.Commit{Pid: "n3:00000003:2", Key: "a", Value: "x",
		Version: 1, N: 3, Voters: []string{"n2", "n3", "n1"}[:0:0]}))
	if _, held := s.nodes[1].roj.locks["a"]; !held {
		t.Fatal("a COMMIT with too few voters must be dropped (ROJ-COMMIT-2) and keep the lock")
	}
	s.injectRoj(1, proposer, codec.EncodeRoj(codec.TypeCommit, "n3", codec.Commit{Pid: "n3:00000003:2", Key: "a", Value: "x",
		Version: 1, N: 3, Voters: []string{"n1", "n2", "n3"}}))
	if _, held := s.nodes[1].roj.locks["a"]; held || s.nodes[1].roj.store["a"] != (KV{"x", 1}) {
		t.Fatalf("COMMIT not applied or lock kept: %+v", s.nodes[1].roj.store["a"])
	}
	// ABORT releases (ROJ-ABORT-2).
	s.injectRoj(1, proposer, prop("n3:00000003:3", "b", 1, all...))
	s.injectRoj(1, proposer, codec.EncodeRoj(codec.TypeAbort, "n3", codec.Abort{Pid: "n3:00000003:3", Reason: "timeout"}))
	if _, held := s.nodes[1].roj.locks["b"]; held {
		t.Fatal("ABORT did not release the lock")
	}
}

func TestVoterCapacity(t *testing.T) {
	s := newSim(t, 3, nil)
	from := netip.MustParseAddrPort("10.0.0.9:9990")
	all := []string{"n1", "n2", "n3"}
	for i := 0; i < 17; i++ {
		s.injectRoj(1, from, codec.EncodeRoj(codec.TypePropose, "n3", codec.Propose{Pid: fmt.Sprintf("n3:00000003:%d", i+1),
			Key: fmt.Sprintf("k%d", i), Value: "v", Version: 1, Members: all, N: 3, TimeoutMs: 5000}))
	}
	if got := len(s.nodes[1].roj.locks); got != MaxLocks {
		t.Fatalf("%d locks after 17 proposals, want 16 (ROJ-VOTE-5)", got)
	}
	m, _ := codec.DecodeRoj(s.sent[len(s.sent)-1].d.Data)
	if m.Vote == nil || m.Vote.Reason != codec.ReasonCapacity {
		t.Fatalf("17th vote %+v, want capacity", m.Vote)
	}
	// 64-key rule: 60 stored keys + 4 locked absent keys fill the store.
	s2 := newSim(t, 3, nil)
	for i := 0; i < 60; i++ {
		s2.nodes[1].roj.store[fmt.Sprintf("s%d", i)] = KV{"v", 1}
	}
	for i := 0; i < 5; i++ {
		s2.injectRoj(1, from, codec.EncodeRoj(codec.TypePropose, "n3", codec.Propose{Pid: fmt.Sprintf("n3:00000003:%d", i+1),
			Key: fmt.Sprintf("new%d", i), Value: "v", Version: 1, Members: all, N: 3, TimeoutMs: 5000}))
	}
	if got := len(s2.nodes[1].roj.locks); got != 4 {
		t.Fatalf("%d locks on absent keys with 60 stored, want 4", got)
	}
}

func TestProposerLimitsAndLocks(t *testing.T) {
	s := newSim(t, 3, nil)
	s.drop = func(p simPacket) bool { return p.d.Chan == ChanRoj } // nobody hears anything: proposals stay pending
	n := s.nodes[0]
	if _, _, err := n.Propose(s.now, "k0", "v"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Propose(s.now, "k0", "w"); err == nil || err.Code != "locked" {
		t.Fatalf("second proposal on a locked key: %v (ROJ-PROP-7)", err)
	}
	for i := 1; i < 16; i++ {
		if _, _, err := n.Propose(s.now, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
	}
	if _, _, err := n.Propose(s.now, "k99", "v"); err == nil || err.Code != "capacity" {
		t.Fatalf("17th proposal: %v (ROJ-PROP-8)", err)
	}
	if _, _, err := n.Propose(s.now, "BAD", "v"); err == nil || err.Code != "bad_request" {
		t.Fatalf("bad key: %v", err)
	}
}

func TestVoteCountingOnce(t *testing.T) {
	// n=4, t=3: the proposer plus two distinct voters; one voter repeating itself must not commit.
	s := newSim(t, 4, nil)
	s.drop = func(p simPacket) bool { return p.d.Chan == ChanRoj && p.d.To.Addr() != nodeIP(0) }
	pid, _, _ := s.nodes[0].Propose(s.now, "k", "v")
	s.collect(s.nodes[0])
	s.run()
	s.drop = nil
	accept := codec.EncodeRoj(codec.TypeVote, "n2", codec.Vote{Pid: pid, Accept: true, Reason: "ok"})
	from2 := netip.AddrPortFrom(nodeIP(1), 9990)
	for i := 0; i < 5; i++ {
		s.injectRoj(0, from2, accept)
	}
	if s.nodes[0].roj.store["k"].Version != 0 {
		t.Fatal("duplicate votes counted more than once (ROJ-THR-3)")
	}
	if s.nodes[0].stats.Invalid["roj_duplicate_vote"] != 4 {
		t.Fatalf("duplicate votes counted %d", s.nodes[0].stats.Invalid["roj_duplicate_vote"])
	}
	// A vote from a node outside members is ignored (ROJ-THR-4, ROJ-VOTE-9).
	s.injectRoj(0, netip.MustParseAddrPort("10.0.0.50:9990"), codec.EncodeRoj(codec.TypeVote, "zz", codec.Vote{Pid: pid, Accept: true, Reason: "ok"}))
	if s.nodes[0].roj.store["k"].Version != 0 {
		t.Fatal("vote from a non-member counted")
	}
	s.injectRoj(0, netip.AddrPortFrom(nodeIP(2), 9990), codec.EncodeRoj(codec.TypeVote, "n3", codec.Vote{Pid: pid, Accept: true, Reason: "ok"}))
	if s.nodes[0].roj.store["k"].Version != 1 {
		t.Fatal("third distinct accept did not commit")
	}
}

func TestTimeoutAbortRetry(t *testing.T) {
	s := newSim(t, 3, nil)
	blocked := true
	s.drop = func(p simPacket) bool {
		if p.d.Chan != ChanRoj || !blocked {
			return false
		}
		m, err := codec.DecodeRoj(p.d.Data)
		return err == nil && m.Type == codec.TypeVote // votes lost: the proposal can only time out
	}
	s.sent = nil
	pid1, _, _ := s.nodes[0].Propose(s.now, "k", "v")
	s.collect(s.nodes[0])
	s.run()
	s.advance(1_020_000) // past the 1000 ms deadline (ROJ-TIME-1)
	if len(s.nodes[0].roj.pending) != 0 || s.nodes[0].roj.store["k"].Version != 0 {
		t.Fatal("proposal did not time out")
	}
	if got := s.countSent("ABORT"); got != 2 {
		t.Fatalf("%d ABORTs sent, want one per abort-capable member (ROJ-ABORT-1)", got)
	}
	if got := s.countSent("COMMIT"); got != 0 {
		t.Fatal("COMMIT after the deadline")
	}
	for _, n := range s.nodes[1:] {
		if len(n.roj.locks) != 0 {
			t.Fatal("ABORT did not release a voter's lock")
		}
	}
	// ROJ-RETRY-2: a new pid after a backoff in [100, 1000] ms.
	blocked = false
	retryAt := int64(-1)
	for step := 0; step < 120 && retryAt < 0; step++ {
		s.advance(10_000)
		if s.nodes[0].roj.store["k"].Version == 1 {
			retryAt = s.now
		}
	}
	if retryAt < 0 {
		t.Fatal("no successful retry within 1.2 s")
	}
	if s.nodes[0].roj.counter != 2 {
		t.Fatalf("pid counter %d, want 2 (the retry is a new pid after %s)", s.nodes[0].roj.counter, pid1)
	}
}

func TestRejectionGivesUpEarly(t *testing.T) {
	s := newSim(t, 3, nil)
	for _, n := range s.nodes[1:] {
		n.roj.locks["k"] = &lock{pid: "zz:00000000:1", expiry: s.now + 60_000_000}
	}
	s.nodes[0].Propose(s.now, "k", "v")
	s.collect(s.nodes[0])
	s.run()
	if len(s.nodes[0].roj.pending) != 0 {
		t.Fatal("proposal still pending although t(n) became unreachable (ROJ-RETRY-1)")
	}
	if len(s.nodes[0].roj.retries) != 1 {
		t.Fatal("no retry scheduled")
	}
}

func TestKVApplyOrder(t *testing.T) {
	type e struct {
		v   string
		ver uint32
	}
	cases := []struct {
		stored, in e
		want       e
	}{
		{e{"a", 1}, e{"b", 2}, e{"b", 2}},
		{e{"b", 2}, e{"a", 1}, e{"b", 2}},
		{e{"a", 2}, e{"b", 2}, e{"b", 2}},
		{e{"b", 2}, e{"a", 2}, e{"b", 2}},
		{e{"B", 2}, e{"a", 2}, e{"a", 2}}, // byte-wise: 'a' > 'B'
		{e{"", 3}, e{"x", 3}, e{"x", 3}},
	}
	for _, c := range cases {
		s := newSim(t, 1, nil)
		n := s.nodes[0]
		n.roj.store["k"] = KV{c.stored.v, c.stored.ver}
		n.applyEntry(0, "k", c.in.v, c.in.ver, "ROJ-KV-1", "test", "")
		if got := n.roj.store["k"]; got != (KV{c.want.v, c.want.ver}) {
			t.Errorf("stored %v + %v = %+v, want %v", c.stored, c.in, got, c.want)
		}
	}
	// Order independence over every permutation of a set of entries.
	entries := []e{{"a", 1}, {"c", 2}, {"b", 2}, {"z", 1}}
	var results []KV
	permute(len(entries), func(order []int) {
		s := newSim(t, 1, nil)
		for _, i := range order {
			s.nodes[0].applyEntry(0, "k", entries[i].v, entries[i].ver, "", "", "")
		}
		results = append(results, s.nodes[0].roj.store["k"])
	})
	for _, r := range results {
		if r != (KV{"c", 2}) {
			t.Fatalf("order-dependent result %+v", r)
		}
	}
	// ROJ-KV-2: a 65th key is dropped.
	s := newSim(t, 1, nil)
	for i := 0; i < 64; i++ {
		s.nodes[0].roj.store[fmt.Sprintf("k%d", i)] = KV{"v", 1}
	}
	if s.nodes[0].applyEntry(0, "extra", "v", 1, "", "", "") || len(s.nodes[0].roj.store) != 64 {
		t.Fatal("65th key stored")
	}
}

func permute(n int, f func([]int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(idx)
			return
		}
		for i := k; i < n; i++ {
			idx[k], idx[i] = idx[i], idx[k]
			rec(k + 1)
			idx[k], idx[i] = idx[i], idx[k]
		}
	}
	rec(0)
}

func TestMembershipNeverShrinksAndLiveness(t *testing.T) {
	s := newSim(t, 3, nil)
	s.drop = func(p simPacket) bool { return p.from.Addr() == nodeIP(2) || p.d.To.Addr() == nodeIP(2) }
	s.advance(3_500_000)
	n := s.nodes[0]
	if len(n.Membership()) != 3 {
		t.Fatal("a silent member was removed (ROJ-MEMB-2)")
	}
	if live := n.Live(s.now); len(live) != 1 || live[0] != "n2" {
		t.Fatalf("live %v, want [n2] (ROJ-ANN-4)", live)
	}
	// Proposals still count the silent member: n = 3, t = 3, so no commit.
	n.Propose(s.now, "k", "v")
	s.collect(n)
	s.run()
	if n.roj.store["k"].Version != 0 {
		t.Fatal("committed without the silent member's vote although t(3)=3")
	}
}

func TestMembershipCap(t *testing.T) {
	s := newSim(t, 1, nil)
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("x%d", i)
		data := codec.EncodeRoj(codec.TypeAnnounce, id, codec.Announce{ModuleID: uint8(10 + i), Lang: "go", Version: "0.1.0",
			Caps: []string{}, Members: []string{id}, KorPort: 9991, CtlPort: 9992})
		s.injectRoj(0, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 9990), data)
	}
	if got := len(s.nodes[0].Membership()); got != MaxMembers {
		t.Fatalf("membership %d, want 32 (ROJ-MEMB-3)", got)
	}
}

func TestHostileRojInputNeverCounts(t *testing.T) {
	s := newSim(t, 2, nil)
	n := s.nodes[0]
	from := netip.MustParseAddrPort("10.0.0.66:9990")
	junk := [][]byte{nil, []byte("{"), []byte(`{"proto":1,"type":"VOTE"}`), make([]byte, 2000),
		[]byte(`{"proto":1,"type":"ANNOUNCE","node_id":"n1","payload":{}}`)}
	for i := 0; i < 100; i++ {
		for _, j := range junk {
			s.injectRoj(0, from, j)
		}
	}
	total := uint64(0)
	for _, v := range n.stats.Invalid {
		total += v
	}
	if total != 500 {
		t.Fatalf("%d invalid counted, want 500", total)
	}
	// Rate limiting: at most one log line per kind per 10 s.
	n.TakeLogs()
	for i := 0; i < 50; i++ {
		n.HandleRoj(s.now, from, []byte("{"))
	}
	if logs := n.TakeLogs(); len(logs) != 0 {
		t.Fatalf("%d log lines for a repeated kind within 10 s", len(logs))
	}
	s.advance(10_010_000)
	n.HandleRoj(s.now, from, []byte("{"))
	logs := n.TakeLogs()
	if len(logs) != 1 || !strings.Contains(fmt.Sprint(logs[0].Fields), "suppressed") {
		t.Fatalf("after 10 s: %+v", logs)
	}
	if len(n.Membership()) != 2 {
		t.Fatal("hostile input changed membership")
	}
}

func TestProposalFloodIsBounded(t *testing.T) {
	s := newSim(t, 3, nil)
	from := netip.MustParseAddrPort("10.0.0.9:9990")
	all := []string{"n1", "n2", "n3"}
	n := s.nodes[1]
	for i := 0; i < 3*decisionCap; i++ {
		n.HandleRoj(s.now, from, codec.EncodeRoj(codec.TypePropose, "n3", codec.Propose{Pid: fmt.Sprintf("n3:00000003:%d", i+1),
			Key: fmt.Sprintf("f%d", i%100), Value: "v", Version: 1, Members: all, N: 3, TimeoutMs: 60000}))
		n.TakeOutput()
		n.TakeLogs()
	}
	if len(n.roj.decisions) > decisionCap || len(n.roj.decOrder) > decisionCap {
		t.Fatalf("decision cache grew to %d/%d", len(n.roj.decisions), len(n.roj.decOrder))
	}
	if len(n.roj.locks) != MaxLocks {
		t.Fatalf("%d locks after a flood, want %d", len(n.roj.locks), MaxLocks)
	}
}
