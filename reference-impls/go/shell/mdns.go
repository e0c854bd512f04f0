package shell

// mDNS discovery (ek-roj.md ROJ-DISC-1..3). The responder is hashicorp/mdns's Server with an
// MDNSService zone (PTR, SRV, TXT, A). The browser is our own, built on miekg/dns (the library
// hashicorp/mdns itself uses), because hashicorp/mdns's client cannot do what ROJ-DISC-2 needs:
// its Query is one-shot (opens and closes sockets per call, no passive listening), it fails outright
// when an IPv6 send fails (containers without IPv6), and setting the multicast interface requires
// IPv6 sockets too. Our sockets name the interface holding EKC_BIND_IP explicitly, so multicast goes
// out and is received there whatever the routing table says.
//
// Interoperability notes (checked in hashicorp/mdns v1.0.3 source): its server sends every answer,
// even those it calls multicast, unicast to the query's source address and port; answers carry PTR,
// SRV, TXT and A together in the answer section. Our browser therefore queries from an ephemeral
// port (an RFC 6762 6.7 legacy-unicast style query, answered by unicast from hashicorp/mdns and other
// responders that honour the source port) AND listens on 224.0.0.251:5353 for responders that
// answer by multicast (as RFC 6762 responders such as mdns-sd do to port-5353 queries).

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"ekcnode/core"
)

const serviceName = "_roj._udp.local."

// maxCached bounds the browser's instance and host caches (membership is at most 32, ROJ-MEMB-3).
const maxCached = 128

var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// Discovery is one resolved instance (ROJ-DISC-3).
type Discovery struct {
	NodeID                    string
	Addr                      netip.Addr
	RojPort, KorPort, CtlPort uint16
	ModuleID                  uint8
	Caps                      []string
}

// TXTRecords builds the TXT keys of ROJ-DISC-1.
func TXTRecords(c *core.Config, caps []string) []string {
	return []string{
		"node=" + c.NodeID,
		"mod=" + strconv.Itoa(int(c.ModuleID)),
		"lang=" + c.Lang,
		"version=" + core.ImplVersion,
		"proto=1",
		"caps=" + strings.Join(caps, ","),
		"kor=" + strconv.Itoa(int(c.KorPort)),
		"ctl=" + strconv.Itoa(int(c.CtlPort)),
	}
}

// MDNS runs the responder and the browser.
type MDNS struct {
	server *mdns.Server
	qconn  *net.UDPConn
	mconn  *net.UDPConn
	self   string
	found  chan<- Discovery
	logf   func(level, msg string, fields ...any)
	stop   chan struct{}
	wg     sync.WaitGroup

	query func(name string, qtype uint16) // sendQuery; tests record instead of sending

	mu    sync.Mutex
	cache map[string]*instance // by instance name
	hosts map[string]netip.Addr
}

type instance struct {
	port      uint16
	target    string
	txt       map[string]string
	hasTXT    bool
	lastSent  string
	lastQuery time.Time
}

// StartMDNS registers our instance and starts browsing.
func StartMDNS(c *core.Config, caps []string, found chan<- Discovery, logf func(level, msg string, fields ...any)) (*MDNS, error) {
	iface, err := interfaceFor(c.BindIP)
	if err != nil {
		return nil, fmt.Errorf("mDNS: %v", err)
	}
	svc, err := mdns.NewMDNSService(c.NodeID, "_roj._udp", "local.", c.NodeID+".local.", int(c.RojPort),
		[]net.IP{net.IP(c.BindIP.AsSlice())}, TXTRecords(c, caps))
	if err != nil {
		return nil, fmt.Errorf("mDNS service: %v", err)
	}
	server, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: iface})
	if err != nil {
		return nil, fmt.Errorf("mDNS responder: %v", err)
	}
	m := newBrowserState(c.NodeID, found, logf)
	m.server = server
	m.query = m.sendQuery
	m.qconn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(c.BindIP.AsSlice())})
	if err != nil {
		server.Shutdown()
		return nil, fmt.Errorf("mDNS query socket: %v", err)
	}
	pc := ipv4.NewPacketConn(m.qconn)
	if err := pc.SetMulticastInterface(iface); err != nil {
		m.Close()
		return nil, fmt.Errorf("mDNS multicast interface %s: %v", iface.Name, err)
	}
	_ = pc.SetMulticastTTL(255)
	_ = pc.SetMulticastLoopback(true)
	m.mconn, err = net.ListenMulticastUDP("udp4", iface, mdnsGroup)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("mDNS listener: %v", err)
	}
	m.wg.Add(3)
	go m.readLoop(m.qconn)
	go m.readLoop(m.mconn)
	go m.queryLoop()
	return m, nil
}

func newBrowserState(self string, found chan<- Discovery, logf func(level, msg string, fields ...any)) *MDNS {
	return &MDNS{self: self, found: found, logf: logf, stop: make(chan struct{}),
		cache: map[string]*instance{}, hosts: map[string]netip.Addr{}}
}

