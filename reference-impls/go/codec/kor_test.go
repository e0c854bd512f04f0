package codec

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func sampleEvent() Event {
	return Event{Sequence: 7, TimestampUs: 0xA1B2C3D4, EventType: EvFieldPublished, OriginID: 3, HopCount: 0, OriginSeq: 7,
		Payload: [20]byte{9, 1, 2, 3}}
}

func TestEventLayoutLittleEndian(t *testing.T) {
	b := sampleEvent().Bytes()
	// KOR-WIRE-3 and section 3: explicit offsets, little-endian.
	want := "07000000" + "d4c3b2a1" + "02" + "00" + "03" + "00" + "07000000" + "0901020300000000000000000000000000000000"
	if hex.EncodeToString(b) != want {
		t.Fatalf("event bytes\n got %x\nwant %s", b, want)
	}
	e, err := ParseEvent(b)
	if err != nil || e != sampleEvent() {
		t.Fatalf("parse back: %+v %v", e, err)
	}
	v := EventView(b)
	if v.OriginSeq() != 7 || v.TimestampUs() != 0xA1B2C3D4 || v.OriginID() != 3 || !bytes.Equal(v.Payload()[:2], []byte{9, 1}) {
		t.Fatal("view accessors disagree with the layout")
	}
}

func TestFramesRoundTrip(t *testing.T) {
	frames := []KorFrame{
		&Gossip{Source: 3, Summary: [7]byte{1, 2, 3, 4, 5, 6, 7}, Event: sampleEvent()},
		&Ack{Source: 4, Entries: []AckEntry{{3, 7}, {5, 1}, {255, 4294967295}, {1, 1}}},
		&Request{Source: 4, Target: 3, FromSeq: 1, ToSeq: 64},
		&VVSync{Source: 4, Lo: 1, Hi: 255, Entries: []VVEntry{{1, 1}, {3, 9}, {200, 5}}},
		&VVSync{Source: 4, Lo: 10, Hi: 20, Entries: nil},
	}
	wantLen := []int{46, 23, 12, 20, 5}
	for i, f := range frames {
		b := EmitKor(f)
		if len(b) != wantLen[i] || len(b) > MaxKorFrame {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(b), wantLen[i])
		}
		g, err := ParseKor(b)
		if err != nil {
			t.Fatalf("frame %d rejected: %v", i, err)
		}
		if !reflect.DeepEqual(g, f) {
			t.Fatalf("frame %d: %+v != %+v", i, g, f)
		}
	}
}

func gossipBytes(mut func(b []byte)) []byte {
	b := EmitKor(&Gossip{Source: 3, Event: sampleEvent()})
	if mut != nil {
		mut(b)
	}
	return b
}

func TestKorInvalid(t *testing.T) {
	cases := []struct {
		name   string
		frame  []byte
		clause string
	}{
		{"empty", nil, "KOR-FRAME-3"},
		{"oversize", make([]byte, 65), "KOR-WIRE-2"},
		{"unknown type", []byte{0x64, 1}, "KOR-FRAME-1"},
		{"source 0", gossipBytes(func(b []byte) { b[1] = 0 }), "KOR-FRAME-2"},
		{"gossip short", gossipBytes(nil)[:45], "KOR-FRAME-3"},
		{"gossip trailing byte", append(gossipBytes(nil), 0), "KOR-FRAME-3"},
		{"event_count 2", gossipBytes(func(b []byte) { b[2] = 2 }), "KOR-GOS-1"},
		{"sequence != origin_seq", gossipBytes(func(b []byte) { b[10] = 8 }), "KOR-EVT-1"},
		{"event type 0x00", gossipBytes(func(b []byte) { b[18] = 0 }), "KOR-EVT-2"},
		{"event type 0x08", gossipBytes(func(b []byte) { b[18] = 0x08 }), "KOR-EVT-2"},
		{"event type 0x7f", gossipBytes(func(b []byte) { b[18] = 0x7f }), "KOR-EVT-2"},
		{"flags bit 1", gossipBytes(func(b []byte) { b[19] = 2 }), "KOR-EVT-3"},
		{"origin 0", gossipBytes(func(b []byte) { b[20] = 0 }), "KOR-EVT-4"},
		{"hop 4", gossipBytes(func(b []byte) { b[21] = 4; b[1] = 9 }), "KOR-EVT-5"},
		{"origin_seq 0", gossipBytes(func(b []byte) { b[10], b[22] = 0, 0 }), "KOR-EVT-6"},
		{"hop 0 from non-origin", gossipBytes(func(b []byte) { b[1] = 9 }), "KOR-GOS-3"},
		{"hop 1 from origin without REPAIR", gossipBytes(func(b []byte) { b[21] = 1 }), "KOR-GOS-3"},
		{"bad CONSENSUS_RESULT key", gossipBytes(func(b []byte) { b[18] = EvConsensusResult; copy(b[26:], "KEY") }), "KOR-TYPE-1"},
		{"ack count 0", []byte{0x61, 1, 0}, "KOR-ACK-1"},
		{"ack count 5", append([]byte{0x61, 1, 5}, make([]byte, 25)...), "KOR-ACK-1"},
		{"ack length", []byte{0x61, 1, 1, 3, 1, 0, 0}, "KOR-FRAME-3"},
		{"ack origin 0", []byte{0x61, 1, 1, 0, 1, 0, 0, 0}, "KOR-ACK-1"},
		{"ack seq 0", []byte{0x61, 1, 1, 3, 0, 0, 0, 0}, "KOR-ACK-1"},
		{"request target 0", []byte{0x62, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, "KOR-REQ-1"},
		{"request reserved", []byte{0x62, 1, 3, 1, 1, 0, 0, 0, 1, 0, 0, 0}, "KOR-REQ-1"},
		{"request from 0", []byte{0x62, 1, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0}, "KOR-REQ-1"},
		{"request inverted", []byte{0x62, 1, 3, 0, 5, 0, 0, 0, 4, 0, 0, 0}, "KOR-REQ-1"},
		{"request 65 wide", []byte{0x62, 1, 3, 0, 1, 0, 0, 0, 65, 0, 0, 0}, "KOR-REQ-1"},
		{"request length", []byte{0x62, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0}, "KOR-FRAME-3"},
		{"sync lo 0", []byte{0x63, 1, 0, 5, 0}, "KOR-SYNC-1"},
		{"sync lo > hi", []byte{0x63, 1, 6, 5, 0}, "KOR-SYNC-1"},
		{"sync count 12", append([]byte{0x63, 1, 1, 255, 12}, make([]byte, 60)[:59]...), "KOR-SYNC-1"},
		{"sync unsorted", []byte{0x63, 1, 1, 255, 2, 5, 1, 0, 0, 0, 4, 1, 0, 0, 0}, "KOR-SYNC-1"},
		{"sync out of range", []byte{0x63, 1, 10, 20, 1, 5, 1, 0, 0, 0}, "KOR-SYNC-1"},
		{"sync seq 0", []byte{0x63, 1, 1, 20, 1, 5, 0, 0, 0, 0}, "KOR-SYNC-1"},
		{"sync length", []byte{0x63, 1, 1, 20, 1, 5, 1, 0, 0}, "KOR-FRAME-3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseKor(tc.frame)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			if err.Clause != tc.clause {
				t.Fatalf("clause %s, want %s (%v)", err.Clause, tc.clause, err)
			}
		})
	}
	// KOR-GOS-3: REPAIR exempts a hop-0 frame from a non-origin (a repaired first-hop event).
	if _, err := ParseKor(gossipBytes(func(b []byte) { b[1], b[19] = 9, FlagRepair })); err != nil {
		t.Fatalf("hop-0 repair from a non-origin rejected: %v", err)
	}
	// REPAIR makes a hop>0 frame from the origin itself legal (KOR-GOS-3).
	if _, err := ParseKor(gossipBytes(func(b []byte) { b[21], b[19] = 2, FlagRepair })); err != nil {
		t.Fatalf("repaired frame from origin rejected: %v", err)
	}
}

