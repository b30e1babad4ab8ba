// Why this file exists (measured with go1.26.8 on a shared 2-core
// linux/amd64 VM; CPU time per call, medians of 8 interleaved runs;
// bench/README.md, "JSON decoding", has the benchstat tables):
//
//   - DecodeRequest, one pass over a call body, against json.Unmarshal
//     into a Request: 28 µs and 13 allocations against 201 µs and 437 with
//     100 memoized steps; 288 µs and 15 allocations against 2.08 ms and
//     4,051 with 1,000. The fastest libraries measured (segmentio/encoding,
//     goccy/go-json, sonic) take 56-75 µs at 100 steps and 700-750 µs at
//     1,000, with over 3,000 allocations.
//   - DecodeMemo, a memo envelope: 64 ns and no allocation, against
//     1,193 ns and 7 allocations (libraries: 260-680 ns, 2-4 allocations).
//   - Unmarshal's pooled json.Decoder, for the types value.go leaves to
//     encoding/json: a small struct with an embedded field in 2
//     allocations against json.Unmarshal's 7, in about the same time
//     (861 ns against 1,101 ns, within the noise).

package wire

import (
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// DecodeRequest decodes a call's body into req, with the result and the
// errors of json.Unmarshal(body, req).
//
// It scans the body once and keeps raw values (the event, the events,
// every memoized step) as slices of body, which must therefore not be
// modified afterwards. Strings share one allocation per kind (all step
// keys, all stack entries). Whatever the fast path does not handle
// exactly as encoding/json would (escaped or misspelt keys, duplicate
// keys, type mismatches, syntax errors, fields it does not know) is
// decoded again by json.Unmarshal.
func DecodeRequest(body []byte, req *Request) error {
	d := decoderPool.Get().(*requestDecoder)
	ok := d.decode(body, req)
	d.reset()
	decoderPool.Put(d)
	if ok {
		return nil
	}
	// Decoding into a new value keeps req from escaping to the heap.
	slow := new(Request)
	err := json.Unmarshal(body, slow)
	*req = *slow
	return err
}

// span is the offsets of a key and its value in the body.
type span struct{ ks, ke, vs, ve int }

type requestDecoder struct {
	spans []span
	keys  []byte
}

var decoderPool = sync.Pool{New: func() any { return new(requestDecoder) }}

func (d *requestDecoder) reset() {
	if cap(d.spans) > 1<<16 {
		d.spans = nil
	}
	if cap(d.keys) > 1<<20 {
		d.keys = nil
	}
	d.spans, d.keys = d.spans[:0], d.keys[:0]
}

// The members of each object, for the duplicate-key check.
const (
	fEvent = 1 << iota
	fEvents
	fSteps
	fCtx
	fVersion
	fUseAPI
)

const (
	cFnID = 1 << iota
	cRunID
	cEnv
	cStepID
	cAttempt
	cMaxAttempts
	cStack
	cQueueItemID
	cRequestID
	cGenerationID
	cDisableImmediate
	cUseAPI
)

// decode is the fast path; false means "use encoding/json".
func (d *requestDecoder) decode(b []byte, req *Request) bool {
	var o objectScanner
	if !o.open(b, skipSpace(b, 0)) {
		return false
	}
	seen := 0
	for o.next() {
		if o.escaped {
			return false
		}
		var f int
		switch string(o.key()) {
		case "event":
			f = fEvent
			end, ok := scanValue(b, o.i, 1)
			if !ok {
				return false
			}
			req.Event = b[o.i:end:end]
			o.i = end
		case "events":
			f = fEvents
			if !d.events(&o, req) {
				return false
			}
		case "steps":
			f = fSteps
			if !d.steps(&o, req) {
				return false
			}
		case "ctx":
			f = fCtx
			if !d.ctx(&o, &req.Ctx) {
				return false
			}
		case "version":
			f = fVersion
			if !intValue(&o, &req.Version) {
				return false
			}
		case "use_api":
			f = fUseAPI
			if !boolValue(&o, &req.UseAPI) {
				return false
			}
		default:
			if !unknownKey(o.key(), requestFields) || !o.skip() {
				return false
			}
		}
		if seen&f != 0 {
			return false
		}
		seen |= f
	}
	return o.ok && skipSpace(b, o.i) == len(b)
}

// events decodes the "events" array into req.Events.
func (d *requestDecoder) events(o *objectScanner, req *Request) bool {
	b, i := o.b, o.i
	if i < len(b) && b[i] == 'n' {
		end, ok := scanLiteral(b, i, "null")
		req.Events, o.i = nil, end
		return ok
	}
	if i >= len(b) || b[i] != '[' {
		return false
	}
	events := make([]json.RawMessage, 0, 1)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		req.Events, o.i = events, i+1
		return true
	}
	for {
		end, ok := scanValue(b, i, 2)
		if !ok {
			return false
		}
		events = append(events, b[i:end:end])
		if i = skipSpace(b, end); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			req.Events, o.i = events, i+1
			return true
		default:
			return false
		}
	}
}

