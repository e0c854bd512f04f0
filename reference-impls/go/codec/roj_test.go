package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The examples of ek-roj.md sections 3-10, verbatim.
var specExamples = map[string]string{
	"ANNOUNCE": `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":
 {"module_id":3,"lang":"rust","version":"0.1.0","caps":["roj","kor","ctl","abort"],
  "incarnation":2864434397,"seq":17,"members":["c-1","go-1","rust-1"],"kor_port":9991,"ctl_port":9992}}`,
	"PROPOSE": `{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":
 {"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,
  "members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}`,
	"VOTE": `{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}`,
	"COMMIT": `{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":
 {"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"n":3,
  "voters":["c-1","go-1","rust-1"]}}`,
	"ABORT": `{"proto":1,"type":"ABORT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","reason":"rejected"}}`,
}

func TestSpecExamplesDecode(t *testing.T) {
	for typ, doc := range specExamples {
		m, err := DecodeRoj([]byte(doc))
		if err != nil {
			t.Fatalf("%s: spec example rejected: %v", typ, err)
		}
		if m.Type != typ {
			t.Fatalf("%s: decoded as %s", typ, m.Type)
		}
	}
	m, _ := DecodeRoj([]byte(specExamples["ANNOUNCE"]))
	want := &Announce{ModuleID: 3, Lang: "rust", Version: "0.1.0", Caps: []string{"roj", "kor", "ctl", "abort"},
		Incarnation: 2864434397, Seq: 17, Members: []string{"c-1", "go-1", "rust-1"}, KorPort: 9991, CtlPort: 9992}
	if !reflect.DeepEqual(m.Announce, want) {
		t.Fatalf("ANNOUNCE decoded to %+v", m.Announce)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	payloads := []struct {
		typ string
		p   any
	}{
		{TypePropose, Propose{Pid: "go-1:0000abcd:1", Key: "k", Value: "", Version: 1, Members: []string{"go-1"}, N: 1, TimeoutMs: 100}},
		{TypeVote, Vote{Pid: "go-1:0000abcd:1", Accept: false, Reason: ReasonStale}},
		{TypeCommit, Commit{Pid: "go-1:0000abcd:1", Key: "k", Value: "v", Version: 9, N: 1, Voters: []string{"go-1"}}},
		{TypeAbort, Abort{Pid: "go-1:0000abcd:1", Reason: "timeout"}},
	}
	for _, tc := range payloads {
		b := EncodeRoj(tc.typ, "go-1", tc.p)
		m, err := DecodeRoj(b)
		if err != nil {
			t.Fatalf("%s: own encoding rejected: %v (%s)", tc.typ, err, b)
		}
		var got any
		switch tc.typ {
		case TypePropose:
			got = *m.Propose
		case TypeVote:
			got = *m.Vote
		case TypeCommit:
			got = *m.Commit
		case TypeAbort:
			got = *m.Abort
		}
		if !reflect.DeepEqual(got, tc.p) {
			t.Fatalf("%s: round trip %+v != %+v", tc.typ, got, tc.p)
		}
	}
}

func TestRojInvalid(t *testing.T) {
	vote := func(payload string) string {
		return `{"proto":1,"type":"VOTE","node_id":"go-1","payload":` + payload + `}`
	}
	propose := func(payload string) string {
		return `{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":` + payload + `}`
	}
	commit := func(payload string) string {
		return `{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":` + payload + `}`
	}
	okVote := `{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}`
	cases := []struct {
		name, doc, kind string
	}{
		{"not json", `{"proto":1,`, "json"},
		{"not an object", `[1,2]`, "json"},
		{"byte-order mark", "\xEF\xBB\xBF" + vote(okVote), "json"},
		{"invalid utf-8", `{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"o` + "\xff" + `"}}`, "json"},
		{"trailing data", vote(okVote) + `{}`, "json"},
		{"duplicate member", `{"proto":1,"proto":1,"type":"VOTE","node_id":"go-1","payload":` + okVote + `}`, "duplicate_member"},
		{"duplicate payload member", vote(`{"pid":"rust-1:5f3a09c2:7","accept":true,"accept":true,"reason":"ok"}`), "duplicate_member"},
		{"extra envelope member", `{"proto":1,"type":"VOTE","node_id":"go-1","x":0,"payload":` + okVote + `}`, "envelope"},
		{"missing payload", `{"proto":1,"type":"VOTE","node_id":"go-1"}`, "envelope"},
		{"proto 2", `{"proto":2,"type":"VOTE","node_id":"go-1","payload":` + okVote + `}`, "proto"},
		{"proto 1.0", `{"proto":1.0,"type":"VOTE","node_id":"go-1","payload":` + okVote + `}`, "proto"},
		{"proto 1e0", `{"proto":1e0,"type":"VOTE","node_id":"go-1","payload":` + okVote + `}`, "proto"},
		{"unknown type", `{"proto":1,"type":"HELLO","node_id":"go-1","payload":{}}`, "unknown_type"},
		{"node_id upper case", `{"proto":1,"type":"VOTE","node_id":"Go-1","payload":` + okVote + `}`, "envelope"},
		{"node_id 17 chars", `{"proto":1,"type":"VOTE","node_id":"a2345678901234567","payload":` + okVote + `}`, "envelope"},
		{"vote accept without ok", vote(`{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"stale"}`), "schema_vote"},
		{"vote unknown reason", vote(`{"pid":"rust-1:5f3a09c2:7","accept":false,"reason":"nope"}`), "schema_vote"},
		{"vote extra member", vote(`{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok","x":1}`), "schema_vote"},
		{"vote pid counter 0", vote(`{"pid":"rust-1:5f3a09c2:0","accept":true,"reason":"ok"}`), "schema_vote"},
		{"vote pid counter over u32", vote(`{"pid":"rust-1:5f3a09c2:4294967296","accept":true,"reason":"ok"}`), "schema_vote"},
		{"vote pid upper hex", vote(`{"pid":"rust-1:5F3A09C2:7","accept":true,"reason":"ok"}`), "schema_vote"},
		{"propose pid of another node", propose(`{"pid":"go-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"members":["go-1","rust-1"],"n":2,"timeout_ms":10000}`), "schema_propose"},
		{"propose n mismatch", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"members":["go-1","rust-1"],"n":3,"timeout_ms":10000}`), "schema_propose"},
		{"propose members unsorted", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"members":["rust-1","go-1"],"n":2,"timeout_ms":10000}`), "schema_propose"},
		{"propose members duplicate", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"members":["rust-1","rust-1"],"n":2,"timeout_ms":10000}`), "schema_propose"},
		{"propose without proposer", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"members":["go-1"],"n":1,"timeout_ms":10000}`), "schema_propose"},
		{"propose key 9 chars", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay345678","value":"1","version":4,"members":["rust-1"],"n":1,"timeout_ms":10000}`), "schema_propose"},
		{"propose key upper case", propose(`{"pid":"rust-1:5f3a09c2:7","key":"Bay","value":"1","version":4,"members":["rust-1"],"n":1,"timeout_ms":10000}`), "schema_propose"},
		{"propose value space", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay","value":"a b","version":4,"members":["rust-1"],"n":1,"timeout_ms":10000}`), "schema_propose"},
		{"propose version 0", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay","value":"1","version":0,"members":["rust-1"],"n":1,"timeout_ms":10000}`), "schema_propose"},
		{"propose timeout 99", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay","value":"1","version":1,"members":["rust-1"],"n":1,"timeout_ms":99}`), "schema_propose"},
		{"propose timeout 60001", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay","value":"1","version":1,"members":["rust-1"],"n":1,"timeout_ms":60001}`), "schema_propose"},
		{"propose version string", propose(`{"pid":"rust-1:5f3a09c2:7","key":"bay","value":"1","version":"1","members":["rust-1"],"n":1,"timeout_ms":100}`), "schema_propose"},
		{"commit voters below t(n)", commit(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"n":3,"voters":["rust-1"]}`), "schema_commit"},
		{"commit voters unsorted", commit(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"n":3,"voters":["rust-1","c-1"]}`), "schema_commit"},
		{"commit voters duplicate", commit(`{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"n":3,"voters":["rust-1","rust-1"]}`), "schema_commit"},
		{"commit by non-proposer", `{"proto":1,"type":"COMMIT","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"1","version":4,"n":1,"voters":["rust-1"]}}`, "schema_commit"},
		{"abort unknown reason", `{"proto":1,"type":"ABORT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","reason":"bored"}}`, "schema_abort"},
		{"announce without self", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":3,"lang":"rust","version":"0.1.0","caps":[],"incarnation":1,"seq":0,"members":["c-1"],"kor_port":9991,"ctl_port":9992}}`, "schema_announce"},
		{"announce module 0", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":0,"lang":"rust","version":"0.1.0","caps":[],"incarnation":1,"seq":0,"members":["rust-1"],"kor_port":9991,"ctl_port":9992}}`, "schema_announce"},
		{"announce bad semver", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":1,"lang":"rust","version":"01.0.0","caps":[],"incarnation":1,"seq":0,"members":["rust-1"],"kor_port":9991,"ctl_port":9992}}`, "schema_announce"},
		{"announce duplicate caps", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":1,"lang":"rust","version":"0.1.0","caps":["roj","roj"],"incarnation":1,"seq":0,"members":["rust-1"],"kor_port":9991,"ctl_port":9992}}`, "schema_announce"},
		{"announce incarnation over u32", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":1,"lang":"rust","version":"0.1.0","caps":[],"incarnation":4294967296,"seq":0,"members":["rust-1"],"kor_port":9991,"ctl_port":9992}}`, "schema_announce"},
		{"announce port 0", `{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":1,"lang":"rust","version":"0.1.0","caps":[],"incarnation":1,"seq":0,"members":["rust-1"],"kor_port":0,"ctl_port":9992}}`, "schema_announce"},
		{"deep nesting", `{"proto":1,"type":"VOTE","node_id":"go-1","payload":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "json"},
		{"oversize", `{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"` + strings.Repeat("a", 1400) + `"}}`, "oversize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeRoj([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			if err.Kind != tc.kind {
				t.Fatalf("kind %q, want %q (%v)", err.Kind, tc.kind, err)
			}
			if err.Clause == "" {
				t.Fatalf("no clause in %v", err)
			}
		})
	}
}

func TestThreshold(t *testing.T) {
	want := map[int]int{1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5, 10: 7, 32: 22, 100: 67, 1500: 1005}
	for n, tv := range want {
		if got := Threshold(n); got != tv {
			t.Errorf("t(%d) = %d, want %d", n, got, tv)
		}
	}
	// The note of section 6: the double formula first disagrees at n = 1500.
	first := 0
	for n := 1; n <= 2000 && first == 0; n++ {
		if int(math.Ceil(float64(n)*0.67)) != Threshold(n) {
			first = n
		}
	}
	if first != 1500 {
		t.Fatalf("first disagreement with ceil(n*0.67) at n=%d, spec says 1500", first)
	}
	for n := 1; n <= 2000; n++ {
		if 2*Threshold(n) <= n {
			t.Fatalf("t(%d) = %d is not a majority", n, Threshold(n))
		}
	}
}

// FuzzDecodeRoj: hostile datagrams never panic, and anything accepted re-encodes to something accepted.
func FuzzDecodeRoj(f *testing.F) {
	for _, doc := range specExamples {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"proto":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeRoj(data)
		if err != nil {
			return
		}
		var p any
		switch m.Type {
		case TypeAnnounce:
			p = m.Announce
		case TypePropose:
			p = m.Propose
		case TypeVote:
			p = m.Vote
		case TypeCommit:
			p = m.Commit
		case TypeAbort:
			p = m.Abort
		}
		if _, err := DecodeRoj(EncodeRoj(m.Type, m.NodeID, p)); err != nil {
			t.Fatalf("re-encoding of an accepted message rejected: %v", err)
		}
	})
}

// The fast matchers must agree with the regular expressions they stand for.
func TestCharClassesMatchTheirRegexps(t *testing.T) {
	samples := []string{"", "a", "A", "0", "-", "_", ".", ":", "+", "a-", "-a", "go-1", "Go-1", "bay3", "bay_3.x", "abcdefgh",
		"abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq", "11000", "a:b+c", "a b", "é", "0000abcd", "0000ABCD", "1234567890",
		"12345678901", "0123", "rust-1:5f3a09c2:7", "rust-1:5f3a09c2:0", "rust-1:5F3A09C2:7", "rust-1:5f3a09c:7", "-x:5f3a09c2:7", "a:00000000:1:2"}
	for _, p := range []Pattern{NodeIDPattern, PidPattern, KeyPattern, ValuePattern, LangPattern, CapPattern, hex8, counterPat} {
		re := regexp.MustCompile(p.String())
		for _, s := range samples {
			if p.MatchString(s) != re.MatchString(s) {
				t.Errorf("%s on %q: fast %v, regexp %v", p.String(), s, p.MatchString(s), re.MatchString(s))
			}
		}
	}
}

// FuzzParseObjectAgreesWithStdlib: whatever the strict reader accepts, encoding/json accepts too and
// decodes to the same tree.
func FuzzParseObjectAgreesWithStdlib(f *testing.F) {
	for _, doc := range specExamples {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"a":"\u00e9\n","b":[1,-0.5e3,true,null,{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := ParseObject(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted what encoding/json rejects: %q", data)
		}
		var std map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&std); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(normalize(obj)) != fmt.Sprint(std) {
			t.Fatalf("trees differ:\n%v\n%v", obj, std)
		}
	})
}

func normalize(v any) any {
	switch x := v.(type) {
	case Object:
		m := map[string]any{}
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// ROJ-WIRE-5: "-0" is not an integer (found by the Go cross-check of the diff_roj corpus: an
// ANNOUNCE with "seq":-0 was applied by the Go node and dropped by the oracle, Rust and C nodes).
func TestIntRefusesNegativeZero(t *testing.T) {
	for _, lit := range []string{"-0", "1.0", "1e0", "01", "-01"} {
		if _, err := Int(Object{"seq": json.Number(lit)}, "seq", -10, 10); err == nil {
			t.Errorf("%s accepted as an integer", lit)
		}
	}
	for _, lit := range []string{"0", "-1", "7"} {
		if _, err := Int(Object{"seq": json.Number(lit)}, "seq", -10, 10); err != nil {
			t.Errorf("%s refused: %v", lit, err)
		}
	}
}

// ROJ-WIRE-5 (I-JSON): a number beyond a double's range is not accepted anywhere (fuzz finding 15).
func TestParseObjectRefusesNumbersBeyondDoubleRange(t *testing.T) {
	for _, lit := range []string{"41e996", "1e309", "-1e309", "1.7976931348623159e308", "1" + strings.Repeat("0", 309)} {
		if _, err := ParseObject([]byte(`{"x":` + lit + `}`)); err == nil {
			t.Errorf("%s accepted", lit)
		}
	}
	for _, lit := range []string{"1e308", "1.7976931348623157e308", "1e-400", "0e99999", "1" + strings.Repeat("0", 308)} {
		if _, err := ParseObject([]byte(`{"x":` + lit + `}`)); err != nil {
			t.Errorf("%s refused: %v", lit, err)
		}
	}
}

// ROJ-WIRE-1: 127 nested objects and arrays parse, 128 do not (fuzz finding 16).
func TestParseObjectNestingLimit(t *testing.T) {
	nest := func(levels int) []byte {
		return []byte(`{"x":` + strings.Repeat("[", levels-1) + `1` + strings.Repeat("]", levels-1) + `}`)
	}
	if _, err := ParseObject(nest(127)); err != nil {
		t.Errorf("127 levels refused: %v", err)
	}
	if _, err := ParseObject(nest(128)); err == nil {
		t.Error("128 levels accepted")
	}
}

// A \u escape of a surrogate must be a high one followed by a low one (ROJ-WIRE-1, fuzz finding
// 17): encoding/json would read a lone one as U+FFFD, the oracle refuses it.
func TestParseObjectRefusesLoneSurrogates(t *testing.T) {
	for _, doc := range []string{
		`{"\uDADD":1}`, `{"x":"\udc00"}`, `{"x":"\ud83d\u0041"}`, `{"x":"\ud83d\ud83d"}`,
		`{"x":"\ud83d"}`, `{"x":"a\ud83dx"}`, `{"x":"\\\udc00"}`,
	} {
		if _, err := ParseObject([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", doc)
		}
	}
	for doc, want := range map[string]string{
		`{"x":"\uD83D\uDE00"}`:     "\U0001F600",
		`{"x":"\ud7ff\ue000"}`:     "\ud7ff\ue000",
		`{"x":"\\udc00"}`:          `\udc00`,
		`{"x":"\\\\\ud83d\ude00"}`: "\\\\\U0001F600",
	} {
		obj, err := ParseObject([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if obj["x"] != want {
			t.Errorf("%s: read %q, want %q", doc, obj["x"], want)
		}
	}
}
