// Why this file exists (measured with go1.26.8 on a shared 2-core
// linux/amd64 VM; CPU time per call, medians of 6 interleaved runs, ±20%
// to ±50% under the load of other builds; bench/README.md, "JSON
// decoding", has the method and the libraries measured beside it):
//
//   - A step result decoded into its Go type (BenchmarkUnmarshal) costs
//     this file's decoders, against json.Unmarshal: a small struct 336 ns
//     and 2 allocations against 1,183 ns and 6; map[string]any with four
//     keys 0.9 µs and 6 allocations against 1.8 µs and 20; a slice of 10
//     structs 2.2 µs and 3 against 9.6 µs and 21; a 2 KiB nested document
//     17 µs and 36 against 44 µs and 180; a 10 KiB string 12 µs and 2
//     against 73 µs and 4. The allocations are what the official Go SDK
//     pays per memoized step on top of its own; they decide whether a
//     call with 100 or 1,000 memoized map or document results costs a
//     quarter of its allocations. goccy/go-json is faster still, but no
//     maintained library gives encoding/json's results and errors
//     (bench/json_test.go counts where each differs), and the SDK depends
//     on nothing but the standard library and jcs.
//   - Where the allocations went: a value's short strings (and map keys)
//     share one buffer (text); slices and []any are decoded into a kept
//     scratch slice and copied once at their exact length; a map's key
//     and element are reused for every member, and map[string]any and
//     map[string]string are built without reflection per member; small
//     integers in interface{} are boxed once, at init.
//   - Without this file (Unmarshal through decode.go's pooled
//     json.Decoder), the handler with 100 memoized steps took 273 µs of
//     CPU instead of 170 µs, and with 1,000 steps 2.19 ms instead of
//     1.32 ms (before the changes above).

package wire

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A decoder for the values user code reads (step results, events), built
// once per Go type from reflection. It covers the plain shapes such
// values have: booleans, numbers, strings, structs without embedded
// fields, pointers, slices, string-keyed maps, interface{} and types with
// an UnmarshalJSON method. It gives up (returns false) on anything else,
// on anything encoding/json would treat specially (duplicate keys, keys
// that are escaped or not ASCII, type mismatches, overflow) and on syntax
// errors; Unmarshal then zeroes the target and lets encoding/json decode
// it, so that results and errors stay exactly those of json.Unmarshal.

// valueState is the input of one decode, and the buffers it reuses.
type valueState struct {
	b     []byte
	i     int
	depth int
	// strs is the buffer the value's short strings (and map keys) are
	// carved from, so that they cost one allocation between them; see
	// text. A new value starts a new buffer.
	strs strings.Builder
	// tmp holds a string's unescaped text on its way to becoming a
	// string.
	tmp []byte
	// list is a stack of the []any elements being decoded, which are
	// copied into a slice of their exact length at the array's end.
	list []any
}

const (
	// maxSharedString is the longest string carved from the shared
	// buffer; longer ones are allocated on their own.
	maxSharedString = 256
	// stringChunk bounds the shared buffer's size, and so the memory a
	// short string kept by user code can hold on to.
	stringChunk = 4096
	// Scratch buffers larger than these are not kept for the next value.
	maxKeptTmp  = 64 << 10
	maxKeptList = 4096
)

// text returns b as a string. Short strings share a buffer with the
// other short strings of the value being decoded, which saves an
// allocation for each of them. The buffer is never written again where
// a string was carved from it (strings.Builder only appends), so the
// strings stay immutable.
func (s *valueState) text(b []byte) string {
	n := len(b)
	switch {
	case n == 0:
		return ""
	case n > maxSharedString:
		return string(b)
	}
	if s.strs.Cap()-s.strs.Len() < n {
		// Room for half of the rest of the input: strings are seldom
		// more of a value than that (each has its quotes, and most sit
		// beside a key or among numbers), and a chunk sized to all of
		// it was more than twice what a 2 KiB document needed. A value
		// made of little else takes a few more chunks, each half of
		// what is left.
		s.strs = strings.Builder{}
		s.strs.Grow(max(n, min((len(s.b)-s.i)/2+n, stringChunk)))
	}
	start := s.strs.Len()
	s.strs.Write(b)
	return s.strs.String()[start:]
}

