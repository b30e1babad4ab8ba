package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	gojson "github.com/goccy/go-json"
	segjson "github.com/segmentio/encoding/json"

	"github.com/go-inngest/inngest/internal/wire"
)

// The decoding jobs of a call, measured with the SDK's decoders
// (lib=wire), encoding/json and the maintained JSON libraries for Go, on
// the same bytes:
//
//	for i in $(seq 8); do go test -run '^$' -bench JSON -benchmem .; done > json.txt
//	benchstat -col /lib json.txt
//
// The step results are the SDK's own benchmark fixtures
// (internal/wire/testdata/results), so that both modules measure the
// same bytes.

// jsonLib is a JSON library's Unmarshal.
type jsonLib struct {
	name      string
	unmarshal func([]byte, any) error
}

var jsonLibs = func() []jsonLib {
	libs := []jsonLib{
		{"wire", wire.Unmarshal},
		{"encoding-json", json.Unmarshal},
		{"goccy", gojson.Unmarshal},
		{"segmentio", segjson.Unmarshal},
		{"jsonv2", func(b []byte, v any) error { return jsonv2.Unmarshal(b, v) }},
		{"jsonv2-v1", jsonv1.Unmarshal},
	}
	// sonic compiles decoders to machine code on amd64 and arm64 only.
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		libs = append(libs, jsonLib{"sonic", sonic.ConfigStd.Unmarshal})
	}
	return libs
}()

var resultCases = []struct {
	name   string
	file   string
	target func() any
}{
	{"struct", "item.json", func() any { return new(item) }},
	{"map", "map.json", func() any { return new(map[string]any) }},
	{"slice", "slice.json", func() any { return new([]item) }},
	{"doc-2KiB", "doc.json", func() any { return new(order) }},
	{"string-10KiB", "string.json", func() any { return new(string) }},
}

func readResult(tb testing.TB, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "wire", "testdata", "results", file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkJSONResult decodes step results into their Go types.
func BenchmarkJSONResult(b *testing.B) {
	for _, c := range resultCases {
		data := readResult(b, c.file)
		for _, lib := range jsonLibs {
			b.Run("type="+c.name+"/lib="+lib.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				stop := cpuMeter(b)
				for b.Loop() {
					if err := lib.unmarshal(data, c.target()); err != nil {
						b.Fatal(err)
					}
				}
				stop()
			})
		}
	}
}

// BenchmarkJSONRequest decodes a whole call body (the handler
// benchmark's) into a wire.Request; lib=wire is wire.DecodeRequest.
func BenchmarkJSONRequest(b *testing.B) {
	for _, n := range []int{100, 1000} {
		body := stepsRequest(b, n).body
		for _, lib := range jsonLibs {
			decode := lib.unmarshal
			if lib.name == "wire" {
				decode = func(b []byte, v any) error { return wire.DecodeRequest(b, v.(*wire.Request)) }
			}
			b.Run(fmt.Sprintf("steps=%d/lib=%s", n, lib.name), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				stop := cpuMeter(b)
				for b.Loop() {
					var req wire.Request
					if err := decode(body, &req); err != nil {
						b.Fatal(err)
					}
				}
				stop()
			})
		}
	}
}

// BenchmarkJSONMemo decodes one memoized step's envelope; lib=wire is
// wire.DecodeMemo.
func BenchmarkJSONMemo(b *testing.B) {
	raw := []byte(`{"data":{"id":123,"name":"item-123","ok":true}}`)
	for _, lib := range jsonLibs {
		decode := lib.unmarshal
		if lib.name == "wire" {
			decode = func(b []byte, v any) error { return wire.DecodeMemo(b, v.(*wire.Memo)) }
		}
		b.Run("lib="+lib.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				var m wire.Memo
				if err := decode(raw, &m); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
	}
}

// compatCases are inputs on which JSON libraries are known to part
// from encoding/json: case-insensitive and duplicate keys, invalid
// UTF-8, lone surrogates, type mismatches, overflow, trailing data.
var compatCases = []string{
	`{"id":1,"name":"item-1","ok":true}`,
	`{"ID":2,"NAME":"upper","Ok":false}`,
	`{"id":1,"id":2}`,
	`{"id":1,"ID":2}`,
	`{"id":"1"}`,
	`{"id":1.0}`,
	`{"id":99999999999999999999}`,
	`{"name":null,"id":null}`,
	`{"name":"\ud800"}`,
	"{\"name\":\"\xff ok\"}",
	`{"n\u0061me":"escaped key"}`,
	`{"name":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}`,
	`{"id":1}x`,
	`{"id":1`,
	`{"id":01}`,
	`[1,]`,
	``,
	`{"ok":1}`,
	`{"unknown":{"deep":[1,{"x":null}]},"id":3}`,
	`[{"id":1},{"id":2}]`,
	`{"a":1e400}`,
	`{"a":[1,"x",true,null,{"b":2.5}]}`,
}

var compatTargets = []func() any{
	func() any { return new(item) },
	func() any { return new(map[string]any) },
	func() any { return new([]item) },
	func() any { return new(any) },
	func() any { return new(string) },
	func() any { return new(map[string]int) },
}

// TestJSONLibrariesAgainstEncodingJSON counts, for each library, the
// inputs on which it gives another value, accepts or rejects otherwise,
// or reports another error text than encoding/json (run with -v for the
// table). The SDK promises encoding/json's results, so wire must match
// on every input.
func TestJSONLibrariesAgainstEncodingJSON(t *testing.T) {
	for _, lib := range jsonLibs {
		var value, verdict, text int
		var first []string
		for _, c := range compatCases {
			for _, target := range compatTargets {
				want, got := target(), target()
				werr := json.Unmarshal([]byte(c), want)
				gerr := lib.unmarshal([]byte(c), got)
				var why string
				switch {
				case (werr == nil) != (gerr == nil):
					verdict++
					why = fmt.Sprintf("error %v, want %v", gerr, werr)
				case werr != nil && werr.Error() != gerr.Error():
					text++
					why = fmt.Sprintf("error %q, want %q", gerr, werr)
				case !reflect.DeepEqual(want, got):
					value++
					why = fmt.Sprintf("%#v, want %#v", reflect.ValueOf(got).Elem().Interface(), reflect.ValueOf(want).Elem().Interface())
				}
				if why != "" && len(first) < 3 {
					first = append(first, fmt.Sprintf("%q into %T: %s", c, want, why))
				}
			}
		}
		t.Logf("%-14s other value %2d, other verdict %2d, other error text %2d  %s", lib.name, value, verdict, text, strings.Join(first, "; "))
		switch differs := value+verdict+text != 0; {
		case lib.name == "wire" && differs:
			t.Errorf("wire.Unmarshal differs from encoding/json: %s", strings.Join(first, "; "))
		case lib.name != "wire" && lib.name != "encoding-json" && !differs:
			// The SDK uses no library because none gives encoding/json's
			// results (README.md, "JSON decoding"); one that does now
			// should be measured again.
			t.Errorf("%s now matches encoding/json on every input: measure it again against the SDK's decoders", lib.name)
		}
	}
}
