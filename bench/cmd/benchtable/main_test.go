package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
pkg: github.com/go-inngest/inngest/bench
BenchmarkCall/sdk=ours/steps=100-2         	    1000	    100000 ns/op	  120000 cpu-ns/op	   50000 B/op	     400 allocs/op
BenchmarkCall/sdk=ours/steps=100-2         	    1000	    110000 ns/op	  130000 cpu-ns/op	   50000 B/op	     400 allocs/op
BenchmarkCall/sdk=ours/steps=100-2         	    1000	    300000 ns/op	  140000 cpu-ns/op	   50000 B/op	     400 allocs/op
BenchmarkCall/sdk=official/steps=100-2     	    1000	    500000 ns/op	  500000 cpu-ns/op	  180000 B/op	    2500 allocs/op
BenchmarkCall/sdk=floor/steps=100-2        	    1000	    140000 ns/op	  150000 cpu-ns/op	   32000 B/op	     433 allocs/op
BenchmarkCall/sdk=ours/steps=1000-2        	     100	   2000000 ns/op	 2000000 cpu-ns/op	  500000 B/op	    3000 allocs/op
BenchmarkCall/sdk=official/steps=1000-2    	     100	   6000000 ns/op	 6000000 cpu-ns/op	 1800000 B/op	   22000 allocs/op
BenchmarkCall/sdk=floor/steps=1000-2       	     100	   1500000 ns/op	 1500000 cpu-ns/op	  380000 B/op	    4000 allocs/op
PASS
`

func TestTable(t *testing.T) {
	tb, err := parse(strings.NewReader(sample), "sample")
	require.NoError(t, err)
	assert.Equal(t, []string{"steps=100", "steps=1000"}, tb.order)
	// Medians: the 300000 outlier does not count.
	assert.Equal(t, 110000.0, tb.get("steps=100", "ours", "ns/op"))
	assert.Equal(t, 130000.0, tb.get("steps=100", "ours", "cpu-ns/op"))

	var out bytes.Buffer
	tb.print(&out, "ns/op")
	assert.Contains(t, out.String(), "| steps=100 | 110.0 µs | 500.0 µs | 140.0 µs | 4.55x | 0.79x | 48.8 KiB | 175.8 KiB | 400 | 2500 | 6.25x |")

	// 1,000 steps: 6000/2000 is only 3x, under 4x, and 2000/1500 is
	// 1.33x of the floor, which holds; 2000/110 = 18.2x the cost for 10x
	// the steps is not linear (steps^1.26).
	out.Reset()
	assert.False(t, tb.checkTargets(&out, "ns/op"))
	assert.Contains(t, out.String(), "MISSED linear growth, struct: cost ~ steps^1.26 from 100 to 1,000 steps, at most ^1.2 (18.2x the cost for 10x the steps)")
	assert.Contains(t, out.String(), "MISSED steps=1000: at least 4x less time than official (3.0x)")
	assert.Contains(t, out.String(), "ok     steps=1000: within 1.5x of the floor (1.33x)")
	assert.Contains(t, out.String(), "ok     steps=100: at least 4x fewer allocations than official (6.2x)")
}

const resultSample = `BenchmarkCall/sdk=ours/steps=0-2          1000	     20000 ns/op	  20000 cpu-ns/op	 6000 B/op	  68 allocs/op
BenchmarkCall/sdk=floor/steps=0-2         1000	      9000 ns/op	   9000 cpu-ns/op	  856 B/op	  15 allocs/op
BenchmarkCall/sdk=ours/result=map/steps=100-2      1000	    100000 ns/op	 100000 cpu-ns/op	50000 B/op	 800 allocs/op
BenchmarkCall/sdk=official/result=map/steps=100-2  1000	    500000 ns/op	 500000 cpu-ns/op	90000 B/op	3600 allocs/op
BenchmarkCall/sdk=floor/result=map/steps=100-2     1000	     80000 ns/op	  80000 cpu-ns/op	30000 B/op	 433 allocs/op
BenchmarkCall/sdk=ours/result=map/steps=1000-2      100	   1000000 ns/op	1000000 cpu-ns/op	50000 B/op	8000 allocs/op
BenchmarkCall/sdk=official/result=map/steps=1000-2  100	   5000000 ns/op	5000000 cpu-ns/op	90000 B/op	36000 allocs/op
BenchmarkCall/sdk=floor/result=map/steps=1000-2     100	    800000 ns/op	 800000 cpu-ns/op	30000 B/op	4033 allocs/op
BenchmarkCall/sdk=ours/failure-handler-2   1000	     30000 ns/op	  30000 cpu-ns/op	 6000 B/op	  68 allocs/op
BenchmarkCall/sdk=floor/failure-handler-2  1000	     14000 ns/op	  14000 cpu-ns/op	  856 B/op	  15 allocs/op
`

func TestResultScenarios(t *testing.T) {
	tb, err := parse(strings.NewReader(resultSample), "sample")
	require.NoError(t, err)
	assert.Equal(t, []string{"steps=0", "result=map/steps=100", "result=map/steps=1000", "failure-handler"}, tb.order)
	var out bytes.Buffer
	assert.False(t, tb.checkTargets(&out, "ns/op"))
	for _, want := range []string{
		"MISSED steps=0: within 2x of the floor (2.22x)",
		"ok     result=map/steps=100: at least 4x less time than official (5.0x)",
		"ok     result=map/steps=1000: at least 4x fewer allocations than official (4.5x)",
		"ok     result=map/steps=1000: within 1.5x of the floor (1.25x)",
		"MISSED failure-handler: within 2x of the floor (2.14x)",
		"ok     linear growth, map: cost ~ steps^1.00 from 100 to 1,000 steps, at most ^1.2 (10.0x the cost for 10x the steps)",
	} {
		assert.Contains(t, out.String(), want)
	}

	svg := string(tb.svg("ns/op"))
	assert.True(t, strings.HasPrefix(svg, "<svg "), svg)
	assert.Equal(t, 2, strings.Count(svg, "<polyline"), "one line for each SDK's map results")
	assert.Equal(t, 1, strings.Count(svg, `stroke-dasharray="6 4" points=`), "the official line is dashed")
	assert.Contains(t, svg, ">map</text>")
}

func TestMemoized(t *testing.T) {
	for s, want := range map[string]int{
		"steps=0": 0, "failure-handler": 0, "steps=100": 100, "result=doc-2KiB/steps=1000": 1000,
		"signed=steps-100": 100, "concurrent=steps-100": 100, "parallel=10x10": 100, "state=1MiB": -1,
	} {
		n, _ := memoized(s)
		assert.Equal(t, want, n, s)
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	f := filepath.Join(t.TempDir(), "README.md")
	// The markers named in the text do not count; only lines do.
	require.NoError(t, os.WriteFile(f, []byte("# x\nsee `<!-- benchtable:begin -->` and `<!-- benchtable:end -->`\n<!-- benchtable:begin -->\nold\n<!-- benchtable:end -->\nafter\n"), 0o644))
	require.NoError(t, replaceBetweenMarkers(f, "new\n"))
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	assert.Equal(t, "# x\nsee `<!-- benchtable:begin -->` and `<!-- benchtable:end -->`\n<!-- benchtable:begin -->\nnew\n<!-- benchtable:end -->\nafter\n", string(b))
	require.NoError(t, replaceBetweenMarkers(f, "newer\n"), "again")
	b, _ = os.ReadFile(f)
	assert.Contains(t, string(b), "<!-- benchtable:begin -->\nnewer\n<!-- benchtable:end -->\nafter\n")

	require.NoError(t, os.WriteFile(f, []byte("no markers\n"), 0o644))
	assert.ErrorContains(t, replaceBetweenMarkers(f, "new\n"), "no lines")
}

// Rounds are paired: a round in which the machine ran slow (the third)
// slows both SDKs, and the ratio is each round's own.
func TestPairedRatios(t *testing.T) {
	const rounds = `BenchmarkCall/sdk=ours/steps=100-2      1000  100000 ns/op
BenchmarkCall/sdk=official/steps=100-2  1000  500000 ns/op
BenchmarkCall/sdk=ours/steps=100-2      1000  200000 ns/op
BenchmarkCall/sdk=official/steps=100-2  1000  600000 ns/op
BenchmarkCall/sdk=ours/steps=100-2      1000  300000 ns/op
BenchmarkCall/sdk=official/steps=100-2  1000 1500000 ns/op
`
	tb, err := parse(strings.NewReader(rounds), "rounds")
	require.NoError(t, err)
	// The medians are 200 and 600 µs (3x); the rounds' ratios 5x, 3x, 5x.
	assert.Equal(t, 5.0, tb.paired("steps=100", "official", "ours", "ns/op"))
	var out bytes.Buffer
	tb.checkTargets(&out, "ns/op")
	assert.Contains(t, out.String(), "ok     steps=100: at least 4x less time than official (5.0x)")
	// A side with rounds missing: the ratio of the medians.
	tb.vals["steps=100"]["ours"]["ns/op"] = tb.vals["steps=100"]["ours"]["ns/op"][:2]
	assert.Equal(t, 600000.0/150000, tb.paired("steps=100", "official", "ours", "ns/op"))
}
