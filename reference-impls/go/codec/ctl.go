package codec

// Control protocol codec (control.md section 3): request envelope parsing (CTL-WIRE-2/3) and
// response encoding. Per-command argument checks live with the commands (core/control.go).

import (
	"encoding/json"
	"regexp"
)

// MaxCtlDatagram is CTL-WIRE-1.
const MaxCtlDatagram = 1400

var cmdPattern = regexp.MustCompile(`^[a-z_]{1,32}$`)

// CtlRequest is one decoded control request.
type CtlRequest struct {
	ID   uint32
	Cmd  string
	Args Object
}

// CtlError is an error response (CTL-WIRE-3).
type CtlError struct {
	Code, Detail string
}

func (e *CtlError) Error() string { return e.Code + ": " + e.Detail }

// BadRequest builds a bad_request error.
func BadRequest(detail string) *CtlError { return &CtlError{Code: "bad_request", Detail: detail} }

// DecodeCtl parses a request. On failure it returns the id to answer with (0 when unknown,
// CTL-WIRE-3) and the error.
func DecodeCtl(data []byte) (*CtlRequest, uint32, *CtlError) {
	if len(data) > MaxCtlDatagram {
		return nil, 0, BadRequest("datagram over 1400 bytes")
	}
	obj, err := ParseObject(data)
	if err != nil {
		return nil, 0, BadRequest(err.Error())
	}
	id, err := Int(obj, "id", 0, 1<<32-1)
	if err != nil {
		return nil, 0, BadRequest("id: " + err.Error())
	}
	if err := exactMembers(obj, "request", []string{"id", "cmd"}, "args"); err != nil {
		return nil, uint32(id), BadRequest(err.Error())
	}
	cmd, err := Str(obj, "cmd", cmdPattern)
	if err != nil {
		return nil, uint32(id), BadRequest(err.Error())
	}
	args := Object{}
	if _, ok := obj["args"]; ok {
		if args, err = Obj(obj, "args"); err != nil {
			return nil, uint32(id), BadRequest(err.Error())
		}
	}
	return &CtlRequest{ID: uint32(id), Cmd: cmd, Args: args}, uint32(id), nil
}

// ArgsExactly checks a command's args members (additionalProperties: false in ctl-request.json).
func ArgsExactly(args Object, required []string, optional ...string) *CtlError {
	if err := exactMembers(args, "args", required, optional...); err != nil {
		return BadRequest(err.Error())
	}
	return nil
}

type okResponse struct {
	ID     uint32 `json:"id"`
	OK     bool   `json:"ok"`
	Result any    `json:"result"`
}

type errResponse struct {
	ID     uint32 `json:"id"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// EncodeCtlOK encodes a success response.
func EncodeCtlOK(id uint32, result any) []byte {
	b, err := json.Marshal(okResponse{ID: id, OK: true, Result: result})
	if err != nil {
		return EncodeCtlErr(id, &CtlError{Code: "bad_request", Detail: "result not encodable"})
	}
	return b
}

// EncodeCtlErr encodes an error response; detail is cut to the schema's 256 characters.
func EncodeCtlErr(id uint32, e *CtlError) []byte {
	d := e.Detail
	if len(d) > 256 {
		d = d[:256]
	}
	b, _ := json.Marshal(errResponse{ID: id, OK: false, Error: e.Code, Detail: d})
	return b
}
