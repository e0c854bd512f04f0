package shell

// The browser's record handling against the two answer shapes seen in practice: hashicorp/mdns puts
// PTR, SRV, TXT and A in the answer section; RFC 6762 responders such as mdns-sd answer PTR and put
// SRV, TXT and A in the additional section, or answer in several packets.

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"ekcnode/core"
)

func rrs(t *testing.T, lines ...string) []dns.RR {
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func TestTXTRecords(t *testing.T) {
	c := core.Config{NodeID: "go-1", ModuleID: 7, Lang: "go", KorPort: 9991, CtlPort: 9992}
	got := TXTRecords(&c, []string{"roj", "kor", "ctl", "mdns"})
	want := []string{"node=go-1", "mod=7", "lang=go", "version=" + core.ImplVersion, "proto=1", "caps=roj,kor,ctl,mdns", "kor=9991", "ctl=9992"}
	if len(got) != len(want) {
		t.Fatalf("TXT %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("TXT %v, want %v (ROJ-DISC-1)", got, want)
		}
	}
}

func TestBrowserAnswerShapes(t *testing.T) {
	found := make(chan Discovery, 8)
	var queried []string
	m := newBrowserState("go-1", found, func(string, string, ...any) {})
	m.query = func(name string, qtype uint16) { queried = append(queried, name) }
	txt := `rust-1._roj._udp.local. 120 IN TXT "node=rust-1" "mod=3" "lang=rust" "version=0.1.0" "proto=1" "caps=roj,kor,ctl,abort" "kor=9991" "ctl=9992"`

	// hashicorp/mdns shape: everything in the answer section.
	m.absorb(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs(t,
		`_roj._udp.local. 120 IN PTR rust-1._roj._udp.local.`,
		`rust-1._roj._udp.local. 120 IN SRV 0 0 9990 host-r.local.`,
		`host-r.local. 120 IN A 10.1.2.3`, txt)})
	d := <-found
	if d.NodeID != "rust-1" || d.Addr != netip.MustParseAddr("10.1.2.3") || d.RojPort != 9990 || d.KorPort != 9991 ||
		d.CtlPort != 9992 || d.ModuleID != 3 || len(d.Caps) != 4 {
		t.Fatalf("discovery %+v", d)
	}
	// The same records again report nothing new.
	m.absorb(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs(t, `_roj._udp.local. 120 IN PTR rust-1._roj._udp.local.`)})
	if len(found) != 0 {
		t.Fatal("duplicate discovery reported")
	}

	// RFC 6762 shape in two packets: a bare PTR first (a follow-up query goes out), then the rest.
	m.absorb(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs(t, `_roj._udp.local. 120 IN PTR c-1._roj._udp.local.`)})
	if len(found) != 0 || len(queried) != 1 || queried[0] != "c-1._roj._udp.local." {
		t.Fatalf("incomplete instance: found %d, queried %v", len(found), queried)
	}
	m.absorb(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true},
		Answer: rrs(t, `c-1._roj._udp.local. 120 IN SRV 0 0 9990 c1.local.`),
		Extra:  rrs(t, `c1.local. 120 IN A 10.1.2.4`, `c-1._roj._udp.local. 120 IN TXT "mod=4" "kor=9991" "ctl=9992"`)})
	d = <-found
	if d.NodeID != "c-1" || d.Addr != netip.MustParseAddr("10.1.2.4") || d.ModuleID != 4 {
		t.Fatalf("TXT without node key must fall back to the instance name (ROJ-DISC-3): %+v", d)
	}

	// Our own instance and other services are ignored; queries are not responses.
	m.absorb(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs(t,
		`go-1._roj._udp.local. 120 IN SRV 0 0 9990 me.local.`, `me.local. 120 IN A 10.1.2.9`,
		`go-1._roj._udp.local. 120 IN TXT "node=go-1"`,
		`_http._tcp.local. 120 IN PTR web._http._tcp.local.`)})
	if len(found) != 0 {
		t.Fatalf("own instance reported: %+v", <-found)
	}
}
