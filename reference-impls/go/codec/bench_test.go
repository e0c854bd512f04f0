package codec

import (
	"encoding/json"
	"testing"
)

// BenchmarkDecodeRojPropose: strict decoding of the spec's PROPOSE (ROJ-WIRE-4/5 checks included).
func BenchmarkDecodeRojPropose(b *testing.B) {
	data := []byte(specExamples["PROPOSE"])
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := DecodeRoj(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComparatorStdlibUnmarshal: plain encoding/json into structs (no duplicate-member,
// integer-literal or pattern checks): the comparator for the strict decoder above.
func BenchmarkComparatorStdlibUnmarshal(b *testing.B) {
	data := []byte(specExamples["PROPOSE"])
	b.SetBytes(int64(len(data)))
	var m struct {
		Proto   int     `json:"proto"`
		Type    string  `json:"type"`
		NodeID  string  `json:"node_id"`
		Payload Propose `json:"payload"`
	}
	for i := 0; i < b.N; i++ {
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRojCommit(b *testing.B) {
	c := Commit{Pid: "rust-1:5f3a09c2:7", Key: "bay3", Value: "11000", Version: 4, N: 3, Voters: []string{"c-1", "go-1", "rust-1"}}
	for i := 0; i < b.N; i++ {
		EncodeRoj(TypeCommit, "rust-1", c)
	}
}

func BenchmarkParseKorGossip(b *testing.B) {
	data := gossipBytes(nil)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseKor(data); err != nil {
			b.Fatal(err)
		}
	}
}
