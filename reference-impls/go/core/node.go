// Package core is the sans-IO protocol core of the Go reference node: EK-ROJ consensus
// (roj.go), EK-KOR gossip (kor.go), the commit/gossip bridge, the control commands (control.go)
// and persistence snapshots (persist.go). It owns no goroutines and no sockets: the shell feeds it
// datagrams and ticks with an explicit time, and collects the datagrams and log records it
// produces (like etcd-io/raft's Ready). Randomness comes from a seeded generator.
package core

import (
	"fmt"
	"net/netip"
	"sort"
)

// Channel names the UDP socket a datagram belongs to.
type Channel uint8

const (
	ChanRoj Channel = iota
	ChanKor
	ChanCtl
)

func (c Channel) String() string {
	return [...]string{"roj", "kor", "ctl"}[c]
}

// Datagram is one UDP datagram the shell must send from the socket of Chan.
type Datagram struct {
	Chan Channel
	To   netip.AddrPort
	Data []byte
}

// LogRecord is one structured log line (CTL-LOG-1); Fields keep insertion order.
type LogRecord struct {
	Level  string
	Msg    string
	Clause string
	Fields []any // alternating name, value
}

// Limits of this implementation (control.md CTL-CAP-1).
const (
	MaxMembers    = 32   // ROJ-MEMB-3
	MaxPending    = 16   // ROJ-PROP-8
	MaxLocks      = 16   // ROJ-VOTE-5
	MaxKeys       = 64   // ROJ-KV-2
	GapBuffer     = 32   // KOR-GAP-2 (at least 16)
	EventStore    = 1024 // KOR-STORE-1 (at least 256)
	MaxOrigins    = 64   // CTL-STATE-1
	MaxNeighbours = 7    // KOR-NBR-1
	MaxRetries    = 3    // ROJ-RETRY-2
	RepairBudget  = 32   // KOR-AE-3
	decisionCap   = 4096
	ctlCacheSize  = 8 // CTL-WIRE-4
)

// Implementation identity.
const (
	ImplName    = "ekconform-go"
	ImplVersion = "0.1.0"
	SpecVersion = "1.0"
)

// Config is everything the core needs to know at start-up; the shell builds it from EKC_*.
type Config struct {
	NodeID            string
	ModuleID          uint8
	Lang              string
	BindIP            netip.Addr
	RojPort           uint16
	KorPort           uint16
	CtlPort           uint16
	MDNS              bool
	StaticPeers       []netip.AddrPort
	AnnounceMs        int64
	LivenessMs        int64
	AntiEntropyMs     int64
	ProposalTimeoutMs int64
	Seed              uint64
	Incarnation       uint32
	Persist           bool
	ClockBaseUs       int64 // wall clock (µs since the Unix epoch) at core time 0; 0 in tests
}

// Caps is the capability list this node claims (CTL-CAP-2, CTL-CAP-4: TXT, ANNOUNCE and caps agree).
// Claims describe the implementation, not one run's configuration: a run without EKC_STATE_DIR or
// with EKC_MDNS=0 still claims `persist` and `mdns`, so the suite can select those tests from `caps`.
func (c *Config) Caps() []string {
	return []string{"roj", "kor", "ctl", "mdns", "abort", "persist", "clock-skew", "kor-retx"}
}

// Node is the whole protocol state of one node.
type Node struct {
	cfg   Config
	caps  []string
	rng   *Rand
	out   []Datagram
	logs  []LogRecord
	start bool

	roj rojState
	kor korState

	stats   Stats
	limiter map[string]*rateLimit

	ctlCache []ctlCached
}

// Stats are the counters of the stats command (CTL-CMD-10).
type Stats struct {
	Rx      map[string]uint64
	Tx      map[string]uint64
	Invalid map[string]uint64
	Commits uint64
}

type rateLimit struct {
	last       int64
	suppressed uint64
	logged     bool
}

// New builds a node. Call Start once before feeding it input.
func New(cfg Config) *Node {
	n := &Node{
		cfg:     cfg,
		caps:    cfg.Caps(),
		rng:     NewRand(cfg.Seed),
		limiter: map[string]*rateLimit{},
		stats:   Stats{Rx: map[string]uint64{}, Tx: map[string]uint64{}, Invalid: map[string]uint64{}},
	}
	n.roj.init()
	n.kor.init()
	return n
}

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// CapsList returns the claimed capabilities.
func (n *Node) CapsList() []string { return append([]string(nil), n.caps...) }

