package core

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"ekcnode/codec"
)

func korFrom(i int) netip.AddrPort { return netip.AddrPortFrom(nodeIP(i), 9991) }

func gossip(src uint8, origin uint8, seq uint32, hop uint8, flags uint8) []byte {
	e := codec.Event{Sequence: seq, TimestampUs: seq * 10, EventType: 0x80, OriginID: origin, HopCount: hop, OriginSeq: seq, Flags: flags}
	return codec.EmitKor(&codec.Gossip{Source: src, Event: e})
}

func framesOf(s *sim, from int, msgType byte) []simPacket {
	var out []simPacket
	for _, p := range s.sent {
		if p.d.Chan == ChanKor && p.from.Addr() == nodeIP(from) && len(p.d.Data) > 0 && p.d.Data[0] == msgType {
			out = append(out, p)
		}
	}
	return out
}

func TestEmitReachesEveryone(t *testing.T) {
	s := newSim(t, 5, nil)
	origin, seq, err := s.nodes[2].Emit(s.now, codec.EvFieldPublished, [20]byte{7, 1, 2})
	if err != nil || origin != 3 || seq != 1 {
		t.Fatalf("emit: %d %d %v", origin, seq, err)
	}
	s.collect(s.nodes[2])
	s.run()
	for i, n := range s.nodes {
		if n.kor.vv[3] != 1 || n.kor.fields[7].OriginSeq != 1 {
			t.Fatalf("node %d: VV[3]=%d", i, n.kor.vv[3])
		}
	}
	d0 := s.nodes[0].StateResult()
	for _, n := range s.nodes[1:] {
		st := n.StateResult()
		if st.LogDigest != d0.LogDigest || st.FieldsDigest != d0.FieldsDigest || st.KVDigest != d0.KVDigest {
			t.Fatalf("digests diverge: %+v vs %+v", st, d0)
		}
	}
	// KOR-ACK-2: every accepted gossip frame is acknowledged within a tick.
	s.advance(10_000)
	acks := 0
	for i := range s.nodes {
		acks += len(framesOf(s, i, codec.MsgAck))
	}
	if acks == 0 {
		t.Fatal("no EVENT_ACK sent")
	}
}

func TestForwardingHopLimitAndDuplicates(t *testing.T) {
	s := newSim(t, 4, nil)
	s.sent = nil
	cases := []struct {
		name    string
		frame   []byte
		forward int
	}{
		{"hop 0 from origin 9: forwarded to the 3 others", gossip(9, 9, 1, 0, 0), 3}, // origin 9 is not a neighbour
		{"duplicate: acked, not forwarded (KOR-HOP-2)", gossip(9, 9, 1, 0, 0), 0},
		{"hop 3: delivered, not forwarded (KOR-HOP-1)", gossip(2, 9, 2, 3, 0), 0},
		{"REPAIR: delivered, not forwarded (KOR-HOP-3)", gossip(2, 9, 3, 1, codec.FlagRepair), 0},
		{"hop 1 from n2: forwarded except sender", gossip(2, 9, 4, 1, 0), 2},
	}
	for _, c := range cases {
		before := len(s.sent)
		s.injectKor(0, korFrom(1), c.frame)
		var fw []simPacket
		for _, p := range s.sent[before:] {
			// forwards only: repairs answering the neighbours' gap requests carry REPAIR
			if p.d.Chan == ChanKor && p.from.Addr() == nodeIP(0) && p.d.Data[0] == codec.MsgGossip && p.d.Data[19]&codec.FlagRepair == 0 {
				fw = append(fw, p)
			}
		}
		if len(fw) != c.forward {
			t.Fatalf("%s: %d forwards, want %d", c.name, len(fw), c.forward)
		}
		for _, p := range fw {
			g, _ := codec.ParseKor(p.d.Data)
			ev := g.(*codec.Gossip).Event
			in, _ := codec.ParseKor(c.frame)
			if ev.HopCount != in.(*codec.Gossip).Event.HopCount+1 || ev.Flags != 0 || p.d.To == korFrom(int(in.(*codec.Gossip).Source)-1) {
				t.Fatalf("%s: bad forward %+v to %s", c.name, ev, p.d.To)
			}
		}
	}
	if s.nodes[0].kor.vv[9] != 4 {
		t.Fatalf("VV[9] = %d", s.nodes[0].kor.vv[9])
	}
}

