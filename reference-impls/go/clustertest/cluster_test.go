// Package clustertest runs the real ekc-node-go binary as separate processes on loopback addresses
// (EKC_MDNS=0, static peers) and drives them only through the control protocol: proposals commit,
// events propagate, final states agree, a node restarts from its state directory, and hostile
// datagrams are counted without harm.
package clustertest

import (
	"bytes"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ekcnode/ctlclient"
)

type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	env  []string
	done chan error
}

type cluster struct {
	t      *testing.T
	bin    string
	ip     func(i int) netip.Addr
	base   int
	procs  []*proc
	client *ctlclient.Client
}

func buildNode(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "ekc-node-go")
	cmd := exec.Command("go", "build", "-o", bin, "ekcnode/cmd/ekc-node-go")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the node failed: %v\n%s", err, out)
	}
	return bin
}

func newCluster(t *testing.T, total int, stateDirs bool) *cluster {
	r := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())))
	x, y := byte(10+r.Intn(200)), byte(r.Intn(250))
	c := &cluster{t: t, bin: buildNode(t), base: 20000 + r.Intn(30000),
		ip: func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, x, y, byte(2 + i)}) }}
	var peers []string
	for i := 0; i < total; i++ {
		peers = append(peers, fmt.Sprintf("%s:%d", c.ip(i), c.base))
	}
	for i := 0; i < total; i++ {
		env := []string{fmt.Sprintf("EKC_NODE_ID=go-%d", i+1), fmt.Sprintf("EKC_MODULE_ID=%d", i+1),
			"EKC_BIND_IP=" + c.ip(i).String(), "EKC_MDNS=0", "EKC_PEERS=" + strings.Join(peers, ","),
			fmt.Sprintf("EKC_ROJ_PORT=%d", c.base), fmt.Sprintf("EKC_KOR_PORT=%d", c.base+1), fmt.Sprintf("EKC_CTL_PORT=%d", c.base+2),
			"EKC_ANNOUNCE_MS=200", "EKC_ANTI_ENTROPY_MS=1000", "EKC_PROPOSAL_TIMEOUT_MS=2000"}
		if stateDirs {
			env = append(env, "EKC_STATE_DIR="+t.TempDir())
		}
		c.procs = append(c.procs, &proc{env: env})
		c.start(i)
	}
	cli, err := ctlclient.New(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	c.client = cli
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) start(i int) {
	p := c.procs[i]
	p.out = &bytes.Buffer{}
	p.cmd = exec.Command(c.bin)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
}

// stop sends SIGTERM and requires exit within 2 s (CTL-IMG-3).
func (c *cluster) stop(i int) {
	p := c.procs[i]
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		c.t.Errorf("node %d did not stop within 2 s of SIGTERM", i)
	}
	p.cmd = nil
}

