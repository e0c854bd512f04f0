// Package shell is the I/O shell around the protocol core: configuration from the environment
// (control.md CTL-ENV-*), UDP sockets, mDNS, logging and persistence. It runs one goroutine per
// subsystem (a receiver per socket, a sender, the mDNS browser, the logger, the persister) and a
// single event loop goroutine that owns the core and talks to the others over channels.
package shell

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"ekcnode/codec"
	"ekcnode/core"
)

// Settings is the parsed environment: the core's Config plus what only the shell uses.
type Settings struct {
	Core     core.Config
	CtlOpen  bool // control.md: the control port is opened only when EKC_CTL_PORT is set
	TickMs   int64
	LogJSON  bool
	StateDir string
}

// ConfigError is a configuration error (CTL-IMG-1): one clear line, non-zero exit.
type ConfigError struct{ Var, Problem string }

func (e *ConfigError) Error() string {
	return fmt.Sprintf("configuration error: %s: %s", e.Var, e.Problem)
}

// LoadSettings reads EKC_* through lookup (os.LookupEnv in production, a map in tests).
// A malformed value is an error, never replaced by the default (CTL-ENV-16).
func LoadSettings(lookup func(string) (string, bool)) (*Settings, error) {
	getenv := func(k string) string { v, _ := lookup(k); return v }
	s := &Settings{}
	c := &s.Core
	c.NodeID = getenv("EKC_NODE_ID")
	if c.NodeID == "" {
		return nil, &ConfigError{"EKC_NODE_ID", "required (CTL-ENV-1)"}
	}
	if !codec.NodeIDPattern.MatchString(c.NodeID) {
		return nil, &ConfigError{"EKC_NODE_ID", fmt.Sprintf("%q must match ^[a-z0-9][a-z0-9-]{0,15}$ (ROJ-ENV-4)", c.NodeID)}
	}
	mod := getenv("EKC_MODULE_ID")
	if mod == "" {
		return nil, &ConfigError{"EKC_MODULE_ID", "required (CTL-ENV-2)"}
	}
	m, err := parseUint("EKC_MODULE_ID", mod, 1, 255)
	if err != nil {
		return nil, err
	}
	c.ModuleID = uint8(m)

	if v := getenv("EKC_BIND_IP"); v != "" {
		ip, perr := netip.ParseAddr(v)
		if perr != nil || !ip.Is4() {
			return nil, &ConfigError{"EKC_BIND_IP", fmt.Sprintf("%q is not an IPv4 address", v)}
		}
		c.BindIP = ip
	} else {
		ip, ferr := firstNonLoopbackIPv4()
		if ferr != nil {
			return nil, &ConfigError{"EKC_BIND_IP", ferr.Error()}
		}
		c.BindIP = ip
	}
	ports := []struct {
		name string
		dst  *uint16
		def  uint16
	}{{"EKC_ROJ_PORT", &c.RojPort, 9990}, {"EKC_KOR_PORT", &c.KorPort, 9991}, {"EKC_CTL_PORT", &c.CtlPort, 9992}}
	for _, p := range ports {
		*p.dst = p.def
		if v := getenv(p.name); v != "" {
			x, err := parseUint(p.name, v, 1, 65535)
			if err != nil {
				return nil, err
			}
			*p.dst = uint16(x)
		}
	}
	// The control channel is unauthenticated: open it only when asked to (control.md section 1); an
	// empty EKC_CTL_PORT opens it on the default port. ANNOUNCE and TXT advertise the port either way.
	_, s.CtlOpen = lookup("EKC_CTL_PORT")
	if c.RojPort == c.KorPort || c.RojPort == c.CtlPort || c.KorPort == c.CtlPort {
		return nil, &ConfigError{"EKC_*_PORT", "EK-ROJ, EK-KOR and control ports must differ"}
	}
	switch v := getenv("EKC_MDNS"); v {
	case "", "1":
		c.MDNS = true
	case "0":
		c.MDNS = false
	default:
		return nil, &ConfigError{"EKC_MDNS", fmt.Sprintf("%q must be 0 or 1", v)}
	}
	if v := strings.TrimSpace(getenv("EKC_PEERS")); v != "" {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			ap, perr := parsePeer(item, c.RojPort)
			if perr != nil {
				return nil, &ConfigError{"EKC_PEERS", perr.Error()}
			}
			if ap.Addr() == c.BindIP && ap.Port() == c.RojPort {
				continue // a shared peer list may name the node itself
			}
			c.StaticPeers = append(c.StaticPeers, ap)
		}
	}
	durations := []struct {
		name     string
		dst      *int64
		def      int64
		min, max uint64
	}{
		{"EKC_ANNOUNCE_MS", &c.AnnounceMs, 1000, 10, 600000},
		{"EKC_LIVENESS_MS", &c.LivenessMs, 0, 10, 3600000},
		{"EKC_ANTI_ENTROPY_MS", &c.AntiEntropyMs, 10000, 10, 3600000},
		{"EKC_PROPOSAL_TIMEOUT_MS", &c.ProposalTimeoutMs, 10000, 100, 60000},
		{"EKC_TICK_MS", &s.TickMs, 10, 1, 1000},
	}
	for _, d := range durations {
		*d.dst = d.def
		if v := getenv(d.name); v != "" {
			x, err := parseUint(d.name, v, d.min, d.max)
			if err != nil {
				return nil, err
			}
			*d.dst = int64(x)
		}
	}
	if c.LivenessMs == 0 {
		c.LivenessMs = 3 * c.AnnounceMs
	}
	c.Seed = core.SeedFromNodeID(c.NodeID)
	if v := getenv("EKC_SEED"); v != "" {
		x, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			return nil, &ConfigError{"EKC_SEED", fmt.Sprintf("%q is not a u64 decimal", v)}
		}
		c.Seed = x
	}
	switch v := getenv("EKC_LOG"); v {
	case "", "json":
		s.LogJSON = true
	case "text":
		s.LogJSON = false
	default:
		return nil, &ConfigError{"EKC_LOG", fmt.Sprintf("%q must be json or text", v)}
	}
	if v := getenv("EKC_STATE_DIR"); v != "" {
		st, serr := os.Stat(v)
		if serr != nil || !st.IsDir() {
			return nil, &ConfigError{"EKC_STATE_DIR", fmt.Sprintf("%q is not a directory", v)}
		}
		s.StateDir = v
		c.Persist = true
	}
	c.Lang = "go"
	if v := getenv("EKC_LANG_TAG"); v != "" {
		if !codec.LangPattern.MatchString(v) {
			return nil, &ConfigError{"EKC_LANG_TAG", fmt.Sprintf("%q must match [a-z0-9-]{1,16}", v)}
		}
		c.Lang = v
	}
	return s, nil
}