// Close stops everything.
func (m *MDNS) Close() {
	select {
	case <-m.stop:
		return
	default:
	}
	close(m.stop)
	if m.server != nil {
		m.server.Shutdown()
	}
	if m.qconn != nil {
		m.qconn.Close()
	}
	if m.mconn != nil {
		m.mconn.Close()
	}
	m.wg.Wait()
}

// queryLoop is ROJ-DISC-2: at start-up, every 2 s for 10 s, then every 10 s.
func (m *MDNS) queryLoop() {
	defer m.wg.Done()
	start := time.Now()
	for {
		m.query(serviceName, dns.TypePTR)
		wait := 10 * time.Second
		if time.Since(start) < 10*time.Second {
			wait = 2 * time.Second
		}
		select {
		case <-m.stop:
			return
		case <-time.After(wait):
		}
	}
}

func (m *MDNS) sendQuery(name string, qtype uint16) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	q.Id = 0
	buf, err := q.Pack()
	if err != nil {
		return
	}
	if _, err := m.qconn.WriteToUDP(buf, mdnsGroup); err != nil {
		m.logf("warn", "mDNS query not sent", "error", err.Error())
	}
}

func (m *MDNS) readLoop(c *net.UDPConn) {
	defer m.wg.Done()
	buf := make([]byte, 9000)
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-m.stop:
				return
			default:
				continue
			}
		}
		msg := new(dns.Msg)
		if msg.Unpack(buf[:n]) != nil || !msg.Response {
			continue
		}
		m.absorb(msg)
	}
}

// absorb folds a response's records into the cache and reports complete instances.
func (m *MDNS) absorb(msg *dns.Msg) {
	m.mu.Lock()
	var ready []Discovery
	var followUps []string
	touched := map[string]bool{}
	get := func(name string) *instance {
		in := m.cache[name]
		if in == nil {
			if len(m.cache) >= maxCached {
				return &instance{} // a flood of instance names cannot grow the cache
			}
			in = &instance{}
			m.cache[name] = in
		}
		touched[name] = true
		return in
	}
	for _, rr := range append(append(msg.Answer, msg.Ns...), msg.Extra...) {
		switch r := rr.(type) {
		case *dns.PTR:
			if strings.EqualFold(r.Hdr.Name, serviceName) && strings.HasSuffix(strings.ToLower(r.Ptr), serviceName) {
				get(r.Ptr)
			}
		case *dns.SRV:
			if strings.HasSuffix(strings.ToLower(r.Hdr.Name), serviceName) {
				in := get(r.Hdr.Name)
				in.port, in.target = r.Port, strings.ToLower(r.Target)
			}
		case *dns.TXT:
			if strings.HasSuffix(strings.ToLower(r.Hdr.Name), serviceName) {
				in := get(r.Hdr.Name)
				in.txt, in.hasTXT = map[string]string{}, true
				for _, kv := range r.Txt {
					if k, v, ok := strings.Cut(kv, "="); ok {
						in.txt[strings.ToLower(k)] = v
					}
				}
			}
		case *dns.A:
			if _, known := m.hosts[strings.ToLower(r.Hdr.Name)]; !known && len(m.hosts) >= maxCached {
				continue
			}
			if ip, ok := netip.AddrFromSlice(r.A.To4()); ok {
				m.hosts[strings.ToLower(r.Hdr.Name)] = ip
			}
		}
	}
	for name, in := range m.cache {
		if !touched[name] && in.target == "" {
			continue
		}
		d, complete := m.resolve(name, in)
		if !complete {
			if time.Since(in.lastQuery) > time.Second {
				in.lastQuery = time.Now()
				followUps = append(followUps, name)
			}
			continue
		}
		if d.NodeID == m.self {
			continue
		}
		sig := fmt.Sprintf("%v", d)
		if sig != in.lastSent {
			in.lastSent = sig
			ready = append(ready, d)
		}
	}
	m.mu.Unlock()
	for _, name := range followUps {
		m.query(name, dns.TypeANY) // hashicorp/mdns and mdns-sd both answer ANY with SRV+TXT(+A)
	}
	for _, d := range ready {
		select {
		case m.found <- d:
		case <-m.stop:
			return
		}
	}
}

// resolve applies ROJ-DISC-3 to one cached instance.
func (m *MDNS) resolve(name string, in *instance) (Discovery, bool) {
	addr, ok := m.hosts[in.target]
	if !ok || in.port == 0 || !in.hasTXT {
		return Discovery{}, false
	}
	d := Discovery{Addr: addr, RojPort: in.port}
	d.NodeID = in.txt["node"]
	if d.NodeID == "" {
		d.NodeID = strings.TrimSuffix(strings.ToLower(name), "."+serviceName)
	}
	if v, err := strconv.ParseUint(in.txt["mod"], 10, 8); err == nil && v >= 1 {
		d.ModuleID = uint8(v)
	}
	if v, err := strconv.ParseUint(in.txt["kor"], 10, 16); err == nil {
		d.KorPort = uint16(v)
	}
	if v, err := strconv.ParseUint(in.txt["ctl"], 10, 16); err == nil {
		d.CtlPort = uint16(v)
	}
	if c := in.txt["caps"]; c != "" {
		d.Caps = strings.Split(c, ",")
	}
	return d, true
}
