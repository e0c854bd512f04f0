package shell

// In-process cluster over real loopback UDP: every goroutine of the shell runs, so `go test -race`
// checks the channel plumbing, and control, EK-ROJ and EK-KOR traffic crosses real sockets.

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ekcnode/ctlclient"
)

// loopbackNet picks a random 127.x.y.0/24 and port base so parallel runs on one machine do not collide.
func loopbackNet() (func(i int) netip.Addr, int) {
	r := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())))
	x, y := byte(10+r.Intn(200)), byte(r.Intn(250))
	base := 20000 + r.Intn(30000)
	return func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, x, y, byte(2 + i)}) }, base
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInProcessCluster(t *testing.T) {
	ip, base := loopbackNet()
	const total = 3
	var peers []string
	for i := 0; i < total; i++ {
		peers = append(peers, fmt.Sprintf("%s:%d", ip(i), base))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	logs := make([]*syncBuf, total)
	for i := 0; i < total; i++ {
		m := map[string]string{"EKC_NODE_ID": fmt.Sprintf("go-%d", i+1), "EKC_MODULE_ID": fmt.Sprint(i + 1),
			"EKC_BIND_IP": ip(i).String(), "EKC_MDNS": "0", "EKC_PEERS": strings.Join(peers, ","),
			"EKC_ROJ_PORT": fmt.Sprint(base), "EKC_KOR_PORT": fmt.Sprint(base + 1), "EKC_CTL_PORT": fmt.Sprint(base + 2),
			"EKC_ANNOUNCE_MS": "100", "EKC_ANTI_ENTROPY_MS": "500", "EKC_STATE_DIR": t.TempDir()}
		set, err := LoadSettings(env(m))
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &syncBuf{}
		n, err := Start(set, logs[i], uint32(i+1))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); n.Run(ctx) }()
	}
	defer func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Error("nodes did not stop within 2 s (CTL-IMG-3)")
		}
	}()
	cli, err := ctlclient.New(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctl := func(i int) netip.AddrPort { return netip.AddrPortFrom(ip(i), uint16(base+2)) }
	waitFor(t, 5*time.Second, "every node sees every other live", func() bool {
		for i := 0; i < total; i++ {
			var p ctlclient.Peers
			if cli.Call(ctl(i), "peers", nil, &p, time.Second) != nil || len(p.Live) != total {
				return false
			}
		}
		return true
	})
	for k := 0; k < 5; k++ {
		var r struct{ Pid string }
		if err := cli.Call(ctl(k%total), "propose", map[string]string{"key": fmt.Sprintf("k%d", k), "value": "v"}, &r, time.Second); err != nil {
			t.Fatalf("propose %d: %v", k, err)
		}
	}
	waitFor(t, 5*time.Second, "emission enabled", func() bool {
		return cli.Call(ctl(1), "emit", map[string]any{"event_type": 2, "payload_hex": "01" + strings.Repeat("00", 19)}, nil, time.Second) == nil
	})
	var states [total]ctlclient.State
	waitFor(t, 5*time.Second, "states agree", func() bool {
		for i := 0; i < total; i++ {
			if cli.Call(ctl(i), "state", nil, &states[i], time.Second) != nil {
				return false
			}
		}
		for i := 1; i < total; i++ {
			if states[i].KVDigest != states[0].KVDigest || states[i].LogDigest != states[0].LogDigest ||
				states[i].FieldsDigest != states[0].FieldsDigest || fmt.Sprint(states[i].VV) != fmt.Sprint(states[0].VV) {
				return false
			}
		}
		return states[0].KVCount == 5 && states[0].FieldsCount == 1
	})
	if !strings.Contains(logs[0].String(), `"clause":"ROJ-COMMIT-1"`) {
		t.Fatal("no JSON commit log line with a clause (CTL-LOG-1)")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", what)
}

// The control port stays closed unless EKC_CTL_PORT is set (control.md section 1).
func TestControlPortClosedByDefault(t *testing.T) {
	ip, base := loopbackNet()
	set, err := LoadSettings(env(map[string]string{"EKC_NODE_ID": "go-1", "EKC_MODULE_ID": "1", "EKC_BIND_IP": ip(0).String(),
		"EKC_MDNS": "0", "EKC_ROJ_PORT": fmt.Sprint(base), "EKC_KOR_PORT": fmt.Sprint(base + 1)}))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(set, io.Discard, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	probe, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip(0), 9992)))
	if err != nil {
		t.Fatalf("control port 9992 is in use although EKC_CTL_PORT is unset: %v", err)
	}
	probe.Close()
}
