package codec

import (
	"encoding/json"
	"testing"
)

func TestDecodeCtl(t *testing.T) {
	req, id, err := DecodeCtl([]byte(`{"id":7,"cmd":"kv","args":{"offset":16}}`))
	if err != nil || id != 7 || req.Cmd != "kv" || req.Args["offset"] == nil {
		t.Fatalf("valid request: %+v %d %v", req, id, err)
	}
	if req, _, err := DecodeCtl([]byte(`{"id":1,"cmd":"ping"}`)); err != nil || len(req.Args) != 0 {
		t.Fatalf("args omitted: %v", err)
	}
	bad := []struct {
		doc    string
		wantID uint32
	}{
		{`not json`, 0},
		{`{"cmd":"ping"}`, 0},
		{`{"id":"1","cmd":"ping"}`, 0},
		{`{"id":1.5,"cmd":"ping"}`, 0},
		{`{"id":-1,"cmd":"ping"}`, 0},
		{`{"id":4294967296,"cmd":"ping"}`, 0},
		{`{"id":9,"cmd":"PING"}`, 9},
		{`{"id":9,"cmd":"ping","args":[]}`, 9},
		{`{"id":9,"cmd":"ping","extra":1}`, 9},
		{`{"id":9,"id":9,"cmd":"ping"}`, 0},
	}
	for _, tc := range bad {
		_, id, err := DecodeCtl([]byte(tc.doc))
		if err == nil || err.Code != "bad_request" || id != tc.wantID {
			t.Errorf("%s: id %d err %v, want bad_request with id %d (CTL-WIRE-3)", tc.doc, id, err, tc.wantID)
		}
	}
}

func TestEncodeCtl(t *testing.T) {
	var ok map[string]any
	if err := json.Unmarshal(EncodeCtlOK(3, map[string]any{}), &ok); err != nil || ok["ok"] != true || ok["id"].(float64) != 3 {
		t.Fatalf("ok response %v", ok)
	}
	var e map[string]any
	long := make([]byte, 400)
	for i := range long {
		long[i] = 'x'
	}
	json.Unmarshal(EncodeCtlErr(4, &CtlError{Code: "busy", Detail: string(long)}), &e)
	if e["ok"] != false || e["error"] != "busy" || len(e["detail"].(string)) != 256 {
		t.Fatalf("error response %v", e)
	}
}
