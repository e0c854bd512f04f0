// Package ctlclient is a small client of the control protocol (control.md section 3), used by the
// Go node's process-level tests and its cluster benchmark.
package ctlclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Client sends requests from one UDP socket; it is not safe for concurrent use.
type Client struct {
	conn *net.UDPConn
	next uint32
	buf  []byte
}

// New opens a client socket on the given local address (port 0 picks one).
func New(local netip.Addr) (*Client, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		return nil, err
	}
	return &Client{conn: c, next: 1, buf: make([]byte, 2048)}, nil
}

// Close releases the socket.
func (c *Client) Close() error { return c.conn.Close() }

// RemoteError is an error response.
type RemoteError struct{ Code, Detail string }

func (e *RemoteError) Error() string { return e.Code + ": " + e.Detail }

// ErrTimeout means no answer arrived in time.
var ErrTimeout = errors.New("control: no answer")

// Call sends cmd and decodes the result into out (may be nil). The request is repeated with the
// same id every 200 ms until an answer arrives or timeout passes (CTL-WIRE-4).
func (c *Client) Call(to netip.AddrPort, cmd string, args any, out any, timeout time.Duration) error {
	id := c.next
	c.next++
	req := map[string]any{"id": id, "cmd": cmd}
	if args != nil {
		req["args"] = args
	}
	data, _ := json.Marshal(req)
	deadline := time.Now().Add(timeout)
	dst := net.UDPAddrFromAddrPort(to)
	for time.Now().Before(deadline) {
		if _, err := c.conn.WriteToUDP(data, dst); err != nil {
			return err
		}
		retry := time.Now().Add(200 * time.Millisecond)
		if retry.After(deadline) {
			retry = deadline
		}
		for {
			c.conn.SetReadDeadline(retry)
			n, _, err := c.conn.ReadFromUDPAddrPort(c.buf)
			if err != nil {
				break // timeout: send again
			}
			var resp struct {
				ID     uint32          `json:"id"`
				OK     bool            `json:"ok"`
				Result json.RawMessage `json:"result"`
				Error  string          `json:"error"`
				Detail string          `json:"detail"`
			}
			if json.Unmarshal(c.buf[:n], &resp) != nil || resp.ID != id {
				continue // a late answer to an earlier request
			}
			if !resp.OK {
				return &RemoteError{resp.Error, resp.Detail}
			}
			if out != nil {
				if err := json.Unmarshal(resp.Result, out); err != nil {
					return fmt.Errorf("control: %s result: %v", cmd, err)
				}
			}
			return nil
		}
	}
	return ErrTimeout
}

// Peers is the peers result.
type Peers struct {
	Members    []string `json:"members"`
	Live       []string `json:"live"`
	Neighbours []int    `json:"neighbours"`
}

// State is the state result.
type State struct {
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

// Stats is the stats result.
type Stats struct {
	Rx      map[string]uint64 `json:"rx"`
	Tx      map[string]uint64 `json:"tx"`
	Invalid map[string]uint64 `json:"invalid"`
}
