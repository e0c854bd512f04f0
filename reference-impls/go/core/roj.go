package core

// EK-ROJ state machine (ek-roj.md): membership and liveness (sections 4-5), the voter's lock table
// (section 8), the proposer's pending proposals, commit, abort and retry (sections 7, 9-11), and the
// key-value store with its apply order (ROJ-KV-1).

import (
	"fmt"
	"net/netip"
	"sort"

	"ekcnode/codec"
)

// Member is what this node knows about another node (ROJ-DISC-3, ROJ-MEMB-1).
type Member struct {
	ID          string
	Addr        netip.Addr // zero until known
	RojPort     uint16
	KorPort     uint16
	CtlPort     uint16
	ModuleID    uint8
	Caps        []string
	Lang        string
	Incarnation uint32
	Announced   bool
	LastHeard   int64
	Heard       bool
}

func (m *Member) rojAddr() (netip.AddrPort, bool) {
	if !m.Addr.IsValid() || m.RojPort == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(m.Addr, m.RojPort), true
}

func (m *Member) hasCap(c string) bool {
	for _, x := range m.Caps {
		if x == c {
			return true
		}
	}
	return false
}

// KV is one stored entry (ROJ-KV-1).
type KV struct {
	Value   string
	Version uint32
}

type lock struct {
	pid    string
	expiry int64 // µs; ROJ-TIME-2
	own    bool
}

type decision struct {
	reason string
	expiry int64
}

type proposal struct {
	pid       string
	key       string
	value     string
	version   uint32
	members   []string
	n, t      int
	deadline  int64 // ROJ-TIME-1
	accepts   map[string]bool
	rejects   map[string]string
	attempt   int // retries already made before this one
	sentAt    int64
	timeoutMs int64
}

type retry struct {
	key, value  string
	attempt     int
	at          int64
	waitVersion uint32 // ROJ-RETRY-2: a stale majority waits until the store reaches this version
	giveUpAt    int64
}

type rojState struct {
	members     map[string]*Member
	store       map[string]KV
	locks       map[string]*lock // by key
	decisions   map[string]decision
	decOrder    []string
	pending     map[string]*proposal
	retries     []*retry
	counter     uint32
	announceSeq uint32
	announced   bool
	nextAnn     int64
}

func (r *rojState) init() {
	r.members = map[string]*Member{}
	r.store = map[string]KV{}
	r.locks = map[string]*lock{}
	r.decisions = map[string]decision{}
	r.pending = map[string]*proposal{}
}

func ms(x int64) int64 { return x * 1000 }