func TestGapRepair(t *testing.T) {
	s := newSim(t, 2, nil)
	n := s.nodes[0]
	// Node 2 has events 1..5 of origin 9 stored; node 1 receives only 4 and 5.
	for q := uint32(1); q <= 5; q++ {
		s.nodes[1].HandleKor(s.now, netip.MustParseAddrPort("10.0.0.99:9991"), gossip(9, 9, q, 0, 0))
	}
	s.nodes[1].TakeOutput()
	s.sent = nil
	s.injectKor(0, korFrom(1), gossip(2, 9, 4, 1, 0))
	reqs := framesOf(s, 0, codec.MsgRequest)
	if len(reqs) != 1 {
		t.Fatalf("%d EVENT_REQUESTs after a gap, want 1 (KOR-GAP-1)", len(reqs))
	}
	r, _ := codec.ParseKor(reqs[0].d.Data)
	if rq := r.(*codec.Request); rq.Target != 9 || rq.FromSeq != 1 || rq.ToSeq != 3 || reqs[0].d.To != korFrom(1) {
		t.Fatalf("request %+v to %s", rq, reqs[0].d.To)
	}
	// The repair answered the request; the buffered event 4 was delivered after 1..3 (KOR-CAUSAL-1).
	if n.kor.vv[9] != 4 {
		t.Fatalf("VV[9] = %d after repair, want 4", n.kor.vv[9])
	}
	s.injectKor(0, korFrom(1), gossip(2, 9, 5, 1, 0))
	if n.kor.vv[9] != 5 || len(n.kor.gap) != 0 {
		t.Fatalf("VV[9]=%d gap=%d", n.kor.vv[9], len(n.kor.gap))
	}
}

func TestGapBufferBounded(t *testing.T) {
	s := newSim(t, 2, nil)
	s.drop = func(p simPacket) bool { return p.d.Chan == ChanKor && p.d.Data[0] == codec.MsgRequest }
	for q := uint32(2); q < 100; q++ {
		s.injectKor(0, korFrom(1), gossip(2, 9, q, 1, 0))
	}
	if len(s.nodes[0].kor.gap) != GapBuffer || s.nodes[0].kor.vv[9] != 0 {
		t.Fatalf("gap buffer %d, VV[9]=%d", len(s.nodes[0].kor.gap), s.nodes[0].kor.vv[9])
	}
	s.drop = nil
	s.injectKor(0, korFrom(1), gossip(2, 9, 1, 1, 0))
	if s.nodes[0].kor.vv[9] != uint32(GapBuffer)+1 {
		t.Fatalf("VV[9]=%d after the missing event", s.nodes[0].kor.vv[9])
	}
}

func TestAntiEntropy(t *testing.T) {
	s := newSim(t, 2, nil)
	// Node 2 alone has 40 events of origin 9 (delivered while node 1 was cut off).
	for q := uint32(1); q <= 40; q++ {
		s.nodes[1].HandleKor(s.now, netip.MustParseAddrPort("10.0.0.99:9991"), gossip(9, 9, q, 0, 0))
	}
	s.nodes[1].TakeOutput()
	s.sent = nil
	// Node 1 syncs: node 2 sends at most 32 repairs (KOR-AE-3), node 1 then requests the rest.
	sync := s.nodes[0].syncFrames()
	if len(sync) != 1 {
		t.Fatalf("%d sync frames", len(sync))
	}
	s.injectKor(1, korFrom(0), sync[0])
	if got := len(framesOf(s, 1, codec.MsgGossip)); got != RepairBudget {
		t.Fatalf("%d repair frames for one VV_SYNC, want 32 (KOR-AE-3)", got)
	}
	if s.nodes[0].kor.vv[9] != 32 {
		t.Fatalf("VV[9] = %d after one exchange, want 32", s.nodes[0].kor.vv[9])
	}
	s.injectKor(1, korFrom(0), s.nodes[0].syncFrames()[0]) // the next exchange continues the repair
	if s.nodes[0].kor.vv[9] != 40 {
		t.Fatalf("VV[9] = %d after two exchanges, want 40", s.nodes[0].kor.vv[9])
	}
	// The reverse direction: a VV_SYNC showing more than we have triggers an EVENT_REQUEST.
	s.sent = nil
	s.nodes[0].kor.vv[9] = 40
	s.injectKor(1, korFrom(0), codec.EmitKor(&codec.VVSync{Source: 1, Lo: 1, Hi: 255, Entries: []codec.VVEntry{{Origin: 9, Seq: 45}}}))
	if len(framesOf(s, 1, codec.MsgRequest)) != 1 {
		t.Fatal("no EVENT_REQUEST for a remote VV ahead of ours (KOR-AE-2)")
	}
}

