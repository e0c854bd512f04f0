package codec

// Regression test of vectors/fuzz-findings.json (findings of the fuzzers, fuzz/README.md): the Go
// codec gives every EK-ROJ and EK-KOR finding its vector's verdict. Control findings are judged with
// their command's args in the node core, so only their envelope is decoded here.

import (
	"encoding/hex"
	"testing"
)

func TestFuzzFindings(t *testing.T) {
	var vecs []struct {
		ID       string  `json:"id"`
		Protocol string  `json:"protocol"`
		Clause   string  `json:"clause"`
		Verdict  string  `json:"verdict"`
		Raw      *string `json:"raw"`
		Hex      *string `json:"hex"`
	}
	loadVectors(t, "fuzz-findings.json", &vecs)
	if len(vecs) == 0 {
		t.Fatal("fuzz-findings.json holds no vectors")
	}
	for _, v := range vecs {
		var data []byte
		switch {
		case v.Hex != nil:
			b, err := hex.DecodeString(*v.Hex)
			if err != nil {
				t.Fatalf("%s: bad hex", v.ID)
			}
			data = b
		case v.Raw != nil:
			data = []byte(*v.Raw)
		default:
			t.Fatalf("%s: neither raw nor hex", v.ID)
		}
		want := v.Verdict == "valid"
		switch v.Protocol {
		case "roj":
			_, err := DecodeRoj(data)
			if (err == nil) != want {
				t.Errorf("%s (%s): want %s, DecodeRoj error %v", v.ID, v.Clause, v.Verdict, err)
			}
		case "kor":
			_, err := ParseKor(data)
			if (err == nil) != want {
				t.Errorf("%s (%s): want %s, ParseKor error %v", v.ID, v.Clause, v.Verdict, err)
			}
		case "ctl":
			if _, _, err := DecodeCtl(data); want && err != nil {
				t.Errorf("%s (%s): valid request rejected: %v", v.ID, v.Clause, err)
			}
		default:
			t.Fatalf("%s: protocol %q", v.ID, v.Protocol)
		}
	}
}
