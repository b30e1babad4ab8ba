package inngest

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
