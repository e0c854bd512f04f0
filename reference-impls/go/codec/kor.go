package codec

// EK-KOR v2 frame codec (ek-kor.md sections 1-8), in the style of a zero-copy wire module: a view
// type with one little-endian accessor per field over the raw bytes, a Check that enforces every
// rule judgeable from the frame alone (KOR-WIRE-4), and Repr values with Parse and Emit.

import (
	"encoding/binary"
	"fmt"
)

// Frame types (KOR-FRAME-1).
const (
	MsgGossip  = 0x60
	MsgAck     = 0x61
	MsgRequest = 0x62
	MsgVVSync  = 0x63
)

// Sizes (KOR-WIRE-2, sections 3-7).
const (
	MaxKorFrame   = 64
	EventLen      = 36
	GossipLen     = 46
	RequestLen    = 12
	MaxHops       = 3
	FlagRepair    = 0x01
	MaxAckEntries = 4
	MaxSyncEntry  = 11
)

// Event types (section 8).
const (
	EvStateTransition = 0x01
	EvFieldPublished  = 0x02
	EvNeighborJoined  = 0x03
	EvNeighborLeft    = 0x04
	EvConsensusStart  = 0x05
	EvConsensusVote   = 0x06
	EvConsensusResult = 0x07
)

// EventView is a checked-on-demand view of a 36-byte event (section 3).
type EventView []byte

func (e EventView) Sequence() uint32    { return binary.LittleEndian.Uint32(e[0:4]) }
func (e EventView) TimestampUs() uint32 { return binary.LittleEndian.Uint32(e[4:8]) }
func (e EventView) EventType() uint8    { return e[8] }
func (e EventView) Flags() uint8        { return e[9] }
func (e EventView) OriginID() uint8     { return e[10] }
func (e EventView) HopCount() uint8     { return e[11] }
func (e EventView) OriginSeq() uint32   { return binary.LittleEndian.Uint32(e[12:16]) }
func (e EventView) Payload() []byte     { return e[16:36] }

// Event is the owned representation of an event.
type Event struct {
	Sequence    uint32
	TimestampUs uint32
	EventType   uint8
	Flags       uint8
	OriginID    uint8
	HopCount    uint8
	OriginSeq   uint32
	Payload     [20]byte
}

// KorError says why a frame was dropped (KOR-WIRE-4): Kind is the counter name, Clause the rule.
type KorError struct {
	Kind, Clause, Detail string
}

func (e *KorError) Error() string { return fmt.Sprintf("%s (%s): %s", e.Kind, e.Clause, e.Detail) }

func kerr(kind, clause, format string, args ...any) *KorError {
	return &KorError{Kind: kind, Clause: clause, Detail: fmt.Sprintf(format, args...)}
}

// ValidEventType is KOR-EVT-2.
func ValidEventType(t uint8) bool { return (t >= 0x01 && t <= 0x07) || t >= 0x80 }

// ParseEvent checks and copies a 36-byte event (KOR-EVT-1..6, KOR-TYPE-1).
func ParseEvent(b []byte) (Event, *KorError) {
	if len(b) != EventLen {
		return Event{}, kerr("event_length", "KOR-FRAME-3", "event is %d bytes", len(b))
	}
	v := EventView(b)
	e := Event{Sequence: v.Sequence(), TimestampUs: v.TimestampUs(), EventType: v.EventType(), Flags: v.Flags(),
		OriginID: v.OriginID(), HopCount: v.HopCount(), OriginSeq: v.OriginSeq()}
	copy(e.Payload[:], v.Payload())
	switch {
	case e.OriginSeq == 0:
		return e, kerr("event_seq", "KOR-EVT-6", "origin_seq 0")
	case e.Sequence != e.OriginSeq:
		return e, kerr("event_sequence", "KOR-EVT-1", "sequence %d != origin_seq %d", e.Sequence, e.OriginSeq)
	case !ValidEventType(e.EventType):
		return e, kerr("event_type", "KOR-EVT-2", "event_type 0x%02x reserved", e.EventType)
	case e.Flags&^FlagRepair != 0:
		return e, kerr("event_flags", "KOR-EVT-3", "flags 0x%02x", e.Flags)
	case e.OriginID == 0:
		return e, kerr("event_origin", "KOR-EVT-4", "origin_id 0")
	case e.HopCount > MaxHops:
		return e, kerr("event_hops", "KOR-EVT-5", "hop_count %d", e.HopCount)
	}
	if e.EventType == EvConsensusResult {
		if _, _, _, ok := DecodeBridgePayload(e.Payload); !ok {
			return e, kerr("event_payload", "KOR-TYPE-1", "invalid CONSENSUS_RESULT payload")
		}
	}
	return e, nil
}

// Emit writes the event into b[0:36].
func (e Event) Emit(b []byte) {
	binary.LittleEndian.PutUint32(b[0:4], e.Sequence)
	binary.LittleEndian.PutUint32(b[4:8], e.TimestampUs)
	b[8], b[9], b[10], b[11] = e.EventType, e.Flags, e.OriginID, e.HopCount
	binary.LittleEndian.PutUint32(b[12:16], e.OriginSeq)
	copy(b[16:36], e.Payload[:])
}