func TestCRC16CheckValue(t *testing.T) {
	if got := CRC16CCITTFalse([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC-16/CCITT-FALSE check value %04x, want 29b1", got)
	}
}

func TestVVSummary(t *testing.T) {
	var vv [256]uint32
	if s := VVSummary(&vv); s != [7]byte{0, 0, 0, 0, 0, 0xFF, 0xFF} {
		t.Fatalf("empty summary %x", s)
	}
	vv[1], vv[3] = 5, 0xFFFFFFFF
	s := VVSummary(&vv)
	crc := CRC16CCITTFalse([]byte{1, 5, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF})
	want := [7]byte{2, 4, 0, 0, 0, byte(crc), byte(crc >> 8)} // 5 + 0xFFFFFFFF wraps to 4
	if s != want {
		t.Fatalf("summary %x, want %x", s, want)
	}
}

func TestBridgePayload(t *testing.T) {
	p := EncodeBridgePayload("bay3", "11000", 4)
	if hex.EncodeToString(p[:]) != "6261793300000000"+"3131303030000000"+"04000000" {
		t.Fatalf("BRIDGE-2 layout %x", p)
	}
	k, v, ver, ok := DecodeBridgePayload(p)
	if !ok || k != "bay3" || v != "11000" || ver != 4 {
		t.Fatalf("decode %q %q %d %v", k, v, ver, ok)
	}
	full := EncodeBridgePayload("abcdefgh", "ABCDEFGH", 1)
	if _, _, _, ok := DecodeBridgePayload(full); !ok {
		t.Fatal("8-character key and value rejected")
	}
	bad := [][20]byte{
		EncodeBridgePayload("", "v", 1),    // empty key
		EncodeBridgePayload("k", "v", 0),   // version 0
		EncodeBridgePayload("K", "v", 1),   // upper-case key
		EncodeBridgePayload("k", "v w", 1), // space in value
	}
	gap := EncodeBridgePayload("ab", "", 1)
	gap[3] = 'c' // text after a NUL
	bad = append(bad, gap)
	for i, b := range bad {
		if _, _, _, ok := DecodeBridgePayload(b); ok {
			t.Errorf("bad payload %d accepted: %x", i, b)
		}
	}
}

// FuzzParseKor: hostile frames never panic, and accepted frames re-emit byte-identically.
func FuzzParseKor(f *testing.F) {
	f.Add(gossipBytes(nil))
	f.Add([]byte{0x61, 1, 1, 3, 1, 0, 0, 0})
	f.Add([]byte{0x62, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0x63, 1, 1, 255, 1, 5, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseKor(data)
		if err != nil {
			return
		}
		if out := EmitKor(fr); !bytes.Equal(out, data) {
			t.Fatalf("re-emit differs:\n in %x\nout %x", data, out)
		}
	})
}
