package wire_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest/internal/wire"
)

// durationText is the shape of every Duration result: units from the
// largest down, each at most once, no zero parts, no leading zeros.
var durationText = regexp.MustCompile(`^(?:[1-9]\d*d)?(?:[1-9]\d*h)?(?:[1-9]\d*m)?(?:[1-9]\d*s)?(?:[1-9]\d*ms)?(?:[1-9]\d*us)?(?:[1-9]\d*ns)?$`)

// parseWithDays reads Duration's text back: an optional day count, then
// what time.ParseDuration reads.
func parseWithDays(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, err
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if s == "" {
		return days, nil
	}
	d, err := time.ParseDuration(s)
	return days + d, err
}

// FuzzDuration checks that every duration formats as text the server's
// parser reads back as the same duration, in the canonical shape, and
// that zero and negative durations are "0s".
func FuzzDuration(f *testing.F) {
	for _, d := range []int64{0, -1, 1, 999, int64(time.Second), int64(90 * time.Minute), int64(48 * time.Hour), 1<<63 - 1, -1 << 63, int64(366 * 24 * time.Hour)} {
		f.Add(d, false)
		f.Add(d, true)
	}
	f.Fuzz(func(t *testing.T, n int64, days bool) {
		d := time.Duration(n)
		s := wire.Duration(d, days)
		if d <= 0 {
			require.Equal(t, "0s", s)
			return
		}
		require.Regexp(t, durationText, s)
		if !days {
			require.NotContains(t, s, "d", "without days the text is for time.ParseDuration")
			got, err := time.ParseDuration(s)
			require.NoError(t, err, "time.ParseDuration(%q)", s)
			require.Equal(t, d, got, "%q", s)
			return
		}
		got, err := parseWithDays(s)
		require.NoError(t, err, "%q", s)
		require.Equal(t, d, got, "%q", s)
		if d >= 24*time.Hour {
			require.Contains(t, s, "d", "whole days are written as days")
		}
	})
}

// FuzzTime checks that a time formats as RFC 3339 in UTC that parses back
// to the same instant, truncated to the second, for every time RFC 3339
// can express (years 0 to 9999), in any zone.
func FuzzTime(f *testing.F) {
	f.Add(int64(1700000000), int64(0), int32(0))
	f.Add(int64(1700000000), int64(999999999), int32(3600))
	f.Add(int64(-62135596800), int64(0), int32(-43200))
	f.Add(int64(253402300799), int64(5), int32(50400))
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int32) {
		const lo, hi = -62167219200, 253402300799 // 0000-01-01 to 9999-12-31, UTC
		if sec < lo || sec > hi {
			sec = lo + int64(uint64(sec)%uint64(hi-lo+1))
		}
		zone := time.FixedZone("Z", int(offset%(18*3600)))
		at := time.Unix(sec, nsec%int64(time.Second)).In(zone)
		if y := at.UTC().Year(); y < 0 || y > 9999 {
			t.Skip("outside RFC 3339")
		}
		s := wire.Time(at)
		require.True(t, strings.HasSuffix(s, "Z"), "%q is in UTC", s)
		got, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err, "%q", s)
		require.True(t, got.Equal(at.Truncate(time.Second)), "%q is %v, want %v", s, got, at)
	})
}

// FuzzRetryAfter checks that Retry-After never names a time before the
// one asked for, nor more than a second after it.
func FuzzRetryAfter(f *testing.F) {
	f.Add(int64(1700000000), int64(0))
	f.Add(int64(1700000000), int64(1))
	f.Add(int64(-1), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		sec %= 200000000000
		at := time.Unix(sec, nsec%int64(time.Second))
		if y := at.UTC().Year(); y < 1 || y > 9998 {
			t.Skip("outside RFC 3339")
		}
		s := wire.RetryAfter(at)
		got, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err, "%q", s)
		require.False(t, got.Before(at), "%q is before %v", s, at)
		require.Less(t, got.Sub(at), time.Second, "%q", s)
	})
}

// FuzzHashID checks step hashes against their definition: the hex SHA-1
// of the ID, or of "ID:n" for the n-th repeat.
func FuzzHashID(f *testing.F) {
	f.Add("a", 0)
	f.Add("a", 1)
	f.Add(strings.Repeat("long-id-", 40), 12345)
	f.Add("", -1)
	f.Fuzz(func(t *testing.T, id string, n int) {
		text := id
		if n > 0 {
			text += ":" + strconv.Itoa(n)
		}
		sum := sha1.Sum([]byte(text))
		want := hex.EncodeToString(sum[:])
		require.Equal(t, want, wire.HashID(id, n))
		require.Equal(t, "x"+want, string(wire.AppendHashID([]byte("x"), id, n)))
		// Twice: the first may miss the cache, the second may hit.
		require.Equal(t, want, wire.CachedHashID(id, n))
		require.Equal(t, want, wire.CachedHashID(id, n))
	})
}

// fuzzTarget is a Go type memoized data is decoded into.
type fuzzTarget struct {
	A int `json:"a"`
	B []struct{ C string }
	D *float64         `json:"d"`
	E map[string]int   `json:"e"`
	F json.RawMessage  `json:"f"`
	G any              `json:"g"`
	H [2]bool          `json:"h"`
	I map[string]*bool `json:"i"`
}