// Membership returns the sorted membership including this node (ROJ-THR-2).
func (n *Node) Membership() []string {
	ids := []string{n.cfg.NodeID}
	for id := range n.roj.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Live returns the sorted ids of live members (ROJ-ANN-4), this node excluded.
func (n *Node) Live(now int64) []string {
	var ids []string
	for id, m := range n.roj.members {
		if n.isLive(now, m) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (n *Node) isLive(now int64, m *Member) bool {
	return m.Heard && now-m.LastHeard <= ms(n.cfg.LivenessMs)
}

// Store returns a copy of the key-value store.
func (n *Node) Store() map[string]KV {
	c := make(map[string]KV, len(n.roj.store))
	for k, v := range n.roj.store {
		c[k] = v
	}
	return c
}

// Discovered is called by the shell when mDNS resolves an instance (ROJ-DISC-3).
func (n *Node) Discovered(now int64, id string, addr netip.Addr, rojPort, korPort, ctlPort uint16, moduleID uint8, caps []string) {
	if id == n.cfg.NodeID || !codec.NodeIDPattern.MatchString(id) {
		return
	}
	m, isNew := n.learnMember(now, id)
	if m == nil {
		return
	}
	m.Addr, m.RojPort = addr, rojPort
	if korPort != 0 {
		m.KorPort = korPort
	}
	if ctlPort != 0 {
		m.CtlPort = ctlPort
	}
	if moduleID != 0 {
		m.ModuleID = moduleID
	}
	if caps != nil && !m.Announced {
		m.Caps = caps
	}
	if isNew {
		n.log("info", "member discovered by mDNS", "ROJ-DISC-3", "member", id, "addr", netip.AddrPortFrom(addr, rojPort).String())
		n.sendAnnounceTo(now, m)
	}
}

// learnMember returns the member, creating it unless membership is full (ROJ-MEMB-3).
func (n *Node) learnMember(now int64, id string) (*Member, bool) {
	if m, ok := n.roj.members[id]; ok {
		return m, false
	}
	if len(n.roj.members)+1 >= MaxMembers {
		n.rateLimited(now, "warn", "membership_full", "ROJ-MEMB-3", "membership full: member ignored", "member", id)
		return nil, false
	}
	m := &Member{ID: id}
	n.roj.members[id] = m
	return m, true
}

// HandleRoj processes one EK-ROJ datagram.
func (n *Node) HandleRoj(now int64, from netip.AddrPort, data []byte) {
	n.stats.Rx["roj"]++
	msg, derr := codec.DecodeRoj(data)
	if derr != nil {
		n.invalid(now, "roj_"+derr.Kind, derr.Clause, derr.Detail, from)
		return
	}
	if msg.NodeID == n.cfg.NodeID {
		n.invalid(now, "roj_own_node_id", "ROJ-ENV-4", "a message carries this node's own node_id", from)
		return
	}
	if msg.Type == codec.TypeAnnounce {
		n.onAnnounce(now, from, msg.NodeID, msg.Announce)
		return
	}
	if m, ok := n.roj.members[msg.NodeID]; ok {
		m.LastHeard, m.Heard = now, true // ROJ-ANN-4: any valid message keeps a member live
	}
	switch msg.Type {
	case codec.TypePropose:
		n.onPropose(now, from, msg.NodeID, msg.Propose)
	case codec.TypeVote:
		n.onVote(now, from, msg.NodeID, msg.Vote)
	case codec.TypeCommit:
		n.onCommit(now, msg.NodeID, msg.Commit)
	case codec.TypeAbort:
		n.onAbort(now, msg.NodeID, msg.Abort)
	}
}

func (n *Node) onAnnounce(now int64, from netip.AddrPort, id string, a *codec.Announce) {
	m, isNew := n.learnMember(now, id)
	if m == nil {
		return
	}
	if m.Announced && m.Incarnation != a.Incarnation {
		// ROJ-ANN-5: a restart; its old locks expire on their own.
		n.log("info", "member restarted (new incarnation)", "ROJ-ANN-5", "member", id,
			"old", m.Incarnation, "new", a.Incarnation)
	}
	m.Addr, m.RojPort = from.Addr().Unmap(), from.Port()
	m.KorPort, m.CtlPort, m.ModuleID = a.KorPort, a.CtlPort, a.ModuleID
	m.Caps, m.Lang, m.Incarnation, m.Announced = a.Caps, a.Lang, a.Incarnation, true
	m.LastHeard, m.Heard = now, true
	if isNew {
		n.log("info", "member learned from ANNOUNCE", "ROJ-MEMB-1", "member", id, "addr", from.String(), "module", a.ModuleID)
		n.sendAnnounceTo(now, m) // let the newcomer learn us without waiting a period
	}
}

func (n *Node) announcePayload() codec.Announce {
	return codec.Announce{
		ModuleID: n.cfg.ModuleID, Lang: n.cfg.Lang, Version: ImplVersion, Caps: n.caps,
		Incarnation: n.cfg.Incarnation, Seq: n.roj.announceSeq, Members: n.Membership(),
		KorPort: n.cfg.KorPort, CtlPort: n.cfg.CtlPort,
	}
}

func (n *Node) nextAnnounceData() []byte {
	if n.roj.announced {
		n.roj.announceSeq++
	}
	n.roj.announced = true
	return codec.EncodeRoj(codec.TypeAnnounce, n.cfg.NodeID, n.announcePayload())
}

func (n *Node) sendAnnounceTo(now int64, m *Member) {
	if to, ok := m.rojAddr(); ok && n.start {
		n.send(ChanRoj, to, n.nextAnnounceData(), "roj_announce")
	}
}

// sendAnnounceRound is ROJ-ANN-3 (and ROJ-DISC-4: static peers not yet members are announced to).
func (n *Node) sendAnnounceRound(now int64) {
	data := n.nextAnnounceData()
	sent := map[netip.AddrPort]bool{}
	for _, id := range sortedKeys(n.roj.members) {
		if to, ok := n.roj.members[id].rojAddr(); ok && !sent[to] {
			sent[to] = true
			n.send(ChanRoj, to, data, "roj_announce")
		}
	}
	for _, p := range n.cfg.StaticPeers {
		if !sent[p] {
			sent[p] = true
			n.send(ChanRoj, p, data, "roj_announce")
		}
	}
}

func (n *Node) scheduleAnnounce(now int64) {
	period := ms(n.cfg.AnnounceMs)
	jitter := period / 10
	n.roj.nextAnn = now + period - jitter + n.rng.Intn(2*jitter+1) // at most 10 % jitter
}

// ---- voter -------------------------------------------------------------------------------------

func (n *Node) expireLocks(now int64) {
	for key, l := range n.roj.locks {
		if !l.own && now >= l.expiry {
			delete(n.roj.locks, key)
			n.log("debug", "lock expired", "ROJ-TIME-2", "key", key, "pid", l.pid)
		}
	}
}

// lockDecision applies ROJ-VOTE-3..5 for taking the lock on key for pid.
func (n *Node) lockDecision(key string, version uint32, pid string) string {
	if cur, ok := n.roj.store[key]; ok && cur.Version >= version {
		return codec.ReasonStale
	}
	if l, ok := n.roj.locks[key]; ok && l.pid != pid {
		return codec.ReasonLocked
	}
	if _, ok := n.roj.locks[key]; ok {
		return codec.ReasonOK // already ours for this pid
	}
	if len(n.roj.locks) >= MaxLocks {
		return codec.ReasonCapacity
	}
	if _, present := n.roj.store[key]; !present {
		absentLocked := 0
		for k := range n.roj.locks {
			if _, p := n.roj.store[k]; !p {
				absentLocked++
			}
		}
		if len(n.roj.store)+absentLocked+1 > MaxKeys {
			return codec.ReasonCapacity
		}
	}
	return codec.ReasonOK
}

func (n *Node) onPropose(now int64, from netip.AddrPort, sender string, p *codec.Propose) {
	if d, ok := n.roj.decisions[p.Pid]; ok {
		// ROJ-VOTE-1: a duplicate PROPOSE gets the same decision and changes nothing.
		n.sendVote(from, p.Pid, d.reason)
		return
	}
	n.expireLocks(now)
	reason := codec.ReasonOK
	inProposal := map[string]bool{}
	for _, id := range p.Members {
		inProposal[id] = true
	}
	if !inProposal[n.cfg.NodeID] {
		reason = codec.ReasonMembership // ROJ-VOTE-2
	} else {
		for id := range n.roj.members {
			if !inProposal[id] {
				reason = codec.ReasonMembership
				break
			}
		}
	}
	if reason == codec.ReasonOK {
		reason = n.lockDecision(p.Key, p.Version, p.Pid)
	}
	if reason == codec.ReasonOK {
		n.roj.locks[p.Key] = &lock{pid: p.Pid, expiry: now + ms(p.TimeoutMs)} // ROJ-VOTE-6
	}
	n.rememberDecision(now, p.Pid, decision{reason: reason, expiry: now + ms(p.TimeoutMs)})
	n.sendVote(from, p.Pid, reason)
	n.log("info", "vote cast", voteClause(reason), "pid", p.Pid, "key", p.Key, "version", p.Version,
		"proposer", sender, "reason", reason)
}

func voteClause(reason string) string {
	return map[string]string{codec.ReasonOK: "ROJ-VOTE-6", codec.ReasonMembership: "ROJ-VOTE-2",
		codec.ReasonStale: "ROJ-VOTE-3", codec.ReasonLocked: "ROJ-VOTE-4", codec.ReasonCapacity: "ROJ-VOTE-5"}[reason]
}

// rememberDecision keeps decisions for duplicate PROPOSEs; the table is bounded so a proposal
// flood cannot grow it: expired entries go first, then the oldest (down to half the capacity).
func (n *Node) rememberDecision(now int64, pid string, d decision) {
	if len(n.roj.decOrder) >= decisionCap {
		keep := n.roj.decOrder[:0]
		for _, id := range n.roj.decOrder {
			if n.roj.decisions[id].expiry > now {
				keep = append(keep, id)
			} else {
				delete(n.roj.decisions, id)
			}
		}
		n.roj.decOrder = keep
		if len(n.roj.decOrder) >= decisionCap*3/4 {
			// drop the oldest quarter at once so a flood costs amortised O(1) per PROPOSE
			drop := len(n.roj.decOrder) - decisionCap/2
			for _, id := range n.roj.decOrder[:drop] {
				delete(n.roj.decisions, id)
			}
			n.roj.decOrder = append([]string(nil), n.roj.decOrder[drop:]...)
		}
	}
	n.roj.decisions[pid] = d
	n.roj.decOrder = append(n.roj.decOrder, pid)
}

func (n *Node) sendVote(to netip.AddrPort, pid, reason string) {
	data := codec.EncodeRoj(codec.TypeVote, n.cfg.NodeID, codec.Vote{Pid: pid, Accept: reason == codec.ReasonOK, Reason: reason})
	n.send(ChanRoj, to, data, "roj_vote")
}

func (n *Node) onCommit(now int64, sender string, c *codec.Commit) {
	n.applyEntry(now, c.Key, c.Value, c.Version, "ROJ-KV-1", "commit", c.Pid)
	n.releaseLockFor(c.Pid) // ROJ-KV-3
}

func (n *Node) onAbort(now int64, sender string, a *codec.Abort) {
	if n.releaseLockFor(a.Pid) {
		n.log("info", "lock released by ABORT", "ROJ-ABORT-2", "pid", a.Pid, "reason", a.Reason)
	}
}

func (n *Node) releaseLockFor(pid string) bool {
	for key, l := range n.roj.locks {
		if l.pid == pid && !l.own {
			delete(n.roj.locks, key)
			return true
		}
	}
	return false
}

// applyEntry is ROJ-KV-1 (and KV-2's capacity drop); the same path serves COMMIT and BRIDGE-3.
func (n *Node) applyEntry(now int64, key, value string, version uint32, clause, via, pid string) bool {
	cur, present := n.roj.store[key]
	if !present && len(n.roj.store) >= MaxKeys {
		n.rateLimited(now, "warn", "kv_full", "ROJ-KV-2", "committed entry for a 65th key dropped", "key", key)
		n.stats.Invalid["roj_kv_capacity"]++
		return false
	}
	if present && !(version > cur.Version || (version == cur.Version && value > cur.Value)) {
		return false
	}
	n.roj.store[key] = KV{Value: value, Version: version}
	n.log("info", "commit applied", clause, "key", key, "value", value, "version", version, "via", via, "pid", pid)
	return true
}

// ---- proposer ----------------------------------------------------------------------------------

// pendingCount is the own proposals not yet committed or abandoned, including those waiting for a
// retry (CTL-CMD-6): a node with a retry queued is not idle.
func (n *Node) pendingCount() int {
	return len(n.roj.pending) + len(n.roj.retries)
}

// ProposeError is the control error of a refused proposal (CTL-CMD-4).
type ProposeError struct{ Code, Detail string }

func (e *ProposeError) Error() string { return e.Code + ": " + e.Detail }

// Propose originates a proposal (ROJ-PROP-1..8) and returns its pid and version.
func (n *Node) Propose(now int64, key, value string) (string, uint32, *ProposeError) {
	if !codec.KeyPattern.MatchString(key) || !codec.ValuePattern.MatchString(value) {
		return "", 0, &ProposeError{"bad_request", "key or value violates ROJ-PROP-2"}
	}
	if n.pendingCount() >= MaxPending { // ROJ-PROP-8: a proposal waiting for its retry keeps its place
		return "", 0, &ProposeError{"capacity", "16 proposals pending (ROJ-PROP-8)"}
	}
	return n.startProposal(now, key, value, 0)
}

func (n *Node) startProposal(now int64, key, value string, attempt int) (string, uint32, *ProposeError) {
	if len(n.roj.pending) >= MaxPending {
		return "", 0, &ProposeError{"capacity", "16 proposals pending (ROJ-PROP-8)"}
	}
	version := uint32(1)
	if cur, ok := n.roj.store[key]; ok {
		if cur.Version == 1<<32-1 {
			return "", 0, &ProposeError{"capacity", "key version exhausted"}
		}
		version = cur.Version + 1
	}
	n.expireLocks(now)
	if n.roj.counter == 1<<32-1 {
		return "", 0, &ProposeError{"capacity", "pid counter exhausted"}
	}
	pid := fmt.Sprintf("%s:%08x:%d", n.cfg.NodeID, n.cfg.Incarnation, n.roj.counter+1)
	if reason := n.lockDecision(key, version, pid); reason != codec.ReasonOK {
		return "", 0, &ProposeError{reason, "own lock refused (ROJ-PROP-7)"}
	}
	n.roj.counter++
	timeout := n.cfg.ProposalTimeoutMs
	members := n.Membership()
	p := &proposal{pid: pid, key: key, value: value, version: version, members: members, n: len(members),
		t: codec.Threshold(len(members)), deadline: now + ms(timeout), accepts: map[string]bool{n.cfg.NodeID: true},
		rejects: map[string]string{}, attempt: attempt, sentAt: now, timeoutMs: timeout}
	n.roj.locks[key] = &lock{pid: pid, expiry: p.deadline, own: true}
	n.roj.pending[pid] = p
	data := codec.EncodeRoj(codec.TypePropose, n.cfg.NodeID, codec.Propose{Pid: pid, Key: key, Value: value,
		Version: version, Members: members, N: p.n, TimeoutMs: timeout})
	for _, id := range members {
		if m, ok := n.roj.members[id]; ok {
			if to, ok := m.rojAddr(); ok {
				n.send(ChanRoj, to, data, "roj_propose") // ROJ-PROP-6
			}
		}
	}
	n.log("info", "proposal sent", "ROJ-PROP-6", "pid", pid, "key", key, "value", value, "version", version,
		"n", p.n, "t", p.t, "attempt", attempt)
	if len(p.accepts) >= p.t { // a lone node (n = 1) commits on its own accept
		n.commit(now, p)
	}
	return pid, version, nil
}

func (n *Node) onVote(now int64, from netip.AddrPort, sender string, v *codec.Vote) {
	p, ok := n.roj.pending[v.Pid]
	if !ok {
		n.rateLimited(now, "debug", "vote_not_pending", "ROJ-VOTE-9", "vote for no pending proposal ignored", "pid", v.Pid, "from", sender)
		return
	}
	listed := false
	for _, id := range p.members {
		listed = listed || id == sender
	}
	if !listed {
		n.stats.Invalid["roj_vote_not_member"]++
		n.rateLimited(now, "warn", "vote_not_member", "ROJ-THR-4", "vote from a node outside the proposal's members ignored", "pid", v.Pid, "from", sender)
		return
	}
	if _, dup := p.rejects[sender]; dup || p.accepts[sender] {
		n.stats.Invalid["roj_duplicate_vote"]++
		n.rateLimited(now, "debug", "duplicate_vote", "ROJ-THR-3", "duplicate vote counted once", "pid", v.Pid, "from", sender)
		return
	}
	if now > p.deadline {
		return // the tick gives it up; ROJ-TIME-1 forbids a late COMMIT
	}
	if v.Accept {
		p.accepts[sender] = true
		if len(p.accepts) >= p.t {
			n.commit(now, p)
		}
		return
	}
	p.rejects[sender] = v.Reason
	if len(p.rejects) > p.n-p.t {
		n.giveUp(now, p, "rejected")
	}
}

func (n *Node) commit(now int64, p *proposal) {
	voters := make([]string, 0, len(p.accepts))
	for id := range p.accepts {
		voters = append(voters, id)
	}
	sort.Strings(voters)
	data := codec.EncodeRoj(codec.TypeCommit, n.cfg.NodeID, codec.Commit{Pid: p.pid, Key: p.key, Value: p.value,
		Version: p.version, N: p.n, Voters: voters})
	for _, id := range sortedKeys(n.roj.members) {
		if to, ok := n.roj.members[id].rojAddr(); ok {
			n.send(ChanRoj, to, data, "roj_commit") // ROJ-COMMIT-3
		}
	}
	delete(n.roj.pending, p.pid)
	delete(n.roj.locks, p.key)
	n.stats.Commits++
	n.log("info", "commit sent", "ROJ-COMMIT-1", "pid", p.pid, "key", p.key, "version", p.version,
		"voters", len(voters), "t", p.t, "latency_us", now-p.sentAt)
	n.applyEntry(now, p.key, p.value, p.version, "ROJ-KV-1", "own-commit", p.pid)
	n.bridgeEmit(now, p.key, p.value, p.version) // BRIDGE-1
}

// giveUp is ROJ-RETRY-1: release, ABORT to capable members, schedule a retry (ROJ-RETRY-2).
func (n *Node) giveUp(now int64, p *proposal, reason string) {
	delete(n.roj.pending, p.pid)
	if l, ok := n.roj.locks[p.key]; ok && l.pid == p.pid {
		delete(n.roj.locks, p.key)
	}
	data := codec.EncodeRoj(codec.TypeAbort, n.cfg.NodeID, codec.Abort{Pid: p.pid, Reason: reason})
	for _, id := range sortedKeys(n.roj.members) {
		m := n.roj.members[id]
		if to, ok := m.rojAddr(); ok && m.hasCap("abort") {
			n.send(ChanRoj, to, data, "roj_abort") // ROJ-ABORT-1
		}
	}
	stale := 0
	for _, r := range p.rejects {
		if r == codec.ReasonStale {
			stale++
		}
	}
	n.log("info", "proposal given up", "ROJ-RETRY-1", "pid", p.pid, "reason", reason,
		"accepts", len(p.accepts), "rejects", len(p.rejects), "stale", stale)
	if p.attempt >= MaxRetries {
		n.log("warn", "proposal abandoned after 3 retries", "ROJ-RETRY-2", "key", p.key, "value", p.value)
		return
	}
	backoff := n.rng.Range(100, 1000) * (int64(1) << p.attempt)
	r := &retry{key: p.key, value: p.value, attempt: p.attempt + 1, at: now + ms(backoff)}
	if stale > 0 && 2*stale >= len(p.rejects) {
		r.waitVersion = p.version // learn a version >= ours first
		r.giveUpAt = now + ms(backoff) + 3*ms(p.timeoutMs)
	}
	n.roj.retries = append(n.roj.retries, r)
}

func (n *Node) rojTick(now int64) {
	if !n.start {
		return
	}
	n.expireLocks(now)
	for _, pid := range sortedKeys(n.roj.pending) {
		if p := n.roj.pending[pid]; now > p.deadline {
			n.giveUp(now, p, "timeout")
		}
	}
	var keep []*retry
	for _, r := range n.roj.retries {
		if now < r.at {
			keep = append(keep, r)
			continue
		}
		if r.waitVersion != 0 && n.roj.store[r.key].Version < r.waitVersion {
			if now < r.giveUpAt {
				keep = append(keep, r)
			} else {
				n.log("warn", "stale proposal not retried: newer version never learned", "ROJ-RETRY-2", "key", r.key)
			}
			continue
		}
		if _, _, err := n.startProposal(now, r.key, r.value, r.attempt); err != nil {
			n.log("info", "retry could not start", "ROJ-RETRY-2", "key", r.key, "error", err.Code, "attempt", r.attempt)
			if r.attempt < MaxRetries {
				r.at = now + ms(n.rng.Range(100, 1000)*(int64(1)<<r.attempt))
				r.attempt++
				keep = append(keep, r)
			}
		}
	}
	n.roj.retries = keep
	if now >= n.roj.nextAnn {
		n.sendAnnounceRound(now)
		n.scheduleAnnounce(now)
	}
}
