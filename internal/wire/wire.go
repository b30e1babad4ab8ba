// Package wire holds the JSON shapes exchanged with the Inngest server and
// the small pure helpers around them: step-ID hashing and duration strings.
package wire

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"hash/maphash"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Request is the body of a call (POST) from the server.
type Request struct {
	Event   json.RawMessage            `json:"event"`
	Events  []json.RawMessage          `json:"events"`
	Steps   map[string]json.RawMessage `json:"steps"`
	Ctx     RequestCtx                 `json:"ctx"`
	Version int                        `json:"version"`
	UseAPI  bool                       `json:"use_api"`
}

// RequestCtx is the "ctx" object of a call.
type RequestCtx struct {
	FnID                      string `json:"fn_id"`
	RunID                     string `json:"run_id"`
	Env                       string `json:"env"`
	StepID                    string `json:"step_id"`
	Attempt                   int    `json:"attempt"`
	MaxAttempts               int    `json:"max_attempts"`
	Stack                     Stack  `json:"stack"`
	QueueItemID               string `json:"qi_id"`
	RequestID                 string `json:"request_id"`
	GenerationID              int    `json:"generation_id"`
	DisableImmediateExecution bool   `json:"disable_immediate_execution"`
	UseAPI                    bool   `json:"use_api"`
}

// Stack lists memoized step hashes in completion order.
type Stack struct {
	Stack   []string `json:"stack"`
	Current int      `json:"current"`
}

// Opcode names, as the server spells them.
const (
	OpStepRun        = "StepRun"
	OpStepError      = "StepError"
	OpStepFailed     = "StepFailed"
	OpStepPlanned    = "StepPlanned"
	OpSleep          = "Sleep"
	OpWaitForEvent   = "WaitForEvent"
	OpInvokeFunction = "InvokeFunction"
	OpWaitForSignal  = "WaitForSignal"
	OpGateway        = "Gateway"
	OpAIGateway      = "AIGateway"
)

// Op is one generator opcode, in a 206 response or a checkpoint. It has
// every field the server's GeneratorOpcode reads: "data" is always
// present (null when the op has none), because the server decodes an
// absent "data" differently from a null one.
type Op struct {
	ID          string          `json:"id"`
	Op          string          `json:"op"`
	Name        string          `json:"name"`
	DisplayName string          `json:"displayName"`
	Opts        any             `json:"opts,omitempty"`
	Data        json.RawMessage `json:"data"`
	Error       *Error          `json:"error,omitempty"`
	// Timing is when the SDK ran the step's body, for steps it ran: the
	// server draws the step's span from it (for a checkpointed step it
	// has nothing else).
	Timing *Interval `json:"timing,omitempty"`
	// Userland is the step's ID as the user wrote it.
	Userland Userland `json:"userland"`
}

// Interval is a span of time as the server reads it: A is the start in
// Unix nanoseconds, B the duration in nanoseconds.
type Interval struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

// NewInterval returns the interval from start to end.
func NewInterval(start, end time.Time) *Interval {
	return &Interval{A: start.UnixNano(), B: end.Sub(start).Nanoseconds()}
}

// Userland names a step as the user wrote it: its ID and, for an ID
// used more than once in a call, the 0-based occurrence (omitted for the
// first).
type Userland struct {
	ID    string `json:"id"`
	Index int    `json:"index,omitempty"`
}

// Error is the serialized error shape the server reads: name, message and
// stack, plus optional data and cause.
type Error struct {
	Name    string          `json:"name"`
	Message string          `json:"message"`
	Stack   string          `json:"stack,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Cause   json.RawMessage `json:"cause,omitempty"`
}

// Memo is the envelope of a memoized Run, Invoke or Gateway step:
// {"data": ...} or {"error": {...}}. An {"input": [...]} entry carries
// replacement input and is not a result.
type Memo struct {
	Data  json.RawMessage `json:"data"`
	Error *MemoError      `json:"error"`
	Input json.RawMessage `json:"input"`
}

// MemoError is a stored step error. It tolerates every shape the server
// stores (the "error" key holds a driver string on some of them).
type MemoError struct {
	Name    string          `json:"name"`
	Message string          `json:"message"`
	Stack   string          `json:"stack"`
	Error   string          `json:"error"`
	Data    json.RawMessage `json:"data"`
	Cause   json.RawMessage `json:"cause"`
}

// HashID returns the step hash for the n-th (0-based) occurrence of id in
// one execution: sha1(id) for the first, sha1(id + ":" + n) after.
func HashID(id string, n int) string {
	var text [2 * sha1.Size]byte
	AppendHashID(text[:0], id, n)
	return string(text[:])
}

// CachedHashID returns HashID(id, n), from a small process-wide cache
// when id was hashed recently. A function's step IDs are mostly the same
// strings on every call, and every memoized step is hashed again on each
// call of its run, so most lookups hit: a hit costs a hash of id and a
// comparison or two, against a SHA-1 and a hex encoding. The cache is
// two-way set-associative and bounded (hashCacheSlots entries, of IDs at
// most maxCachedID bytes long); a collision only evicts.
func CachedHashID(id string, n int) string {
	if len(id) > maxCachedID {
		return HashID(id, n)
	}
	x := maphash.String(hashSeed, id) + uint64(n)*0x9e3779b97f4a7c15
	set := hashCache[(x>>1)%(hashCacheSlots/2)*2:][:2]
	for i := range set {
		if e := set[i].Load(); e != nil && e.n == n && e.id == id {
			return e.hash
		}
	}
	h := HashID(id, n)
	// The ID is copied so that an entry never holds on to a larger
	// string id was cut from.
	e := &hashEntry{id: strings.Clone(id), n: n, hash: h}
	// An empty way first; else the way the hash's low bit picks.
	if !set[0].CompareAndSwap(nil, e) && !set[1].CompareAndSwap(nil, e) {
		set[x&1].Store(e)
	}
	return h
}

const (
	hashCacheSlots = 4096
	maxCachedID    = 128
)

// hashEntry is one remembered step hash.
type hashEntry struct {
	id   string
	n    int
	hash string
}

var (
	hashCache [hashCacheSlots]atomic.Pointer[hashEntry]
	hashSeed  = maphash.MakeSeed()
)

// AppendHashID appends the hash HashID returns to dst, without
// allocating when dst has room for its 40 bytes.
func AppendHashID(dst []byte, id string, n int) []byte {
	var buf [96]byte
	b := append(buf[:0], id...)
	if n > 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	sum := sha1.Sum(b)
	return hex.AppendEncode(dst, sum[:])
}

// Marshal returns the JSON of v without escaping HTML characters, as the
// server and the other SDKs write it.
func Marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