func TestSyncFramesSplit(t *testing.T) {
	s := newSim(t, 1, nil)
	for o := 1; o <= 30; o++ {
		s.nodes[0].kor.vv[o*3] = uint32(o)
	}
	frames := s.nodes[0].syncFrames()
	covered := map[int]uint32{}
	next := 1
	for _, f := range frames {
		p, err := codec.ParseKor(f)
		if err != nil {
			t.Fatalf("own VV_SYNC invalid: %v", err)
		}
		vs := p.(*codec.VVSync)
		if int(vs.Lo) != next {
			t.Fatalf("ranges not contiguous at %d", vs.Lo)
		}
		next = int(vs.Hi) + 1
		for _, e := range vs.Entries {
			covered[int(e.Origin)] = e.Seq
		}
	}
	if next != 256 || len(frames) != 3 || len(covered) != 30 {
		t.Fatalf("%d frames, end %d, %d entries", len(frames), next, len(covered))
	}
}

func TestLWWOrder(t *testing.T) {
	ev := func(ts uint32, origin uint8, seq uint32) codec.Event {
		return codec.Event{TimestampUs: ts, OriginID: origin, OriginSeq: seq}
	}
	cases := []struct {
		a, b  codec.Event
		newer bool
	}{
		{ev(2, 1, 1), ev(1, 1, 1), true},
		{ev(1, 1, 1), ev(2, 1, 1), false},
		{ev(5, 1, 1), ev(0xFFFFFFF0, 1, 1), true}, // wrapped: 5 is after 0xFFFFFFF0
		{ev(0x80000000, 1, 1), ev(0, 1, 1), true}, // difference exactly 2^31: larger wins
		{ev(0, 1, 1), ev(0x80000000, 1, 1), false},
		{ev(7, 2, 1), ev(7, 1, 9), true}, // equal ts: higher origin
		{ev(7, 2, 3), ev(7, 2, 2), true}, // equal both: higher seq
		{ev(7, 2, 2), ev(7, 2, 2), false},
	}
	for i, c := range cases {
		if got := lwwNewer(c.a, c.b); got != c.newer {
			t.Errorf("case %d: newer(%+v, %+v) = %v", i, c.a, c.b, got)
		}
		if c.a != c.b && lwwNewer(c.a, c.b) == lwwNewer(c.b, c.a) {
			t.Errorf("case %d: not antisymmetric", i)
		}
	}
}

func TestBridgeEventApplies(t *testing.T) {
	s := newSim(t, 2, nil)
	p := codec.EncodeBridgePayload("bay1", "22", 7)
	e := codec.Event{Sequence: 1, OriginSeq: 1, OriginID: 9, EventType: codec.EvConsensusResult, Payload: p}
	s.injectKor(0, korFrom(1), codec.EmitKor(&codec.Gossip{Source: 9, Event: e}))
	if got := s.nodes[0].roj.store["bay1"]; got != (KV{"22", 7}) {
		t.Fatalf("BRIDGE-3: store %+v", got)
	}
}

func TestEmitRules(t *testing.T) {
	s := newSim(t, 2, nil)
	n := s.nodes[0]
	for _, et := range []uint8{0, 5, 6, 8, 0x7f} {
		if _, _, err := n.Emit(s.now, et, [20]byte{}); err == nil || err.Code != "bad_request" {
			t.Errorf("event type 0x%02x: %v", et, err)
		}
	}
	if _, _, err := n.Emit(s.now, codec.EvConsensusResult, [20]byte{'K'}); err == nil {
		t.Error("invalid CONSENSUS_RESULT payload emitted")
	}
	for q := uint32(1); q <= 3; q++ {
		if _, seq, err := n.Emit(s.now, 0x80, [20]byte{}); err != nil || seq != q {
			t.Fatalf("emit %d: seq %d err %v (KOR-EMIT-1)", q, seq, err)
		}
	}
}

