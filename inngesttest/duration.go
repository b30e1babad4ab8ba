package inngesttest

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a duration as the server does for sleeps and
// timeouts: numbers with units, largest first or not, such as "1h30m",
// "2d", "1w", "1500ms" or "1.5h". Units are w, d, h, m, s, ms, us (or
// µs) and ns.
func parseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: expected a number at %q", orig, s)
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", orig, err)
		}
		s = s[i:]
		j := 0
		for j < len(s) && (s[j] < '0' || s[j] > '9') && s[j] != '.' {
			j++
		}
		var unit time.Duration
		switch s[:j] {
		case "w":
			unit = 7 * 24 * time.Hour
		case "d":
			unit = 24 * time.Hour
		case "h":
			unit = time.Hour
		case "m":
			unit = time.Minute
		case "s":
			unit = time.Second
		case "ms":
			unit = time.Millisecond
		case "us", "µs":
			unit = time.Microsecond
		case "ns":
			unit = time.Nanosecond
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %q", orig, s[:j])
		}
		s = s[j:]
		total += n * float64(unit)
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q is too long", orig)
	}
	return time.Duration(total), nil
}

// parseUntil reads a sleep's or timeout's end: a string of at least ten
// characters is tried as an RFC 3339 time first, as the server does;
// otherwise it is a duration from now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if len(s) >= 10 {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(d), nil
}

// Retry delays, as the server applies them.
const (
	minRetryDelay = time.Second
	maxRetryDelay = 24 * time.Hour
)

// backoff is the server's retry table: the delay after the attempt with
// the given zero-based index failed. The server adds up to 30s of
// jitter; the engine does not, so delays are exact.
func backoff(attempt int) time.Duration {
	table := [...]time.Duration{
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, 2 * time.Hour,
	}
	if attempt < 0 {
		attempt = 0
	}
	if attempt >= len(table) {
		return table[len(table)-1]
	}
	return table[attempt]
}

// retryAfter reads a Retry-After header as the server does: up to seven
// characters are whole seconds, anything longer is a date. A date is
// measured against the real clock at the time of the answer, since the
// SDK computed it from the real clock (inngest.RetryAfterError), and
// truncated to whole seconds: the SDK rounds the date up to the
// header's precision, so RetryAfterError(err, time.Minute) reads as one
// minute. The delay is clamped to 1s..24h.
func retryAfter(v string, realNow time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if len(v) <= 7 {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, false
		}
		d = time.Duration(n) * time.Second
	} else {
		var at time.Time
		var err error
		for _, layout := range []string{time.RFC3339Nano, http.TimeFormat, time.RFC1123Z} {
			if at, err = time.Parse(layout, v); err == nil {
				break
			}
		}
		if err != nil {
			return 0, false
		}
		d = at.Sub(realNow).Truncate(time.Second)
	}
	return min(max(d, minRetryDelay), maxRetryDelay), true
}
