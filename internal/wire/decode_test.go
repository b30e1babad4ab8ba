package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call body as the dev server sends it (keys sorted, canonical form).
const capturedCall = `{"ctx":{"attempt":0,"disable_immediate_execution":false,"env":"","fn_id":"a2aa9477-7a54-5788-979c-609bc1df2ad8","generation_id":1,"job_id":"2m8uz442tfac5","max_attempts":5,"qi_id":"Mm04dXo0NDJ0ZmFjNTo6ZGVmYXVsdA==","request_id":"01M89CTCAS4DNRR9QFS2SYMQM7","run_id":"01M89CTBZB7VAD2JPG7CN5RYB6","stack":{"current":2,"stack":["86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","c2640f79b4ed481b838ce4ad75330aa3f825d4d9"]},"step_id":"step","use_api":false},"defers":{},"event":{"data":{"n":1},"id":"01M89CTBSH2GFBMWW3PWMMWMQW","name":"demo/steps","ts":1795611766577,"user":{}},"events":[{"data":{"n":1},"id":"01M89CTBSH2GFBMWW3PWMMWMQW","name":"demo/steps","ts":1795611766577,"user":{}}],"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":{"n":1}},"c2640f79b4ed481b838ce4ad75330aa3f825d4d9":null},"use_api":false,"version":2}`

// requestCases are bodies the fast path must decode exactly as
// encoding/json does, or leave to it.
var requestCases = []string{
	capturedCall,
	`{}`,
	` { "steps" : { } , "events" : [ ] } `,
	`{"steps":null,"events":null,"event":null,"ctx":null}`,
	`{"ctx":{"stack":null}}`,
	`{"ctx":{"stack":{"stack":[],"current":0}}}`,
	`{"ctx":{"stack":{"stack":["a",null,"b"]}}}`,
	`{"ctx":{"attempt":null,"run_id":null,"use_api":null}}`,
	`{"event":{"a":[1,2.5e-3,true,false,null,"x\"y\\u00e9"]},"events":[1,"s",{"k":[]}]}`,
	`{"steps":{"h1":{"data":1},"h1":{"data":2}}}`, // duplicate step: the last wins
	`{"steps":{"h\u0031":1}}`,                     // escaped key
	`{"steps":{"é":1}}`,                           // non-ASCII key
	"{\"steps\":{\"\xff\":1}}",                    // invalid UTF-8 key
	"{\"ctx\":{\"run_id\":\"\xff\"}}",             // invalid UTF-8 value
	`{"ctx":{"run_id":"a\nb"}}`,                   // escape in a string
	`{"Steps":{"h":1}}`,                           // case-insensitive field
	`{"STEPS":{"h":1},"steps":{"g":2}}`,           // merged by encoding/json
	`{"ctx":{"Attempt":3}}`,                       // case-insensitive ctx field
	`{"ctx":{"stack":{"Current":3}}}`,             // case-insensitive stack field
	`{"event":1,"event":2}`,                       // duplicate key
	`{"ctx":{"attempt":1,"attempt":2}}`,           // duplicate ctx key
	`{"ctx":{"attempt":1.0}}`,                     // not an integer
	`{"ctx":{"attempt":"1"}}`,                     // wrong type
	`{"ctx":{"attempt":99999999999999999999}}`,    // overflow
	`{"ctx":{"attempt":-0,"max_attempts":-3}}`,    // signs
	`{"ctx":{"use_api":1}}`,                       // wrong type
	`{"steps":[]}`,                                // wrong type
	`{"events":{}}`,                               // wrong type
	`{"version":"2"}`,                             // wrong type
	`{"unknown":{"deep":[[[{}]]]},"defers":{"x":{"abortable":true}}}`,
	`{"ſteps":{"h":1}}`, // folds to "steps" in encoding/json
	`{"ctx":{"job_id":"j","stack":{"stack":["a"],"other":1}}}`,
	`null`,
	`[]`,
	`"x"`,
	``,
	`{`,
	`{"steps":{"h":1}`,
	`{"steps":{"h":1}} x`,
	`{"steps":{"h":01}}`,
	`{"steps":{"h":1.}}`,
	`{"steps":{"h":-}}`,
	`{"steps":{"h":tru}}`,
	`{"steps":{"h":"\x"}}`,
	`{"steps":{"h":"\u12"}}`,
	"{\"steps\":{\"h\":\"a\tb\"}}", // control character in a string
	`{"steps":{"h":1,}}`,
	`{"events":[1,]}`,
	`{"events":[1 2]}`,
	`{,}`,
	`{"a" 1}`,
	strings.Repeat("[", 2000) + strings.Repeat("]", 2000),
	`{"event":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}`,
}

