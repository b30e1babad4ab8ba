package wire

import (
	"bytes"
	"strconv"
)

// AppendOps appends the JSON array of ops to dst, byte for byte what a
// json.Encoder with SetEscapeHTML(false) writes for them (without its
// newline), and reports whether it could. It takes the ops of a usual
// answer (steps to run or that ran: plain ASCII IDs and names, no opts,
// no error, data that is valid JSON); for any other it reports false,
// and the caller encodes them with encoding/json. It saves encoding/json's
// reflection over every field and, for data with no white space, its
// byte-by-byte compaction of the data.
func AppendOps(dst []byte, ops []Op) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, '[')
	for i := range ops {
		op := &ops[i]
		if op.Opts != nil || op.Error != nil || !plainText(op.ID) || !plainText(op.Op) || !plainText(op.Name) ||
			!plainText(op.DisplayName) || !plainText(op.Userland.ID) {
			return dst[:start], false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":"`...)
		dst = append(dst, op.ID...)
		dst = append(dst, `","op":"`...)
		dst = append(dst, op.Op...)
		dst = append(dst, `","name":"`...)
		dst = append(dst, op.Name...)
		dst = append(dst, `","displayName":"`...)
		dst = append(dst, op.DisplayName...)
		dst = append(dst, `","data":`...)
		var ok bool
		if dst, ok = appendCompact(dst, op.Data); !ok {
			return dst[:start], false
		}
		if op.Timing != nil {
			dst = append(dst, `,"timing":{"a":`...)
			dst = strconv.AppendInt(dst, op.Timing.A, 10)
			dst = append(dst, `,"b":`...)
			dst = strconv.AppendInt(dst, op.Timing.B, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, `,"userland":{"id":"`...)
		dst = append(dst, op.Userland.ID...)
		dst = append(dst, '"')
		if op.Userland.Index != 0 {
			dst = append(dst, `,"index":`...)
			dst = strconv.AppendInt(dst, int64(op.Userland.Index), 10)
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, ']'), true
}

// plainText reports whether s is written in JSON as it is, between
// quotes: printable ASCII other than '"' and '\\'.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendCompact appends raw as encoding/json writes a json.RawMessage
// (null when nil), when raw is one valid JSON value with no white
// space, which is then already what encoding/json's compaction gives.
// Empty data that is not nil is an error in encoding/json: it is left to
// it.
func appendCompact(dst, raw []byte) ([]byte, bool) {
	switch {
	case raw == nil:
		return append(dst, "null"...), true
	case len(raw) == 0:
		return dst, false
	}
	if bytes.ContainsAny(raw, " \t\r\n") {
		return dst, false
	}
	if end, ok := scanValue(raw, 0, 0); !ok || end != len(raw) {
		return dst, false
	}
	return append(dst, raw...), true
}