// steps decodes the "steps" object into req.Steps. Its keys are copied
// into one string, which the map's keys share.
func (d *requestDecoder) steps(o *objectScanner, req *Request) bool {
	b := o.b
	var m objectScanner
	if null, ok := openObject(o, &m); null || !ok {
		req.Steps = nil
		return ok
	}
	d.spans, d.keys = d.spans[:0], d.keys[:0]
	for m.next() {
		key := m.key()
		if !validPlain(m.kind, key) {
			return false
		}
		end, ok := scanValue(b, m.i, 2)
		if !ok {
			return false
		}
		d.spans = append(d.spans, span{ks: len(d.keys), ke: len(d.keys) + len(key), vs: m.i, ve: end})
		d.keys = append(d.keys, key...)
		m.i = end
	}
	if !m.ok {
		return false
	}
	keys := string(d.keys)
	steps := make(map[string]json.RawMessage, len(d.spans))
	for _, s := range d.spans {
		steps[keys[s.ks:s.ke]] = b[s.vs:s.ve:s.ve]
	}
	req.Steps, o.i = steps, m.i
	return true
}

// openObject starts m on the object at o.i. A JSON null there is
// skipped and reported as null (the caller leaves its target zero); ok
// is false for anything but an object or null.
func openObject(o, m *objectScanner) (null, ok bool) {
	if o.i < len(o.b) && o.b[o.i] == 'n' {
		end, ok := scanLiteral(o.b, o.i, "null")
		o.i = end
		return true, ok
	}
	return false, m.open(o.b, o.i)
}

// ctx decodes the "ctx" object into c.
func (d *requestDecoder) ctx(o *objectScanner, c *RequestCtx) bool {
	var m objectScanner
	if null, ok := openObject(o, &m); null || !ok {
		return ok
	}
	seen := 0
	for m.next() {
		if m.escaped {
			return false
		}
		var f int
		ok := true
		switch string(m.key()) {
		case "fn_id":
			f, ok = cFnID, stringValue(&m, &c.FnID)
		case "run_id":
			f, ok = cRunID, stringValue(&m, &c.RunID)
		case "env":
			f, ok = cEnv, stringValue(&m, &c.Env)
		case "step_id":
			f, ok = cStepID, stringValue(&m, &c.StepID)
		case "attempt":
			f, ok = cAttempt, intValue(&m, &c.Attempt)
		case "max_attempts":
			f, ok = cMaxAttempts, intValue(&m, &c.MaxAttempts)
		case "stack":
			f, ok = cStack, d.stack(&m, &c.Stack)
		case "qi_id":
			f, ok = cQueueItemID, stringValue(&m, &c.QueueItemID)
		case "request_id":
			f, ok = cRequestID, stringValue(&m, &c.RequestID)
		case "generation_id":
			f, ok = cGenerationID, intValue(&m, &c.GenerationID)
		case "disable_immediate_execution":
			f, ok = cDisableImmediate, boolValue(&m, &c.DisableImmediateExecution)
		case "use_api":
			f, ok = cUseAPI, boolValue(&m, &c.UseAPI)
		default:
			ok = unknownKey(m.key(), ctxFields) && m.skip()
		}
		if !ok || seen&f != 0 {
			return false
		}
		seen |= f
	}
	o.i = m.i
	return m.ok
}

// stack decodes the "stack" object into s. The hashes share one string.
func (d *requestDecoder) stack(o *objectScanner, s *Stack) bool {
	var m objectScanner
	if null, ok := openObject(o, &m); null || !ok {
		return ok
	}
	seen := 0
	for m.next() {
		if m.escaped {
			return false
		}
		switch string(m.key()) {
		case "current":
			if seen&1 != 0 || !intValue(&m, &s.Current) {
				return false
			}
			seen |= 1
		case "stack":
			if seen&2 != 0 || !d.hashes(&m, &s.Stack) {
				return false
			}
			seen |= 2
		default:
			if !unknownKey(m.key(), stackFields) || !m.skip() {
				return false
			}
		}
	}
	o.i = m.i
	return m.ok
}