// checkRequest decodes body both ways and compares.
func checkRequest(t *testing.T, body []byte) {
	t.Helper()
	var want, got Request
	werr := json.Unmarshal(body, &want)
	gerr := DecodeRequest(body, &got)
	if werr != nil {
		require.Error(t, gerr, "body %q", body)
		assert.Equal(t, werr.Error(), gerr.Error(), "body %q", body)
		return
	}
	require.NoError(t, gerr, "body %q", body)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("body %q:\nencoding/json %#v\nDecodeRequest %#v", body, want, got)
	}
}

func TestDecodeRequestMatchesEncodingJSON(t *testing.T) {
	for i, body := range requestCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkRequest(t, []byte(body)) })
	}
}

func TestDecodeRequestFastPath(t *testing.T) {
	// The bodies the server sends are decoded by the fast path.
	for _, body := range []string{capturedCall, `{}`, `{"ctx":{"stack":{"stack":[],"current":0}},"steps":{},"events":[]}`} {
		var req Request
		d := new(requestDecoder)
		assert.True(t, d.decode([]byte(body), &req), "body %s", body)
	}
	var req Request
	require.NoError(t, DecodeRequest([]byte(capturedCall), &req))
	assert.Equal(t, 2, req.Version)
	assert.Equal(t, "01M89CTBZB7VAD2JPG7CN5RYB6", req.Ctx.RunID)
	assert.Equal(t, []string{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", "c2640f79b4ed481b838ce4ad75330aa3f825d4d9"}, req.Ctx.Stack.Stack)
	assert.Equal(t, json.RawMessage(`{"data":{"n":1}}`), req.Steps["86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"])
	assert.Equal(t, json.RawMessage(`null`), req.Steps["c2640f79b4ed481b838ce4ad75330aa3f825d4d9"])
	assert.Len(t, req.Events, 1)
}

// sample returns JSON for a non-zero value of type t.
func sample(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[json.RawMessage]():
		return `{"k":[1]}`
	}
	switch t.Kind() {
	case reflect.String:
		return `"v"`
	case reflect.Int:
		return `7`
	case reflect.Bool:
		return `true`
	case reflect.Slice:
		return `[` + sample(t.Elem()) + `,` + sample(t.Elem()) + `]`
	case reflect.Map:
		return `{"k1":` + sample(t.Elem()) + `,"k2":` + sample(t.Elem()) + `}`
	case reflect.Struct:
		var parts []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			parts = append(parts, fmt.Sprintf("%q:%s", name, sample(f.Type)))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	panic("no sample for " + t.String())
}

// TestDecodeRequestCoversEveryField fails when a field is added to
// Request (or its parts) that the fast path does not decode: such a
// request would always take the slow path.
func TestDecodeRequestCoversEveryField(t *testing.T) {
	body := []byte(sample(reflect.TypeFor[Request]()))
	var req Request
	assert.True(t, new(requestDecoder).decode(body, &req), "the fast path gave up on %s; teach DecodeRequest the new field", body)
	checkRequest(t, body)
}

func FuzzDecodeRequest(f *testing.F) {
	for _, body := range requestCases {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkRequest(t, body) })
}

var memoCases = []string{
	`{"data":{"n":1}}`,
	`{"data":null}`,
	`{"data":[1,2]}`,
	` { "data" : "x" } `,
	`{"error":{"name":"Error","message":"boom","stack":"s","data":{"a":1},"cause":"c"}}`,
	`{"error":{"error":"driver","message":"m"}}`,
	`{"error":null}`,
	`{"error":"text"}`,
	`{"error":{"name":1}}`,
	`{"input":[1]}`,
	`{"input":null}`,
	`{"data":1,"input":[2]}`,
	`{"Data":1}`,
	`{"data":1,"data":2}`,
	`{"other":1}`,
	`{"dat\u0061":1}`,
	`{}`,
	`null`,
	`1`,
	`"s"`,
	`[1]`,
	`{"data":1`,
	`{"data":1} 2`,
	``,
}

func checkMemo(t *testing.T, raw []byte) {
	t.Helper()
	var want, got Memo
	werr := json.Unmarshal(raw, &want)
	gerr := DecodeMemo(raw, &got)
	if werr != nil {
		require.Error(t, gerr, "memo %q", raw)
		assert.Equal(t, werr.Error(), gerr.Error(), "memo %q", raw)
		return
	}
	require.NoError(t, gerr, "memo %q", raw)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("memo %q:\nencoding/json %#v\nDecodeMemo %#v", raw, want, got)
	}
}