// FuzzUnmarshal checks wire.Unmarshal against json.Unmarshal for many
// target types: the same value and the same error. Runs decode one after
// another so that state left in pooled decoders would show.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`1`, ` 1 `, `"x"`, `null`, `{"a":1,"B":[{"C":"c"}],"d":1.5,"e":{"k":2},"f":[1],"g":{"h":null},"h":[true,false],"i":{"j":null}}`,
		`{"a":"1"}`, `[1,2`, `{"a":1} {"a":2}`, `1 2`, `"\ud800"`, "\"\xff\"", `[` + strings.Repeat(`[`, 1200) + strings.Repeat(`]`, 1201),
		`{"a":1e400}`, `-0`, `{"A":2,"a":3}`, `tru`, ``} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(5))
	}
	kinds := []func() any{
		func() any { return new(int) }, func() any { return new(string) }, func() any { return new([]string) },
		func() any { return new(map[string]any) }, func() any { return new(any) }, func() any { return new(fuzzTarget) },
		func() any { return new(json.RawMessage) }, func() any { return new(bool) }, func() any { return new(uint8) },
		func() any { return new(float64) }, func() any { return new(*fuzzTarget) }, func() any { return new([]fuzzTarget) },
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		for round := range 2 {
			k := kinds[(int(kind)+round)%len(kinds)]
			want, got := k(), k()
			werr := json.Unmarshal(data, want)
			gerr := wire.Unmarshal(data, got)
			if werr != nil {
				require.Error(t, gerr, "%q into %T", data, want)
				require.Equal(t, werr.Error(), gerr.Error(), "%q into %T", data, want)
			} else {
				require.NoError(t, gerr, "%q into %T", data, want)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%q into %T:\nencoding/json %s\nwire          %s", data, want, show(want), show(got))
			}
		}
	})
}

// FuzzUnmarshalData checks the one-pass decoding of a memo entry against
// the two passes it stands for, DecodeMemo and then Unmarshal of Data:
// where it reports success, the same value and no error or stored error;
// where it does not, the target is still zero.
func FuzzUnmarshalData(f *testing.F) {
	for _, s := range []string{`1`, `"x"`, `null`, `{"a":1,"B":[{"C":"c"}],"d":1.5,"e":{"k":2},"f":[1],"g":{"h":null},"h":[true,false],"i":{"j":null}}`,
		`{"a":"1"}`, `[1,2`, `{"a":1} {"a":2}`, `"\ud800"`, `{"A":2,"a":3}`, `{"k":"v","n":[1,{"m":null}]}`, ``} {
		for shape := range uint8(6) {
			f.Add([]byte(s), uint8(0), shape)
			f.Add([]byte(s), uint8(3), shape)
			f.Add([]byte(s), uint8(5), shape)
		}
	}
	kinds := []func() any{
		func() any { return new(int) }, func() any { return new(string) }, func() any { return new([]string) },
		func() any { return new(map[string]any) }, func() any { return new(any) }, func() any { return new(fuzzTarget) },
		func() any { return new(json.RawMessage) }, func() any { return new(bool) }, func() any { return new(*fuzzTarget) },
		func() any { return new([]fuzzTarget) }, func() any { return new(map[string]string) },
	}
	// The shapes an entry is given around the fuzzed bytes: the server's,
	// with spaces, with a member after the data, with one before it, with
	// the data twice, and the bytes as the whole entry.
	shapes := []string{`{"data":%s}`, " { \"data\" :\t%s \n} ", `{"data":%s,"error":null}`, `{"error":null,"data":%s}`, `{"data":%s,"data":1}`, `%s`}
	f.Fuzz(func(t *testing.T, data []byte, kind, shape uint8) {
		raw := []byte(fmt.Sprintf(shapes[int(shape)%len(shapes)], data))
		for round := range 2 {
			k := kinds[(int(kind)+round)%len(kinds)]
			want, got := k(), k()
			if !wire.UnmarshalData(raw, got) {
				require.True(t, reflect.ValueOf(got).Elem().IsZero(), "%q into %T: not decoded, yet the target was changed: %s", raw, got, show(got))
				continue
			}
			var m wire.Memo
			require.NoError(t, wire.DecodeMemo(raw, &m), "%q", raw)
			require.Nil(t, m.Error, "%q", raw)
			require.NoError(t, wire.Unmarshal(m.Data, want), "%q into %T", raw, want)
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%q into %T:\ntwo passes %s\none pass   %s", raw, want, show(want), show(got))
			}
		}
	})
}

func show(v any) string { return fmt.Sprintf("%#v", reflect.ValueOf(v).Elem().Interface()) }

// FuzzIsInput checks IsInput against its definition: an object that
// decodes as a memo with "input" set and neither "data" nor "error".
func FuzzIsInput(f *testing.F) {
	for _, s := range []string{`{"input":[1]}`, ` {"input":null}`, `{"input":[1],"data":2}`, `{"input":1,"error":null}`, `{"INPUT":[1]}`,
		`{"input":[1],"input":null}`, `{"data":{"input":1}}`, `null`, `{"input":`, `[{"input":1}]`, "\t{\"inp\\u0075t\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m wire.Memo
		want := strings.HasPrefix(strings.TrimLeft(string(raw), " \t\r\n"), "{") &&
			json.Unmarshal(raw, &m) == nil && m.Input != nil && m.Data == nil && m.Error == nil
		require.Equal(t, want, wire.IsInput(raw), "%q", raw)
	})
}
