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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile datagram cannot exhaust the stack: at most 127 nested
// objects and arrays (ROJ-WIRE-1), the limit of serde_json, the oracle's parser.
const maxDepth = 127

// Object is a decoded JSON object; values are Object, []any, json.Number, string, bool or nil.
type Object map[string]any

var errNotObject = errors.New("top-level value is not an object")

// ParseObject decodes one JSON object strictly: UTF-8 without BOM (ROJ-WIRE-1), no duplicate member
// names (ROJ-WIRE-5), nothing after the value but whitespace. It is a small recursive-descent reader
// (RFC 8259 grammar) because encoding/json's Decoder.Token, the stdlib's only way to see duplicate
// names, costs several times more per message; escaped strings are still unquoted by encoding/json.
func ParseObject(data []byte) (Object, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		return nil, errors.New("byte-order mark")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	p := &parser{data: data}
	p.skipSpace()
	if p.pos >= len(data) || data[p.pos] != '{' {
		if _, err := p.value(0); err != nil {
			return nil, err
		}
		return nil, errNotObject
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(data) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v.(Object), nil
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("invalid JSON: %s at offset %d", what, p.pos)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end")
	}
	if c := p.data[p.pos]; (c == '{' || c == '[') && depth >= maxDepth {
		return nil, errors.New("nesting too deep")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		p.pos++
		obj := Object{}
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return obj, nil
		}
		for {
			p.skipSpace()
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			if _, dup := obj[key]; dup {
				return nil, fmt.Errorf("duplicate member %q", key)
			}
			p.skipSpace()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return nil, p.fail("expected ':'")
			}
			p.pos++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			obj[key] = v
			p.skipSpace()
			if p.pos >= len(p.data) {
				return nil, p.fail("unterminated object")
			}
			if p.data[p.pos] == '}' {
				p.pos++
				return obj, nil
			}
			if p.data[p.pos] != ',' {
				return nil, p.fail("expected ',' or '}'")
			}
			p.pos++
		}
	case c == '[':
		p.pos++
		arr := []any{}
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return arr, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.skipSpace()
			if p.pos >= len(p.data) {
				return nil, p.fail("unterminated array")
			}
			if p.data[p.pos] == ']' {
				p.pos++
				return arr, nil
			}
			if p.data[p.pos] != ',' {
				return nil, p.fail("expected ',' or ']'")
			}
			p.pos++
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.fail("unexpected character")
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return p.fail("bad literal")
	}
	p.pos += len(word)
	return nil
}

// number checks the RFC 8259 number grammar and keeps the literal (ROJ-WIRE-5 inspects it).
func (p *parser) number() (json.Number, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return "", p.fail("bad number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return "", p.fail("bad fraction")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return "", p.fail("bad exponent")
		}
	}
	lit := p.data[start:p.pos]
	// ROJ-WIRE-5 (I-JSON): no number may round to infinity as a double. Only a literal with an
	// exponent or of more than 308 characters can.
	if len(lit) > 308 || bytes.ContainsAny(lit, "eE") {
		if f, err := strconv.ParseFloat(string(lit), 64); err != nil && math.IsInf(f, 0) {
			return "", p.fail("number beyond the range of a double")
		}
	}
	return json.Number(lit), nil
}

// str reads a string; plain ones are sliced, escaped ones are unquoted by encoding/json.
func (p *parser) str() (string, error) {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return "", p.fail("expected string")
	}
	start := p.pos
	p.pos++
	escaped := false
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !escaped {
				return string(p.data[start+1 : p.pos-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
				return "", p.fail("bad escape")
			}
			return s, nil
		case c == '\\' && p.pos+1 < len(p.data) && p.data[p.pos+1] == 'u':
			escaped = true
			n := unicodeEscapeLen(p.data[p.pos:])
			if n == 0 {
				return "", p.fail("bad \\u escape or lone surrogate")
			}
			p.pos += n
		case c == '\\':
			escaped = true
			p.pos += 2
		case c < 0x20:
			return "", p.fail("control character in string")
		default:
			p.pos++
		}
	}
	return "", p.fail("unterminated string")
}

// unicodeEscapeLen is the length of the \u escape at the start of b (6, or 12 for a surrogate
// pair), 0 if it is not hexadecimal or a UTF-16 surrogate is not a high one followed by a low one
// (ROJ-WIRE-1). encoding/json turns a lone surrogate into U+FFFD silently; serde_json, the
// oracle's parser, refuses it (RFC 8259 section 8.2 leaves the choice to the parser), and a mixed
// cluster must make one choice.
func unicodeEscapeLen(b []byte) int {
	hi, ok := hex4(b, 2)
	switch {
	case !ok:
		return 0
	case !utf16.IsSurrogate(hi):
		return 6
	}
	if len(b) < 8 || b[6] != '\\' || b[7] != 'u' {
		return 0
	}
	if lo, ok := hex4(b, 8); !ok || utf16.DecodeRune(hi, lo) == utf8.RuneError {
		return 0 // a lone low surrogate, or a high one not followed by a low one
	}
	return 12
}

// hex4 decodes the four hexadecimal digits at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	var v [2]byte
	if len(b) < at+4 {
		return 0, false
	}
	if _, err := hex.Decode(v[:], b[at:at+4]); err != nil {
		return 0, false
	}
	return rune(v[0])<<8 | rune(v[1]), true
}

// Pattern is what string members are checked against: a *regexp.Regexp or a charClass.
type Pattern interface {
	MatchString(string) bool
	String() string
}

// charClass is a fast matcher for the spec's simple patterns: a first-character class, a class for
// the rest, and a length range. It matches exactly what its regular expression (String) matches.
type charClass struct {
	first, rest [256]bool
	min, max    int
	expr        string
}

func newCharClass(expr, first, rest string, min, max int) *charClass {
	c := &charClass{min: min, max: max, expr: expr}
	for _, set := range []struct {
		dst   *[256]bool
		chars string
	}{{&c.first, first}, {&c.rest, rest}} {
		for i := 0; i < len(set.chars); i++ {
			if i+2 < len(set.chars) && set.chars[i+1] == '~' {
				for b := set.chars[i]; b <= set.chars[i+2]; b++ {
					set.dst[b] = true
				}
				i += 2
				continue
			}
			set.dst[set.chars[i]] = true
		}
	}
	return c
}

func (c *charClass) MatchString(s string) bool {
	if len(s) < c.min || len(s) > c.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 0 && !c.first[s[i]] || i > 0 && !c.rest[s[i]] {
			return false
		}
	}
	return true
}

func (c *charClass) String() string { return c.expr }

// integerLiteral is ROJ-WIRE-5: integers carry no fraction and no exponent (and intValue refuses
// "-0", which ROJ-WIRE-5 also excludes).
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
	if !integerLiteral.MatchString(s) || s == "-0" || len(s) > 20 {
		return 0, ferr(name, "not an integer literal (ROJ-WIRE-5)")
	}
	i, err := n.Int64()
	if err != nil || i < min || i > max {
		return 0, ferr(name, "out of range [%d, %d]", min, max)
	}
	return i, nil
}

// Str reads a string member matching pattern (nil: any string).
func Str(obj Object, name string, pattern Pattern) (string, error) {
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
func StrList(obj Object, name string, pattern Pattern, minItems, maxItems int) ([]string, error) {
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
