package shell

// The running node: sockets, goroutines and the event loop that owns the core.
//
// Goroutines: one receiver per UDP socket (EK-ROJ, EK-KOR, control), one sender, the mDNS browser
// (mdns.go), the logger and the persister. Only the event loop touches the core; everything else
// reaches it through channels, so the core needs no locks.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"ekcnode/core"
)

type inbound struct {
	ch   core.Channel
	from netip.AddrPort
	data []byte
	at   time.Time
}

// Node is a running node.
type Node struct {
	set    *Settings
	core   *core.Node
	socks  [3]*net.UDPConn
	start  time.Time
	logger *Logger
	mdns   *MDNS

	in    chan inbound
	quit  chan struct{} // closed on shutdown so receivers blocked on a full `in` let go
	out   chan core.Datagram
	found chan Discovery
	wg    sync.WaitGroup
}

// Logger writes CTL-LOG-1 lines from its own goroutine so a slow stdout never stalls the protocol.
type Logger struct {
	json  bool
	node  string
	start time.Time
	ch    chan core.LogRecord
	done  chan struct{}
	w     io.Writer
	mu    sync.Mutex
	drops uint64
}

// NewLogger starts the logger goroutine.
func NewLogger(w io.Writer, node string, jsonLines bool, start time.Time) *Logger {
	l := &Logger{json: jsonLines, node: node, start: start, ch: make(chan core.LogRecord, 4096), done: make(chan struct{}), w: w}
	go l.run()
	return l
}

// Log enqueues a record; when the queue is full the record is counted as dropped.
func (l *Logger) Log(r core.LogRecord) {
	select {
	case l.ch <- r:
	default:
		l.mu.Lock()
		l.drops++
		l.mu.Unlock()
	}
}

// Logf is the loose form used by shell components.
func (l *Logger) Logf(level, msg string, fields ...any) {
	l.Log(core.LogRecord{Level: level, Msg: msg, Fields: fields})
}

func (l *Logger) run() {
	defer close(l.done)
	for r := range l.ch {
		l.write(r)
	}
}

func (l *Logger) write(r core.LogRecord) {
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	if l.json {
		obj := map[string]any{"ts": ts, "level": r.Level, "node": l.node, "msg": r.Msg}
		if r.Clause != "" {
			obj["clause"] = r.Clause
		}
		for i := 0; i+1 < len(r.Fields); i += 2 {
			if k, ok := r.Fields[i].(string); ok {
				if _, reserved := obj[k]; !reserved {
					obj[k] = r.Fields[i+1]
				}
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			b = []byte(fmt.Sprintf(`{"ts":%q,"level":"error","node":%q,"msg":"log record not encodable"}`, ts, l.node))
		}
		l.w.Write(append(b, '\n'))
		return
	}
	line := fmt.Sprintf("%s %-5s %s %s", ts, r.Level, l.node, r.Msg)
	if r.Clause != "" {
		line += " clause=" + r.Clause
	}
	for i := 0; i+1 < len(r.Fields); i += 2 {
		line += fmt.Sprintf(" %v=%v", r.Fields[i], r.Fields[i+1])
	}
	l.w.Write([]byte(line + "\n"))
}

// Close drains the queue.
func (l *Logger) Close() {
	close(l.ch)
	<-l.done
}

// stdlibLog turns hashicorp/mdns's log.Printf lines into debug records.
type stdlibLog struct{ l *Logger }

func (s stdlibLog) Write(p []byte) (int, error) {
	s.l.Logf("debug", "mdns library", "text", string(p))
	return len(p), nil
}

// Start binds the sockets, restores persisted state and starts every goroutine.
func Start(set *Settings, logOut io.Writer, incarnation uint32) (*Node, error) {
	n := &Node{set: set, start: time.Now(), in: make(chan inbound, 1024), quit: make(chan struct{}), out: make(chan core.Datagram, 1024),
		found: make(chan Discovery, 64)}
	set.Core.Incarnation = incarnation
	set.Core.ClockBaseUs = n.start.UnixMicro()
	n.core = core.New(set.Core)
	n.logger = NewLogger(logOut, set.Core.NodeID, set.LogJSON, n.start)
	log.SetOutput(stdlibLog{n.logger})
	log.SetFlags(0)
	ports := [3]uint16{set.Core.RojPort, set.Core.KorPort, set.Core.CtlPort}
	for i, p := range ports {
		if core.Channel(i) == core.ChanCtl && !set.CtlOpen {
			continue
		}
		s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(set.Core.BindIP.AsSlice()), Port: int(p)})
		if err != nil {
			n.closeSockets()
			n.logger.Close()
			return nil, fmt.Errorf("cannot bind %s:%d: %v", set.Core.BindIP, p, err)
		}
		n.socks[i] = s
	}
	if set.StateDir != "" {
		data, err := os.ReadFile(filepath.Join(set.StateDir, "state.json"))
		switch {
		case err == nil:
			if rerr := n.core.Restore(data); rerr != nil {
				n.closeSockets()
				n.logger.Close()
				return nil, rerr
			}
			n.logger.Logf("info", "state restored", "dir", set.StateDir, "vv", n.core.VV())
		case os.IsNotExist(err):
			n.core.Restore([]byte(`{"format":1}`)) // first start with a state directory: nothing to catch up on
		default:
			n.closeSockets()
			n.logger.Close()
			return nil, fmt.Errorf("cannot read state: %v", err)
		}
	}
	if set.Core.MDNS {
		m, err := StartMDNS(&set.Core, n.core.CapsList(), n.found, n.logger.Logf)
		if err != nil {
			n.closeSockets()
			n.logger.Close()
			return nil, err
		}
		n.mdns = m
	}
	for i, s := range n.socks {
		if s == nil {
			continue
		}
		n.wg.Add(1)
		go n.receive(core.Channel(i), s)
	}
	go n.sender()
	return n, nil
}