func (c *cluster) stopAll() {
	for i := range c.procs {
		c.stop(i)
	}
	if c.client != nil {
		c.client.Close()
	}
	if c.t.Failed() {
		for i, p := range c.procs {
			lines := strings.Split(p.out.String(), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			c.t.Logf("node %d log tail:\n%s", i, strings.Join(lines, "\n"))
		}
	}
}

func (c *cluster) ctl(i int) netip.AddrPort { return netip.AddrPortFrom(c.ip(i), uint16(c.base+2)) }

func (c *cluster) call(i int, cmd string, args, out any) error {
	return c.client.Call(c.ctl(i), cmd, args, out, time.Second)
}

func (c *cluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("timed out waiting for: %s", what)
}

func (c *cluster) waitReady() {
	c.waitFor(10*time.Second, "all nodes live to each other", func() bool {
		for i := range c.procs {
			var p ctlclient.Peers
			if c.call(i, "peers", nil, &p) != nil || len(p.Live) != len(c.procs) {
				return false
			}
		}
		return true
	})
}

func (c *cluster) states() []ctlclient.State {
	out := make([]ctlclient.State, len(c.procs))
	for i := range c.procs {
		if err := c.call(i, "state", nil, &out[i]); err != nil {
			return nil
		}
	}
	return out
}

func agree(st []ctlclient.State) bool {
	if st == nil {
		return false
	}
	for _, s := range st[1:] {
		if s.KVDigest != st[0].KVDigest || s.LogDigest != st[0].LogDigest || s.FieldsDigest != st[0].FieldsDigest ||
			fmt.Sprint(s.VV) != fmt.Sprint(st[0].VV) || s.Pending != 0 || s.Locks != 0 {
			return false
		}
	}
	return true
}

func TestThreeProcesses(t *testing.T) {
	c := newCluster(t, 3, false)
	c.waitReady()
	// Proposals from every node, some on the same key in sequence.
	for k := 0; k < 12; k++ {
		var r struct {
			Pid     string `json:"pid"`
			Version uint32 `json:"version"`
		}
		key := fmt.Sprintf("bay%d", k%4)
		if err := c.call(k%3, "propose", map[string]string{"key": key, "value": fmt.Sprint(k)}, &r); err != nil {
			t.Fatalf("propose %d: %v", k, err)
		}
		c.waitFor(5*time.Second, "commit of "+r.Pid, func() bool {
			var kv struct {
				Entries []struct {
					Key     string `json:"key"`
					Version uint32 `json:"version"`
				} `json:"entries"`
			}
			if c.call(k%3, "kv", map[string]int{"offset": 0}, &kv) != nil {
				return false
			}
			for _, e := range kv.Entries {
				if e.Key == key && e.Version >= r.Version {
					return true
				}
			}
			return false
		})
	}
	// Events from every node (after the CTL-PERSIST-2 start-up exchange lets them emit).
	for i := 0; i < 3; i++ {
		c.waitFor(5*time.Second, "emit accepted", func() bool {
			return c.call(i, "emit", map[string]any{"event_type": 2, "payload_hex": fmt.Sprintf("%02x", i+1) + strings.Repeat("ab", 19)}, nil) == nil
		})
	}
	var st []ctlclient.State
	c.waitFor(10*time.Second, "final states agree", func() bool { st = c.states(); return agree(st) })
	if st[0].KVCount != 4 || st[0].FieldsCount != 3 {
		t.Fatalf("state %+v", st[0])
	}
	// 12 bridge events + 3 emitted = 15 events; VV = sum of origins.
	sum := uint32(0)
	for _, v := range st[0].VV {
		sum += v
	}
	if sum != 15 || st[0].LogCount != 15 {
		t.Fatalf("VV %v log_count %d, want 15 events", st[0].VV, st[0].LogCount)
	}
}

func TestHostileDatagramsAndRestart(t *testing.T) {
	c := newCluster(t, 3, true)
	c.waitReady()
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ip(0), uint16(c.base))))
	if err != nil {
		t.Fatal(err)
	}
	kor, _ := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ip(0), uint16(c.base+1))))
	junk := [][]byte{[]byte("{"), []byte(`{"proto":1,"type":"VOTE","node_id":"x","payload":{"pid":"zz:00000000:1","accept":true,"reason":"ok"}}`),
		bytes.Repeat([]byte("A"), 1500), []byte(`{"proto":1,"type":"NOPE","node_id":"x","payload":{}}`)}
	for i := 0; i < 200; i++ {
		conn.Write(junk[i%len(junk)])
		kor.Write([]byte{0x60, 0, byte(i)})
		if i%10 == 9 {
			time.Sleep(2 * time.Millisecond) // a paced flood: the kernel must not drop what we count
		}
	}
	conn.Close()
	kor.Close()
	var stats ctlclient.Stats
	c.waitFor(5*time.Second, "junk counted", func() bool {
		if c.call(0, "stats", nil, &stats) != nil {
			return false
		}
		n := uint64(0)
		for k, v := range stats.Invalid {
			if strings.HasPrefix(k, "kor_") || strings.HasPrefix(k, "roj_") {
				n += v
			}
		}
		return n == 350 // 150 invalid EK-ROJ + 200 invalid EK-KOR (the unknown-pid VOTE is valid, just ignored)
	})
	if stats.Invalid["roj_json"] != 50 || stats.Invalid["roj_oversize"] != 50 || stats.Invalid["kor_source_zero"] != 200 {
		t.Fatalf("invalid counters %v", stats.Invalid)
	}
	// Emit on node 1, restart it from its state directory, emit again: the sequence continues.
	var e struct {
		Seq uint32 `json:"origin_seq"`
	}
	for k := 0; k < 3; k++ {
		if err := c.call(1, "emit", map[string]any{"event_type": 0x80, "payload_hex": strings.Repeat("00", 20)}, &e); err != nil {
			t.Fatalf("emit: %v", err)
		}
	}
	// Stop it while it is being flooded: SIGTERM must still end it within 2 s (CTL-IMG-3).
	flood, _ := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ip(1), uint16(c.base))))
	stopFlood := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for {
			select {
			case <-stopFlood:
				return
			default:
				flood.Write([]byte(`{"proto":1,"type":"VOTE","node_id":"zz","payload":{"pid":"zz:00000000:1","accept":true,"reason":"ok"}}`))
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	c.stop(1)
	close(stopFlood)
	<-flooded
	flood.Close()
	c.start(1)
	c.waitFor(5*time.Second, "restarted node answers", func() bool { return c.call(1, "ping", nil, nil) == nil })
	if err := c.call(1, "emit", map[string]any{"event_type": 0x80, "payload_hex": strings.Repeat("01", 20)}, &e); err != nil {
		t.Fatalf("emit after restart: %v", err)
	}
	if e.Seq != 4 {
		t.Fatalf("origin_seq %d after restart, want 4 (CTL-PERSIST-1)", e.Seq)
	}
	c.waitFor(10*time.Second, "states agree after restart", func() bool { return agree(c.states()) })
}
