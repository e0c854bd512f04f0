package codec

// EK-ROJ message codec (ek-roj.md sections 2-10): strict decoding into typed messages, every check
// that can be judged from one datagram (ROJ-WIRE-4), and encoding with the member order of the spec.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MaxRojDatagram is ROJ-WIRE-2.
const MaxRojDatagram = 1400

// Message type names (ROJ-ENV-3).
const (
	TypeAnnounce = "ANNOUNCE"
	TypePropose  = "PROPOSE"
	TypeVote     = "VOTE"
	TypeCommit   = "COMMIT"
	TypeAbort    = "ABORT"
)

// Vote reasons (ROJ-VOTE-7).
const (
	ReasonOK         = "ok"
	ReasonMembership = "membership"
	ReasonStale      = "stale"
	ReasonLocked     = "locked"
	ReasonCapacity   = "capacity"
)

var (
	NodeIDPattern          = newCharClass(`^[a-z0-9][a-z0-9-]{0,15}$`, "a~z0~9", "a~z0~9-", 1, 16)
	PidPattern     Pattern = pidPattern{}
	KeyPattern             = newCharClass(`^[a-z0-9_.-]{1,8}$`, "a~z0~9_.-", "a~z0~9_.-", 1, 8)
	ValuePattern           = newCharClass(`^[A-Za-z0-9_.:+-]{0,8}$`, "A~Za~z0~9_.:+-", "A~Za~z0~9_.:+-", 0, 8)
	LangPattern            = newCharClass(`^[a-z0-9-]{1,16}$`, "a~z0~9-", "a~z0~9-", 1, 16)
	CapPattern             = newCharClass(`^[a-z0-9-]{1,16}$`, "a~z0~9-", "a~z0~9-", 1, 16)
	SemverPattern          = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	abortReasonPat         = regexp.MustCompile(`^(rejected|timeout)$`)
	reasonPat              = regexp.MustCompile(`^(ok|membership|stale|locked|capacity)$`)
	hex8                   = newCharClass(`^[0-9a-f]{8}$`, "0~9a~f", "0~9a~f", 8, 8)
	counterPat             = newCharClass(`^[1-9][0-9]{0,9}$`, "1~9", "0~9", 1, 10)
)

// pidPattern matches ROJ-PROP-1's `^[a-z0-9][a-z0-9-]{0,15}:[0-9a-f]{8}:[1-9][0-9]{0,9}$`.
type pidPattern struct{}

func (pidPattern) String() string { return `^[a-z0-9][a-z0-9-]{0,15}:[0-9a-f]{8}:[1-9][0-9]{0,9}$` }

func (pidPattern) MatchString(s string) bool {
	_, _, _, ok := splitPid(s)
	return ok
}

