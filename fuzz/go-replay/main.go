// Command go-replay prints the Go reference node's verdict on each input file, for EK-ROJ
// (codec.DecodeRoj) and EK-KOR (codec.ParseKor), in the canonical line format of the Rust fuzz
// crate (fuzz/src/roj.rs, fuzz/src/kor.rs), so fuzz-replay can put the Go node next to the oracle,
// the Rust node and the C node. Files may be raw bytes or Go fuzz corpus files
// ("go test fuzz v1" + one []byte value).
//
// Output, per file and in order: "roj\tACCEPT|REJECT\t<line>" then "kor\tACCEPT|REJECT\t<line>".
// Built in GOPATH mode against the node's sources (see the Justfile's fuzzing section).
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"ekcnode/codec"
)

func goCorpusBytes(raw []byte) ([]byte, error) {
	text := string(raw)
	start := strings.Index(text, "[]byte(")
	if start < 0 {
		return nil, fmt.Errorf("no []byte value")
	}
	body := strings.TrimSpace(text[start+len("[]byte("):])
	body = strings.TrimSuffix(body, ")")
	s, err := strconv.Unquote(body)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func rojLine(m *codec.RojMessage) string {
	id := m.NodeID
	switch m.Type {
	case codec.TypeAnnounce:
		a := m.Announce
		return fmt.Sprintf("ANNOUNCE node_id=%s module_id=%d lang=%s version=%s incarnation=%d seq=%d members=%s kor_port=%d ctl_port=%d",
			id, a.ModuleID, a.Lang, a.Version, a.Incarnation, a.Seq, strings.Join(a.Members, ","), a.KorPort, a.CtlPort)
	case codec.TypePropose:
		p := m.Propose
		return fmt.Sprintf("PROPOSE node_id=%s pid=%s key=%s value=%s version=%d members=%s n=%d timeout_ms=%d",
			id, p.Pid, p.Key, p.Value, p.Version, strings.Join(p.Members, ","), p.N, p.TimeoutMs)
	case codec.TypeVote:
		v := m.Vote
		return fmt.Sprintf("VOTE node_id=%s pid=%s accept=%t reason=%s", id, v.Pid, v.Accept, v.Reason)
	case codec.TypeCommit:
		c := m.Commit
		return fmt.Sprintf("COMMIT node_id=%s pid=%s key=%s value=%s version=%d n=%d voters=%s",
			id, c.Pid, c.Key, c.Value, c.Version, c.N, strings.Join(c.Voters, ","))
	case codec.TypeAbort:
		a := m.Abort
		return fmt.Sprintf("ABORT node_id=%s pid=%s reason=%s", id, a.Pid, a.Reason)
	}
	return "accepted unknown type " + m.Type
}

func korLine(f codec.KorFrame) string {
	switch x := f.(type) {
	case *codec.Gossip:
		e := x.Event
		return fmt.Sprintf("GOSSIP src=%d vv=%s seq=%d ts=%d type=%d flags=%d origin=%d hop=%d oseq=%d payload=%s",
			x.Source, hex.EncodeToString(x.Summary[:]), e.Sequence, e.TimestampUs, e.EventType, e.Flags,
			e.OriginID, e.HopCount, e.OriginSeq, hex.EncodeToString(e.Payload[:]))
	case *codec.Ack:
		var parts []string
		for _, a := range x.Entries {
			parts = append(parts, fmt.Sprintf("%d:%d", a.Origin, a.Seq))
		}
		return fmt.Sprintf("ACK src=%d entries=%s", x.Source, strings.Join(parts, ","))
	case *codec.Request:
		return fmt.Sprintf("REQUEST src=%d target=%d from=%d to=%d", x.Source, x.Target, x.FromSeq, x.ToSeq)
	case *codec.VVSync:
		var parts []string
		for _, a := range x.Entries {
			parts = append(parts, fmt.Sprintf("%d:%d", a.Origin, a.Seq))
		}
		return fmt.Sprintf("VV_SYNC src=%d lo=%d hi=%d entries=%s", x.Source, x.Lo, x.Hi, strings.Join(parts, ","))
	}
	return fmt.Sprintf("accepted unknown frame %T", f)
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-replay: %v\n", err)
			os.Exit(2)
		}
		if bytes.HasPrefix(data, []byte("go test fuzz v1\n")) {
			if data, err = goCorpusBytes(data); err != nil {
				fmt.Fprintf(os.Stderr, "go-replay: %s: Go corpus file: %v\n", path, err)
				os.Exit(2)
			}
		}
		if m, derr := codec.DecodeRoj(data); derr != nil {
			fmt.Fprintf(out, "roj\tREJECT\t%s\n", oneLine(derr.Error()))
		} else {
			fmt.Fprintf(out, "roj\tACCEPT\t%s\n", rojLine(m))
		}
		if f, kerr := codec.ParseKor(data); kerr != nil {
			fmt.Fprintf(out, "kor\tREJECT\t%s\n", oneLine(kerr.Error()))
		} else {
			fmt.Fprintf(out, "kor\tACCEPT\t%s\n", korLine(f))
		}
	}
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\t", " ").Replace(s) }