// Bytes returns the 36-byte encoding.
func (e Event) Bytes() []byte {
	b := make([]byte, EventLen)
	e.Emit(b)
	return b
}

// Canonical is the event with flags and hop_count zeroed (CTL-DIGEST-2/3, identity comparison).
func (e Event) Canonical() Event {
	e.Flags, e.HopCount = 0, 0
	return e
}

// EncodeBridgePayload is BRIDGE-2: key[8], value[8] NUL-padded, version u32 LE.
func EncodeBridgePayload(key, value string, version uint32) [20]byte {
	var p [20]byte
	copy(p[0:8], key)
	copy(p[8:16], value)
	binary.LittleEndian.PutUint32(p[16:20], version)
	return p
}

// DecodeBridgePayload checks KOR-TYPE-1 and returns the committed entry.
func DecodeBridgePayload(p [20]byte) (key, value string, version uint32, ok bool) {
	k, okk := nulPadded(p[0:8])
	v, okv := nulPadded(p[8:16])
	version = binary.LittleEndian.Uint32(p[16:20])
	if !okk || !okv || version == 0 || !KeyPattern.MatchString(k) || !ValuePattern.MatchString(v) {
		return "", "", 0, false
	}
	return k, v, version, true
}

// nulPadded reads text followed only by NULs.
func nulPadded(b []byte) (string, bool) {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	for _, c := range b[n:] {
		if c != 0 {
			return "", false
		}
	}
	return string(b[:n]), true
}

// Gossip is an EVENT_GOSSIP frame (section 4).
type Gossip struct {
	Source  uint8
	Summary [7]byte
	Event   Event
}

// AckEntry names one acknowledged event (KOR-ACK-1).
type AckEntry struct {
	Origin uint8
	Seq    uint32
}

// Ack is an EVENT_ACK frame (section 5).
type Ack struct {
	Source  uint8
	Entries []AckEntry
}

// Request is an EVENT_REQUEST frame (section 6).
type Request struct {
	Source  uint8
	Target  uint8
	FromSeq uint32
	ToSeq   uint32
}

// VVEntry is one VV_SYNC entry.
type VVEntry struct {
	Origin uint8
	Seq    uint32
}

// VVSync is a VV_SYNC frame (section 7).
type VVSync struct {
	Source  uint8
	Lo, Hi  uint8
	Entries []VVEntry
}

// KorFrame is one of *Gossip, *Ack, *Request, *VVSync.
type KorFrame interface{ korFrame() }

func (*Gossip) korFrame()  {}
func (*Ack) korFrame()     {}
func (*Request) korFrame() {}
func (*VVSync) korFrame()  {}