func TestRestartWithoutPersistenceWaits(t *testing.T) {
	// CTL-PERSIST-2: a node that restarts without state learns its old sequence before emitting.
	s := newSim(t, 2, nil)
	for q := 0; q < 5; q++ {
		s.nodes[0].Emit(s.now, 0x80, [20]byte{byte(q)})
		s.collect(s.nodes[0])
	}
	s.run()
	if s.nodes[1].kor.vv[1] != 5 {
		t.Fatalf("peer has VV[1]=%d", s.nodes[1].kor.vv[1])
	}
	fresh := New(testConfig(0, 2))
	s.nodes[0] = fresh
	s.byIP[nodeIP(0)] = fresh
	fresh.Start(s.now)
	s.collect(fresh)
	s.run()
	if _, _, err := fresh.Emit(s.now, 0x80, [20]byte{}); err == nil || err.Code != "busy" {
		t.Fatalf("emit before the exchange: %v", err)
	}
	s.advance(1_500_000) // the peer's next ANNOUNCE makes it live, then the start-up VV_SYNC goes out
	origin, seq, err := fresh.Emit(s.now, 0x80, [20]byte{})
	if err != nil || origin != 1 || seq != 6 {
		t.Fatalf("after restart: seq %d err %v, want 6 (no reuse)", seq, err)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	s := newSim(t, 2, func(i int, c *Config) { c.Persist = true })
	s.nodes[0].Emit(s.now, codec.EvFieldPublished, [20]byte{3})
	s.nodes[0].applyEntry(s.now, "k", "v", 2, "", "", "")
	if !s.nodes[0].NeedsSyncPersist() {
		t.Fatal("emission did not ask for a synchronous persist (CTL-PERSIST-1)")
	}
	snap := s.nodes[0].Snapshot()
	again := New(testConfig(0, 2))
	if err := again.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.StateResult(), s.nodes[0].StateResult()) {
		t.Fatalf("restored state differs:\n%+v\n%+v", again.StateResult(), s.nodes[0].StateResult())
	}
	if _, seq, err := again.Emit(0, 0x80, [20]byte{}); err != nil || seq != 2 {
		t.Fatalf("restored node emits seq %d (%v), want 2", seq, err)
	}
	for _, bad := range []string{"", "{", `{"format":2}`, `{"format":1,"vv":{"0":1}}`, `{"format":1,"events":["zz"]}`} {
		if err := New(testConfig(0, 2)).Restore([]byte(bad)); err == nil {
			t.Errorf("bad snapshot %q accepted", bad)
		}
	}
}

func TestHostileKorInput(t *testing.T) {
	s := newSim(t, 2, nil)
	for i := 0; i < 300; i++ {
		junk := []byte(strings.Repeat(fmt.Sprint(i), 1+i%40))
		s.injectKor(0, korFrom(1), junk)
	}
	if len(s.nodes[0].kor.events) != 0 {
		t.Fatal("junk delivered as events")
	}
	// A conflicting event (same identity, different bytes) is counted, never delivered twice.
	s.injectKor(0, korFrom(1), gossip(9, 9, 1, 0, 0))
	e := codec.Event{Sequence: 1, OriginSeq: 1, OriginID: 9, EventType: 0x81}
	s.injectKor(0, korFrom(1), codec.EmitKor(&codec.Gossip{Source: 9, Event: e}))
	if s.nodes[0].stats.Invalid["kor_event_conflict"] != 1 || s.nodes[0].kor.vv[9] != 1 {
		t.Fatal("conflicting event not flagged")
	}
	_ = hex.EncodeToString
}

func TestRetransmitUnacknowledged(t *testing.T) {
	s := newSim(t, 2, nil)
	lost := 0
	s.drop = func(p simPacket) bool {
		if p.d.Chan == ChanKor && p.d.Data[0] == codec.MsgGossip && p.d.To == korFrom(1) && lost < 1 {
			lost++
			return true // the first transmission is lost
		}
		return false
	}
	s.nodes[0].Emit(s.now, 0x80, [20]byte{})
	s.collect(s.nodes[0])
	s.run()
	if s.nodes[1].kor.vv[1] != 0 {
		t.Fatal("event arrived although its frame was dropped")
	}
	s.sent = nil
	s.advance(520_000)
	retx := 0
	for _, p := range framesOf(s, 0, codec.MsgGossip) {
		if p.d.Data[19]&codec.FlagRepair != 0 {
			retx++
		}
	}
	if s.nodes[1].kor.vv[1] != 1 || retx != 1 {
		t.Fatalf("after 500 ms: VV=%d, %d retransmissions (KOR-ACK-2)", s.nodes[1].kor.vv[1], retx)
	}
	s.advance(2_000_000)
	if len(s.nodes[0].kor.unacked) != 0 {
		t.Fatal("acknowledged event still tracked")
	}
	// A neighbour that never acknowledges gets at most two retransmissions.
	s.drop = func(p simPacket) bool {
		return p.d.Chan == ChanKor && p.from.Addr() == nodeIP(1) && p.d.Data[0] == codec.MsgAck
	}
	s.sent = nil
	s.nodes[0].Emit(s.now, 0x80, [20]byte{1})
	s.collect(s.nodes[0])
	s.run()
	s.advance(3_000_000)
	retx = 0
	for _, p := range framesOf(s, 0, codec.MsgGossip) {
		if p.d.Data[19]&codec.FlagRepair != 0 && p.d.Data[22] == 2 {
			retx++
		}
	}
	if retx != 2 {
		t.Fatalf("%d retransmissions to a silent neighbour, want 2", retx)
	}
}

