package wire

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The benchmarks below measure each decoding job of a call on the same
// bytes, this package's way beside encoding/json's:
//
//	for i in $(seq 8); do go test -run '^$' -bench 'Decode|Unmarshal$' -benchmem ./internal/wire; done > wire.txt
//	benchstat -col /impl wire.txt
//
// The bench module (bench/json_test.go) measures the same jobs on the
// same bytes with other JSON libraries too.

// cpuMeter reports cpu-ns/op, the process's CPU time per operation,
// which other load on the machine inflates far less than wall time.
// Call stop after the loop.
func cpuMeter(b *testing.B) (stop func()) {
	start := cpuTime()
	return func() {
		if end := cpuTime(); start >= 0 && end >= 0 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchItem is what the bench module's steps return.
type benchItem struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	OK   bool   `json:"ok"`
}

// benchEmbedded has the fields of benchItem, one of them through an
// embedded struct, which the compiled decoders leave to encoding/json.
type benchEmbedded struct {
	benchID
	Name string `json:"name"`
	OK   bool   `json:"ok"`
}

type benchID struct {
	ID int `json:"id"`
}

// benchOrder is the shape of testdata/results/doc.json, a nested
// document of about 2 KiB.
type benchOrder struct {
	ID       string `json:"id"`
	Created  string `json:"created"`
	Customer struct {
		ID      int    `json:"id"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Address struct {
			Street  string `json:"street"`
			City    string `json:"city"`
			Postal  string `json:"postal"`
			Country string `json:"country"`
		} `json:"address"`
		Tags []string `json:"tags"`
	} `json:"customer"`
	Lines []struct {
		SKU   string            `json:"sku"`
		Title string            `json:"title"`
		Qty   int               `json:"qty"`
		Price float64           `json:"price"`
		Attrs map[string]string `json:"attrs"`
	} `json:"lines"`
	Total float64        `json:"total"`
	Paid  bool           `json:"paid"`
	Meta  map[string]any `json:"meta"`
}

// resultCase is a step result users return: its JSON and the Go type
// it is decoded into.
type resultCase struct {
	name   string
	file   string
	target func() any
}

var resultCases = []resultCase{
	{"struct", "item.json", func() any { return new(benchItem) }},
	{"struct-embedded", "item.json", func() any { return new(benchEmbedded) }},
	{"map", "map.json", func() any { return new(map[string]any) }},
	{"slice", "slice.json", func() any { return new([]benchItem) }},
	{"doc-2KiB", "doc.json", func() any { return new(benchOrder) }},
	{"string-10KiB", "string.json", func() any { return new(string) }},
}

func readResult(tb testing.TB, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "results", file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// stepsBody is a call body with n memoized steps, each returning a
// benchItem, as the server sends it (keys sorted).
func stepsBody(tb testing.TB, n int) []byte {
	tb.Helper()
	steps := make(map[string]json.RawMessage, n)
	stack := make([]string, 0, n)
	for i := range n {
		sum := sha1.Sum([]byte("s" + strconv.Itoa(i)))
		h := hex.EncodeToString(sum[:])
		steps[h] = json.RawMessage(fmt.Sprintf(`{"data":{"id":%d,"name":"item-%d","ok":true}}`, i, i))
		stack = append(stack, h)
	}
	ev := json.RawMessage(`{"data":{"n":1},"id":"01M89CTBSH2GFBMWW3PWMMWMQW","name":"bench/steps","ts":1795611766577,"user":{}}`)
	body, err := json.Marshal(map[string]any{
		"ctx": map[string]any{
			"attempt": 0, "disable_immediate_execution": false, "env": "",
			"fn_id": "a2aa9477-7a54-5788-979c-609bc1df2ad8", "generation_id": 1, "job_id": "q3lf991g3cvj",
			"max_attempts": 5, "qi_id": "cTNsZjk5MWczY3ZqOjpkZWZhdWx0", "request_id": "01M89CTC58JKJP875B1YQNW7AT",
			"run_id": "01M89CTBZB7VAD2JPG7CN5RYB6", "stack": map[string]any{"current": n, "stack": stack},
			"step_id": "step", "use_api": false,
		},
		"defers": map[string]any{}, "event": ev, "events": []json.RawMessage{ev},
		"steps": steps, "use_api": false, "version": 2,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkDecodeRequest decodes a whole call body: DecodeRequest's one
// pass (impl=wire) against json.Unmarshal into a Request.
func BenchmarkDecodeRequest(b *testing.B) {
	for _, n := range []int{0, 100, 1000} {
		body := stepsBody(b, n)
		b.Run(fmt.Sprintf("steps=%d/impl=wire", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				var req Request
				if err := DecodeRequest(body, &req); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
		b.Run(fmt.Sprintf("steps=%d/impl=encoding-json", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				var req Request
				if err := json.Unmarshal(body, &req); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
	}
}

// BenchmarkDecodeMemo decodes one memoized step's envelope.
func BenchmarkDecodeMemo(b *testing.B) {
	raw := []byte(`{"data":{"id":123,"name":"item-123","ok":true}}`)
	b.Run("impl=wire", func(b *testing.B) {
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			var m Memo
			if err := DecodeMemo(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			var m Memo
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
}

// BenchmarkUnmarshal decodes step results into their Go types:
// Unmarshal (impl=wire), its encoding/json path alone (impl=pooled: a
// pooled json.Decoder) and json.Unmarshal.
func BenchmarkUnmarshal(b *testing.B) {
	impls := []struct {
		name string
		fn   func([]byte, any) error
	}{
		{"wire", Unmarshal},
		{"pooled", unmarshalStd},
		{"encoding-json", json.Unmarshal},
	}
	for _, c := range resultCases {
		data := readResult(b, c.file)
		for _, impl := range impls {
			b.Run("type="+c.name+"/impl="+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				stop := cpuMeter(b)
				for b.Loop() {
					if err := impl.fn(data, c.target()); err != nil {
						b.Fatal(err)
					}
				}
				stop()
			})
		}
	}
}

// TestResultCasesDecode checks that the benchmarks' results decode the
// same every way.
func TestResultCasesDecode(t *testing.T) {
	for _, c := range resultCases {
		checkValue(t, readResult(t, c.file), c.target)
	}
}

// BenchmarkMemoData decodes a memoized step's entry, {"data": result},
// into the result's Go type: UnmarshalData's one pass (impl=one-pass)
// falling back to two passes where it declines, as a step does) against
// DecodeMemo and then Unmarshal of the data (impl=two-pass), the way a
// step decoded its memo before UnmarshalData.
func BenchmarkMemoData(b *testing.B) {
	for _, c := range resultCases {
		raw := append(append([]byte(`{"data":`), readResult(b, c.file)...), '}')
		b.Run("type="+c.name+"/impl=one-pass", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				if v := c.target(); !UnmarshalData(raw, v) {
					twoPass(b, raw, v)
				}
			}
			stop()
		})
		b.Run("type="+c.name+"/impl=two-pass", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				twoPass(b, raw, c.target())
			}
			stop()
		})
	}
}

func twoPass(b *testing.B, raw []byte, v any) {
	var m Memo
	if err := DecodeMemo(raw, &m); err != nil {
		b.Fatal(err)
	}
	if err := Unmarshal(m.Data, v); err != nil {
		b.Fatal(err)
	}
}
