// Package codec holds the wire codecs of the Go reference node: EK-ROJ JSON messages (ek-roj.md
// sections 2-10), EK-KOR binary frames (ek-kor.md sections 1-7) and control requests/responses
// (control.md section 3). Codecs are pure: bytes in, validated values out, and the reverse.
//
// This file is the strict JSON reader shared by the EK-ROJ and control codecs. encoding/json alone
// accepts duplicate member names and silently replaces invalid UTF-8, both of which ROJ-WIRE-4/5
// require us to reject, so documents are walked token by token.
package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile datagram cannot exhaust the stack.
const maxDepth = 16

// Object is a decoded JSON object; values are Object, []any, json.Number, string, bool or nil.
type Object map[string]any

var errNotObject = errors.New("top-level value is not an object")

// ParseObject decodes one JSON object strictly: UTF-8 without BOM (ROJ-WIRE-1), no duplicate member
// names (ROJ-WIRE-5), nothing after the value.
func ParseObject(data []byte) (Object, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		return nil, errors.New("byte-order mark")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	obj, ok := v.(Object)
	if !ok {
		return nil, errNotObject
	}
	return obj, nil
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nesting too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %v", err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("invalid JSON: object key is not a string")
				}
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("duplicate member %q", key)
				}
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[key] = val
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %v", err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %v", err)
			}
			return arr, nil
		}
		return nil, errors.New("invalid JSON: unexpected delimiter")
	default:
		return t, nil
	}
}

// integerLiteral is ROJ-WIRE-5: integers carry no fraction and no exponent.
var integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// fieldError names the offending member so logs say exactly what was wrong.
type fieldError struct {
	field, problem string
}

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func ferr(field, format string, args ...any) error {
	return &fieldError{field: field, problem: fmt.Sprintf(format, args...)}
}

// exactMembers checks additionalProperties:false plus required members (ROJ-ENV-1, ROJ-ENV-5).
func exactMembers(obj Object, where string, required []string, optional ...string) error {
	allowed := map[string]bool{}
	for _, k := range required {
		allowed[k] = true
		if _, ok := obj[k]; !ok {
			return ferr(where, "missing member %q", k)
		}
	}
	for _, k := range optional {
		allowed[k] = true
	}
	for k := range obj {
		if !allowed[k] {
			return ferr(where, "unexpected member %q", k)
		}
	}
	return nil
}

// Int reads an integer member within [min, max].
func Int(obj Object, name string, min, max int64) (int64, error) {
	v, ok := obj[name]
	if !ok {
		return 0, ferr(name, "missing")
	}
	return intValue(v, name, min, max)
}

func intValue(v any, name string, min, max int64) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, ferr(name, "not a number")
	}
	s := string(n)
	if !integerLiteral.MatchString(s) || len(s) > 20 {
		return 0, ferr(name, "not an integer literal (ROJ-WIRE-5)")
	}
	i, err := n.Int64()
	if err != nil || i < min || i > max {
		return 0, ferr(name, "out of range [%d, %d]", min, max)
	}
	return i, nil
}

// Str reads a string member matching pattern (nil: any string).
func Str(obj Object, name string, pattern *regexp.Regexp) (string, error) {
	v, ok := obj[name]
	if !ok {
		return "", ferr(name, "missing")
	}
	s, ok := v.(string)
	if !ok {
		return "", ferr(name, "not a string")
	}
	if pattern != nil && !pattern.MatchString(s) {
		return "", ferr(name, "does not match %s", pattern.String())
	}
	return s, nil
}

// Bool reads a boolean member.
func Bool(obj Object, name string) (bool, error) {
	v, ok := obj[name].(bool)
	if _, present := obj[name]; !present {
		return false, ferr(name, "missing")
	}
	if !ok {
		return false, ferr(name, "not a boolean")
	}
	return v, nil
}

// Obj reads an object member.
func Obj(obj Object, name string) (Object, error) {
	v, ok := obj[name]
	if !ok {
		return nil, ferr(name, "missing")
	}
	o, ok := v.(Object)
	if !ok {
		return nil, ferr(name, "not an object")
	}
	return o, nil
}

// StrList reads an array of distinct strings matching pattern with minItems..maxItems entries.
func StrList(obj Object, name string, pattern *regexp.Regexp, minItems, maxItems int) ([]string, error) {
	v, ok := obj[name]
	if !ok {
		return nil, ferr(name, "missing")
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, ferr(name, "not an array")
	}
	if len(arr) < minItems || len(arr) > maxItems {
		return nil, ferr(name, "has %d items, allowed %d..%d", len(arr), minItems, maxItems)
	}
	out := make([]string, 0, len(arr))
	seen := map[string]bool{}
	for _, it := range arr {
		s, ok := it.(string)
		if !ok {
			return nil, ferr(name, "item is not a string")
		}
		if !pattern.MatchString(s) {
			return nil, ferr(name, "item %q does not match %s", s, pattern.String())
		}
		if seen[s] {
			return nil, ferr(name, "duplicate item %q", s)
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}
