package core

// Persistence snapshots (control.md section 5, capability `persist`): the shell writes Snapshot()
// to EKC_STATE_DIR and feeds it back through Restore() at start-up. VV[self] is made durable before
// any frame carrying the new sequence leaves (CTL-PERSIST-1): the shell checks NeedsSyncPersist()
// after every step, before sending that step's output.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"ekcnode/codec"
)

type snapshot struct {
	Format int               `json:"format"`
	VV     map[string]uint32 `json:"vv"`
	Events []string          `json:"events"` // delivery order
	Fields []string          `json:"fields"`
	KV     []snapshotKV      `json:"kv"`
}

type snapshotKV struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Version uint32 `json:"version"`
}

// NeedsSyncPersist reports that VV[self] advanced since the last snapshot.
func (n *Node) NeedsSyncPersist() bool { return n.kor.ownDirty }

// NeedsPersist reports any unsaved change.
func (n *Node) NeedsPersist() bool { return n.kor.dirty || n.kor.ownDirty }

// Snapshot serialises the durable state and clears the dirty flags.
func (n *Node) Snapshot() []byte {
	s := snapshot{Format: 1, VV: map[string]uint32{}}
	for o, q := range n.VV() {
		s.VV[strconv.Itoa(int(o))] = q
	}
	for _, id := range n.kor.order {
		if e, ok := n.kor.events[id]; ok {
			s.Events = append(s.Events, hex.EncodeToString(e.Bytes()))
		}
	}
	for _, f := range n.fieldIDs() {
		s.Fields = append(s.Fields, hex.EncodeToString(n.kor.fields[f].Bytes()))
	}
	for _, k := range sortedKeys(n.roj.store) {
		s.KV = append(s.KV, snapshotKV{k, n.roj.store[k].Value, n.roj.store[k].Version})
	}
	n.kor.dirty, n.kor.ownDirty = false, false
	b, _ := json.Marshal(s)
	return b
}

// Restore loads a snapshot taken by Snapshot; with it the node may emit at once (CTL-PERSIST-1).
func (n *Node) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("state file unreadable: %v", err)
	}
	if s.Format != 1 {
		return fmt.Errorf("state file format %d unknown", s.Format)
	}
	for o, q := range s.VV {
		oi, err := strconv.Atoi(o)
		if err != nil || oi < 1 || oi > 255 {
			return fmt.Errorf("state file: bad origin %q", o)
		}
		n.kor.vv[oi] = q
	}
	for _, h := range s.Events {
		e, err := decodeEventHex(h)
		if err != nil {
			return err
		}
		id := evID{e.OriginID, e.OriginSeq}
		n.kor.events[id] = e
		n.kor.order = append(n.kor.order, id)
	}
	for _, h := range s.Fields {
		e, err := decodeEventHex(h)
		if err != nil {
			return err
		}
		n.kor.fields[e.Payload[0]] = e
	}
	for _, kv := range s.KV {
		if !codec.KeyPattern.MatchString(kv.Key) || !codec.ValuePattern.MatchString(kv.Value) || kv.Version == 0 {
			return fmt.Errorf("state file: bad entry %q", kv.Key)
		}
		n.roj.store[kv.Key] = KV{kv.Value, kv.Version}
	}
	n.kor.blocked = false
	n.kor.persisted = true
	return nil
}

func decodeEventHex(h string) (codec.Event, error) {
	raw, err := hex.DecodeString(h)
	if err != nil {
		return codec.Event{}, fmt.Errorf("state file: bad event hex")
	}
	e, kerr := codec.ParseEvent(raw)
	if kerr != nil {
		return codec.Event{}, fmt.Errorf("state file: %v", kerr)
	}
	return e, nil
}