// hashes decodes an array of strings without escapes into out; the
// strings share one allocation.
func (d *requestDecoder) hashes(o *objectScanner, out *[]string) bool {
	b, i := o.b, o.i
	if i < len(b) && b[i] == 'n' {
		end, ok := scanLiteral(b, i, "null")
		*out, o.i = nil, end
		return ok
	}
	if i >= len(b) || b[i] != '[' {
		return false
	}
	start := i
	d.spans = d.spans[:0]
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		*out, o.i = []string{}, i+1
		return true
	}
	for {
		switch {
		case i < len(b) && b[i] == '"':
			end, kind, ok := scanString(b, i)
			if !ok || !validPlain(kind, b[i+1:end-1]) {
				return false
			}
			d.spans = append(d.spans, span{ks: i + 1 - start, ke: end - 1 - start})
			i = end
		case i < len(b) && b[i] == 'n':
			end, ok := scanLiteral(b, i, "null")
			if !ok {
				return false
			}
			d.spans = append(d.spans, span{})
			i = end
		default:
			return false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case ']':
		default:
			return false
		}
		break
	}
	text := string(b[start : i+1])
	list := make([]string, len(d.spans))
	for k, s := range d.spans {
		list[k] = text[s.ks:s.ke]
	}
	*out, o.i = list, i+1
	return true
}

// stringValue decodes a string without escapes, or null, into *s.
func stringValue(o *objectScanner, s *string) bool {
	b, i := o.b, o.i
	switch {
	case i < len(b) && b[i] == '"':
		end, kind, ok := scanString(b, i)
		if !ok || !validPlain(kind, b[i+1:end-1]) {
			return false
		}
		*s, o.i = string(b[i+1:end-1]), end
		return true
	case i < len(b) && b[i] == 'n':
		end, ok := scanLiteral(b, i, "null")
		o.i = end
		return ok
	}
	return false
}

// intValue decodes an integer, or null, into *n.
func intValue(o *objectScanner, n *int) bool {
	b, i := o.b, o.i
	if i < len(b) && b[i] == 'n' {
		end, ok := scanLiteral(b, i, "null")
		o.i = end
		return ok
	}
	end, integer, ok := scanNumber(b, i)
	if !ok || !integer {
		return false
	}
	v, err := strconv.ParseInt(string(b[i:end]), 10, strconv.IntSize)
	if err != nil {
		return false
	}
	*n, o.i = int(v), end
	return true
}

// boolValue decodes true, false or null into *v.
func boolValue(o *objectScanner, v *bool) bool {
	b, i := o.b, o.i
	if i >= len(b) {
		return false
	}
	var end int
	var ok bool
	switch b[i] {
	case 't':
		end, ok = scanLiteral(b, i, "true")
		*v = true
	case 'f':
		end, ok = scanLiteral(b, i, "false")
		*v = false
	case 'n':
		end, ok = scanLiteral(b, i, "null")
	}
	o.i = end
	return ok
}

// unknownKey reports whether key may be skipped: encoding/json matches
// keys to fields case-insensitively (with Unicode folding), so a key is
// skipped only when it is ASCII and matches no field in any case.
func unknownKey(key []byte, fields []string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, f := range fields {
		if strings.EqualFold(string(key), f) {
			return false
		}
	}
	return true
}

// jsonFields returns the JSON names of t's fields.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

var (
	requestFields = jsonFields(reflect.TypeFor[Request]())
	ctxFields     = jsonFields(reflect.TypeFor[RequestCtx]())
	stackFields   = jsonFields(reflect.TypeFor[Stack]())
	memoFields    = jsonFields(reflect.TypeFor[Memo]())
)

// DecodeMemo decodes a memoized step's value into m, with the result and
// the errors of json.Unmarshal(raw, m). Data and Input are slices of raw.
func DecodeMemo(raw []byte, m *Memo) error {
	if decodeMemo(raw, m) {
		return nil
	}
	slow := new(Memo)
	err := json.Unmarshal(raw, slow)
	*m = *slow
	return err
}

func decodeMemo(raw []byte, m *Memo) bool {
	var o objectScanner
	if !o.open(raw, skipSpace(raw, 0)) {
		return false
	}
	seen := 0
	for o.next() {
		if o.escaped {
			return false
		}
		var f int
		switch string(o.key()) {
		case "data":
			f = 1
			end, ok := scanValue(raw, o.i, 1)
			if !ok {
				return false
			}
			m.Data, o.i = raw[o.i:end:end], end
		case "input":
			f = 2
			end, ok := scanValue(raw, o.i, 1)
			if !ok {
				return false
			}
			m.Input, o.i = raw[o.i:end:end], end
		case "error":
			f = 4
			start := o.i
			if !o.skip() {
				return false
			}
			if raw[start] == 'n' {
				m.Error = nil
				break
			}
			if raw[start] != '{' {
				return false
			}
			e := new(MemoError)
			if json.Unmarshal(raw[start:o.i], e) != nil {
				return false
			}
			m.Error = e
		default:
			if !unknownKey(o.key(), memoFields) || !o.skip() {
				return false
			}
		}
		if seen&f != 0 {
			return false
		}
		seen |= f
	}
	return o.ok && skipSpace(raw, o.i) == len(raw)
}

