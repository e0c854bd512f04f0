package shell

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func base() map[string]string {
	return map[string]string{"EKC_NODE_ID": "go-1", "EKC_MODULE_ID": "7", "EKC_BIND_IP": "127.0.0.2"}
}

func TestConfigDefaults(t *testing.T) {
	s, err := LoadSettings(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Core
	if c.RojPort != 9990 || c.KorPort != 9991 || c.CtlPort != 9992 || !c.MDNS || c.AnnounceMs != 1000 ||
		c.LivenessMs != 3000 || c.AntiEntropyMs != 10000 || c.ProposalTimeoutMs != 10000 || s.TickMs != 10 ||
		!s.LogJSON || c.Persist || c.Lang != "go" || c.Seed == 0 || s.CtlOpen {
		t.Fatalf("defaults %+v %+v", c, s)
	}
	m0 := base()
	m0["EKC_CTL_PORT"] = ""
	if s, err := LoadSettings(env(m0)); err != nil || !s.CtlOpen || s.Core.CtlPort != 9992 {
		t.Fatalf("EKC_CTL_PORT set but empty: %+v %v", s, err)
	}
	m := base()
	m["EKC_ANNOUNCE_MS"], m["EKC_PEERS"], m["EKC_SEED"], m["EKC_MDNS"] = "200", "127.0.0.3, 127.0.0.4:7000,127.0.0.2", "42", "0"
	m["EKC_UNKNOWN_THING"] = "ignored" // CTL-ENV-16
	s, err = LoadSettings(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if s.Core.LivenessMs != 600 || len(s.Core.StaticPeers) != 2 || s.Core.StaticPeers[1].Port() != 7000 || s.Core.Seed != 42 || s.Core.MDNS {
		t.Fatalf("parsed %+v", s.Core)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"EKC_NODE_ID", "", "EKC_NODE_ID"},
		{"EKC_CTL_PORT", "0", "EKC_CTL_PORT"},
		{"EKC_NODE_ID", "Go_1", "EKC_NODE_ID"},
		{"EKC_MODULE_ID", "", "EKC_MODULE_ID"},
		{"EKC_MODULE_ID", "0", "EKC_MODULE_ID"},
		{"EKC_MODULE_ID", "256", "EKC_MODULE_ID"},
		{"EKC_BIND_IP", "::1", "EKC_BIND_IP"},
		{"EKC_ROJ_PORT", "99999", "EKC_ROJ_PORT"},
		{"EKC_KOR_PORT", "9990", "PORT"},
		{"EKC_MDNS", "yes", "EKC_MDNS"},
		{"EKC_PEERS", "10.0.0.1,banana", "EKC_PEERS"},
		{"EKC_ANNOUNCE_MS", "-5", "EKC_ANNOUNCE_MS"},
		{"EKC_PROPOSAL_TIMEOUT_MS", "50", "EKC_PROPOSAL_TIMEOUT_MS"},
		{"EKC_SEED", "0x10", "EKC_SEED"},
		{"EKC_TICK_MS", "0", "EKC_TICK_MS"},
		{"EKC_LOG", "xml", "EKC_LOG"},
		{"EKC_STATE_DIR", "/nonexistent/dir", "EKC_STATE_DIR"},
		{"EKC_LANG_TAG", "GO!", "EKC_LANG_TAG"},
	}
	for _, c := range cases {
		m := base()
		m[c.key] = c.value
		_, err := LoadSettings(env(m))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: error %v, want one line naming %s", c.key, c.value, err, c.want)
		}
	}
}