func TestNeighbourChoice(t *testing.T) {
	s := newSim(t, 1, func(i int, c *Config) { c.ModuleID = 10 })
	n := s.nodes[0]
	for _, mod := range []uint8{20, 9, 11, 3, 17, 250, 13, 7, 12, 6, 14, 200} {
		id := fmt.Sprintf("m%d", mod)
		data := codec.EncodeRoj(codec.TypeAnnounce, id, codec.Announce{ModuleID: mod, Lang: "go", Version: "0.1.0",
			Caps: []string{}, Members: []string{id}, KorPort: 9991, CtlPort: 9992})
		n.HandleRoj(s.now, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, mod}), 9990), data)
	}
	// Ring distances from 10: 9,11 -> 1; 12 -> 2; 7,13 -> 3; 6,14 -> 4; ties to the lower id (KOR-NBR-1).
	if got := fmt.Sprint(n.NeighbourModules(s.now)); got != "[9 11 12 7 13 6 14]" {
		t.Fatalf("neighbours %s", got)
	}
	n.SetNeighbours([]uint8{200, 250})
	if got := fmt.Sprint(n.NeighbourModules(s.now)); got != "[200 250]" {
		t.Fatalf("override %s (KOR-NBR-2)", got)
	}
	n.SetNeighbours(nil)
	s.advance(4_000_000) // everyone falls silent: no live neighbour left
	if got := n.NeighbourModules(s.now); len(got) != 0 {
		t.Fatalf("silent members still neighbours: %v", got)
	}
}

func TestOriginCapKeepsStateInOneDatagram(t *testing.T) {
	s := newSim(t, 1, nil)
	n := s.nodes[0]
	for o := 2; o <= 80; o++ {
		e := codec.Event{Sequence: 1, OriginSeq: 1, OriginID: uint8(o), EventType: 0x80}
		n.HandleKor(s.now, korFrom(5), codec.EmitKor(&codec.Gossip{Source: uint8(o), Event: e}))
	}
	if got := len(n.VV()); got != MaxOrigins {
		t.Fatalf("%d origins tracked, want %d (CTL-STATE-1)", got, MaxOrigins)
	}
	if n.stats.Invalid["kor_origins_full"] != uint64(80-1-MaxOrigins) {
		t.Fatalf("origins_full counted %d", n.stats.Invalid["kor_origins_full"])
	}
	for o := 2; o <= 65; o++ {
		n.kor.vv[o] = 4294967295 // the longest decimal representation
	}
	resp := s.ctl(0, `{"id":4294967295,"cmd":"state"}`)
	b, _ := json.Marshal(resp)
	if len(b) > codec.MaxCtlDatagram {
		t.Fatalf("state result of %d bytes does not fit one datagram", len(b))
	}
}

func TestAnswerFirstSyncOnce(t *testing.T) {
	s := newSim(t, 2, nil)
	s.sent = nil
	peer := netip.MustParseAddrPort("10.0.0.77:9991")
	sync := codec.EmitKor(&codec.VVSync{Source: 77, Lo: 1, Hi: 255})
	s.injectKor(0, peer, sync)
	s.injectKor(0, peer, sync)
	answers := 0
	for _, p := range s.sent {
		if p.d.To == peer && p.d.Data[0] == codec.MsgVVSync {
			answers++
		}
	}
	if answers != 1 {
		t.Fatalf("%d VV_SYNC answers to a new peer, want exactly 1 (KOR-AE-4)", answers)
	}
}

