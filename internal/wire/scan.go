// Why this file exists: it is the one pass that DecodeRequest, DecodeMemo
// and the decoders of value.go make over their input, and the reason
// they beat encoding/json, which scans a value twice (once to validate
// it, once to decode it). The measurements are at the top of decode.go
// and value.go.

package wire

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// A small validating JSON scanner. It finds where values start and end
// without building them, so the decoders in this package can slice raw
// values out of a request instead of copying them, and check the syntax
// in the same pass. Every function takes the input and an offset and
// returns the offset after what it scanned; ok is false on a syntax
// error (the callers then fall back to encoding/json, which reports it).

// maxDepth bounds the nesting the scanner follows; deeper values are
// left to encoding/json.
const maxDepth = 1000

// skipSpace returns the offset of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\t', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special returns a mask with the high bit set in the first of the 8
// bytes of x (little-endian) that ends or escapes a string or is a
// control character ('"', '\\' or a byte below 0x20), or 0 when there
// is none. Bytes after the first such byte may be flagged too.
func special(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (s-lsb)&^s) & msb
}

// The kinds of string text scanString reports, as bits: plain ASCII
// text is 0.
const (
	escapedText  = 1 << iota // has escapes
	nonASCIIText             // has bytes above 0x7f (UTF-8 or not)
)

// scanString scans the string starting with the quote at b[i]. It
// reports the kind of its text: whether it has escapes, and whether it
// has bytes that are not ASCII (which then need UTF-8 validation).
func scanString(b []byte, i int) (end int, kind uint8, ok bool) {
	i++
	// hi gathers the bytes passed (ORed): their high bits tell of text
	// that is not ASCII, checked once at the end.
	var hi uint64
	for {
		// Eight bytes at a time, to the first special one.
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if m := special(w); m != 0 {
				n := bits.TrailingZeros64(m) / 8
				hi |= w & (1<<(8*n) - 1) // the bytes before it
				i += n
				break
			}
			hi |= w
			i += 8
		}
		if i >= len(b) {
			return 0, 0, false
		}
		switch c := b[i]; {
		case c == '"':
			if hi&msb != 0 {
				kind |= nonASCIIText
			}
			return i + 1, kind, true
		case c == '\\':
			kind |= escapedText
			if i+1 >= len(b) {
				return 0, 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, 0, false
				}
				i += 6
			default:
				return 0, 0, false
			}
		case c < 0x20:
			return 0, 0, false
		default:
			hi |= uint64(c)
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a number as JSON defines it. integer reports whether
// it has neither a fraction nor an exponent.
func scanNumber(b []byte, i int) (end int, integer, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false, false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, integer, true
}

// scanLiteral scans lit (true, false or null) at b[i].
func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// scanValue scans the value starting at b[i] (not at a space).
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; c {
	case '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case '{':
		if depth >= maxDepth {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			var ok bool
			if i, _, ok = scanString(b, i); !ok {
				return 0, false
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
				return 0, false
			}
			if i, ok = scanValue(b, skipSpace(b, i+1), depth+1); !ok {
				return 0, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case '[':
		if depth >= maxDepth {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanValue(b, i, depth+1); !ok {
				return 0, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	default:
		end, _, ok := scanNumber(b, i)
		return end, ok
	}
}

// objectScanner walks the members of one object. Use it as
//
//	o := objectScanner{b: b, i: start}
//	for o.next() { key := o.key(); … o.i = end of the value }
//	if !o.ok { … }
type objectScanner struct {
	b     []byte
	i     int // the offset of the current member's value, then after it
	ok    bool
	first bool
	// key span of the current member, without quotes
	ks, ke  int
	kind    uint8 // of the key's text (see scanString)
	escaped bool  // kind has escapedText
}

// open starts scanning the object at b[i]; it reports false when b[i]
// is not '{'.
func (o *objectScanner) open(b []byte, i int) bool {
	if i >= len(b) || b[i] != '{' {
		return false
	}
	o.b, o.i, o.ok, o.first = b, i+1, true, true
	return true
}

// next moves to the next member and reports whether there is one. After
// the last member o.i is just after the closing brace; on a syntax
// error o.ok is false.
func (o *objectScanner) next() bool {
	b := o.b
	i := skipSpace(b, o.i)
	if o.first {
		o.first = false
		if i < len(b) && b[i] == '}' {
			o.i = i + 1
			return false
		}
	} else {
		if i >= len(b) {
			o.ok = false
			return false
		}
		switch b[i] {
		case '}':
			o.i = i + 1
			return false
		case ',':
			i = skipSpace(b, i+1)
		default:
			o.ok = false
			return false
		}
	}
	if i >= len(b) || b[i] != '"' {
		o.ok = false
		return false
	}
	end, kind, ok := scanString(b, i)
	if !ok {
		o.ok = false
		return false
	}
	o.ks, o.ke, o.kind, o.escaped = i+1, end-1, kind, kind&escapedText != 0
	if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
		o.ok = false
		return false
	}
	o.i = skipSpace(b, i+1)
	return true
}

// key returns the current member's key as written, without quotes.
func (o *objectScanner) key() []byte { return o.b[o.ks:o.ke] }

// skip skips the current member's value.
func (o *objectScanner) skip() bool {
	end, ok := scanValue(o.b, o.i, 1)
	if !ok {
		o.ok = false
		return false
	}
	o.i = end
	return true
}

// validPlain reports whether text, of the given kind (see scanString),
// stands for itself: it has no escapes and is valid UTF-8. Only text
// that is not ASCII is validated.
func validPlain(kind uint8, text []byte) bool {
	return kind == 0 || kind == nonASCIIText && utf8.Valid(text)
}
