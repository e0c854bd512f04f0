package core

// Golden vectors for the core's pure functions: LWW order (lww.json), VV comparison and merge
// (vv.json) and the control digests (digest.json). Missing vectors fail the test.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"ekcnode/codec"
)

func loadVectors(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "vectors", name))
	if err != nil {
		t.Fatalf("golden vectors %s not readable: %v", name, err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("golden vectors %s: %v", name, err)
	}
}

func TestGoldenLWW(t *testing.T) {
	type side struct {
		Ts     uint32
		Origin uint8
		Seq    uint32
	}
	var f struct {
		Cases []struct {
			ID     string
			A, B   side
			ANewer bool `json:"a_newer"`
			BNewer bool `json:"b_newer"`
		}
	}
	loadVectors(t, "lww.json", &f)
	if len(f.Cases) == 0 {
		t.Fatal("no LWW cases")
	}
	ev := func(s side) codec.Event { return codec.Event{TimestampUs: s.Ts, OriginID: s.Origin, OriginSeq: s.Seq} }
	for _, c := range f.Cases {
		if lwwNewer(ev(c.A), ev(c.B)) != c.ANewer || lwwNewer(ev(c.B), ev(c.A)) != c.BNewer {
			t.Errorf("%s: newer(a,b)=%v newer(b,a)=%v, want %v %v", c.ID, lwwNewer(ev(c.A), ev(c.B)), lwwNewer(ev(c.B), ev(c.A)), c.ANewer, c.BNewer)
		}
	}
}

func toVV(t *testing.T, m map[string]uint32) map[uint8]uint32 {
	out := map[uint8]uint32{}
	for k, v := range m {
		o, err := strconv.Atoi(k)
		if err != nil || o < 1 || o > 255 {
			t.Fatalf("origin %q", k)
		}
		if v != 0 {
			out[uint8(o)] = v
		}
	}
	return out
}

func TestGoldenVVCompare(t *testing.T) {
	var f struct {
		Compare []struct {
			ID    string
			A, B  map[string]uint32
			AVsB  string `json:"a_vs_b"`
			BVsA  string `json:"b_vs_a"`
			Merge map[string]uint32
		}
	}
	loadVectors(t, "vv.json", &f)
	if len(f.Compare) == 0 {
		t.Fatal("no VV cases")
	}
	for _, c := range f.Compare {
		a, b := toVV(t, c.A), toVV(t, c.B)
		if CompareVV(a, b) != c.AVsB || CompareVV(b, a) != c.BVsA {
			t.Errorf("%s: %s/%s, want %s/%s", c.ID, CompareVV(a, b), CompareVV(b, a), c.AVsB, c.BVsA)
		}
		if fmt.Sprint(MergeVV(a, b)) != fmt.Sprint(toVV(t, c.Merge)) {
			t.Errorf("%s: merge %v, want %v", c.ID, MergeVV(a, b), c.Merge)
		}
	}
}

func TestGoldenDigests(t *testing.T) {
	var f struct {
		KV []struct {
			ID      string
			Entries []struct {
				Key, Value string
				Version    uint32
			}
			Digest string
		}
		Log []struct {
			ID     string
			Events []string
			Digest string
		}
		Fields []struct {
			ID     string
			Fields []struct {
				FieldID uint8 `json:"field_id"`
				Event   string
			}
			Digest string
		}
		FNV1a64 []struct {
			ID       string
			HexInput string `json:"hex_input"`
			Digest   string
		} `json:"fnv1a64"`
	}
	loadVectors(t, "digest.json", &f)
	if len(f.KV) == 0 || len(f.Log) == 0 || len(f.Fields) == 0 || len(f.FNV1a64) == 0 {
		t.Fatal("digest vectors incomplete")
	}
	for _, c := range f.FNV1a64 {
		in, _ := hex.DecodeString(c.HexInput)
		h := newFNV()
		h.write(in)
		if h.hex() != c.Digest {
			t.Errorf("%s: %s, want %s", c.ID, h.hex(), c.Digest)
		}
	}
	for _, c := range f.KV {
		n := New(testConfig(0, 1))
		for _, e := range c.Entries {
			n.roj.store[e.Key] = KV{e.Value, e.Version}
		}
		if got := n.StateResult().KVDigest; got != c.Digest {
			t.Errorf("%s: kv_digest %s, want %s", c.ID, got, c.Digest)
		}
	}
	parse := func(id, h string) codec.Event {
		raw, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: hex", id)
		}
		e, kerr := codec.ParseEvent(raw)
		if kerr != nil {
			t.Fatalf("%s: event invalid: %v", id, kerr)
		}
		return e
	}
	for _, c := range f.Log {
		n := New(testConfig(0, 1))
		for _, h := range c.Events {
			e := parse(c.ID, h)
			n.kor.events[evID{e.OriginID, e.OriginSeq}] = e
		}
		st := n.StateResult()
		if st.LogDigest != c.Digest || st.LogCount != len(c.Events) {
			t.Errorf("%s: log_digest %s (%d), want %s", c.ID, st.LogDigest, st.LogCount, c.Digest)
		}
	}
	for _, c := range f.Fields {
		n := New(testConfig(0, 1))
		for _, fe := range c.Fields {
			n.kor.fields[fe.FieldID] = parse(c.ID, fe.Event)
		}
		if got := n.StateResult().FieldsDigest; got != c.Digest {
			t.Errorf("%s: fields_digest %s, want %s", c.ID, got, c.Digest)
		}
	}
}
