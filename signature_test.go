package inngest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test vector of the protocol notes: key signkey-test-12345678, body
// {"a":1}, t=1705586504.
const (
	sigVectorKey  = "signkey-test-12345678"
	sigVectorBody = `{"a":1}`
	sigVectorTime = 1705586504
	sigVectorSig  = "t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954"
)

func sigHMACKey(t *testing.T, key string) []byte {
	t.Helper()
	k, _, err := parseSigningKey(key)
	require.NoError(t, err)
	return k
}

func TestSignVector(t *testing.T) {
	got, err := Sign(sigVectorKey, time.Unix(sigVectorTime, 0), []byte(sigVectorBody))
	require.NoError(t, err)
	assert.Equal(t, sigVectorSig, got)

	fb, err := verifySignature(sigVectorSig, []byte(sigVectorBody), time.Unix(sigVectorTime, 0), sigHMACKey(t, sigVectorKey), nil, false)
	require.NoError(t, err)
	assert.False(t, fb)
}

func TestSignBadKey(t *testing.T) {
	for _, key := range []string{"", "signkey-test-", "signkey-test-xyz", "not hex"} {
		_, err := Sign(key, time.Unix(sigVectorTime, 0), []byte(sigVectorBody))
		assert.Error(t, err, "key %q", key)
	}
}

// The bearer token is the key's prefix followed by the SHA-256 of the
// hex-decoded rest; the HMAC key is the rest as text.
func TestSigningKeyHashing(t *testing.T) {
	for _, tc := range []struct {
		key, hmac, bearer string
	}{
		{"signkey-prod-12345678", "12345678", "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"},
		{"signkey-test-12345678", "12345678", "signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"},
		// A self-hosted key is bare hex.
		{"12345678", "12345678", "b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"},
	} {
		k, bearer, err := parseSigningKey(tc.key)
		require.NoError(t, err, tc.key)
		assert.Equal(t, tc.hmac, string(k), tc.key)
		assert.Equal(t, tc.bearer, bearer, tc.key)
	}
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(sigVectorTime, 0)
	body := []byte(sigVectorBody)
	primary := sigHMACKey(t, "signkey-prod-12345678")
	fallback := sigHMACKey(t, "signkey-prod-abcdef01")
	sign := func(key string, at time.Time, b []byte) string {
		s, err := Sign(key, at, b)
		require.NoError(t, err)
		return s
	}

	for _, tc := range []struct {
		name          string
		header        string
		body          []byte
		key, fallback []byte
		wantFallback  bool
		wantErr       error
	}{
		{name: "primary", header: sign("signkey-prod-12345678", now, body), body: body, key: primary, fallback: fallback},
		{name: "fallback", header: sign("signkey-prod-abcdef01", now, body), body: body, key: primary, fallback: fallback, wantFallback: true},
		{name: "fallback only configured", header: sign("signkey-prod-abcdef01", now, body), body: body, fallback: fallback, wantFallback: true},
		{name: "neither key", header: sign("signkey-prod-99999999", now, body), body: body, key: primary, fallback: fallback, wantErr: ErrSignatureInvalid},
		{name: "no key configured", header: sign("signkey-prod-12345678", now, body), body: body, wantErr: ErrNoSigningKey},
		{name: "body changed", header: sign("signkey-prod-12345678", now, body), body: []byte(`{"a":2}`), key: primary, wantErr: ErrSignatureInvalid},
		{name: "empty body", header: sign("signkey-prod-12345678", now, nil), key: primary},
		{name: "5 minutes old", header: sign("signkey-prod-12345678", now.Add(-5*time.Minute), body), body: body, key: primary},
		{name: "5 minutes ahead", header: sign("signkey-prod-12345678", now.Add(5*time.Minute), body), body: body, key: primary},
		{name: "stale", header: sign("signkey-prod-12345678", now.Add(-5*time.Minute-time.Second), body), body: body, key: primary, wantErr: ErrSignatureExpired},
		{name: "future", header: sign("signkey-prod-12345678", now.Add(5*time.Minute+time.Second), body), body: body, key: primary, wantErr: ErrSignatureExpired},
		{name: "missing", header: "", body: body, key: primary, wantErr: ErrSignatureMissing},
		{name: "no t", header: "s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "no s", header: "t=1705586504", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "t not a number", header: "t=soon&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "s not hex", header: "t=1705586504&s=zz16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "s too short", header: "t=1705586504&s=bd16d896", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "bad escape", header: "t=1705586504&s=%zz", body: body, key: primary, wantErr: ErrSignatureFormat},
		{name: "garbage", header: "garbage", body: body, key: primary, wantErr: ErrSignatureFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb, err := verifySignature(tc.header, tc.body, now, tc.key, tc.fallback, true)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantFallback, fb)
		})
	}
}

// The server signs the JCS (RFC 8785) form of a sync body but sends Go's
// json.Marshal output, which escapes '&' and need not order keys: such a
// body verifies when its canonical form was signed.
func TestVerifySignatureJCS(t *testing.T) {
	now := time.Unix(sigVectorTime, 0)
	key := sigHMACKey(t, "signkey-prod-12345678")
	canonical := []byte(`{"a":1,"url":"http://app.test/api/inngest?x=1&y=2"}`)
	sig, err := Sign("signkey-prod-12345678", now, canonical)
	require.NoError(t, err)

	for _, body := range []string{
		`{"a":1,"url":"http://app.test/api/inngest?x=1\u0026y=2"}`,
		`{"url":"http://app.test/api/inngest?x=1&y=2","a":1}`,
		`{ "url" : "http://app.test/api/inngest?x=1\u0026y=2", "a" : 1.0 }`,
	} {
		_, err := verifySignature(sig, []byte(body), now, key, nil, true)
		assert.NoError(t, err, body)
		// Calls are verified over the body as sent only.
		_, err = verifySignature(sig, []byte(body), now, key, nil, false)
		assert.ErrorIs(t, err, ErrSignatureInvalid, body)
	}
	// A body whose canonical form differs still fails.
	_, err = verifySignature(sig, []byte(`{"a":2,"url":"http://app.test/api/inngest?x=1\u0026y=2"}`), now, key, nil, true)
	assert.True(t, errors.Is(err, ErrSignatureInvalid))
	// Invalid JSON that was not signed as such fails.
	_, err = verifySignature(sig, []byte(`{"a":1,`), now, key, nil, true)
	assert.ErrorIs(t, err, ErrSignatureInvalid)
}