// ---- restart without persistence and the anti-entropy answer (KOR-AE-2..4, CTL-PERSIST-2) ----

// history is the crash-restart-gossip capture: origins 1..4 with 22, 7, 2 and 2 events.
var history = []codec.VVEntry{{Origin: 1, Seq: 22}, {Origin: 2, Seq: 7}, {Origin: 3, Seq: 2}, {Origin: 4, Seq: 2}}

func peerRoj(mod uint8) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, mod}), 9990)
}
func peerKor(mod uint8) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, mod}), 9991)
}

// loneNode is a started node of module `mod` without persisted state and without static peers.
func loneNode(mod uint8) *Node {
	c := testConfig(0, 1)
	c.ModuleID, c.NodeID, c.StaticPeers = mod, fmt.Sprintf("m%d", mod), nil
	n := New(c)
	n.Start(0)
	n.TakeOutput()
	return n
}

// learn makes n hear an ANNOUNCE of module mod (a live neighbour from then on).
func learn(n *Node, now int64, mods ...uint8) {
	for _, mod := range mods {
		id := fmt.Sprintf("m%d", mod)
		n.HandleRoj(now, peerRoj(mod), codec.EncodeRoj(codec.TypeAnnounce, id, codec.Announce{ModuleID: mod, Lang: "go",
			Version: "0.1.0", Caps: []string{}, Members: []string{id}, KorPort: 9991, CtlPort: 9992}))
	}
}

func repairFrame(src, origin uint8, seq uint32) []byte {
	return gossip(src, origin, seq, 0, codec.FlagRepair)
}

// cutRepairs are the 32 repairs of a responder that sends origins ascending: (4, 2) is cut off.
func cutRepairs() [][2]uint32 {
	var out [][2]uint32
	for _, h := range history {
		for q := uint32(1); q <= h.Seq && len(out) < RepairBudget; q++ {
			out = append(out, [2]uint32{uint32(h.Origin), q})
		}
	}
	return out
}

func korFrames(out []Datagram) []codec.KorFrame {
	var fs []codec.KorFrame
	for _, d := range out {
		if d.Chan == ChanKor {
			f, err := codec.ParseKor(d.Data)
			if err != nil {
				panic(err)
			}
			fs = append(fs, f)
		}
	}
	return fs
}

func TestRestartedNodeBusyWhileOwnHistoryCutOff(t *testing.T) {
	// CTL-PERSIST-2 (a): 32 repairs from neighbour 1 end at (4, 1); neighbour 2's repair of (4, 3)
	// shows the sequence went further. Emitting 2 would reuse a sequence (KOR-VV-2).
	n := loneNode(4)
	learn(n, 1_000, 1, 2)
	n.Tick(10_000)
	syncs := 0
	for _, f := range korFrames(n.TakeOutput()) {
		if _, ok := f.(*codec.VVSync); ok {
			syncs++
		}
	}
	if syncs != 2 {
		t.Fatalf("%d start-up VV_SYNCs, want one to each live neighbour", syncs)
	}
	cut := cutRepairs()
	if len(cut) != 32 || cut[31] != [2]uint32{4, 1} {
		t.Fatalf("cut repairs %v", cut)
	}
	for _, r := range cut {
		n.HandleKor(20_000, peerKor(1), repairFrame(1, uint8(r[0]), r[1]))
	}
	n.HandleKor(25_000, peerKor(2), repairFrame(2, 4, 3))
	if n.kor.vv[4] != 1 {
		t.Fatalf("VV[self] = %d", n.kor.vv[4])
	}
	for _, at := range []int64{100_000, 400_000, 1_000_000, 2_000_000} {
		n.Tick(at)
		if _, _, err := n.Emit(at, 0x80, [20]byte{}); err == nil || err.Code != "busy" {
			t.Fatalf("emit at %d µs with VV[self] = 1 < 3 seen: %v", at, err)
		}
	}
	asked := false
	for _, f := range korFrames(n.TakeOutput()) {
		if r, ok := f.(*codec.Request); ok && r.Target == 4 && r.FromSeq == 2 && r.ToSeq == 2 {
			asked = true
		}
	}
	if !asked {
		t.Fatal("the missing own event (4, 2) was not requested (KOR-GAP-1)")
	}
	n.HandleKor(2_100_000, peerKor(1), repairFrame(1, 4, 2))
	learn(n, 2_100_000, 1, 2)
	n.Tick(2_200_000)
	if _, _, err := n.Emit(2_200_000, 0x80, [20]byte{}); err == nil || err.Code != "busy" {
		t.Fatalf("emit 100 ms after an own-origin frame: %v", err)
	}
	n.Tick(2_400_000)
	if o, seq, err := n.Emit(2_400_000, 0x80, [20]byte{}); err != nil || o != 4 || seq != 4 {
		t.Fatalf("emit after catching up: (%d, %d) %v, want (4, 4)", o, seq, err)
	}
}