// ParseKor checks and decodes one EK-KOR datagram.
func ParseKor(b []byte) (KorFrame, *KorError) {
	if len(b) > MaxKorFrame {
		return nil, kerr("oversize", "KOR-WIRE-2", "%d bytes", len(b))
	}
	if len(b) < 2 {
		return nil, kerr("truncated", "KOR-FRAME-3", "%d bytes", len(b))
	}
	src := b[1]
	if b[0] < MsgGossip || b[0] > MsgVVSync {
		return nil, kerr("unknown_type", "KOR-FRAME-1", "msg_type 0x%02x", b[0])
	}
	if src == 0 {
		return nil, kerr("source_zero", "KOR-FRAME-2", "source_module 0")
	}
	switch b[0] {
	case MsgGossip:
		if len(b) != GossipLen {
			return nil, kerr("length", "KOR-FRAME-3", "EVENT_GOSSIP of %d bytes", len(b))
		}
		if b[2] != 1 {
			return nil, kerr("event_count", "KOR-GOS-1", "event_count %d", b[2])
		}
		ev, err := ParseEvent(b[10:46])
		if err != nil {
			return nil, err
		}
		g := &Gossip{Source: src, Event: ev}
		copy(g.Summary[:], b[3:10])
		// KOR-GOS-3: both rules bind frames with REPAIR clear only (a repair keeps the stored hop_count).
		if ev.HopCount == 0 && src != ev.OriginID && ev.Flags&FlagRepair == 0 {
			return nil, kerr("hop_source", "KOR-GOS-3", "hop 0 from module %d for origin %d", src, ev.OriginID)
		}
		if ev.HopCount > 0 && src == ev.OriginID && ev.Flags&FlagRepair == 0 {
			return nil, kerr("hop_source", "KOR-GOS-3", "forwarded by its own origin without REPAIR")
		}
		return g, nil
	case MsgAck:
		if len(b) < 3 {
			return nil, kerr("length", "KOR-FRAME-3", "EVENT_ACK of %d bytes", len(b))
		}
		c := int(b[2])
		if c < 1 || c > MaxAckEntries {
			return nil, kerr("ack_count", "KOR-ACK-1", "ack_count %d", c)
		}
		if len(b) != 3+5*c {
			return nil, kerr("length", "KOR-FRAME-3", "EVENT_ACK of %d bytes for %d entries", len(b), c)
		}
		a := &Ack{Source: src}
		for i := 0; i < c; i++ {
			o, s := b[3+5*i], binary.LittleEndian.Uint32(b[4+5*i:])
			if o == 0 || s == 0 {
				return nil, kerr("ack_entry", "KOR-ACK-1", "entry %d: origin %d seq %d", i, o, s)
			}
			a.Entries = append(a.Entries, AckEntry{o, s})
		}
		return a, nil
	case MsgRequest:
		if len(b) != RequestLen {
			return nil, kerr("length", "KOR-FRAME-3", "EVENT_REQUEST of %d bytes", len(b))
		}
		r := &Request{Source: src, Target: b[2], FromSeq: binary.LittleEndian.Uint32(b[4:8]), ToSeq: binary.LittleEndian.Uint32(b[8:12])}
		if r.Target == 0 || b[3] != 0 || r.FromSeq < 1 || r.FromSeq > r.ToSeq || r.ToSeq-r.FromSeq >= 64 {
			return nil, kerr("request_range", "KOR-REQ-1", "target %d reserved %d range [%d,%d]", r.Target, b[3], r.FromSeq, r.ToSeq)
		}
		return r, nil
	default: // MsgVVSync
		if len(b) < 5 {
			return nil, kerr("length", "KOR-FRAME-3", "VV_SYNC of %d bytes", len(b))
		}
		c := int(b[4])
		if c > MaxSyncEntry {
			return nil, kerr("sync_count", "KOR-SYNC-1", "count %d", c)
		}
		if len(b) != 5+5*c {
			return nil, kerr("length", "KOR-FRAME-3", "VV_SYNC of %d bytes for %d entries", len(b), c)
		}
		s := &VVSync{Source: src, Lo: b[2], Hi: b[3]}
		if s.Lo < 1 || s.Lo > s.Hi {
			return nil, kerr("sync_range", "KOR-SYNC-1", "range [%d,%d]", s.Lo, s.Hi)
		}
		prev := 0
		for i := 0; i < c; i++ {
			o, q := b[5+5*i], binary.LittleEndian.Uint32(b[6+5*i:])
			if int(o) <= prev || o < s.Lo || o > s.Hi || q == 0 {
				return nil, kerr("sync_entry", "KOR-SYNC-1", "entry %d: origin %d seq %d", i, o, q)
			}
			prev = int(o)
			s.Entries = append(s.Entries, VVEntry{o, q})
		}
		return s, nil
	}
}

// EmitKor encodes a frame; callers construct only valid frames.
func EmitKor(f KorFrame) []byte {
	switch f := f.(type) {
	case *Gossip:
		b := make([]byte, GossipLen)
		b[0], b[1], b[2] = MsgGossip, f.Source, 1
		copy(b[3:10], f.Summary[:])
		f.Event.Emit(b[10:46])
		return b
	case *Ack:
		b := make([]byte, 3+5*len(f.Entries))
		b[0], b[1], b[2] = MsgAck, f.Source, uint8(len(f.Entries))
		for i, e := range f.Entries {
			b[3+5*i] = e.Origin
			binary.LittleEndian.PutUint32(b[4+5*i:], e.Seq)
		}
		return b
	case *Request:
		b := make([]byte, RequestLen)
		b[0], b[1], b[2], b[3] = MsgRequest, f.Source, f.Target, 0
		binary.LittleEndian.PutUint32(b[4:8], f.FromSeq)
		binary.LittleEndian.PutUint32(b[8:12], f.ToSeq)
		return b
	case *VVSync:
		b := make([]byte, 5+5*len(f.Entries))
		b[0], b[1], b[2], b[3], b[4] = MsgVVSync, f.Source, f.Lo, f.Hi, uint8(len(f.Entries))
		for i, e := range f.Entries {
			b[5+5*i] = e.Origin
			binary.LittleEndian.PutUint32(b[6+5*i:], e.Seq)
		}
		return b
	}
	panic("codec: unknown EK-KOR frame")
}

// CRC16CCITTFalse is the checksum of KOR-GOS-2 (poly 0x1021, init 0xFFFF, no reflection, no xor).
func CRC16CCITTFalse(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// VVSummary computes KOR-GOS-2 from a vector indexed by origin id.
func VVSummary(vv *[256]uint32) [7]byte {
	var out [7]byte
	count, sum := 0, uint32(0)
	ser := make([]byte, 0, 5*16)
	for o := 1; o < 256; o++ {
		if vv[o] == 0 {
			continue
		}
		count++
		sum += vv[o]
		ser = append(ser, byte(o), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(ser[len(ser)-4:], vv[o])
	}
	if count > 255 {
		count = 255
	}
	out[0] = byte(count)
	binary.LittleEndian.PutUint32(out[1:5], sum)
	binary.LittleEndian.PutUint16(out[5:7], CRC16CCITTFalse(ser))
	return out
}
