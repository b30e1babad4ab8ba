package inngest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
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
		{name: "s uppercase hex", header: upperHexMAC(sign("signkey-prod-12345678", now, body)), body: body, key: primary, wantErr: ErrSignatureFormat},
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

// upperHexMAC spells the HMAC of a "t=…&s=…" header in uppercase hex:
// the same bytes, a spelling the server never sends.
func upperHexMAC(header string) string {
	ts, sig, _ := strings.Cut(header, "&s=")
	return ts + "&s=" + strings.ToUpper(sig)
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

const (
	fuzzKey      = "signkey-test-12345678"
	fuzzFallback = "signkey-test-9abcdef0"
	// fuzzNow is the time of the specification's test vector.
	fuzzNow = 1705586504
)

func fuzzKeys(tb testing.TB) (key, fallback []byte) {
	tb.Helper()
	key, _, err := parseSigningKey(fuzzKey)
	require.NoError(tb, err)
	fallback, _, err = parseSigningKey(fuzzFallback)
	require.NoError(tb, err)
	return key, fallback
}

// FuzzVerifySignature feeds arbitrary headers, bodies and clocks to the
// verifier. It must not panic, must fail only with one of its sentinel
// errors, and must accept only a header whose t is within five minutes
// and whose s is the HMAC of the body (or its canonical form) and t
// under one of the keys.
func FuzzVerifySignature(f *testing.F) {
	key, fallback := fuzzKeys(f)
	body := []byte(`{"a":1}`)
	valid := "t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954"
	for _, h := range []string{
		valid, "", "t=1705586504", "s=bd16", "t=x&s=" + valid[len(valid)-64:], "t=1705586504&s=zz",
		"t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab695",
		"s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954&t=1705586504",
		valid + "&t=1", "t=1705586504;s=1", "t=%zz&s=1", "t=+1705586504&s=1", "t=99999999999999999999&s=00",
		"t=-9223372036854775808&s=" + valid[len(valid)-64:],
		"t=1705586504&s=BD16D89641DAC2E340A40E3800435B96C0E533C00BC7322C1EEFAE65D6AB6954",
	} {
		f.Add(h, body, int64(0))
		f.Add(h, []byte(`{ "a": 1 }`), int64(299))
		f.Add(h, []byte{}, int64(-301))
	}
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		now := time.Unix(fuzzNow, 0).Add(time.Duration(skew) * time.Second)
		fb, err := verifySignature(header, body, now, key, fallback, true)
		if err != nil {
			require.Truef(t, errors.Is(err, ErrSignatureMissing) || errors.Is(err, ErrSignatureFormat) ||
				errors.Is(err, ErrSignatureExpired) || errors.Is(err, ErrSignatureInvalid), "unexpected error %v", err)
			return
		}
		// Accepted: check it independently of the verifier's parsing.
		ts, sig, ok := fuzzParseHeader(header)
		require.True(t, ok, "accepted a header without t and s: %q", header)
		tsNum, perr := strconv.ParseInt(ts, 10, 64)
		require.NoError(t, perr)
		age := now.Sub(time.Unix(tsNum, 0))
		require.LessOrEqual(t, age, SignatureMaxAge)
		require.GreaterOrEqual(t, age, -SignatureMaxAge)
		k := key
		if fb {
			k = fallback
		}
		msgs := [][]byte{body}
		if c, err := jcs.Transform(body); err == nil && len(body) <= maxCanonicalBody {
			msgs = append(msgs, c)
		}
		matched := false
		for _, m := range msgs {
			full := append(append([]byte(nil), m...), ts...)
			if fuzzMAC(k, full) == sig {
				matched = true
			}
		}
		require.True(t, matched, "accepted a signature that is not the HMAC: %q", header)
	})
}

// fuzzParseHeader reads the first t and s of a header like "t=1&s=ab",
// a URL query string.
func fuzzParseHeader(h string) (ts, sig string, ok bool) {
	var haveT, haveS bool
	for _, part := range strings.Split(h, "&") {
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", "", false
		}
		switch {
		case k == "t" && !haveT:
			ts, haveT = v, true
		case k == "s" && !haveS:
			sig, haveS = v, true
		}
	}
	return ts, sig, haveT && haveS
}

func fuzzMAC(key, msg []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil))
}

// FuzzSignVerify signs arbitrary bodies at arbitrary times and checks
// the round trip: a signature verifies with its key (reporting which),
// within five minutes only, and not after the body changed, unless the
// change keeps the canonical form that was signed.
func FuzzSignVerify(f *testing.F) {
	key, fallback := fuzzKeys(f)
	f.Add([]byte(`{"a":1}`), int64(fuzzNow), uint16(0), byte('b'), int64(0), false)
	f.Add([]byte(`{"b":2,"a":1}`), int64(fuzzNow), uint16(3), byte(' '), int64(300), true)
	f.Add([]byte(`{"url":"http://x/a?b&c"}`), int64(0), uint16(9), byte('&'), int64(-300), false)
	f.Add([]byte(``), int64(-1), uint16(0), byte('{'), int64(301), true)
	f.Fuzz(func(t *testing.T, body []byte, ts int64, at uint16, b byte, skew int64, useFallback bool) {
		// Times Go can represent and format: years 1 to 9999.
		const lo, hi = -62135596800, 253402300799
		if ts < lo || ts > hi {
			ts = lo + int64(uint64(ts)%uint64(hi-lo))
		}
		skew %= 3600
		signKey := fuzzKey
		if useFallback {
			signKey = fuzzFallback
		}
		signed := time.Unix(ts, 0)
		header, err := Sign(signKey, signed, body)
		require.NoError(t, err)
		now := signed.Add(time.Duration(skew) * time.Second)

		fb, err := verifySignature(header, body, now, key, fallback, true)
		if skew > 300 || skew < -300 {
			require.ErrorIs(t, err, ErrSignatureExpired)
			return
		}
		require.NoError(t, err)
		require.Equal(t, useFallback, fb)

		// The server signs the canonical form; the raw body still verifies.
		if c, cerr := jcs.Transform(body); cerr == nil && len(body) > 0 {
			h2, _ := Sign(signKey, signed, c)
			_, err := verifySignature(h2, body, now, key, fallback, true)
			require.NoError(t, err, "a body whose canonical form was signed verifies")
		}

		// Change one byte (or append one).
		changed := append([]byte(nil), body...)
		if len(changed) > 0 && int(at) < len(changed) {
			changed[at] = b
		} else {
			changed = append(changed, b)
		}
		_, err = verifySignature(header, changed, now, key, fallback, true)
		same := bytes.Equal(changed, body)
		if c, cerr := jcs.Transform(changed); cerr == nil && len(changed) <= maxCanonicalBody && bytes.Equal(c, body) {
			same = true
		}
		if same {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, ErrSignatureInvalid, "a changed body must not verify")
		}
	})
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
