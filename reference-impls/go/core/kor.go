package core

// EK-KOR v2 state machine (ek-kor.md): version vector and causal delivery (section 9), gap buffer
// and repair requests, forwarding with the hop limit (section 10), neighbour choice (section 11),
// anti-entropy (section 12), LWW registers (section 13), acknowledgements, the event store, the
// bridge into EK-ROJ (ek-roj.md BRIDGE-1..3) and the restart rule CTL-PERSIST-2.

import (
	"fmt"
	"net/netip"
	"sort"

	"ekcnode/codec"
)

type evID struct {
	origin uint8
	seq    uint32
}

type gapEntry struct {
	ev       codec.Event
	senderMd uint8
	forward  bool
}

type reqState struct {
	outstanding bool
	to          uint32
	sentAt      int64
	rotate      int
}

type korState struct {
	vv         [256]uint32
	events     map[evID]codec.Event
	order      []evID // delivery order, for eviction beyond EventStore
	gap        map[evID]gapEntry
	reqs       [256]reqState
	acks       map[netip.AddrPort][]codec.AckEntry
	ackOrder   []netip.AddrPort
	fields     map[uint8]codec.Event
	override   []uint8
	skewUs     int64
	nextAE     int64
	startedAt  int64
	initialAE  bool
	initialAt  int64          // when the last start-up VV_SYNC went out (CTL-PERSIST-2)
	lastSelfAt int64          // when the last frame carrying an own-origin event arrived
	startupTo  map[uint8]bool // modules our start-up VV_SYNC went to
	syncFrom   map[uint8]bool // modules whose VV_SYNC covering our module arrived
	highest    [256]uint32    // highest origin_seq seen in a frame or stated by a VV_SYNC, per origin (CTL-PERSIST-2)
	blocked    bool
	deferred   [][20]byte // bridge payloads waiting for the emit block to lift
	ownDirty   bool       // VV[self] advanced: persist before sending (CTL-PERSIST-1)
	dirty      bool
	persisted  bool
	emitsTotal uint64
	unacked    map[retxKey]*retxEntry  // kor-retx: gossip sent and not yet acknowledged
	syncedTo   map[netip.AddrPort]bool // KOR-AE-4: peers we have sent a VV_SYNC to
}

type retxKey struct {
	to     netip.AddrPort
	origin uint8
	seq    uint32
}

type retxEntry struct {
	ev     codec.Event
	sentAt int64
	tries  int
}

// retxCap bounds the retransmission table; beyond it new sends are simply not tracked.
const retxCap = 4096

func (k *korState) init() {
	k.events = map[evID]codec.Event{}
	k.gap = map[evID]gapEntry{}
	k.acks = map[netip.AddrPort][]codec.AckEntry{}
	k.fields = map[uint8]codec.Event{}
	k.unacked = map[retxKey]*retxEntry{}
	k.syncedTo = map[netip.AddrPort]bool{}
	k.startupTo = map[uint8]bool{}
	k.syncFrom = map[uint8]bool{}
	k.blocked = true
}

// nowTS is the event clock: wall-clock microseconds (Config.ClockBaseUs is the wall clock at time
// 0 of the core, so LWW compares like with like across nodes), wrapping, plus set_clock_skew.
func (n *Node) nowTS(now int64) uint32 { return uint32(n.cfg.ClockBaseUs + now + n.kor.skewUs) }

// VV returns the non-zero version-vector entries.
func (n *Node) VV() map[uint8]uint32 {
	out := map[uint8]uint32{}
	for o := 1; o < 256; o++ {
		if n.kor.vv[o] != 0 {
			out[uint8(o)] = n.kor.vv[o]
		}
	}
	return out
}

// ---- neighbours (KOR-NBR-1/2) ------------------------------------------------------------------

type nbr struct {
	module uint8
	addr   netip.AddrPort
}

func ringDistance(a, b uint8) int {
	d1, d2 := int(a-b), int(b-a)
	if d1 < d2 {
		return d1
	}
	return d2
}

