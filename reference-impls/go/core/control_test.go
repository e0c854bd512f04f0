package core

import (
	"fmt"
	"testing"
)

func TestControlCommands(t *testing.T) {
	s := newSim(t, 3, nil)
	ok := func(resp map[string]any) map[string]any {
		t.Helper()
		if resp["ok"] != true {
			t.Fatalf("error response %v", resp)
		}
		return resp["result"].(map[string]any)
	}
	fail := func(resp map[string]any, code string) {
		t.Helper()
		if resp["ok"] != false || resp["error"] != code {
			t.Fatalf("response %v, want error %s", resp, code)
		}
	}
	r := ok(s.ctl(0, `{"id":1,"cmd":"ping"}`))
	if r["node_id"] != "n1" || r["module_id"].(float64) != 1 {
		t.Fatalf("ping %v", r)
	}
	caps := ok(s.ctl(0, `{"id":2,"cmd":"caps","args":{}}`))
	if caps["spec"] != "1.0" || fmt.Sprint(caps["caps"]) != "[roj kor ctl mdns abort persist clock-skew kor-retx]" {
		t.Fatalf("caps %v", caps)
	}
	peers := ok(s.ctl(0, `{"id":3,"cmd":"peers"}`))
	if fmt.Sprint(peers["members"]) != "[n1 n2 n3]" || fmt.Sprint(peers["live"]) != "[n1 n2 n3]" || fmt.Sprint(peers["neighbours"]) != "[2 3]" {
		t.Fatalf("peers %v", peers)
	}
	p := ok(s.ctl(0, `{"id":4,"cmd":"propose","args":{"key":"bay3","value":"11000"}}`))
	if p["pid"] != "n1:00001000:1" || p["version"].(float64) != 1 {
		t.Fatalf("propose %v", p)
	}
	// CTL-WIRE-4: the same id is answered from the cache, not proposed again.
	again := ok(s.ctl(0, `{"id":4,"cmd":"propose","args":{"key":"bay3","value":"11000"}}`))
	if again["pid"] != p["pid"] || s.nodes[0].roj.counter != 1 {
		t.Fatalf("repeated id acted twice: %v", again)
	}
	kv := ok(s.ctl(1, `{"id":5,"cmd":"kv","args":{"offset":0}}`))
	if kv["total"].(float64) != 1 || fmt.Sprint(kv["entries"]) != "[map[key:bay3 value:11000 version:1]]" {
		t.Fatalf("kv %v", kv)
	}
	e := ok(s.ctl(1, `{"id":6,"cmd":"emit","args":{"event_type":2,"payload_hex":"0a00000000000000000000000000000000000001"}}`))
	if e["origin_id"].(float64) != 2 || e["origin_seq"].(float64) != 1 {
		t.Fatalf("emit %v", e)
	}
	f := ok(s.ctl(2, `{"id":7,"cmd":"fields"}`))
	if f["total"].(float64) != 1 {
		t.Fatalf("fields %v", f)
	}
	lg := ok(s.ctl(2, `{"id":8,"cmd":"log","args":{"origin":1,"from":1}}`))
	if evs := lg["events"].([]any); len(evs) != 1 || len(evs[0].(string)) != 72 {
		t.Fatalf("log %v", lg)
	}
	st0, st2 := ok(s.ctl(0, `{"id":9,"cmd":"state"}`)), ok(s.ctl(2, `{"id":9,"cmd":"state"}`))
	for _, k := range []string{"kv_digest", "log_digest", "fields_digest"} {
		if st0[k] != st2[k] {
			t.Fatalf("%s differs: %v vs %v", k, st0[k], st2[k])
		}
	}
	if fmt.Sprint(st0["vv"]) != "map[1:1 2:1]" || st0["kv_count"].(float64) != 1 {
		t.Fatalf("state %v", st0)
	}
	ok(s.ctl(0, `{"id":10,"cmd":"set_neighbours","args":{"modules":[3]}}`))
	if peers := ok(s.ctl(0, `{"id":11,"cmd":"peers"}`)); fmt.Sprint(peers["neighbours"]) != "[3]" {
		t.Fatalf("override not applied: %v", peers)
	}
	ok(s.ctl(0, `{"id":12,"cmd":"set_neighbours","args":{"modules":[]}}`))
	ok(s.ctl(0, `{"id":13,"cmd":"set_clock_skew","args":{"offset_us":-5000}}`))
	stats := ok(s.ctl(0, `{"id":14,"cmd":"stats"}`))
	if stats["rx"].(map[string]any)["ctl"].(float64) < 10 {
		t.Fatalf("stats %v", stats)
	}
	fail(s.ctl(0, `{"id":15,"cmd":"frobnicate"}`), "unsupported")
	fail(s.ctl(0, `{"id":16,"cmd":"ping","args":{"x":1}}`), "bad_request")
	fail(s.ctl(0, `{"id":17,"cmd":"propose","args":{"key":"TOO-LONG-KEY","value":"v"}}`), "bad_request")
	fail(s.ctl(0, `{"id":18,"cmd":"emit","args":{"event_type":5,"payload_hex":"0000000000000000000000000000000000000000"}}`), "bad_request")
	fail(s.ctl(0, `{"id":19,"cmd":"emit","args":{"event_type":2,"payload_hex":"00"}}`), "bad_request")
	fail(s.ctl(0, `{"id":20,"cmd":"kv","args":{"offset":65}}`), "bad_request")
	fail(s.ctl(0, `{"id":21,"cmd":"set_neighbours","args":{"modules":[1,2,3,4,5,6,7,8]}}`), "bad_request")
	fail(s.ctl(0, `{"id":22,"cmd":"log","args":{"origin":0,"from":1}}`), "bad_request")
	fail(s.ctl(0, `{"id":23,"cmd":"set_clock_skew","args":{"offset_us":1.5}}`), "bad_request")
	if resp := s.ctl(0, `garbage`); resp["id"].(float64) != 0 || resp["error"] != "bad_request" {
		t.Fatalf("garbage: %v", resp)
	}
	// locked: a key locked by our own pending proposal (nobody answers).
	s.drop = func(p simPacket) bool { return p.d.Chan == ChanRoj }
	ok(s.ctl(0, `{"id":24,"cmd":"propose","args":{"key":"x","value":"1"}}`))
	fail(s.ctl(0, `{"id":25,"cmd":"propose","args":{"key":"x","value":"2"}}`), "locked")
}

func TestDigestsOfEmptyNode(t *testing.T) {
	s := newSim(t, 1, nil)
	st := s.nodes[0].StateResult()
	if st.KVDigest != "cbf29ce484222325" || st.LogDigest != "cbf29ce484222325" || st.FieldsDigest != "cbf29ce484222325" {
		t.Fatalf("empty digests %+v (CTL-DIGEST-1)", st)
	}
	s.nodes[0].roj.store["a"] = KV{"x", 2}
	s.nodes[0].roj.store["b"] = KV{"", 10}
	h := newFNV()
	h.write([]byte("a=x@2\nb=@10\n"))
	if got := s.nodes[0].StateResult().KVDigest; got != h.hex() {
		t.Fatalf("kv digest %s, want %s", got, h.hex())
	}
}