// IsInput reports whether raw is an {"input": …} entry: replacement
// input for a step that has not finished, not a result.
func IsInput(raw []byte) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	// A result starts with "data" (the server writes no other key
	// first), and then Data is set whatever follows, or the value is
	// invalid: either way it is not an input entry.
	if i = skipSpace(raw, i+1); len(raw)-i >= 6 && string(raw[i:i+6]) == `"data"` {
		return false
	}
	var m Memo
	if DecodeMemo(raw, &m) != nil {
		return false
	}
	return m.Input != nil && m.Data == nil && m.Error == nil
}

// Unmarshal decodes data into v with the result and the errors of
// json.Unmarshal(data, v). A zero value of a plain type (see value.go)
// is decoded by a decoder compiled for its type. Other small values go
// through a pooled
// json.Decoder, which keeps its scratch state between values and so
// allocates little beyond what v needs.
func Unmarshal(data []byte, v any) error {
	// Zero targets of the types the compiled decoders cover are decoded
	// by them; when they give up, the target is zeroed again.
	if decodeCompiled(data, skipSpace(data, 0), v, atEnd) {
		return nil
	}
	return unmarshalStd(data, v)
}

// UnmarshalData decodes the data of a memoized step's entry raw into v,
// which points to a zero value, in one pass over raw, for the entry the
// server writes for a finished step: {"data": X} and nothing else. It
// reports false, with v left zero, for any other entry and whenever the
// compiled decoders of value.go give up on X; the caller then decodes
// raw with DecodeMemo and Unmarshal, which give encoding/json's results
// and errors. Where it reports true, v holds what those two would have
// stored: X is the entry's only member, so nothing else of the entry
// changes the result.
//
// The two-pass path scans X once to find its end and again to decode
// it; for a 2 KiB document the first scan is an eighth of a memoized
// step's cost.
func UnmarshalData(raw []byte, v any) bool {
	i := dataStart(raw)
	if i < 0 {
		return false
	}
	return decodeCompiled(raw, i, v, entryEnd)
}

// dataStart returns the index of X in raw, an entry {"data": X}, or -1
// when raw does not start that way.
func dataStart(raw []byte) int {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return -1
	}
	if i = skipSpace(raw, i+1); len(raw)-i < 6 || string(raw[i:i+6]) != `"data"` {
		return -1
	}
	if i = skipSpace(raw, i+6); i >= len(raw) || raw[i] != ':' {
		return -1
	}
	return skipSpace(raw, i+1)
}

// entryEnd reports whether raw[i:] is the closing brace of an entry,
// with nothing after it but spaces.
func entryEnd(raw []byte, i int) bool {
	i = skipSpace(raw, i)
	return i < len(raw) && raw[i] == '}' && skipSpace(raw, i+1) == len(raw)
}

// unmarshalStd is json.Unmarshal(data, v), through a pooled json.Decoder
// for small values.
func unmarshalStd(data []byte, v any) error {
	if len(data) > maxPooledValue {
		return json.Unmarshal(data, v)
	}
	// The decoder sees only data that is one valid value: it then
	// stores into v exactly what json.Unmarshal stores, and its buffer
	// keeps nothing for the next value. Anything else (a syntax error
	// leaves v untouched in json.Unmarshal) is left to encoding/json.
	end, ok := scanValue(data, skipSpace(data, 0), 0)
	if !ok || skipSpace(data, end) != len(data) {
		return json.Unmarshal(data, v)
	}
	d := valueDecoders.Get().(*valueDecoder)
	d.r.b = data[:end]
	err := d.dec.Decode(v)
	d.r.b = nil
	if err != nil {
		// The error json.Unmarshal returns (the same decoding into v
		// failed); the decoder is not reused.
		return err
	}
	valueDecoders.Put(d)
	return nil
}

// maxPooledValue bounds the values decoded by pooled decoders, whose
// buffers grow to the largest value they decoded.
const maxPooledValue = 16 << 10

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

type valueDecoder struct {
	r   sliceReader
	dec *json.Decoder
}

var valueDecoders = sync.Pool{New: func() any {
	d := new(valueDecoder)
	d.dec = json.NewDecoder(&d.r)
	return d
}}