// Start sends the start-up ANNOUNCEs (ROJ-ANN-3) and arms the timers.
func (n *Node) Start(now int64) {
	n.start = true
	n.kor.startedAt = now
	n.sendAnnounceRound(now)
	n.scheduleAnnounce(now)
	n.kor.nextAE = now + n.cfg.AntiEntropyMs*1000
}

// TakeOutput returns and clears the datagrams produced since the last call.
func (n *Node) TakeOutput() []Datagram {
	out := n.out
	n.out = nil
	return out
}

// TakeLogs returns and clears the log records produced since the last call.
func (n *Node) TakeLogs() []LogRecord {
	l := n.logs
	n.logs = nil
	return l
}

func (n *Node) send(ch Channel, to netip.AddrPort, data []byte, kind string) {
	n.out = append(n.out, Datagram{Chan: ch, To: to, Data: data})
	n.stats.Tx[ch.String()]++
	if kind != "" {
		n.stats.Tx[kind]++
	}
}

func (n *Node) log(level, msg, clause string, fields ...any) {
	n.logs = append(n.logs, LogRecord{Level: level, Msg: msg, Clause: clause, Fields: fields})
}

// invalid counts a dropped input per kind and logs it at most once per kind per 10 s with the
// number of suppressed repeats (ROJ-WIRE-4, KOR-WIRE-4, CTL-LOG-2).
func (n *Node) invalid(now int64, kind, clause, detail string, from netip.AddrPort) {
	n.stats.Invalid[kind]++
	n.rateLimited(now, "warn", kind, clause, "invalid input dropped", "kind", kind, "detail", detail, "from", from.String())
}

// rateLimited logs once per key per 10 s.
func (n *Node) rateLimited(now int64, level, key, clause, msg string, fields ...any) {
	rl := n.limiter[key]
	if rl == nil {
		if len(n.limiter) > 256 {
			return // a flood of distinct kinds cannot grow the table without bound
		}
		rl = &rateLimit{}
		n.limiter[key] = rl
	}
	if rl.logged && now-rl.last < 10_000_000 {
		rl.suppressed++
		return
	}
	fields = append(fields, "suppressed", rl.suppressed)
	rl.logged, rl.last, rl.suppressed = true, now, 0
	n.log(level, msg, clause, fields...)
}

// Tick runs every timer; the shell calls it at least every EKC_TICK_MS.
func (n *Node) Tick(now int64) {
	n.rojTick(now)
	n.korTick(now)
}

// Stats returns a copy of the counters.
func (n *Node) Stats() Stats {
	c := Stats{Rx: map[string]uint64{}, Tx: map[string]uint64{}, Invalid: map[string]uint64{}, Commits: n.stats.Commits}
	for k, v := range n.stats.Rx {
		c.Rx[k] = v
	}
	for k, v := range n.stats.Tx {
		c.Tx[k] = v
	}
	for k, v := range n.stats.Invalid {
		c.Invalid[k] = v
	}
	return c
}

// Rand is a splitmix64 generator: tiny, seedable, identical on every platform (CTL-ENV-11).
type Rand struct{ state uint64 }

// NewRand seeds a generator.
func NewRand(seed uint64) *Rand { return &Rand{state: seed} }

// Uint64 returns the next value.
func (r *Rand) Uint64() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Intn returns a value in [0, n).
func (r *Rand) Intn(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return int64(r.Uint64() % uint64(n))
}

// Range returns a value uniformly in [lo, hi].
func (r *Rand) Range(lo, hi int64) int64 { return lo + r.Intn(hi-lo+1) }

// SeedFromNodeID is the default seed (CTL-ENV-11): FNV-1a 64 of the node_id.
func SeedFromNodeID(id string) uint64 { return fnv64([]byte(id)) }

const fnvOffset, fnvPrime = 0xcbf29ce484222325, 0x100000001b3

func fnv64(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

type fnvHash struct{ h uint64 }

func newFNV() *fnvHash { return &fnvHash{h: fnvOffset} }

func (f *fnvHash) write(b []byte) {
	for _, c := range b {
		f.h ^= uint64(c)
		f.h *= fnvPrime
	}
}

func (f *fnvHash) hex() string { return fmt.Sprintf("%016x", f.h) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
