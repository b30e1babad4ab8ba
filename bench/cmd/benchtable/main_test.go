package main

import (
	"bytes"
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
BenchmarkCall/sdk=ours/steps=1000-2        	     100	   1300000 ns/op	 1300000 cpu-ns/op	  500000 B/op	    3000 allocs/op
BenchmarkCall/sdk=official/steps=1000-2    	     100	   4000000 ns/op	 4000000 cpu-ns/op	 1800000 B/op	   22000 allocs/op
BenchmarkCall/sdk=floor/steps=1000-2       	     100	   1000000 ns/op	 1000000 cpu-ns/op	  380000 B/op	    4000 allocs/op
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

	// 1,000 steps: 4000/1300 is only 3.08x, and 1300/1000 is 1.3x of
	// the floor: both hold; 1300/110 = 11.8x is not linear.
	out.Reset()
	assert.False(t, tb.checkTargets(&out, "ns/op"))
	assert.Contains(t, out.String(), "MISSED linear growth")
	assert.Contains(t, out.String(), "ok     steps=1000: at least 3x less time than official (3.1x)")
}