func splitPid(s string) (node, inc, counter string, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || !NodeIDPattern.MatchString(parts[0]) || !hex8.MatchString(parts[1]) || !counterPat.MatchString(parts[2]) {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// Announce is the ANNOUNCE payload (ROJ-ANN-1).
type Announce struct {
	ModuleID    uint8    `json:"module_id"`
	Lang        string   `json:"lang"`
	Version     string   `json:"version"`
	Caps        []string `json:"caps"`
	Incarnation uint32   `json:"incarnation"`
	Seq         uint32   `json:"seq"`
	Members     []string `json:"members"`
	KorPort     uint16   `json:"kor_port"`
	CtlPort     uint16   `json:"ctl_port"`
}

// Propose is the PROPOSE payload (ROJ-PROP-1..5).
type Propose struct {
	Pid       string   `json:"pid"`
	Key       string   `json:"key"`
	Value     string   `json:"value"`
	Version   uint32   `json:"version"`
	Members   []string `json:"members"`
	N         int      `json:"n"`
	TimeoutMs int64    `json:"timeout_ms"`
}

// Vote is the VOTE payload (ROJ-VOTE-7).
type Vote struct {
	Pid    string `json:"pid"`
	Accept bool   `json:"accept"`
	Reason string `json:"reason"`
}

// Commit is the COMMIT payload (ROJ-COMMIT-2).
type Commit struct {
	Pid     string   `json:"pid"`
	Key     string   `json:"key"`
	Value   string   `json:"value"`
	Version uint32   `json:"version"`
	N       int      `json:"n"`
	Voters  []string `json:"voters"`
}

// Abort is the ABORT payload (ROJ-ABORT-2).
type Abort struct {
	Pid    string `json:"pid"`
	Reason string `json:"reason"`
}

// RojMessage is one decoded EK-ROJ message; exactly one payload pointer is set, matching Type.
type RojMessage struct {
	Type     string
	NodeID   string
	Announce *Announce
	Propose  *Propose
	Vote     *Vote
	Commit   *Commit
	Abort    *Abort
}

// DecodeError says why a datagram was dropped: Kind is the per-kind counter name (ROJ-WIRE-4),
// Clause the spec clause it violates.
type DecodeError struct {
	Kind, Clause, Detail string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%s (%s): %s", e.Kind, e.Clause, e.Detail) }

func derr(kind, clause string, err error) *DecodeError {
	return &DecodeError{Kind: kind, Clause: clause, Detail: err.Error()}
}

// Threshold is ROJ-THR-1 in integer arithmetic.
func Threshold(n int) int { return (67*n + 99) / 100 }

// PidNode returns the node part of a pid (ROJ-PROP-1) and its incarnation and counter.
func PidParts(pid string) (node string, incarnation uint32, counter uint32, ok bool) {
	n, incHex, cnt, ok := splitPid(pid)
	if !ok {
		return "", 0, 0, false
	}
	inc, err1 := strconv.ParseUint(incHex, 16, 32)
	c, err2 := strconv.ParseUint(cnt, 10, 32)
	if err1 != nil || err2 != nil || c == 0 {
		return "", 0, 0, false
	}
	return n, uint32(inc), uint32(c), true
}

func sortedDistinct(list []string) bool {
	for i := 1; i < len(list); i++ {
		if list[i-1] >= list[i] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DecodeRoj parses and validates one EK-ROJ datagram.
func DecodeRoj(data []byte) (*RojMessage, *DecodeError) {
	if len(data) > MaxRojDatagram {
		return nil, &DecodeError{Kind: "oversize", Clause: "ROJ-WIRE-2", Detail: fmt.Sprintf("%d bytes", len(data))}
	}
	obj, err := ParseObject(data)
	if err != nil {
		kind := "json"
		if strings.HasPrefix(err.Error(), "duplicate member") {
			kind = "duplicate_member"
		}
		return nil, derr(kind, "ROJ-WIRE-1", err)
	}
	if err := exactMembers(obj, "envelope", []string{"proto", "type", "node_id", "payload"}); err != nil {
		return nil, derr("envelope", "ROJ-ENV-1", err)
	}
	if _, err := Int(obj, "proto", 1, 1); err != nil {
		return nil, derr("proto", "ROJ-ENV-2", err)
	}
	typ, err := Str(obj, "type", nil)
	if err != nil {
		return nil, derr("envelope", "ROJ-ENV-3", err)
	}
	nodeID, err := Str(obj, "node_id", NodeIDPattern)
	if err != nil {
		return nil, derr("envelope", "ROJ-ENV-4", err)
	}
	payload, err := Obj(obj, "payload")
	if err != nil {
		return nil, derr("envelope", "ROJ-ENV-5", err)
	}
	msg := &RojMessage{Type: typ, NodeID: nodeID}
	switch typ {
	case TypeAnnounce:
		a, derr := decodeAnnounce(payload, nodeID)
		if derr != nil {
			return nil, derr
		}
		msg.Announce = a
	case TypePropose:
		p, derr := decodePropose(payload, nodeID)
		if derr != nil {
			return nil, derr
		}
		msg.Propose = p
	case TypeVote:
		v, derr := decodeVote(payload)
		if derr != nil {
			return nil, derr
		}
		msg.Vote = v
	case TypeCommit:
		c, derr := decodeCommit(payload, nodeID)
		if derr != nil {
			return nil, derr
		}
		msg.Commit = c
	case TypeAbort:
		a, derr := decodeAbort(payload, nodeID)
		if derr != nil {
			return nil, derr
		}
		msg.Abort = a
	default:
		return nil, &DecodeError{Kind: "unknown_type", Clause: "ROJ-ENV-3", Detail: fmt.Sprintf("type %q", typ)}
	}
	return msg, nil
}

func decodeAnnounce(p Object, nodeID string) (*Announce, *DecodeError) {
	const clause = "ROJ-ANN-1"
	bad := func(err error) (*Announce, *DecodeError) { return nil, derr("schema_announce", clause, err) }
	if err := exactMembers(p, "payload", []string{"module_id", "lang", "version", "caps", "incarnation", "seq", "members", "kor_port", "ctl_port"}); err != nil {
		return bad(err)
	}
	a := &Announce{}
	mod, err := Int(p, "module_id", 1, 255)
	if err != nil {
		return bad(err)
	}
	a.ModuleID = uint8(mod)
	if a.Lang, err = Str(p, "lang", LangPattern); err != nil {
		return bad(err)
	}
	if a.Version, err = Str(p, "version", SemverPattern); err != nil {
		return bad(err)
	}
	if len(a.Version) > 32 {
		return bad(ferr("version", "longer than 32"))
	}
	if a.Caps, err = StrList(p, "caps", CapPattern, 0, 16); err != nil {
		return bad(err)
	}
	inc, err := Int(p, "incarnation", 0, 1<<32-1)
	if err != nil {
		return bad(err)
	}
	a.Incarnation = uint32(inc)
	seq, err := Int(p, "seq", 0, 1<<32-1)
	if err != nil {
		return bad(err)
	}
	a.Seq = uint32(seq)
	if a.Members, err = StrList(p, "members", NodeIDPattern, 1, 32); err != nil {
		return bad(err)
	}
	if !sortedDistinct(a.Members) {
		return nil, derr("schema_announce", clause, ferr("members", "not sorted ascending"))
	}
	if !contains(a.Members, nodeID) {
		return nil, derr("schema_announce", "ROJ-ANN-2", ferr("members", "does not contain the sender"))
	}
	kp, err := Int(p, "kor_port", 1, 65535)
	if err != nil {
		return bad(err)
	}
	cp, err := Int(p, "ctl_port", 1, 65535)
	if err != nil {
		return bad(err)
	}
	a.KorPort, a.CtlPort = uint16(kp), uint16(cp)
	return a, nil
}

func decodePropose(p Object, nodeID string) (*Propose, *DecodeError) {
	bad := func(clause string, err error) (*Propose, *DecodeError) {
		return nil, derr("schema_propose", clause, err)
	}
	if err := exactMembers(p, "payload", []string{"pid", "key", "value", "version", "members", "n", "timeout_ms"}); err != nil {
		return bad("ROJ-ENV-5", err)
	}
	pr := &Propose{}
	var err error
	if pr.Pid, err = Str(p, "pid", PidPattern); err != nil {
		return bad("ROJ-PROP-1", err)
	}
	if node, _, _, ok := PidParts(pr.Pid); !ok || node != nodeID {
		return bad("ROJ-PROP-1", ferr("pid", "node part or counter invalid for sender %q", nodeID))
	}
	if pr.Key, err = Str(p, "key", KeyPattern); err != nil {
		return bad("ROJ-PROP-2", err)
	}
	if pr.Value, err = Str(p, "value", ValuePattern); err != nil {
		return bad("ROJ-PROP-2", err)
	}
	ver, err := Int(p, "version", 1, 1<<32-1)
	if err != nil {
		return bad("ROJ-PROP-3", err)
	}
	pr.Version = uint32(ver)
	if pr.Members, err = StrList(p, "members", NodeIDPattern, 1, 32); err != nil {
		return bad("ROJ-PROP-4", err)
	}
	n, err := Int(p, "n", 1, 32)
	if err != nil {
		return bad("ROJ-PROP-4", err)
	}
	pr.N = int(n)
	if !sortedDistinct(pr.Members) || !contains(pr.Members, nodeID) || pr.N != len(pr.Members) {
		return bad("ROJ-PROP-4", ferr("members", "not sorted, missing the proposer, or n != len(members)"))
	}
	if pr.TimeoutMs, err = Int(p, "timeout_ms", 100, 60000); err != nil {
		return bad("ROJ-PROP-5", err)
	}
	return pr, nil
}

func decodeVote(p Object) (*Vote, *DecodeError) {
	bad := func(clause string, err error) (*Vote, *DecodeError) { return nil, derr("schema_vote", clause, err) }
	if err := exactMembers(p, "payload", []string{"pid", "accept", "reason"}); err != nil {
		return bad("ROJ-ENV-5", err)
	}
	v := &Vote{}
	var err error
	if v.Pid, err = Str(p, "pid", PidPattern); err != nil {
		return bad("ROJ-PROP-1", err)
	}
	if _, _, _, ok := PidParts(v.Pid); !ok {
		return bad("ROJ-PROP-1", ferr("pid", "counter out of range"))
	}
	if v.Accept, err = Bool(p, "accept"); err != nil {
		return bad("ROJ-VOTE-7", err)
	}
	if v.Reason, err = Str(p, "reason", reasonPat); err != nil {
		return bad("ROJ-VOTE-7", err)
	}
	if v.Accept != (v.Reason == ReasonOK) {
		return bad("ROJ-VOTE-7", ferr("accept", "must be true exactly when reason is ok"))
	}
	return v, nil
}

func decodeCommit(p Object, nodeID string) (*Commit, *DecodeError) {
	bad := func(clause string, err error) (*Commit, *DecodeError) { return nil, derr("schema_commit", clause, err) }
	if err := exactMembers(p, "payload", []string{"pid", "key", "value", "version", "n", "voters"}); err != nil {
		return bad("ROJ-ENV-5", err)
	}
	c := &Commit{}
	var err error
	if c.Pid, err = Str(p, "pid", PidPattern); err != nil {
		return bad("ROJ-PROP-1", err)
	}
	if node, _, _, ok := PidParts(c.Pid); !ok || node != nodeID {
		return bad("ROJ-COMMIT-4", ferr("pid", "not the sender's own pid"))
	}
	if c.Key, err = Str(p, "key", KeyPattern); err != nil {
		return bad("ROJ-PROP-2", err)
	}
	if c.Value, err = Str(p, "value", ValuePattern); err != nil {
		return bad("ROJ-PROP-2", err)
	}
	ver, err := Int(p, "version", 1, 1<<32-1)
	if err != nil {
		return bad("ROJ-PROP-3", err)
	}
	c.Version = uint32(ver)
	n, err := Int(p, "n", 1, 32)
	if err != nil {
		return bad("ROJ-COMMIT-2", err)
	}
	c.N = int(n)
	if c.Voters, err = StrList(p, "voters", NodeIDPattern, 1, 32); err != nil {
		return bad("ROJ-COMMIT-2", err)
	}
	if !sortedDistinct(c.Voters) {
		return bad("ROJ-COMMIT-2", ferr("voters", "not sorted ascending"))
	}
	if len(c.Voters) < Threshold(c.N) || len(c.Voters) > c.N {
		return bad("ROJ-COMMIT-2", ferr("voters", "%d voters for n=%d (t=%d)", len(c.Voters), c.N, Threshold(c.N)))
	}
	if !contains(c.Voters, nodeID) {
		return bad("ROJ-COMMIT-2", ferr("voters", "does not include the proposer"))
	}
	return c, nil
}

func decodeAbort(p Object, nodeID string) (*Abort, *DecodeError) {
	bad := func(clause string, err error) (*Abort, *DecodeError) { return nil, derr("schema_abort", clause, err) }
	if err := exactMembers(p, "payload", []string{"pid", "reason"}); err != nil {
		return bad("ROJ-ENV-5", err)
	}
	a := &Abort{}
	var err error
	if a.Pid, err = Str(p, "pid", PidPattern); err != nil {
		return bad("ROJ-PROP-1", err)
	}
	if node, _, _, ok := PidParts(a.Pid); !ok || node != nodeID {
		return bad("ROJ-ABORT-1", ferr("pid", "not the sender's own pid"))
	}
	if a.Reason, err = Str(p, "reason", abortReasonPat); err != nil {
		return bad("ROJ-ABORT-2", err)
	}
	return a, nil
}

type envelope struct {
	Proto   int    `json:"proto"`
	Type    string `json:"type"`
	NodeID  string `json:"node_id"`
	Payload any    `json:"payload"`
}

// EncodeRoj writes one message in the member order of the spec examples.
func EncodeRoj(typ, nodeID string, payload any) []byte {
	b, err := json.Marshal(envelope{Proto: 1, Type: typ, NodeID: nodeID, Payload: payload})
	if err != nil {
		panic("codec: EK-ROJ payload not encodable: " + err.Error()) // only our own typed payloads reach here
	}
	return b
}

// SortedCopy returns a sorted copy (members and voters lists are sorted on the wire).
func SortedCopy(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