// neighbours returns the current neighbour set with known EK-KOR addresses.
func (n *Node) neighbours(now int64) []nbr {
	byModule := map[uint8]*Member{}
	for _, id := range sortedKeys(n.roj.members) {
		m := n.roj.members[id]
		if m.ModuleID == 0 || m.ModuleID == n.cfg.ModuleID || !m.Addr.IsValid() || m.KorPort == 0 {
			continue
		}
		if prev, ok := byModule[m.ModuleID]; ok && n.isLive(now, prev) {
			continue
		}
		byModule[m.ModuleID] = m
	}
	var out []nbr
	if len(n.kor.override) > 0 {
		for _, mod := range n.kor.override {
			if m, ok := byModule[mod]; ok {
				out = append(out, nbr{mod, netip.AddrPortFrom(m.Addr, m.KorPort)})
			}
		}
		return out
	}
	for mod, m := range byModule {
		if n.isLive(now, m) {
			out = append(out, nbr{mod, netip.AddrPortFrom(m.Addr, m.KorPort)})
		}
	}
	self := n.cfg.ModuleID
	sort.Slice(out, func(i, j int) bool {
		di, dj := ringDistance(out[i].module, self), ringDistance(out[j].module, self)
		if di != dj {
			return di < dj
		}
		return out[i].module < out[j].module
	})
	if len(out) > MaxNeighbours {
		out = out[:MaxNeighbours]
	}
	return out
}

// NeighbourModules lists the neighbour module ids for the peers command.
func (n *Node) NeighbourModules(now int64) []uint8 {
	if len(n.kor.override) > 0 {
		return append([]uint8(nil), n.kor.override...)
	}
	var out []uint8
	for _, x := range n.neighbours(now) {
		out = append(out, x.module)
	}
	return out
}

// SetNeighbours is KOR-NBR-2; an empty list restores the automatic choice.
func (n *Node) SetNeighbours(mods []uint8) {
	n.kor.override = append([]uint8(nil), mods...)
}

// ---- receive -----------------------------------------------------------------------------------

// HandleKor processes one EK-KOR datagram.
func (n *Node) HandleKor(now int64, from netip.AddrPort, data []byte) {
	n.stats.Rx["kor"]++
	f, kerr := codec.ParseKor(data)
	if kerr != nil {
		n.invalid(now, "kor_"+kerr.Kind, kerr.Clause, kerr.Detail, from)
		return
	}
	switch f := f.(type) {
	case *codec.Gossip:
		n.onGossip(now, from, f)
	case *codec.Ack:
		n.stats.Rx["kor_ack"]++
		for _, e := range f.Entries {
			delete(n.kor.unacked, retxKey{from, e.Origin, e.Seq})
		}
	case *codec.Request:
		n.onRequest(now, from, f)
	case *codec.VVSync:
		n.onSync(now, from, f)
	}
}

func (n *Node) queueAck(to netip.AddrPort, e codec.Event) {
	if _, ok := n.kor.acks[to]; !ok {
		n.kor.ackOrder = append(n.kor.ackOrder, to)
	}
	n.kor.acks[to] = append(n.kor.acks[to], codec.AckEntry{Origin: e.OriginID, Seq: e.OriginSeq})
	if len(n.kor.acks[to]) == codec.MaxAckEntries {
		n.flushAcksTo(to)
	}
}

func (n *Node) flushAcksTo(to netip.AddrPort) {
	entries := n.kor.acks[to]
	for len(entries) > 0 {
		c := len(entries)
		if c > codec.MaxAckEntries {
			c = codec.MaxAckEntries
		}
		n.send(ChanKor, to, codec.EmitKor(&codec.Ack{Source: n.cfg.ModuleID, Entries: entries[:c]}), "kor_ack")
		entries = entries[c:]
	}
	n.kor.acks[to] = nil
}

func (n *Node) flushAcks() {
	for _, to := range n.kor.ackOrder {
		n.flushAcksTo(to)
		delete(n.kor.acks, to)
	}
	n.kor.ackOrder = n.kor.ackOrder[:0]
}

