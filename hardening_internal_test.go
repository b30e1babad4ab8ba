package inngest

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBackoffGrowsWithJitterAndACap: the wait before retry n is between
// half and all of 100ms·2^(n-1), capped at 5s, so retries spread out and
// never wait long.
func TestBackoffGrowsWithJitterAndACap(t *testing.T) {
	for n := 1; n <= 10; n++ {
		ceil := min(100*time.Millisecond<<(n-1), 5*time.Second)
		lo, hi := ceil, time.Duration(0)
		for range 2000 {
			d := backoff(n)
			require.GreaterOrEqual(t, d, ceil/2, "retry %d", n)
			require.LessOrEqual(t, d, ceil, "retry %d", n)
			lo, hi = min(lo, d), max(hi, d)
		}
		assert.Greater(t, hi-lo, ceil/4, "retry %d: the waits are jittered", n)
	}
}

// TestRejectingALargeBodyDoesNotCanonicalizeIt: a wrong signature on a
// large body costs an HMAC, not a canonicalization (which allocates
// many times the body's size).
func TestRejectingALargeBodyDoesNotCanonicalizeIt(t *testing.T) {
	key, _, err := parseSigningKey("signkey-test-12345678")
	require.NoError(t, err)
	body := append([]byte("["), bytes.Repeat([]byte("1,"), 1<<20)...)
	body[len(body)-1] = ']'
	now := time.Unix(1705586504, 0)
	header := "t=1705586504&s=" + string(bytes.Repeat([]byte("ab"), 32))
	allocs := testing.AllocsPerRun(3, func() {
		_, err := verifySignature(header, body, now, key, nil, true)
		require.ErrorIs(t, err, ErrSignatureInvalid)
	})
	assert.Less(t, allocs, 100.0, "a rejected 2 MiB body must not be canonicalized")

	// A small body still gets the canonical comparison.
	small := []byte(`{ "b": 2, "a": 1 }`)
	sig, err := Sign("signkey-test-12345678", now, []byte(`{"a":1,"b":2}`))
	require.NoError(t, err)
	_, err = verifySignature(sig, small, now, key, nil, true)
	assert.NoError(t, err)
}