func (n *Node) closeSockets() {
	for _, s := range n.socks {
		if s != nil {
			s.Close()
		}
	}
}

func (n *Node) receive(ch core.Channel, s *net.UDPConn) {
	defer n.wg.Done()
	buf := make([]byte, 2048)
	for {
		k, from, err := s.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && !ne.Timeout() {
				return // socket closed on shutdown
			}
			continue
		}
		data := make([]byte, k)
		copy(data, buf[:k])
		select {
		case n.in <- inbound{ch: ch, from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), data: data}:
		case <-n.quit:
			return
		}
	}
}

func (n *Node) sender() {
	for d := range n.out {
		if s := n.socks[d.Chan]; s != nil {
			s.WriteToUDPAddrPort(d.Data, d.To)
		}
	}
}

func (n *Node) now() int64 { return time.Since(n.start).Microseconds() }

// Run is the event loop; it returns when ctx is cancelled.
func (n *Node) Run(ctx context.Context) {
	n.logger.Logf("info", "node started", "node_id", n.set.Core.NodeID, "module", n.set.Core.ModuleID,
		"bind", n.set.Core.BindIP.String(), "caps", n.core.CapsList(), "incarnation", n.set.Core.Incarnation)
	n.core.Start(n.now())
	n.flush()
	tick := time.NewTicker(time.Duration(n.set.TickMs) * time.Millisecond)
	defer tick.Stop()
	lastPersist := time.Now()
	for {
		select {
		case <-ctx.Done():
			n.shutdown()
			return
		case m := <-n.in:
			switch m.ch {
			case core.ChanRoj:
				n.core.HandleRoj(n.now(), m.from, m.data)
			case core.ChanKor:
				n.core.HandleKor(n.now(), m.from, m.data)
			case core.ChanCtl:
				n.core.HandleCtl(n.now(), m.from, m.data)
			}
		case d := <-n.found:
			n.core.Discovered(n.now(), d.NodeID, d.Addr, d.RojPort, d.KorPort, d.CtlPort, d.ModuleID, d.Caps)
		case <-tick.C:
			n.core.Tick(n.now())
			if n.set.StateDir != "" && n.core.NeedsPersist() && time.Since(lastPersist) > time.Second {
				n.persist()
				lastPersist = time.Now()
			}
		}
		if n.set.StateDir != "" && n.core.NeedsSyncPersist() {
			n.persist() // CTL-PERSIST-1: durable before the frame carrying the sequence leaves
		}
		n.flush()
	}
}

func (n *Node) flush() {
	for _, d := range n.core.TakeOutput() {
		n.out <- d
	}
	for _, r := range n.core.TakeLogs() {
		n.logger.Log(r)
	}
}

// persist writes the snapshot atomically (temp file, fsync, rename).
func (n *Node) persist() {
	data := n.core.Snapshot()
	path := filepath.Join(n.set.StateDir, "state.json")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		n.logger.Logf("error", "state not persisted", "error", err.Error())
	}
}

func (n *Node) shutdown() {
	if n.set.StateDir != "" {
		n.persist()
	}
	close(n.quit)
	if n.mdns != nil {
		n.mdns.Close()
	}
	n.closeSockets()
	n.wg.Wait()
	close(n.out)
	n.logger.Logf("info", "node stopped")
	n.logger.Close()
}
