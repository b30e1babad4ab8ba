package wire_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest/internal/wire"
)

func TestHashIDVectors(t *testing.T) {
	// The step-ID vectors of the protocol: sha1 of the ID for its first
	// use, of "<id>:<n>" for the (n+1)-th.
	tests := []struct {
		id   string
		n    int
		want string
	}{
		{"my-step-id", 0, "e7d8a2f140845095749d60246ff1110c9d01d76a"},
		{"my-step-id", 1, "f47c6228c581af870aa285200cf95ec3ac59bb6a"},
		{"first step", 0, "98bf98df193bcce7c33e6bc50927cf2ac21206cb"},
		{"sleep", 0, "c3ca5f787365eae0dea86250e27d476406956478"},
		{"wait", 0, "daaad336276d15594d0e765f96c17cd746bf4971"},
		// From the dev-server captures.
		{"a", 0, "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"},
		{"approval", 0, "59494695a3172b5212f0a47857b0546e54320776"},
		{"call", 0, "bc8d8647b02deea0ab3e715c220d041ee78cc19d"},
		{"p1", 0, "b78f576611ec06f96af3ca654c22172a5d746c40"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, wire.HashID(tt.id, tt.n), "HashID(%q, %d)", tt.id, tt.n)
	}
}

func TestCachedHashIDUnderChurn(t *testing.T) {
	// More distinct IDs than the cache has slots, from several
	// goroutines at once, repeated: every answer is the hash itself,
	// whatever was evicted (run with -race for the cache's atomics).
	ids := make([]string, 5000)
	want := make([]string, len(ids))
	for i := range ids {
		ids[i] = "step-" + strconv.Itoa(i)
		want[i] = wire.HashID(ids[i], i%3)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				for j := range ids {
					i := (j*7 + g*131 + round) % len(ids)
					if got := wire.CachedHashID(ids[i], i%3); got != want[i] {
						errs <- fmt.Sprintf("CachedHashID(%q, %d) = %s, want %s", ids[i], i%3, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// An ID longer than the cache keeps is hashed every time, correctly.
	long := strings.Repeat("x", 300)
	assert.Equal(t, wire.HashID(long, 2), wire.CachedHashID(long, 2))
}

func TestHashIDCounterIsTheSuffix(t *testing.T) {
	// The n-th repeat hashes exactly as the ID with ":n" appended would.
	for _, n := range []int{1, 2, 9, 10, 123} {
		suffixed := "x:" + strconv.Itoa(n)
		assert.Equal(t, wire.HashID(suffixed, 0), wire.HashID("x", n), "n=%d", n)
	}
	assert.NotEqual(t, wire.HashID("x", 0), wire.HashID("x", 1))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		days bool
		want string
	}{
		{90 * time.Minute, true, "1h30m"},
		{48 * time.Hour, true, "2d"},
		{48 * time.Hour, false, "48h"},
		{49*time.Hour + 30*time.Second, true, "2d1h30s"},
		{49*time.Hour + 30*time.Second, false, "49h30s"},
		{time.Second, true, "1s"},
		{2 * time.Second, true, "2s"},
		{1500 * time.Millisecond, true, "1s500ms"},
		{time.Millisecond + 2*time.Microsecond + 3, true, "1ms2us3ns"},
		{366 * 24 * time.Hour, true, "366d"},
		{24*time.Hour - time.Nanosecond, true, "23h59m59s999ms999us999ns"},
		{0, true, "0s"},
		{-time.Minute, true, "0s"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, wire.Duration(tt.d, tt.days), "Duration(%s, %v)", tt.d, tt.days)
	}
}

func TestDurationRoundTripsThroughParseDuration(t *testing.T) {
	// Without days, the text is one time.ParseDuration reads back exactly.
	for _, d := range []time.Duration{time.Nanosecond, 90 * time.Minute, 49*time.Hour + 1500*time.Millisecond, 8760 * time.Hour} {
		got, err := time.ParseDuration(wire.Duration(d, false))
		require.NoError(t, err)
		assert.Equal(t, d, got)
	}
}

func TestTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 25, 14, 2, 47, 999_000_000, paris)
	assert.Equal(t, "2026-11-25T13:02:47Z", wire.Time(at), "UTC, whole seconds")
	got, err := time.Parse(time.RFC3339, wire.Time(at))
	require.NoError(t, err)
	assert.True(t, got.Equal(at.Truncate(time.Second)))
}