func (n *Node) onGossip(now int64, from netip.AddrPort, g *codec.Gossip) {
	e := g.Event
	id := evID{e.OriginID, e.OriginSeq}
	if !n.originAdmitted(e.OriginID) {
		// CTL-STATE-1: the state result lists the VV and must fit one datagram, so at most 64
		// origins are tracked; a further origin's events are dropped unacknowledged.
		n.invalid(now, "kor_origins_full", "CTL-STATE-1", fmt.Sprintf("origin %d beyond %d origins", e.OriginID, MaxOrigins), from)
		return
	}
	if e.OriginSeq > n.kor.highest[e.OriginID] {
		n.kor.highest[e.OriginID] = e.OriginSeq
	}
	if e.OriginID == n.cfg.ModuleID {
		n.kor.lastSelfAt = now
	}
	if stored, ok := n.kor.events[id]; ok && stored.Canonical() != e.Canonical() {
		n.invalid(now, "kor_event_conflict", "KOR-EVT-6", "two events with one identity differ", from)
	}
	_, inGap := n.kor.gap[id]
	switch {
	case e.OriginSeq <= n.kor.vv[e.OriginID] || inGap: // KOR-RX-1 duplicate
		n.queueAck(from, e)
	case e.OriginSeq == n.kor.vv[e.OriginID]+1:
		n.queueAck(from, e)
		n.deliver(now, e, g.Source, e.Flags&codec.FlagRepair == 0 && e.HopCount < codec.MaxHops)
		n.drainGap(now, e.OriginID)
	default: // gap
		if len(n.kor.gap) >= GapBuffer {
			n.rateLimited(now, "debug", "gap_full", "KOR-GAP-2", "gap buffer full: event dropped", "origin", e.OriginID, "seq", e.OriginSeq)
			n.maybeRequest(now, e.OriginID, e.OriginSeq-1, from)
			return
		}
		n.kor.gap[id] = gapEntry{ev: e, senderMd: g.Source, forward: e.Flags&codec.FlagRepair == 0 && e.HopCount < codec.MaxHops}
		n.queueAck(from, e)
		n.maybeRequest(now, e.OriginID, e.OriginSeq-1, from)
	}
}

// originAdmitted says whether events of origin o can be tracked (at most MaxOrigins origins,
// counting those so far seen only in the gap buffer).
func (n *Node) originAdmitted(o uint8) bool {
	if n.kor.vv[o] != 0 || o == n.cfg.ModuleID {
		return true
	}
	var seen [256]bool
	count := 0
	for x := 1; x < 256; x++ {
		if n.kor.vv[x] != 0 {
			seen[x] = true
			count++
		}
	}
	for id := range n.kor.gap {
		if id.origin == o {
			return true
		}
		if !seen[id.origin] {
			seen[id.origin] = true
			count++
		}
	}
	return count < MaxOrigins
}

// maybeRequest is KOR-GAP-1: one outstanding request per origin, re-sent at most every 500 ms.
func (n *Node) maybeRequest(now int64, origin uint8, upTo uint32, to netip.AddrPort) {
	r := &n.kor.reqs[origin]
	if r.outstanding && now-r.sentAt < 500_000 {
		return
	}
	from := n.kor.vv[origin] + 1
	if upTo < from {
		return
	}
	to64 := uint64(from) + 63
	if uint64(upTo) < to64 {
		to64 = uint64(upTo)
	}
	r.outstanding, r.to, r.sentAt = true, uint32(to64), now
	n.send(ChanKor, to, codec.EmitKor(&codec.Request{Source: n.cfg.ModuleID, Target: origin, FromSeq: from, ToSeq: uint32(to64)}), "kor_request")
	n.log("debug", "gap: events requested", "KOR-GAP-1", "origin", origin, "from", from, "to", to64, "peer", to.String())
}

func (n *Node) drainGap(now int64, origin uint8) {
	for {
		id := evID{origin, n.kor.vv[origin] + 1}
		ge, ok := n.kor.gap[id]
		if !ok {
			break
		}
		delete(n.kor.gap, id)
		n.deliver(now, ge.ev, ge.senderMd, ge.forward) // KOR-HOP-2: forwarded when delivered
	}
	if r := &n.kor.reqs[origin]; r.outstanding && n.kor.vv[origin] >= r.to {
		r.outstanding = false
	}
}