// decodeFunc decodes the value at s.i (not at a space) into v, which is
// addressable and zero, and leaves s.i after it.
type decodeFunc func(s *valueState, v reflect.Value) bool

type decoderEntry struct {
	fn   decodeFunc // nil for types not covered
	done bool
}

// valueDecoderCache maps a reflect.Type to its *decoderEntry.
var valueDecoderCache sync.Map

// decoderFor returns the decoder of t, or nil when t is not covered.
func decoderFor(t reflect.Type) decodeFunc {
	if e, ok := valueDecoderCache.Load(t); ok {
		return e.(*decoderEntry).fn
	}
	c := compiler{building: map[reflect.Type]*decoderEntry{}}
	fn := c.compile(t)
	// Only the top type is cached: the decoders of the types inside it
	// were built assuming their enclosing types are covered.
	valueDecoderCache.Store(t, &decoderEntry{fn: fn})
	return fn
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	numberType          = reflect.TypeFor[json.Number]()
)

type compiler struct {
	building map[reflect.Type]*decoderEntry
}

func (c *compiler) compile(t reflect.Type) decodeFunc {
	if e, ok := c.building[t]; ok {
		if e.done {
			return e.fn
		}
		// A recursive type: call through the entry, filled in below.
		return func(s *valueState, v reflect.Value) bool { return e.fn(s, v) }
	}
	e := &decoderEntry{}
	c.building[t] = e
	e.fn = c.build(t)
	e.done = true
	return e.fn
}

func (c *compiler) build(t reflect.Type) decodeFunc {
	switch {
	case t == rawMessageType:
		return decodeRawMessage
	case t == numberType:
		return nil
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType):
		return decodeUnmarshaler
	case t.Kind() == reflect.Pointer:
		// *T decodes into a new T, whose own methods count.
	case t.Implements(unmarshalerType), t.Implements(textUnmarshalerType),
		reflect.PointerTo(t).Implements(textUnmarshalerType):
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return decodeBool
	case reflect.String:
		return decodeString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return decodeUint
	case reflect.Float32, reflect.Float64:
		return decodeFloat
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil
		}
		return decodeInterface
	case reflect.Pointer:
		elem := c.compile(t.Elem())
		if elem == nil {
			return nil
		}
		return pointerDecoder(t.Elem(), elem)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 text in encoding/json
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return nil
		}
		return sliceDecoder(t, elem)
	case reflect.Map:
		k := t.Key()
		if k.Kind() != reflect.String || reflect.PointerTo(k).Implements(textUnmarshalerType) || k.Implements(textUnmarshalerType) {
			return nil
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return nil
		}
		return mapDecoder(t, elem)
	case reflect.Struct:
		return c.structDecoder(t)
	}
	return nil
}

// null handles null (a no-op on a zero value) and reports whether
// the value at s.i was null.
func (s *valueState) null() (isNull, ok bool) {
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		end, ok := scanLiteral(s.b, s.i, "null")
		s.i = end
		return true, ok
	}
	return false, true
}

func decodeRawMessage(s *valueState, v reflect.Value) bool {
	end, ok := scanValue(s.b, s.i, s.depth)
	if !ok {
		return false
	}
	v.SetBytes(append([]byte(nil), s.b[s.i:end]...))
	s.i = end
	return true
}

func decodeUnmarshaler(s *valueState, v reflect.Value) bool {
	end, ok := scanValue(s.b, s.i, s.depth)
	if !ok {
		return false
	}
	if v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(s.b[s.i:end]) != nil {
		return false
	}
	s.i = end
	return true
}

func decodeBool(s *valueState, v reflect.Value) bool {
	b, i := s.b, s.i
	if i >= len(b) {
		return false
	}
	var ok bool
	switch b[i] {
	case 't':
		s.i, ok = scanLiteral(b, i, "true")
		v.SetBool(true)
	case 'f':
		s.i, ok = scanLiteral(b, i, "false")
	case 'n':
		s.i, ok = scanLiteral(b, i, "null")
	}
	return ok
}