func TestRestartedNodeWaitsForTheSequenceAVVSyncStates(t *testing.T) {
	// CTL-PERSIST-2 (b): the neighbour's VV_SYNC states (4, 2); its repairs are cut off at (4, 1).
	n := loneNode(4)
	learn(n, 1_000, 1)
	n.Tick(10_000)
	n.TakeOutput()
	n.HandleKor(20_000, peerKor(1), codec.EmitKor(&codec.VVSync{Source: 1, Lo: 1, Hi: 255, Entries: history}))
	asked := false
	for _, f := range korFrames(n.TakeOutput()) {
		if r, ok := f.(*codec.Request); ok && r.Target == 4 && r.FromSeq == 1 && r.ToSeq == 2 {
			asked = true
		}
	}
	if !asked {
		t.Fatal("own history not requested from the node that stated it (KOR-AE-2)")
	}
	for _, r := range cutRepairs() {
		n.HandleKor(21_000, peerKor(1), repairFrame(1, uint8(r[0]), r[1]))
	}
	for _, at := range []int64{30_000, 400_000, 1_000_000, 2_500_000} {
		n.Tick(at)
		if _, _, err := n.Emit(at, 0x80, [20]byte{}); err == nil || err.Code != "busy" {
			t.Fatalf("emit at %d µs with VV[self] = 1, stated 2: %v", at, err)
		}
	}
	n.HandleKor(2_500_000, peerKor(1), repairFrame(1, 4, 2))
	learn(n, 2_500_000, 1)
	n.Tick(2_510_000)
	if o, seq, err := n.Emit(2_510_000, 0x80, [20]byte{}); err != nil || o != 4 || seq != 3 {
		t.Fatalf("emit after catching up: (%d, %d) %v, want (4, 3)", o, seq, err)
	}
}

func TestEmitBlockWaitsForEveryNeighbour(t *testing.T) {
	// Neighbour 1 knows (4, 1) only and answers first; neighbour 2 knows (4, 2).
	n := loneNode(4)
	learn(n, 1_000, 1, 2)
	n.Tick(10_000)
	n.HandleKor(20_000, peerKor(1), codec.EmitKor(&codec.VVSync{Source: 1, Lo: 1, Hi: 255, Entries: []codec.VVEntry{{Origin: 4, Seq: 1}}}))
	n.HandleKor(21_000, peerKor(1), repairFrame(1, 4, 1))
	n.Tick(30_000)
	if !n.EmitBlocked() {
		t.Fatal("unblocked before neighbour 2 answered and before 300 ms")
	}
	n.HandleKor(40_000, peerKor(2), codec.EmitKor(&codec.VVSync{Source: 2, Lo: 1, Hi: 255, Entries: []codec.VVEntry{{Origin: 4, Seq: 2}}}))
	n.Tick(50_000)
	if !n.EmitBlocked() {
		t.Fatal("unblocked with VV[self] = 1 < 2 stated")
	}
	n.HandleKor(60_000, peerKor(2), repairFrame(2, 4, 2))
	n.Tick(70_000)
	if _, seq, err := n.Emit(70_000, 0x80, [20]byte{}); err != nil || seq != 3 {
		t.Fatalf("emit: %d %v, want 3", seq, err)
	}
}

// responder is a node of module 9 holding history, learnt as hop-0 gossip from each origin.
func responder() *Node {
	r := loneNode(9)
	for _, h := range history {
		for q := uint32(1); q <= h.Seq; q++ {
			r.HandleKor(1_000, peerKor(h.Origin), gossip(h.Origin, h.Origin, q, 0, 0))
		}
	}
	r.Tick(2_000)
	r.TakeOutput()
	return r
}