// deliver stores an event, advances VV, applies LWW and the bridge, and forwards (KOR-RX-1).
func (n *Node) deliver(now int64, e codec.Event, senderModule uint8, forward bool) {
	id := evID{e.OriginID, e.OriginSeq}
	n.kor.events[id] = e
	n.kor.order = append(n.kor.order, id)
	if len(n.kor.order) > EventStore {
		delete(n.kor.events, n.kor.order[0])
		n.kor.order = n.kor.order[1:]
	}
	n.kor.vv[e.OriginID] = e.OriginSeq
	n.kor.dirty = true
	n.applyEffects(now, e)
	n.log("debug", "event delivered", "KOR-RX-1", "origin", e.OriginID, "seq", e.OriginSeq, "type", e.EventType, "hop", e.HopCount)
	if !forward {
		return
	}
	fw := e
	fw.HopCount++
	fw.Flags = 0
	frame := codec.EmitKor(&codec.Gossip{Source: n.cfg.ModuleID, Summary: codec.VVSummary(&n.kor.vv), Event: fw})
	for _, nb := range n.neighbours(now) {
		if nb.module != senderModule && nb.module != e.OriginID { // KOR-HOP-1
			n.send(ChanKor, nb.addr, frame, "kor_gossip")
			n.trackUnacked(now, nb.addr, fw)
		}
	}
}

func (n *Node) applyEffects(now int64, e codec.Event) {
	switch e.EventType {
	case codec.EvFieldPublished:
		fid := e.Payload[0]
		if cur, ok := n.kor.fields[fid]; !ok || lwwNewer(e, cur) {
			n.kor.fields[fid] = e
		}
	case codec.EvConsensusResult:
		if k, v, ver, ok := codec.DecodeBridgePayload(e.Payload); ok {
			n.applyEntry(now, k, v, ver, "BRIDGE-3", "bridge", "")
		}
	}
}

// lwwNewer is KOR-LWW-1.
func lwwNewer(a, b codec.Event) bool {
	if a.TimestampUs != b.TimestampUs {
		d := a.TimestampUs - b.TimestampUs
		if d == 1<<31 {
			return a.TimestampUs > b.TimestampUs
		}
		return d >= 1 && d <= 1<<31-1
	}
	if a.OriginID != b.OriginID {
		return a.OriginID > b.OriginID
	}
	return a.OriginSeq > b.OriginSeq
}

// sendRepair sends a stored event with REPAIR and its stored hop_count (KOR-REQ-2, KOR-AE-2).
func (n *Node) sendRepair(to netip.AddrPort, e codec.Event) {
	e.Flags |= codec.FlagRepair
	src := n.cfg.ModuleID
	n.send(ChanKor, to, codec.EmitKor(&codec.Gossip{Source: src, Summary: codec.VVSummary(&n.kor.vv), Event: e}), "kor_repair")
}

// onRequest is KOR-REQ-2.
func (n *Node) onRequest(now int64, from netip.AddrPort, r *codec.Request) {
	for s := uint64(r.FromSeq); s <= uint64(r.ToSeq); s++ {
		if e, ok := n.kor.events[evID{r.Target, uint32(s)}]; ok {
			n.sendRepair(from, e)
		}
	}
}