func decodeString(s *valueState, v reflect.Value) bool {
	if isNull, ok := s.null(); isNull {
		return ok
	}
	str, ok := s.str()
	if ok {
		v.SetString(str)
	}
	return ok
}

// str decodes the string at s.i.
func (s *valueState) str() (string, bool) {
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return "", false
	}
	end, kind, ok := scanString(b, i)
	if !ok {
		return "", false
	}
	s.i = end
	return s.unquote(b[i+1:end-1], kind), true
}

// unquote returns the text of a valid JSON string, of the given kind
// (see scanString), as a string.
func (s *valueState) unquote(text []byte, kind uint8) string {
	if validPlain(kind, text) {
		return s.text(text)
	}
	s.tmp = appendUnquoted(s.tmp[:0], text)
	return s.text(s.tmp)
}

// appendUnquoted appends the text of a valid JSON string to out as
// encoding/json decodes it: escapes are resolved, and bytes that are not
// UTF-8 and lone surrogates become U+FFFD.
func appendUnquoted(out, text []byte) []byte {
	for r := 0; r < len(text); {
		// A run of plain ASCII, found eight bytes at a time (the text
		// has no quotes or control characters: it was scanned), and
		// copied at once.
		j := r
		for j+8 <= len(text) {
			x := binary.LittleEndian.Uint64(text[j:])
			if m := special(x) | x&msb; m != 0 {
				j += bits.TrailingZeros64(m) / 8
				break
			}
			j += 8
		}
		for j < len(text) && text[j] != '\\' && text[j] < utf8.RuneSelf {
			j++
		}
		out = append(out, text[r:j]...)
		if r = j; r == len(text) {
			break
		}
		c := text[r]
		switch {
		case c == '\\':
			switch text[r+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(text[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					next := rune(-1)
					if r+6 <= len(text) && text[r] == '\\' && text[r+1] == 'u' {
						next = hex4(text[r+2:])
					}
					if dec := utf16.DecodeRune(rr, next); dec != unicode.ReplacementChar {
						r += 6
						out = utf8.AppendRune(out, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // '"', '\\', '/'
				out = append(out, text[r+1])
			}
			r += 2
		default:
			rr, size := utf8.DecodeRune(text[r:])
			if rr == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, unicode.ReplacementChar)
			} else {
				out = append(out, text[r:r+size]...)
			}
			r += size
		}
	}
	return out
}

// hex4 reads the four hex digits the scanner checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number returns the integer or number text at s.i.
func (s *valueState) number() ([]byte, bool, bool) {
	end, integer, ok := scanNumber(s.b, s.i)
	if !ok {
		return nil, false, false
	}
	text := s.b[s.i:end]
	s.i = end
	return text, integer, true
}

func decodeInt(s *valueState, v reflect.Value) bool {
	if isNull, ok := s.null(); isNull {
		return ok
	}
	text, integer, ok := s.number()
	if !ok || !integer {
		return false
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil || v.OverflowInt(n) {
		return false
	}
	v.SetInt(n)
	return true
}

func decodeUint(s *valueState, v reflect.Value) bool {
	if isNull, ok := s.null(); isNull {
		return ok
	}
	text, integer, ok := s.number()
	if !ok || !integer {
		return false
	}
	n, err := strconv.ParseUint(string(text), 10, 64)
	if err != nil || v.OverflowUint(n) {
		return false
	}
	v.SetUint(n)
	return true
}

func decodeFloat(s *valueState, v reflect.Value) bool {
	if isNull, ok := s.null(); isNull {
		return ok
	}
	text, _, ok := s.number()
	if !ok {
		return false
	}
	bitSize := v.Type().Bits()
	if bitSize == 64 { // float32 would round twice
		if f, ok := shortDecimal(text); ok {
			v.SetFloat(f)
			return true
		}
	}
	f, err := strconv.ParseFloat(string(text), bitSize)
	if err != nil || v.OverflowFloat(f) {
		return false
	}
	v.SetFloat(f)
	return true
}

func decodeInterface(s *valueState, v reflect.Value) bool {
	x, ok := s.any()
	if ok && x != nil {
		v.Set(reflect.ValueOf(x))
	}
	return ok
}

// any decodes the value at s.i into the types encoding/json uses for
// interface{}: map[string]any, []any, string, float64, bool or nil.
func (s *valueState) any() (any, bool) {
	b := s.b
	if s.i >= len(b) {
		return nil, false
	}
	switch c := b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object()
	case c == '[':
		if s.depth >= maxDepth {
			return nil, false
		}
		s.depth++
		base := len(s.list)
		ok := s.elements(func() bool {
			x, ok := s.any()
			s.list = append(s.list, x)
			return ok
		})
		s.depth--
		list := make([]any, len(s.list)-base) // [] is an empty slice, not nil
		copy(list, s.list[base:])
		clear(s.list[base:])
		s.list = s.list[:base]
		return list, ok
	case c == 't':
		end, ok := scanLiteral(b, s.i, "true")
		s.i = end
		return true, ok
	case c == 'f':
		end, ok := scanLiteral(b, s.i, "false")
		s.i = end
		return false, ok
	case c == 'n':
		end, ok := scanLiteral(b, s.i, "null")
		s.i = end
		return nil, ok
	default:
		text, integer, ok := s.number()
		if !ok {
			return nil, false
		}
		if integer && len(text) <= 3 && text[0] != '-' {
			n := 0
			for _, c := range text {
				n = n*10 + int(c-'0')
			}
			return smallNumbers[n], true
		}
		if f, ok := shortDecimal(text); ok {
			return f, true
		}
		f, err := strconv.ParseFloat(string(text), 64)
		return f, err == nil
	}
}

// shortDecimal parses text, a valid JSON number, into the float64
// nearest to it, as strconv.ParseFloat does, when that is one division
// of exact values: it has no exponent and at most 15 digits, so that its
// digits as an integer (below 10^15, under 2^53) and the power of ten of
// its fraction (at most 10^15, under 10^22) are exact as float64, and
// IEEE division rounds their quotient once, to the nearest. It reports
// false for any other number, which is left to strconv.
func shortDecimal(text []byte) (float64, bool) {
	i, neg := 0, false
	if len(text) > 0 && text[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac := 0, -1
	for ; i < len(text); i++ {
		switch c := text[i]; {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.':
			frac = 0
		default:
			return 0, false // an exponent
		}
		if digits > 15 {
			return 0, false
		}
	}
	f := float64(m)
	if frac > 0 {
		f /= exactPowers10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// exactPowers10 holds 10^0 to 10^15, each exact as a float64.
var exactPowers10 = [16]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// smallNumbers holds the integers 0 to 999 as interface{} values
// (float64), so that decoding one into interface{} does not allocate.
var smallNumbers = func() (a [1000]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

// object decodes the object at s.i into a map[string]any.
func (s *valueState) object() (map[string]any, bool) {
	if s.depth >= maxDepth {
		return nil, false
	}
	s.depth++
	m := map[string]any{}
	var o objectScanner
	o.open(s.b, s.i)
	for o.next() {
		key := s.key(&o)
		s.i = o.i
		var ok bool
		if m[key], ok = s.any(); !ok {
			return nil, false
		}
		o.i = s.i
	}
	s.i = o.i
	s.depth--
	return m, o.ok
}

// key decodes the key of o's current member, any string.
func (s *valueState) key(o *objectScanner) string {
	return s.unquote(o.key(), o.kind)
}

// elements calls elem for each element of the array at s.i, with s.i at
// the element.
func (s *valueState) elements(elem func() bool) bool {
	b := s.b
	i := skipSpace(b, s.i+1)
	if i < len(b) && b[i] == ']' {
		s.i = i + 1
		return true
	}
	for {
		s.i = i
		if !elem() {
			return false
		}
		if i = skipSpace(b, s.i); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			s.i = i + 1
			return true
		default:
			return false
		}
	}
}

func pointerDecoder(elemType reflect.Type, elem decodeFunc) decodeFunc {
	return func(s *valueState, v reflect.Value) bool {
		if isNull, ok := s.null(); isNull {
			return ok
		}
		p := reflect.New(elemType)
		if !elem(s, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	}
}

// scratch is a slice being decoded, kept between values by each slice
// or map decoder: its elements are decoded into it and then copied into
// a slice of their exact number, which costs one allocation instead of
// one for each time the slice would have grown.
type scratch struct {
	list reflect.Value // a slice, settable, all zero
}

// maxScratch is the most elements a kept scratch slice holds.
const maxScratch = 1024

func sliceDecoder(t reflect.Type, elem decodeFunc) decodeFunc {
	scratches := &sync.Pool{New: func() any { return &scratch{list: reflect.New(t).Elem()} }}
	empty := reflect.MakeSlice(t, 0, 0) // [] is an empty slice, not nil
	return func(s *valueState, v reflect.Value) bool {
		if isNull, ok := s.null(); isNull {
			return ok
		}
		if s.i >= len(s.b) || s.b[s.i] != '[' || s.depth >= maxDepth {
			return false
		}
		s.depth++
		sc := scratches.Get().(*scratch)
		list := sc.list
		n := 0
		ok := s.elements(func() bool {
			if n == list.Len() {
				list.Grow(max(n, 4))
				list.SetLen(list.Cap())
			}
			n++
			return elem(s, list.Index(n-1))
		})
		s.depth--
		if ok && n == 0 {
			v.Set(empty)
		} else if ok {
			// v is a zero slice: Grow gives it an array of n elements
			// (or a few more, to the allocator's size class).
			v.Grow(n)
			v.SetLen(n)
			reflect.Copy(v, list)
		}
		for i := range n {
			list.Index(i).SetZero()
		}
		if list.Cap() <= maxScratch {
			scratches.Put(sc)
		}
		return ok
	}
}

var (
	mapStringAnyType    = reflect.TypeFor[map[string]any]()
	mapStringStringType = reflect.TypeFor[map[string]string]()
)

// decodeMapStringString decodes a map[string]string without reflection
// for each member.
func decodeMapStringString(s *valueState, v reflect.Value) bool {
	if isNull, ok := s.null(); isNull {
		return ok
	}
	var o objectScanner
	if !o.open(s.b, s.i) || s.depth >= maxDepth {
		return false
	}
	m := map[string]string{}
	for o.next() {
		key := s.key(&o)
		s.i = o.i
		if isNull, ok := s.null(); isNull {
			if !ok {
				return false
			}
			m[key] = ""
		} else {
			str, ok := s.str()
			if !ok {
				return false
			}
			m[key] = str
		}
		o.i = s.i
	}
	s.i = o.i
	if o.ok {
		v.Set(reflect.ValueOf(m))
	}
	return o.ok
}

// mapHolders are a map decoder's key and element, reused for every
// member: SetMapIndex copies them into the map.
type mapHolders struct{ k, e reflect.Value }

func mapDecoder(t reflect.Type, elem decodeFunc) decodeFunc {
	if t == mapStringStringType {
		return decodeMapStringString
	}
	if t == mapStringAnyType {
		return func(s *valueState, v reflect.Value) bool {
			m, ok := s.objectOrNull()
			if ok && m != nil {
				v.Set(reflect.ValueOf(m))
			}
			return ok
		}
	}
	keyType, elemType := t.Key(), t.Elem()
	holders := &sync.Pool{New: func() any {
		return &mapHolders{k: reflect.New(keyType).Elem(), e: reflect.New(elemType).Elem()}
	}}
	return func(s *valueState, v reflect.Value) bool {
		if isNull, ok := s.null(); isNull {
			return ok
		}
		var o objectScanner
		if !o.open(s.b, s.i) || s.depth >= maxDepth {
			return false
		}
		s.depth++
		h := holders.Get().(*mapHolders)
		m := reflect.MakeMap(t)
		ok := true
		for o.next() {
			h.k.SetString(s.key(&o))
			s.i = o.i
			if !elem(s, h.e) {
				ok = false
				break
			}
			o.i = s.i
			m.SetMapIndex(h.k, h.e)
			h.e.SetZero()
		}
		h.k.SetString("")
		h.e.SetZero()
		holders.Put(h)
		if !ok {
			return false
		}
		s.depth--
		s.i = o.i
		if o.ok {
			v.Set(m)
		}
		return o.ok
	}
}

// structField is a field a JSON key decodes into.
type structField struct {
	name   string
	index  int
	decode decodeFunc
}

func (c *compiler) structDecoder(t reflect.Type) decodeFunc {
	var fields []structField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // embedding has rules of its own
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",string,") {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		if !plainName(name) {
			return nil
		}
		for _, g := range fields {
			if g.name == name {
				return nil // encoding/json drops both
			}
		}
		dec := c.compile(f.Type)
		if dec == nil {
			return nil
		}
		fields = append(fields, structField{name: name, index: i, decode: dec})
	}
	if len(fields) > 64 {
		return nil
	}
	return func(s *valueState, v reflect.Value) bool {
		if isNull, ok := s.null(); isNull {
			return ok
		}
		var o objectScanner
		if !o.open(s.b, s.i) || s.depth >= maxDepth {
			return false
		}
		s.depth++
		var seen uint64
		for o.next() {
			key := o.key()
			if o.escaped {
				return false
			}
			k := -1
			for j := range fields {
				if fields[j].name == string(key) {
					k = j
					break
				}
			}
			if k < 0 {
				for _, c := range key {
					if c >= utf8.RuneSelf {
						return false
					}
				}
				for j := range fields {
					if strings.EqualFold(fields[j].name, string(key)) {
						k = j
						break
					}
				}
			}
			if k < 0 {
				if !o.skip() {
					return false
				}
				continue
			}
			if seen&(1<<k) != 0 {
				return false // encoding/json merges a repeated key
			}
			seen |= 1 << k
			s.i = o.i
			if !fields[k].decode(s, v.Field(fields[k].index)) {
				return false
			}
			o.i = s.i
		}
		s.depth--
		s.i = o.i
		return o.ok
	}
}

// plainName reports whether a field's JSON name is made of ASCII
// letters, digits and '_', '-', '.'; other names are left to
// encoding/json.
func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return name != ""
}

// decodeCompiled decodes the value at data[at] (not at a space) into v,
// a pointer to a zero value, with the compiled decoders, and reports
// whether they covered v's type and took the value, and then ended(data,
// i) held for the index i after it. On false v is zero again. A
// map[string]any, the type results are most often decoded into when they
// are not structs, is decoded without reflection.
func decodeCompiled(data []byte, at int, v any, ended func(data []byte, i int) bool) bool {
	if p, isMap := v.(*map[string]any); isMap {
		if p == nil || *p != nil {
			return false
		}
		s := startValue(data, at)
		m, ok := s.objectOrNull()
		ok = ok && ended(data, s.i)
		endValue(s)
		if ok {
			*p = m
		}
		return ok
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	e := rv.Elem()
	dec := decoderFor(e.Type())
	if dec == nil || !e.IsZero() {
		return false
	}
	s := startValue(data, at)
	ok := dec(s, e) && ended(data, s.i)
	endValue(s)
	if !ok {
		e.SetZero()
	}
	return ok
}

// atEnd reports whether data has nothing but spaces from i on.
func atEnd(data []byte, i int) bool { return skipSpace(data, i) == len(data) }

// objectOrNull decodes the object or null at s.i as a map[string]any
// (nil for null).
func (s *valueState) objectOrNull() (map[string]any, bool) {
	if isNull, ok := s.null(); isNull {
		return nil, ok
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	return s.object()
}

// startValue returns a decode state for data, at the value at data[at].
func startValue(data []byte, at int) *valueState {
	s := valueStates.Get().(*valueState)
	s.b, s.i, s.depth = data, at, 1
	return s
}

// endValue recycles s once its value is decoded.
func endValue(s *valueState) {
	// The strings carved from s.strs are the value's: the next value
	// gets a new buffer. The scratch buffers are kept unless large.
	s.b, s.strs = nil, strings.Builder{}
	if cap(s.tmp) > maxKeptTmp {
		s.tmp = nil
	}
	clear(s.list)
	if s.list = s.list[:0]; cap(s.list) > maxKeptList {
		s.list = nil
	}
	valueStates.Put(s)
}

// valueStates recycles decode states, which escape through the
// decoders' indirect calls.
var valueStates = sync.Pool{New: func() any { return new(valueState) }}