func TestDecodeMemoMatchesEncodingJSON(t *testing.T) {
	for i, raw := range memoCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkMemo(t, []byte(raw)) })
	}
}

func FuzzDecodeMemo(f *testing.F) {
	for _, raw := range memoCases {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkMemo(t, raw) })
}

func TestIsInput(t *testing.T) {
	assert.True(t, IsInput([]byte(`{"input":[{"a":1}]}`)))
	assert.True(t, IsInput([]byte(` {"input":null}`)))
	assert.False(t, IsInput([]byte(`{"input":[1],"data":2}`)))
	assert.False(t, IsInput([]byte(`{"data":{"input":1}}`)))
	assert.False(t, IsInput([]byte(`null`)))
	assert.False(t, IsInput([]byte(`{"input":`)))
}

type unmarshalTarget struct {
	ID   int               `json:"id"`
	Name string            `json:"name"`
	Tags []string          `json:"tags"`
	More map[string]any    `json:"more"`
	Raw  json.RawMessage   `json:"raw"`
	Ptr  *unmarshalTarget  `json:"ptr"`
	Nums map[string]uint8  `json:"nums"`
	Any  any               `json:"any"`
	Text map[string]string `json:"-"`
}

func TestUnmarshalMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		`{"id":1,"name":"a","tags":["x","y"],"more":{"k":[1,"2"]},"raw":{"z":1},"ptr":{"id":2},"any":1.5}`,
		`1`, `"text"`, `null`, `[1,2]`, ` {"id":3} `,
		`{"id":"wrong"}`,     // type error
		`{"nums":{"a":300}}`, // overflow
		`{"id":1}{"id":2}`,   // two values
		`{"id":`,             // syntax error
		`{"id":1} x`,         // trailing data
		`{"name":"` + strings.Repeat("long ", 5000) + `"}`, // beyond the pooled size
	}
	// Each case twice, through the same pool, and with different
	// targets in between.
	for range 2 {
		for _, c := range cases {
			for _, target := range []func() any{
				func() any { return new(unmarshalTarget) },
				func() any { return new(any) },
				func() any { return new(int) },
			} {
				want, got := target(), target()
				werr := json.Unmarshal([]byte(c), want)
				gerr := Unmarshal([]byte(c), got)
				if werr != nil {
					require.Error(t, gerr, "%s into %T", c, got)
					assert.Equal(t, werr.Error(), gerr.Error(), "%s into %T", c, got)
					continue
				}
				require.NoError(t, gerr, "%s into %T", c, got)
				assert.Equal(t, want, got, "%s into %T", c, got)
			}
		}
	}
}

func TestUnmarshalDoesNotAliasData(t *testing.T) {
	data := []byte(`{"name":"abc","raw":[1],"tags":["t"]}`)
	var v unmarshalTarget
	require.NoError(t, Unmarshal(data, &v))
	for i := range data {
		data[i] = ' '
	}
	assert.Equal(t, "abc", v.Name)
	assert.Equal(t, json.RawMessage(`[1]`), v.Raw)
	assert.Equal(t, []string{"t"}, v.Tags)
}