// onSync is KOR-AE-2..4.
func (n *Node) onSync(now int64, from netip.AddrPort, s *codec.VVSync) {
	remote := map[uint8]uint32{}
	for _, e := range s.Entries {
		remote[e.Origin] = e.Seq
	}
	covers := func(m uint8) bool { return s.Lo <= m && m <= s.Hi }
	if covers(n.cfg.ModuleID) {
		n.kor.syncFrom[s.Source] = true // CTL-PERSIST-2: the sender states how far our own sequence went
	}
	for o := int(s.Lo); o <= int(s.Hi); o++ {
		if rv := remote[uint8(o)]; rv > n.kor.highest[o] {
			n.kor.highest[o] = rv
		}
	}
	switch {
	case covers(s.Source) && remote[s.Source] < n.kor.vv[s.Source]:
		// KOR-AE-4: the sender lost part of its own history; tell it how far its sequence went,
		// before the repairs.
		n.log("debug", "VV_SYNC answered: the sender is behind on its own origin", "KOR-AE-4",
			"peer", from.String(), "stated", remote[s.Source], "local", n.kor.vv[s.Source])
		n.sendSyncLeading(from, s.Source)
	case !n.kor.syncedTo[from] && len(n.kor.syncedTo) < 4*MaxMembers:
		n.sendSync(from) // KOR-AE-4's MAY: answer a peer's first VV_SYNC once with ours
	}
	// KOR-AE-2: the sender's own origin first, then the others ascending, so the pacing limit
	// (KOR-AE-3) never cuts off the history a restarted node waits for.
	order := make([]uint8, 0, int(s.Hi)-int(s.Lo)+1)
	if covers(s.Source) {
		order = append(order, s.Source)
	}
	for o := int(s.Lo); o <= int(s.Hi); o++ {
		if uint8(o) != s.Source {
			order = append(order, uint8(o))
		}
	}
	budget := RepairBudget
	for _, o := range order {
		rv, lv := remote[o], n.kor.vv[o]
		for q := uint64(rv) + 1; q <= uint64(lv) && budget > 0; q++ {
			if e, ok := n.kor.events[evID{o, uint32(q)}]; ok {
				n.sendRepair(from, e)
				budget--
			}
		}
		if rv > lv && n.originAdmitted(o) {
			n.kor.reqs[o].outstanding = false // the syncing node is the best source now
			n.maybeRequest(now, o, rv, from)
		}
	}
}

// syncFrames splits the VV over VV_SYNC frames of at most 11 entries covering 1..255 (KOR-SYNC-2).
func (n *Node) syncFrames() [][]byte { return n.syncFramesLeading(0) }

// syncFramesLeading is syncFrames with the frame whose range covers module `first` (if not 0)
// moved to the front (KOR-AE-4).
func (n *Node) syncFramesLeading(first uint8) [][]byte {
	var entries []codec.VVEntry
	for o := 1; o < 256; o++ {
		if n.kor.vv[o] != 0 {
			entries = append(entries, codec.VVEntry{Origin: uint8(o), Seq: n.kor.vv[o]})
		}
	}
	var frames [][]byte
	lo := 1
	for {
		c := len(entries)
		if c > codec.MaxSyncEntry {
			c = codec.MaxSyncEntry
		}
		chunk := entries[:c]
		entries = entries[c:]
		hi := 255
		if len(entries) > 0 {
			hi = int(entries[0].Origin) - 1
		}
		f := codec.EmitKor(&codec.VVSync{Source: n.cfg.ModuleID, Lo: uint8(lo), Hi: uint8(hi), Entries: chunk})
		if first != 0 && lo <= int(first) && int(first) <= hi {
			frames = append([][]byte{f}, frames...)
		} else {
			frames = append(frames, f)
		}
		if len(entries) == 0 {
			return frames
		}
		lo = hi + 1
	}
}

func (n *Node) sendSync(to netip.AddrPort) { n.sendSyncLeading(to, 0) }

func (n *Node) sendSyncLeading(to netip.AddrPort, first uint8) {
	if len(n.kor.syncedTo) < 4*MaxMembers {
		n.kor.syncedTo[to] = true
	}
	for _, f := range n.syncFramesLeading(first) {
		n.send(ChanKor, to, f, "kor_vv_sync")
	}
}

