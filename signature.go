package inngest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gowebpki/jcs"
)

// maxCanonicalBody bounds the bodies whose signature is also checked
// over their JCS canonical form.
const maxCanonicalBody = 1 << 20

// SignatureMaxAge is how far a signature's timestamp may lie from now,
// in the past or the future.
const SignatureMaxAge = 5 * time.Minute

// Errors from signature verification, matched with errors.Is.
var (
	ErrSignatureMissing = errors.New("inngest: the request has no X-Inngest-Signature header")
	ErrSignatureInvalid = errors.New("inngest: the request's signature does not match")
	ErrSignatureExpired = errors.New("inngest: the request's signature is more than 5 minutes old or in the future")
	ErrSignatureFormat  = errors.New("inngest: the X-Inngest-Signature header is malformed")
	ErrNoSigningKey     = errors.New("inngest: no signing key is configured to verify the request")
)

// Sign returns the X-Inngest-Signature value for body at time t, as
// Inngest computes it: "t=<unix seconds>&s=<hex HMAC-SHA256>", keyed with
// the signing key without its "signkey-<env>-" prefix, over the body
// followed by the decimal timestamp. The body is used as given; Inngest
// signs JSON in its canonical (RFC 8785) form. Tests and tools use Sign
// to make requests the handler accepts.
func Sign(signingKey string, t time.Time, body []byte) (string, error) {
	key, _, err := parseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + "&s=" + mac(key, body, ts), nil
}

func mac(key, body []byte, ts int64) string {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	var buf [20]byte
	h.Write(strconv.AppendInt(buf[:0], ts, 10))
	return hex.EncodeToString(h.Sum(nil))
}

// verifySignature checks header against body with the primary key, then
// the fallback. It reports which key matched (true for the fallback).
// The HMAC is computed over the body as received and, if that does not
// match and the body is at most 1 MiB, over its JCS canonical form: call
// bodies arrive canonical, the dev server's sync PUT does not.
func verifySignature(header string, body []byte, now time.Time, key, fallback []byte) (usedFallback bool, err error) {
	if len(key) == 0 && len(fallback) == 0 {
		return false, ErrNoSigningKey
	}
	if header == "" {
		return false, ErrSignatureMissing
	}
	q, perr := url.ParseQuery(header)
	if perr != nil {
		return false, ErrSignatureFormat
	}
	tsText, sig := q.Get("t"), q.Get("s")
	if tsText == "" || sig == "" {
		return false, ErrSignatureFormat
	}
	ts, perr := strconv.ParseInt(tsText, 10, 64)
	if perr != nil {
		return false, ErrSignatureFormat
	}
	want, perr := hex.DecodeString(sig)
	if perr != nil || len(want) != sha256.Size {
		return false, ErrSignatureFormat
	}
	age := now.Sub(time.Unix(ts, 0))
	if age > SignatureMaxAge || age < -SignatureMaxAge {
		return false, ErrSignatureExpired
	}
	check := func(b []byte) (bool, bool) {
		for i, k := range [][]byte{key, fallback} {
			if len(k) == 0 {
				continue
			}
			h := hmac.New(sha256.New, k)
			h.Write(b)
			h.Write([]byte(tsText))
			if hmac.Equal(h.Sum(nil), want) {
				return true, i == 1
			}
		}
		return false, false
	}
	if ok, fb := check(body); ok {
		return fb, nil
	}
	// Canonicalizing costs far more memory than the body itself, and an
	// unauthenticated sender chooses the body: only small bodies (the
	// sync PUT's {"url": …}) get the second try. Call bodies are
	// canonical as sent, so the first check is the one that counts.
	if len(body) > 0 && len(body) <= maxCanonicalBody {
		if canon, cerr := jcs.Transform(body); cerr == nil {
			if ok, fb := check(canon); ok {
				return fb, nil
			}
		}
	}
	return false, fmt.Errorf("%w", ErrSignatureInvalid)
}
