package core

// Control commands (control.md section 3): every command of CTL-CMD-1..13, the capability
// statement (CTL-CAP-1), digests (CTL-DIGEST-1..3) and the response cache of CTL-WIRE-4.

import (
	"encoding/hex"
	"net/netip"
	"regexp"
	"sort"
	"strconv"

	"ekcnode/codec"
)

type ctlCached struct {
	from netip.AddrPort
	id   uint32
	cmd  string
	resp []byte
}

// HandleCtl answers one control datagram; the response goes back to its source (CTL-WIRE-1).
func (n *Node) HandleCtl(now int64, from netip.AddrPort, data []byte) {
	n.stats.Rx["ctl"]++
	req, id, cerr := codec.DecodeCtl(data)
	if cerr != nil {
		n.invalid(now, "ctl_bad_request", "CTL-WIRE-3", cerr.Detail, from)
		n.send(ChanCtl, from, codec.EncodeCtlErr(id, cerr), "")
		return
	}
	if req.Cmd == "propose" || req.Cmd == "emit" {
		for _, c := range n.ctlCache {
			if c.from == from && c.id == req.ID && c.cmd == req.Cmd {
				n.send(ChanCtl, from, c.resp, "") // CTL-WIRE-4: a repeated id is not acted on twice
				return
			}
		}
	}
	result, cerr := n.runCommand(now, req)
	var resp []byte
	if cerr != nil {
		resp = codec.EncodeCtlErr(req.ID, cerr)
	} else {
		resp = codec.EncodeCtlOK(req.ID, result)
	}
	if req.Cmd == "propose" || req.Cmd == "emit" {
		if len(n.ctlCache) >= ctlCacheSize {
			n.ctlCache = n.ctlCache[1:]
		}
		n.ctlCache = append(n.ctlCache, ctlCached{from: from, id: req.ID, cmd: req.Cmd, resp: resp})
	}
	n.send(ChanCtl, from, resp, "")
}

func noArgs(a codec.Object) *codec.CtlError { return codec.ArgsExactly(a, nil) }

func (n *Node) runCommand(now int64, req *codec.CtlRequest) (any, *codec.CtlError) {
	a := req.Args
	switch req.Cmd {
	case "ping":
		if e := noArgs(a); e != nil {
			return nil, e
		}
		return map[string]any{"node_id": n.cfg.NodeID, "module_id": n.cfg.ModuleID, "uptime_ms": (now - n.kor.startedAt) / 1000}, nil
	case "caps":
		if e := noArgs(a); e != nil {
			return nil, e
		}
		return n.CapsResult(), nil
	case "peers":
		if e := noArgs(a); e != nil {
			return nil, e
		}
		nb := n.NeighbourModules(now)
		if nb == nil {
			nb = []uint8{}
		}
		mods := make([]int, len(nb))
		for i, m := range nb {
			mods[i] = int(m)
		}
		return map[string]any{"members": n.Membership(), "live": n.liveWithSelf(now), "neighbours": mods}, nil
	case "propose":
		if e := codec.ArgsExactly(a, []string{"key", "value"}); e != nil {
			return nil, e
		}
		key, err1 := codec.Str(a, "key", codec.KeyPattern)
		value, err2 := codec.Str(a, "value", codec.ValuePattern)
		if err1 != nil || err2 != nil {
			return nil, codec.BadRequest("key/value violate ROJ-PROP-2")
		}
		pid, version, perr := n.Propose(now, key, value)
		if perr != nil {
			return nil, &codec.CtlError{Code: perr.Code, Detail: perr.Detail}
		}
		return map[string]any{"pid": pid, "version": version}, nil
	case "emit":
		if e := codec.ArgsExactly(a, []string{"event_type", "payload_hex"}); e != nil {
			return nil, e
		}
		et, err := codec.Int(a, "event_type", 0, 255)
		if err != nil {
			return nil, codec.BadRequest(err.Error())
		}
		ph, err := codec.Str(a, "payload_hex", hex40)
		if err != nil {
			return nil, codec.BadRequest(err.Error())
		}
		var payload [20]byte
		raw, _ := hex.DecodeString(ph)
		copy(payload[:], raw)
		origin, seq, perr := n.Emit(now, uint8(et), payload)
		if perr != nil {
			return nil, &codec.CtlError{Code: perr.Code, Detail: perr.Detail}
		}
		return map[string]any{"origin_id": origin, "origin_seq": seq}, nil
	case "state":
		if e := noArgs(a); e != nil {
			return nil, e
		}
		return n.StateResult(), nil
	case "kv":
		off, e := offsetArg(a, 64)
		if e != nil {
			return nil, e
		}
		keys := sortedKeys(n.roj.store)
		entries := []map[string]any{}
		for i := off; i < len(keys) && len(entries) < 16; i++ {
			kv := n.roj.store[keys[i]]
			entries = append(entries, map[string]any{"key": keys[i], "value": kv.Value, "version": kv.Version})
		}
		return map[string]any{"total": len(keys), "entries": entries}, nil
	case "fields":
		off, e := offsetArg(a, 256)
		if e != nil {
			return nil, e
		}
		ids := n.fieldIDs()
		entries := []map[string]any{}
		for i := off; i < len(ids) && len(entries) < 8; i++ {
			ev := n.kor.fields[ids[i]]
			entries = append(entries, map[string]any{"field_id": ids[i], "value_hex": hex.EncodeToString(ev.Payload[1:]),
				"ts": ev.TimestampUs, "origin_id": ev.OriginID, "origin_seq": ev.OriginSeq})
		}
		return map[string]any{"total": len(ids), "entries": entries}, nil
	case "set_neighbours":
		if e := codec.ArgsExactly(a, []string{"modules"}); e != nil {
			return nil, e
		}
		arr, ok := a["modules"].([]any)
		if !ok || len(arr) > MaxNeighbours {
			return nil, codec.BadRequest("modules: array of at most 7 module ids")
		}
		var mods []uint8
		seen := map[int64]bool{}
		for _, v := range arr {
			m, err := codec.Int(codec.Object{"m": v}, "m", 1, 255)
			if err != nil || seen[m] {
				return nil, codec.BadRequest("modules: distinct integers 1..255")
			}
			seen[m] = true
			mods = append(mods, uint8(m))
		}
		n.SetNeighbours(mods)
		n.log("info", "neighbours set", "KOR-NBR-2", "modules", mods)
		return map[string]any{}, nil
	case "stats":
		if e := noArgs(a); e != nil {
			return nil, e
		}
		s := n.Stats()
		for _, k := range []string{"roj", "kor", "ctl"} {
			s.Rx[k] += 0
			s.Tx[k] += 0
		}
		return map[string]any{"rx": s.Rx, "tx": s.Tx, "invalid": s.Invalid}, nil
	case "set_clock_skew":
		if e := codec.ArgsExactly(a, []string{"offset_us"}); e != nil {
			return nil, e
		}
		off, err := codec.Int(a, "offset_us", -(1<<32 - 1), 1<<32-1)
		if err != nil {
			return nil, codec.BadRequest(err.Error())
		}
		n.SetClockSkew(off)
		return map[string]any{}, nil
	case "log":
		if e := codec.ArgsExactly(a, []string{"origin", "from"}); e != nil {
			return nil, e
		}
		origin, err1 := codec.Int(a, "origin", 1, 255)
		from, err2 := codec.Int(a, "from", 1, 1<<32-1)
		if err1 != nil || err2 != nil {
			return nil, codec.BadRequest("origin 1..255, from 1..2^32-1")
		}
		events := []string{}
		for s := uint64(from); s <= uint64(n.kor.vv[origin]) && len(events) < 16; s++ {
			if e, ok := n.kor.events[evID{uint8(origin), uint32(s)}]; ok {
				events = append(events, hex.EncodeToString(e.Bytes()))
			}
		}
		return map[string]any{"events": events}, nil
	}
	return nil, &codec.CtlError{Code: "unsupported", Detail: "unknown command " + strconv.Quote(req.Cmd)}
}