func TestUnmarshalData(t *testing.T) {
	doc := `{"id":1,"name":"a","tags":["x"],"more":{"k":[1,"2"]},"raw":{"z":1},"ptr":{"id":2},"nums":{"n":7},"any":1.5}`
	var want unmarshalTarget
	require.NoError(t, json.Unmarshal([]byte(doc), &want))
	// The server's entry, with or without spaces: decoded in one pass.
	for _, raw := range []string{`{"data":` + doc + `}`, " {\n \"data\" : " + doc + " \t}\n"} {
		var got unmarshalTarget
		require.True(t, UnmarshalData([]byte(raw), &got), "%s", raw)
		assert.Equal(t, want, got, "%s", raw)
		var m map[string]any
		require.True(t, UnmarshalData([]byte(raw), &m), "%s", raw)
		assert.Equal(t, "a", m["name"])
		var null unmarshalTarget
		require.True(t, UnmarshalData([]byte(`{"data":null}`), &null))
		assert.Zero(t, null)
	}
	// Anything else is left to DecodeMemo and Unmarshal, the target
	// untouched.
	for _, raw := range []string{
		`{"data":` + doc + `,"error":null}`, // another member
		`{"error":null,"data":` + doc + `}`,
		`{"data":` + doc + `,"data":{}}`, // twice
		`{"error":{"name":"E","message":"m"}}`,
		`{"input":[1]}`,
		`{"Data":` + doc + `}`, // another spelling
		`{"data":{"id":1}`,     // syntax errors
		`{"data":}`,
		`{"data":1}x`,
		doc,
	} {
		var got unmarshalTarget
		assert.False(t, UnmarshalData([]byte(raw), &got), "%s", raw)
		assert.Zero(t, got, "%s", raw)
		var m map[string]any
		assert.False(t, UnmarshalData([]byte(raw), &m), "%s", raw)
		assert.Nil(t, m, "%s", raw)
	}
	var mismatch unmarshalTarget
	assert.False(t, UnmarshalData([]byte(`{"data":{"name":"a","id":"one"}}`), &mismatch), "a type error")
	assert.Zero(t, mismatch, "a type error")
	// Targets the compiled decoders leave alone, and non-zero ones.
	type embedded struct{ unmarshalTarget }
	var e embedded
	assert.False(t, UnmarshalData([]byte(`{"data":{"id":1}}`), &e))
	n := 5
	assert.False(t, UnmarshalData([]byte(`{"data":1}`), &n))
	assert.Equal(t, 5, n)
	m := map[string]any{"k": 1}
	assert.False(t, UnmarshalData([]byte(`{"data":{"a":2}}`), &m))
	assert.Equal(t, map[string]any{"k": 1}, m)
	assert.False(t, UnmarshalData([]byte(`{"data":1}`), nil))
}

func TestSpecial(t *testing.T) {
	// special must flag a word exactly when one of its bytes is '"',
	// '\\' or a control character.
	for c := range 256 {
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(word[i])
			}
			m := special(x)
			if c == '"' || c == '\\' || c < 0x20 {
				assert.Equal(t, pos, bits.TrailingZeros64(m)/8, "byte %#x at %d", c, pos)
			} else {
				assert.Zero(t, m, "byte %#x at %d", c, pos)
			}
		}
	}
}

func BenchmarkHashID(b *testing.B) {
	b.Run("cache=off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = HashID("fetch-customer", 0)
		}
	})
	b.Run("cache=on", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = CachedHashID("fetch-customer", 0)
		}
	})
}

