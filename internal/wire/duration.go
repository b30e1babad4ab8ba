package wire

import (
	"strconv"
	"time"
)

// Duration formats d the way the server's duration parser reads it, with
// the largest units first and zero parts left out: 90*time.Minute is
// "1h30m", 48*time.Hour is "2d", 1500*time.Millisecond is "1s500ms".
// Durations of zero or less format as "0s". With days false, days are
// written as hours ("48h"), for fields the server parses with Go's
// time.ParseDuration.
func Duration(d time.Duration, days bool) string {
	if d <= 0 {
		return "0s"
	}
	var b []byte
	put := func(n int64, unit string) {
		if n > 0 {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, unit...)
		}
	}
	if days {
		put(int64(d/(24*time.Hour)), "d")
		d %= 24 * time.Hour
	}
	put(int64(d/time.Hour), "h")
	d %= time.Hour
	put(int64(d/time.Minute), "m")
	d %= time.Minute
	put(int64(d/time.Second), "s")
	d %= time.Second
	put(int64(d/time.Millisecond), "ms")
	d %= time.Millisecond
	put(int64(d/time.Microsecond), "us")
	d %= time.Microsecond
	put(int64(d), "ns")
	return string(b)
}

// Time formats t as RFC 3339 in UTC, the form the server reads for
// sleep-until and timeouts given as a point in time.
func Time(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