func parseUint(name, v string, min, max uint64) (uint64, error) {
	x, err := strconv.ParseUint(v, 10, 64)
	if err != nil || x < min || x > max {
		return 0, &ConfigError{name, fmt.Sprintf("%q must be an integer in %d..%d", v, min, max)}
	}
	return x, nil
}

func parsePeer(item string, defPort uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(item); err == nil && ap.Addr().Is4() && ap.Port() != 0 {
		return ap, nil
	}
	if ip, err := netip.ParseAddr(item); err == nil && ip.Is4() {
		return netip.AddrPortFrom(ip, defPort), nil
	}
	return netip.AddrPort{}, fmt.Errorf("%q is not an IPv4 address or ip:port", item)
}

func firstNonLoopbackIPv4() (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cannot list interfaces: %v", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil && !ip4.IsLoopback() {
				ip, _ := netip.AddrFromSlice(ip4)
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("no non-loopback IPv4 address; set EKC_BIND_IP")
}

// interfaceFor finds the interface holding ip (mDNS joins the group there).
func interfaceFor(ip netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				// contained, not equal: 127.0.0.2 lives on lo's 127.0.0.1/8
				if ipn.IP.To4() != nil && ipn.Contains(net.IP(ip.AsSlice())) {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no interface holds %s", ip)
}