func (n *Node) korTick(now int64) {
	if !n.start {
		return
	}
	n.flushAcks()
	nbrs := n.neighbours(now)
	if len(nbrs) > 0 && (!n.kor.initialAE || n.kor.blocked) {
		// KOR-AE-1: at once when the first live neighbour appears; all of them, so a restarted
		// node hears about its own old events from everyone who has them; and while CTL-PERSIST-2
		// blocks emission, every neighbour that becomes live meanwhile.
		for _, nb := range nbrs {
			if !n.kor.startupTo[nb.module] {
				n.kor.startupTo[nb.module] = true
				n.sendSync(nb.addr)
				n.kor.initialAt = now
			}
		}
		if !n.kor.initialAE {
			n.kor.initialAE = true
			n.kor.nextAE = now + ms(n.cfg.AntiEntropyMs)
		}
	}
	if now >= n.kor.nextAE {
		if len(nbrs) > 0 {
			n.sendSync(nbrs[n.rng.Intn(int64(len(nbrs)))].addr)
		}
		n.kor.nextAE = now + ms(n.cfg.AntiEntropyMs)
	}
	// KOR-GAP-1: re-request persisting gaps, alternating neighbours.
	for o := 1; o < 256; o++ {
		r := &n.kor.reqs[o]
		if !r.outstanding || now-r.sentAt < 500_000 {
			continue
		}
		if n.kor.vv[o] >= r.to {
			r.outstanding = false
			continue
		}
		if len(nbrs) == 0 {
			continue
		}
		r.rotate++
		target := nbrs[r.rotate%len(nbrs)].addr
		r.outstanding = false
		n.maybeRequest(now, uint8(o), r.to, target)
	}
	n.retransmit(now)
	n.updateEmitBlock(now, nbrs)
}

func (n *Node) trackUnacked(now int64, to netip.AddrPort, e codec.Event) {
	if len(n.kor.unacked) < retxCap {
		n.kor.unacked[retxKey{to, e.OriginID, e.OriginSeq}] = &retxEntry{ev: e, sentAt: now}
	}
}

// retransmit is KOR-ACK-2's MAY (capability kor-retx): an event a neighbour has not acknowledged
// within 500 ms is sent again with REPAIR, at most twice, 500 ms apart.
func (n *Node) retransmit(now int64) {
	var due []retxKey
	for key, r := range n.kor.unacked {
		if now-r.sentAt >= 500_000 {
			due = append(due, key)
		}
	}
	sort.Slice(due, func(i, j int) bool { // map order is random; a seeded run must replay
		a, b := due[i], due[j]
		if a.to != b.to {
			return a.to.Addr().Less(b.to.Addr()) || (a.to.Addr() == b.to.Addr() && a.to.Port() < b.to.Port())
		}
		if a.origin != b.origin {
			return a.origin < b.origin
		}
		return a.seq < b.seq
	})
	for _, key := range due {
		r := n.kor.unacked[key]
		if r.tries >= 2 {
			delete(n.kor.unacked, key)
			continue
		}
		r.tries++
		r.sentAt = now
		e := r.ev
		e.Flags |= codec.FlagRepair
		n.send(ChanKor, key.to, codec.EmitKor(&codec.Gossip{Source: n.cfg.ModuleID, Summary: codec.VVSummary(&n.kor.vv), Event: e}), "kor_retx")
	}
}

// updateEmitBlock is CTL-PERSIST-2: without restored state, emit only after the start-up
// anti-entropy exchange (our VV_SYNC went to every live neighbour, and either a VV_SYNC covering us
// came back from every live neighbour or 300 ms passed after the last start-up VV_SYNC and the last
// own-origin frame) or after 2 anti-entropy periods with no live neighbour, and only once VV[self]
// has caught up with the highest own sequence seen in any frame or stated by any VV_SYNC. Waiting
// for every neighbour, not the first answer, keeps a neighbour that holds less of our history
// from lifting the block before one that holds more was heard.
func (n *Node) updateEmitBlock(now int64, nbrs []nbr) {
	if !n.kor.blocked {
		return
	}
	self := n.cfg.ModuleID
	answered := n.kor.initialAE && len(nbrs) > 0
	for _, nb := range nbrs {
		answered = answered && n.kor.syncFrom[nb.module]
	}
	since := n.kor.initialAt
	if n.kor.lastSelfAt > since {
		since = n.kor.lastSelfAt
	}
	settled := n.kor.initialAE && now-since >= 300_000
	exchanged := answered || settled
	alone := !n.kor.initialAE && now-n.kor.startedAt >= 2*ms(n.cfg.AntiEntropyMs)
	if (exchanged || alone) && n.kor.vv[self] >= n.kor.highest[self] {
		n.kor.blocked = false
		n.log("info", "emission enabled", "CTL-PERSIST-2", "own_seq", n.kor.vv[self])
		for _, p := range n.kor.deferred {
			n.emit(now, codec.EvConsensusResult, p)
		}
		n.kor.deferred = nil
	}
}