func TestSyncFromNodeBehindOnItsOwnOriginAnsweredThenOwnHistoryFirst(t *testing.T) {
	r := responder()
	// Before its restart, node 4 had synced with us: the once-only answer to a new peer is spent.
	r.HandleKor(3_000, peerKor(4), codec.EmitKor(&codec.VVSync{Source: 4, Lo: 1, Hi: 255, Entries: history}))
	r.TakeOutput()
	// KOR-AE-4, KOR-AE-2, KOR-AE-3: the restarted node 4 sends its start-up VV_SYNC (empty).
	r.HandleKor(4_000, peerKor(4), codec.EmitKor(&codec.VVSync{Source: 4, Lo: 1, Hi: 255}))
	out := r.TakeOutput()
	fs := korFrames(out)
	first, ok := fs[0].(*codec.VVSync)
	if !ok || first.Lo > 4 || first.Hi < 4 {
		t.Fatalf("output must start with a VV_SYNC covering module 4, got %#v", fs[0])
	}
	if !reflect.DeepEqual(first.Entries, history) {
		t.Fatalf("VV_SYNC answer states %v", first.Entries)
	}
	var repairs [][2]uint32
	seenRepair := false
	for _, f := range fs {
		switch f := f.(type) {
		case *codec.Gossip:
			seenRepair = true
			if f.Event.Flags&codec.FlagRepair == 0 {
				t.Fatalf("non-repair gossip %+v", f.Event)
			}
			repairs = append(repairs, [2]uint32{uint32(f.Event.OriginID), f.Event.OriginSeq})
		case *codec.VVSync:
			if seenRepair {
				t.Fatal("VV_SYNC after the repairs")
			}
		}
	}
	if len(repairs) != 32 {
		t.Fatalf("%d repair frames, want 32 (KOR-AE-3)", len(repairs))
	}
	if repairs[0] != [2]uint32{4, 1} || repairs[1] != [2]uint32{4, 2} || repairs[2] != [2]uint32{1, 1} {
		t.Fatalf("repair order %v: the syncing node's own origin first, then ascending", repairs[:3])
	}
	for _, d := range out {
		if d.To != peerKor(4) {
			t.Fatalf("answer sent to %s", d.To)
		}
	}
	// Fed to the restarted node, the answer and the 32 repairs are enough to emit 3, not 2.
	n := loneNode(4)
	learn(n, 1_000, 9)
	n.Tick(10_000)
	n.TakeOutput()
	for _, d := range out {
		n.HandleKor(20_000, peerKor(9), d.Data)
	}
	n.Tick(30_000)
	if _, seq, err := n.Emit(30_000, 0x80, [20]byte{}); err != nil || seq != 3 {
		t.Fatalf("restarted node emits %d (%v), want 3", seq, err)
	}
}

func TestSyncAnswerOnlyForANodeBehindOnItsOwnOrigin(t *testing.T) {
	r := responder()
	r.HandleKor(3_000, peerKor(4), codec.EmitKor(&codec.VVSync{Source: 4, Lo: 1, Hi: 255, Entries: history}))
	r.TakeOutput() // the once-only answer to a new peer
	r.HandleKor(4_000, peerKor(4), codec.EmitKor(&codec.VVSync{Source: 4, Lo: 1, Hi: 255, Entries: []codec.VVEntry{{Origin: 4, Seq: 2}}}))
	for _, f := range korFrames(r.TakeOutput()) {
		if _, ok := f.(*codec.VVSync); ok {
			t.Fatal("answered a node that is not behind on its own origin")
		}
	}
	// A frame whose range does not cover the sender's module says nothing about its own origin.
	r.HandleKor(5_000, peerKor(4), codec.EmitKor(&codec.VVSync{Source: 4, Lo: 1, Hi: 3}))
	for _, f := range korFrames(r.TakeOutput()) {
		if _, ok := f.(*codec.VVSync); ok {
			t.Fatal("answered a VV_SYNC not covering the sender's module")
		}
	}
}

func TestSyncAnswerLeadsWithTheFrameCoveringTheSender(t *testing.T) {
	s := newSim(t, 1, nil)
	for o := 1; o <= 30; o++ {
		s.nodes[0].kor.vv[o*3] = uint32(o)
	}
	frames := s.nodes[0].syncFramesLeading(60)
	p, _ := codec.ParseKor(frames[0])
	if vs := p.(*codec.VVSync); vs.Lo > 60 || vs.Hi < 60 || len(frames) != 3 {
		t.Fatalf("first frame covers %d..%d of %d", vs.Lo, vs.Hi, len(frames))
	}
}
