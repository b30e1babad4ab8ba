package wire

import "time"

// RetryAfter formats t for the Retry-After response header: RFC 3339 in
// UTC, rounded up to the next whole second. The header carries whole
// seconds and the server does not retry before the time it names, so
// rounding down would let a retry start before t.
func RetryAfter(t time.Time) string {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}