// EmitBlocked says whether CTL-PERSIST-2 still forbids emitting.
func (n *Node) EmitBlocked() bool { return n.kor.blocked }

// Emit is the control command emit (CTL-CMD-5): KOR-EMIT-1.
func (n *Node) Emit(now int64, eventType uint8, payload [20]byte) (uint8, uint32, *ProposeError) {
	if !codec.ValidEventType(eventType) || eventType == codec.EvConsensusStart || eventType == codec.EvConsensusVote {
		return 0, 0, &ProposeError{"bad_request", "event_type reserved (KOR-EVT-2, BRIDGE-4)"}
	}
	if eventType == codec.EvConsensusResult {
		if _, _, _, ok := codec.DecodeBridgePayload(payload); !ok {
			return 0, 0, &ProposeError{"bad_request", "invalid CONSENSUS_RESULT payload (KOR-TYPE-1)"}
		}
	}
	if n.kor.blocked {
		return 0, 0, &ProposeError{"busy", "waiting for the first anti-entropy exchange (CTL-PERSIST-2)"}
	}
	if n.kor.vv[n.cfg.ModuleID] == 1<<32-1 {
		return 0, 0, &ProposeError{"capacity", "origin_seq exhausted"}
	}
	seq := n.emit(now, eventType, payload)
	return n.cfg.ModuleID, seq, nil
}

func (n *Node) emit(now int64, eventType uint8, payload [20]byte) uint32 {
	self := n.cfg.ModuleID
	seq := n.kor.vv[self] + 1
	e := codec.Event{Sequence: seq, TimestampUs: n.nowTS(now), EventType: eventType, OriginID: self, OriginSeq: seq, Payload: payload}
	n.kor.ownDirty = true
	n.kor.emitsTotal++
	n.deliver(now, e, self, false)
	frame := codec.EmitKor(&codec.Gossip{Source: self, Summary: codec.VVSummary(&n.kor.vv), Event: e})
	for _, nb := range n.neighbours(now) {
		n.send(ChanKor, nb.addr, frame, "kor_gossip")
		n.trackUnacked(now, nb.addr, e)
	}
	n.log("info", "event emitted", "KOR-EMIT-1", "origin", self, "seq", seq, "type", eventType)
	return seq
}

// bridgeEmit is BRIDGE-1/2. While CTL-PERSIST-2 blocks emission the event waits (logged).
func (n *Node) bridgeEmit(now int64, key, value string, version uint32) {
	p := codec.EncodeBridgePayload(key, value, version)
	if n.kor.blocked {
		n.kor.deferred = append(n.kor.deferred, p)
		n.log("warn", "bridge event deferred until emission is enabled", "BRIDGE-1", "key", key, "version", version)
		return
	}
	n.emit(now, codec.EvConsensusResult, p)
}

// SetClockSkew is CTL-CMD-11.
func (n *Node) SetClockSkew(us int64) { n.kor.skewUs = us }

// CompareVV is the partial order of KOR-VV-1: "before", "after", "equal" or "concurrent".
func CompareVV(a, b map[uint8]uint32) string {
	less, greater := false, false
	for o := 1; o < 256; o++ {
		x, y := a[uint8(o)], b[uint8(o)]
		less = less || x < y
		greater = greater || x > y
	}
	switch {
	case less && greater:
		return "concurrent"
	case less:
		return "before"
	case greater:
		return "after"
	}
	return "equal"
}

// MergeVV is the element-wise maximum of KOR-VV-1.
func MergeVV(a, b map[uint8]uint32) map[uint8]uint32 {
	out := map[uint8]uint32{}
	for o, x := range a {
		out[o] = x
	}
	for o, y := range b {
		if y > out[o] {
			out[o] = y
		}
	}
	return out
}