func TestSpecialFindsTheFirst(t *testing.T) {
	// With two special bytes, the mask's lowest bit is the first one's.
	for _, c1 := range []byte{'"', '\\', 0, 0x1f} {
		for _, c2 := range []byte{'"', '\\', 0, 0x1f} {
			for p1 := range 8 {
				for p2 := p1 + 1; p2 < 8; p2++ {
					word := []byte{0x7f, 0x80, 0xff, 'a', 0x20, 0x21, 0x5d, 0xdc}
					word[p1], word[p2] = c1, c2
					x := uint64(0)
					for i := 7; i >= 0; i-- {
						x = x<<8 | uint64(word[i])
					}
					assert.Equal(t, p1, bits.TrailingZeros64(special(x))/8, "%q", word)
				}
			}
		}
	}
}

func TestScanStringKinds(t *testing.T) {
	cases := []struct {
		text string
		kind uint8
	}{
		{``, 0},
		{`plain ascii text, longer than a word`, 0},
		{`caf` + "\u00e9", nonASCIIText},
		{"\u00e9" + `tait, then eight more bytes`, nonASCIIText},
		{"\xff", nonASCIIText}, // not UTF-8: still a string
		{`a\nb`, escapedText},
		{`\u00e9`, escapedText},
		{"\u00e9" + `\t`, escapedText | nonASCIIText},
		{`seven b`, 0},
	}
	for _, c := range cases {
		// Followed by non-ASCII bytes in the same word, which are not
		// the string's.
		for _, after := range []string{``, `,"` + "\u00e9\u00e9\u00e9" + `"`, "\xff\xff\xff\xff\xff\xff\xff\xff"} {
			b := []byte(`"` + c.text + `"` + after)
			end, kind, ok := scanString(b, 0)
			require.True(t, ok, "%q", b)
			assert.Equal(t, len(c.text)+2, end, "%q", b)
			assert.Equal(t, c.kind, kind, "%q", b)
		}
	}
	for _, bad := range []string{`"abc`, `"a\x"`, "\"a\x01\"", `"\u12"`} {
		_, _, ok := scanString([]byte(bad), 0)
		assert.False(t, ok, "%q", bad)
	}
	assert.True(t, validPlain(0, []byte("x")))
	assert.True(t, validPlain(nonASCIIText, []byte("\u00e9")))
	assert.False(t, validPlain(nonASCIIText, []byte("\xff")))
	assert.False(t, validPlain(escapedText, []byte(`\n`)))
}

// FuzzShortDecimal checks the float fast path against strconv: for every
// JSON number it takes, the same float64, bit for bit (-0 included).
func FuzzShortDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "9.99", "16.990000000000002", "1637.0900000000006", "0.1", "-123.456", "999999999999999",
		"99999999999999.9", "0.000000000000001", "1e5", "123456789012345", "1234567890123456", "-0.0", "4.35", "0.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if end, _, ok := scanNumber([]byte(s), 0); !ok || end != len(s) {
			t.Skip("not a JSON number")
		}
		got, ok := shortDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, "%q", s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), "%q: strconv %v, fast path %v", s, want, got)
	})
}

// TestShortDecimalMatchesStrconv draws numbers of up to 15 digits, with
// the decimal point anywhere, and compares the fast path with strconv bit
// for bit.
func TestShortDecimalMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for range 200000 {
		digits := 1 + rng.IntN(15)
		text := strconv.FormatUint(rng.Uint64N(uint64(exactPowers10[digits])), 10)
		for len(text) < digits {
			text = "0" + text
		}
		if p := rng.IntN(len(text)); p > 0 && text[0] != '0' {
			text = text[:p] + "." + text[p:]
		} else if text != "0" {
			text = "0." + text[1:] + "1"
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		if end, _, ok := scanNumber([]byte(text), 0); !ok || end != len(text) {
			continue
		}
		got, ok := shortDecimal([]byte(text))
		if !ok {
			continue
		}
		taken++
		want, err := strconv.ParseFloat(text, 64)
		require.NoError(t, err, text)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), "%s: strconv %v, fast path %v", text, want, got)
	}
	assert.Greater(t, taken, 150000, "most draws take the fast path")
	_, ok := shortDecimal([]byte("1234567890123456"))
	assert.False(t, ok, "16 digits")
	_, ok = shortDecimal([]byte("1e5"))
	assert.False(t, ok, "an exponent")
}
