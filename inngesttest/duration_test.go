package inngesttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1s": time.Second, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour,
		"1s500ms": 1500 * time.Millisecond, "1.5h": 90 * time.Minute, "0s": 0, "0": 0, "250us": 250 * time.Microsecond,
	} {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "h", "1x", "1h-2m"} {
		_, err := parseDuration(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseUntil(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := parseUntil("2030-01-02T00:00:00Z", now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(24*time.Hour), got)
	got, err = parseUntil("1d", now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(24*time.Hour), got)
}

func TestBackoffTable(t *testing.T) {
	var got []time.Duration
	for i := range 12 {
		got = append(got, backoff(i))
	}
	assert.Equal(t, []time.Duration{
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		20 * time.Minute, 40 * time.Minute, time.Hour, 2 * time.Hour, 2 * time.Hour, 2 * time.Hour,
	}, got)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 300e6, time.UTC)
	for in, want := range map[string]time.Duration{
		"30":                            30 * time.Second,
		"0":                             time.Second,    // at least 1s
		"2030-01-01T00:01:01Z":          time.Minute,    // the SDK rounds its date up; 60.7s reads as 1m
		"2029-12-31T00:00:00Z":          time.Second,    // in the past
		"2030-01-05T00:00:00Z":          24 * time.Hour, // at most 24h
		"Tue, 01 Jan 2030 00:00:11 GMT": 10 * time.Second,
	} {
		got, ok := retryAfter(in, now)
		require.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	_, ok := retryAfter("soon", now)
	assert.False(t, ok)
	_, ok = retryAfter("", now)
	assert.False(t, ok)
}
