package testkit

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// started is when the test binary started: every timing the SDK reports
// during a test starts after it.
var started = time.Now()

var timingRE = regexp.MustCompile(`"timing":\{"a":(-?\d+),"b":(-?\d+)\}`)

// Timing is what Timings writes in place of each checked timing.
const Timing = `"timing":"<timing>"`

// Timings checks every "timing" object in body (a step's start in Unix
// nanoseconds and its duration) against the clock: it started while the
// test ran and ended by now. It returns body with each one replaced by
// Timing, so that the rest can be compared byte for byte.
func Timings(t testing.TB, body string) string {
	t.Helper()
	now := time.Now()
	return timingRE.ReplaceAllStringFunc(body, func(m string) string {
		sub := timingRE.FindStringSubmatch(m)
		a, _ := strconv.ParseInt(sub[1], 10, 64)
		b, _ := strconv.ParseInt(sub[2], 10, 64)
		start, end := time.Unix(0, a), time.Unix(0, a+b)
		if start.Before(started) || b < 0 || end.After(now) {
			t.Errorf("timing %s: want a start after %s and an end by %s", m, started.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
		}
		return Timing
	})
}