var hex40 = mustPattern(`^[0-9a-f]{40}$`)

func offsetArg(a codec.Object, max int64) (int, *codec.CtlError) {
	if e := codec.ArgsExactly(a, nil, "offset"); e != nil {
		return 0, e
	}
	if _, ok := a["offset"]; !ok {
		return 0, nil
	}
	off, err := codec.Int(a, "offset", 0, max)
	if err != nil {
		return 0, codec.BadRequest(err.Error())
	}
	return int(off), nil
}

func (n *Node) liveWithSelf(now int64) []string {
	live := append(n.Live(now), n.cfg.NodeID)
	sort.Strings(live)
	return live
}

func (n *Node) fieldIDs() []uint8 {
	ids := make([]uint8, 0, len(n.kor.fields))
	for id := range n.kor.fields {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// CapsResult is CTL-CAP-1.
func (n *Node) CapsResult() map[string]any {
	return map[string]any{"node_id": n.cfg.NodeID, "lang": n.cfg.Lang, "impl": ImplName, "version": ImplVersion,
		"spec": SpecVersion, "caps": n.caps,
		"limits": map[string]int{"max_members": MaxMembers, "max_pending": MaxPending, "max_keys": MaxKeys,
			"gap_buffer": GapBuffer, "event_store": EventStore, "max_origins": MaxOrigins}}
}

// StateSummary is the state command's result (CTL-CMD-6).
type StateSummary struct {
	KVCount      int               `json:"kv_count"`
	KVDigest     string            `json:"kv_digest"`
	VV           map[string]uint32 `json:"vv"`
	LogCount     int               `json:"log_count"`
	LogDigest    string            `json:"log_digest"`
	FieldsCount  int               `json:"fields_count"`
	FieldsDigest string            `json:"fields_digest"`
	Locks        int               `json:"locks"`
	Pending      int               `json:"pending"`
}

// StateResult computes the digests of CTL-DIGEST-1..3.
func (n *Node) StateResult() StateSummary {
	kvh := newFNV()
	for _, k := range sortedKeys(n.roj.store) {
		kv := n.roj.store[k]
		kvh.write([]byte(k + "=" + kv.Value + "@" + strconv.FormatUint(uint64(kv.Version), 10) + "\n"))
	}
	ids := make([]evID, 0, len(n.kor.events))
	for id := range n.kor.events {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].origin != ids[j].origin {
			return ids[i].origin < ids[j].origin
		}
		return ids[i].seq < ids[j].seq
	})
	lh := newFNV()
	for _, id := range ids {
		lh.write(n.kor.events[id].Canonical().Bytes())
	}
	fh := newFNV()
	fids := n.fieldIDs()
	for _, f := range fids {
		fh.write([]byte{f})
		fh.write(n.kor.fields[f].Canonical().Bytes())
	}
	vv := map[string]uint32{}
	for o, s := range n.VV() {
		vv[strconv.Itoa(int(o))] = s
	}
	return StateSummary{KVCount: len(n.roj.store), KVDigest: kvh.hex(), VV: vv, LogCount: len(ids), LogDigest: lh.hex(),
		FieldsCount: len(fids), FieldsDigest: fh.hex(), Locks: len(n.roj.locks), Pending: n.pendingCount()}
}

func mustPattern(p string) *regexp.Regexp { return regexp.MustCompile(p) }
