// Command ekc-cluster-bench measures a local cluster of ekc-node-go processes on loopback addresses
// (static peers, no mDNS), driven only through the control protocol:
//   - commit latency over N sequential proposals (end to end through control, and in-node from
//     PROPOSE sent to COMMIT sent as the node logs it), against the control ping round trip;
//   - EK-ROJ and EK-KOR messages per commit (from every node's stats);
//   - idle RSS of each process;
//   - gossip full-reach time: emit on one node until every other node's VV shows the event.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ekcnode/ctlclient"
)

func main() {
	bin := flag.String("node", "", "path to the ekc-node-go binary")
	nodes := flag.Int("nodes", 5, "cluster size")
	proposals := flag.Int("proposals", 1000, "sequential proposals")
	emits := flag.Int("emits", 100, "events for the full-reach measurement")
	flag.Parse()
	if *bin == "" {
		fail("-node is required")
	}
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	x, y := byte(10+r.Intn(200)), byte(r.Intn(250))
	base := 20000 + r.Intn(30000)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, x, y, byte(2 + i)}) }
	dir, err := os.MkdirTemp("", "ekc-cluster-bench-")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(dir)
	var peers []string
	for i := 0; i < *nodes; i++ {
		peers = append(peers, fmt.Sprintf("%s:%d", ip(i), base))
	}
	var procs []*exec.Cmd
	var logs []string
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	for i := 0; i < *nodes; i++ {
		logPath := filepath.Join(dir, fmt.Sprintf("node-%d.log", i))
		lf, err := os.Create(logPath)
		if err != nil {
			fail(err.Error())
		}
		cmd := exec.Command(*bin)
		cmd.Env = []string{fmt.Sprintf("EKC_NODE_ID=go-%d", i+1), fmt.Sprintf("EKC_MODULE_ID=%d", i+1),
			"EKC_BIND_IP=" + ip(i).String(), "EKC_MDNS=0", "EKC_PEERS=" + strings.Join(peers, ","),
			fmt.Sprintf("EKC_ROJ_PORT=%d", base), fmt.Sprintf("EKC_KOR_PORT=%d", base+1), fmt.Sprintf("EKC_CTL_PORT=%d", base+2)}
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			fail(err.Error())
		}
		procs = append(procs, cmd)
		logs = append(logs, logPath)
	}
	cli, err := ctlclient.New(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		fail(err.Error())
	}
	ctl := func(i int) netip.AddrPort { return netip.AddrPortFrom(ip(i), uint16(base+2)) }
	call := func(i int, cmd string, args, out any) error { return cli.Call(ctl(i), cmd, args, out, 2*time.Second) }

	waitFor(15*time.Second, "cluster ready", func() bool {
		for i := 0; i < *nodes; i++ {
			var p ctlclient.Peers
			if call(i, "peers", nil, &p) != nil || len(p.Live) != *nodes {
				return false
			}
		}
		return call(0, "emit", map[string]any{"event_type": 0x80, "payload_hex": strings.Repeat("00", 20)}, nil) == nil
	})
	fmt.Printf("cluster: %d %s processes on %s..%s, static peers, default timers\n", *nodes, filepath.Base(*bin), ip(0), ip(*nodes-1))

	// Idle RSS and CPU after the start-up traffic settled.
	time.Sleep(time.Second)
	var cpu0 []float64
	for _, p := range procs {
		cpu0 = append(cpu0, cpuSeconds(p.Process.Pid))
	}
	idleStart := time.Now()
	time.Sleep(3 * time.Second)
	var rss, cpu []float64
	for i, p := range procs {
		rss = append(rss, rssMB(p.Process.Pid))
		cpu = append(cpu, 100*(cpuSeconds(p.Process.Pid)-cpu0[i])/time.Since(idleStart).Seconds())
	}
	fmt.Printf("idle RSS (MB): median %.1f, max %.1f over %d processes; idle CPU median %.2f %% of one core\n",
		median(rss), maxOf(rss), len(rss), median(cpu))

	// Comparator: control ping round trip.
	var pings []float64
	for k := 0; k < 500; k++ {
		t0 := time.Now()
		if err := call(0, "ping", nil, nil); err != nil {
			fail("ping: " + err.Error())
		}
		pings = append(pings, float64(time.Since(t0).Microseconds())/1000)
	}

	before := totals(call, *nodes)
	var lat []float64
	for k := 0; k < *proposals; k++ {
		key := fmt.Sprintf("b%d", k%8)
		var res struct {
			Version uint32 `json:"version"`
		}
		t0 := time.Now()
		if err := call(0, "propose", map[string]string{"key": key, "value": strconv.Itoa(k)}, &res); err != nil {
			fail(fmt.Sprintf("propose %d: %v", k, err))
		}
		for {
			var kv struct {
				Entries []struct {
					Key     string `json:"key"`
					Version uint32 `json:"version"`
				} `json:"entries"`
			}
			if err := call(0, "kv", map[string]int{"offset": 0}, &kv); err != nil {
				fail("kv: " + err.Error())
			}
			done := false
			for _, e := range kv.Entries {
				done = done || (e.Key == key && e.Version >= res.Version)
			}
			if done {
				break
			}
			if time.Since(t0) > 15*time.Second {
				fail(fmt.Sprintf("proposal %d never committed", k))
			}
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	time.Sleep(300 * time.Millisecond) // let acks and the last COMMITs land
	after := totals(call, *nodes)
	commits := float64(*proposals)
	roj := func(k string) float64 { return float64(after[k] - before[k]) }
	inNode := commitLatencies(logs[0])
	if len(inNode) > *proposals {
		inNode = inNode[len(inNode)-*proposals:]
	}
	fmt.Printf("commit latency, %d sequential proposals, n=%d (t=%d):\n", *proposals, *nodes, (67**nodes+99)/100)
	fmt.Printf("  end to end via control (propose .. kv shows it): p50 %.3f ms, p99 %.3f ms\n", pct(lat, 50), pct(lat, 99))
	if len(inNode) > 0 {
		fmt.Printf("  in node (PROPOSE sent .. COMMIT sent, from the node log): p50 %.3f ms, p99 %.3f ms (%d samples)\n", pct(inNode, 50), pct(inNode, 99), len(inNode))
	} else {
		fmt.Println("  in node: n/a (the node logs no \"commit sent\" lines with latency_us)")
	}
	fmt.Printf("  comparator: control ping round trip p50 %.3f ms, p99 %.3f ms; e2e/ping p50 ratio %.1f\n", pct(pings, 50), pct(pings, 99), pct(lat, 50)/pct(pings, 50))
	if roj("roj_propose") == 0 {
		fmt.Println("  (per-type tx counters roj_propose/roj_vote/... absent from this node's stats: only totals are meaningful)")
	}
	fmt.Printf("messages per commit: EK-ROJ %.2f (PROPOSE %.2f, VOTE %.2f, COMMIT %.2f, ABORT %.2f; 3(n-1) = %d), EK-KOR %.2f (gossip %.2f, ack %.2f), ANNOUNCE during the run %.0f\n",
		(roj("roj_propose")+roj("roj_vote")+roj("roj_commit")+roj("roj_abort"))/commits,
		roj("roj_propose")/commits, roj("roj_vote")/commits, roj("roj_commit")/commits, roj("roj_abort")/commits, 3*(*nodes-1),
		roj("kor")/commits, (roj("kor_gossip")+roj("kor_repair"))/commits, roj("kor_ack")/commits, roj("roj_announce"))

	// Gossip full reach: emit on node 1 and poll the others until each VV shows it.
	var reach []float64
	for k := 0; k < *emits; k++ {
		var e struct {
			Seq uint32 `json:"origin_seq"`
		}
		t0 := time.Now()
		if err := call(0, "emit", map[string]any{"event_type": 0x81, "payload_hex": fmt.Sprintf("%040x", k)}, &e); err != nil {
			fail("emit: " + err.Error())
		}
		pending := map[int]bool{}
		for i := 1; i < *nodes; i++ {
			pending[i] = true
		}
		for len(pending) > 0 {
			for i := range pending {
				var st ctlclient.State
				if call(i, "state", nil, &st) == nil && st.VV["1"] >= e.Seq {
					delete(pending, i)
				}
			}
			if time.Since(t0) > 10*time.Second {
				fail("event never reached every node")
			}
		}
		reach = append(reach, float64(time.Since(t0).Microseconds())/1000)
	}
	fmt.Printf("gossip full reach (%d nodes, emit .. every VV shows it, polled): p50 %.3f ms, p99 %.3f ms over %d events\n",
		*nodes, pct(reach, 50), pct(reach, 99), len(reach))
	var invalid uint64
	for i := 0; i < *nodes; i++ {
		var s ctlclient.Stats
		call(i, "stats", nil, &s)
		for _, v := range s.Invalid {
			invalid += v
		}
	}
	fmt.Printf("invalid inputs counted across the cluster: %d\n", invalid)
}

func totals(call func(int, string, any, any) error, nodes int) map[string]uint64 {
	sum := map[string]uint64{}
	for i := 0; i < nodes; i++ {
		var s ctlclient.Stats
		if err := call(i, "stats", nil, &s); err != nil {
			fail("stats: " + err.Error())
		}
		for k, v := range s.Tx {
			sum[k] += v
		}
	}
	return sum
}

func commitLatencies(path string) []float64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Msg     string  `json:"msg"`
			Latency float64 `json:"latency_us"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "commit sent" {
			out = append(out, rec.Latency/1000)
		}
	}
	return out
}

func rssMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// cpuSeconds is utime + stime of a process (/proc/<pid>/stat fields 14 and 15, in clock ticks).
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ is 100 on Linux
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func median(xs []float64) float64 { return pct(xs, 50) }

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

func waitFor(d time.Duration, what string, cond func() bool) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fail("timed out waiting for " + what)
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "ekc-cluster-bench: "+msg)
	os.Exit(1)
}
