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
// over their JCS canonical form. Only the sync PUT (and, to be safe, the
// trust probe) gets that check, and a sync body is {"url": <the app's
// URL>}, far smaller. Canonicalizing a
// body of many small keys costs about 0.2 µs of CPU a byte, so this
// bound keeps the check under 2 ms whatever an unauthenticated sender
// puts in the body.
const maxCanonicalBody = 8 << 10

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
// See parseSignature and signature.verify.
func verifySignature(header string, body []byte, now time.Time, key, fallback []byte, canonical bool) (usedFallback bool, err error) {
	sig, err := parseSignature(header, now, len(key) > 0 || len(fallback) > 0)
	if err != nil {
		return false, err
	}
	return sig.verify(body, key, fallback, canonical)
}

// signature is a parsed X-Inngest-Signature header.
type signature struct {
	ts  string // the timestamp as sent, which the HMAC covers
	mac []byte
}

// parseSignature reads an X-Inngest-Signature header and checks its
// timestamp against now. It needs nothing but the header, so an unsigned,
// malformed or expired request is refused before its body is read.
// haveKey reports whether a signing key is configured.
func parseSignature(header string, now time.Time, haveKey bool) (signature, error) {
	if !haveKey {
		return signature{}, ErrNoSigningKey
	}
	if header == "" {
		return signature{}, ErrSignatureMissing
	}
	q, perr := url.ParseQuery(header)
	if perr != nil {
		return signature{}, ErrSignatureFormat
	}
	tsText, sig := q.Get("t"), q.Get("s")
	if tsText == "" || sig == "" {
		return signature{}, ErrSignatureFormat
	}
	ts, perr := strconv.ParseInt(tsText, 10, 64)
	if perr != nil {
		return signature{}, ErrSignatureFormat
	}
	// The server writes the HMAC as lowercase hex; any other spelling of
	// the same bytes is refused, as the other SDKs (which compare the
	// hex text) refuse it.
	if len(sig) != 2*sha256.Size || !isLowerHex(sig) {
		return signature{}, ErrSignatureFormat
	}
	want, perr := hex.DecodeString(sig)
	if perr != nil {
		return signature{}, ErrSignatureFormat
	}
	age := now.Sub(time.Unix(ts, 0))
	if age > SignatureMaxAge || age < -SignatureMaxAge {
		return signature{}, ErrSignatureExpired
	}
	return signature{ts: tsText, mac: want}, nil
}

// verify checks the signature's HMAC over body with key, then fallback,
// and reports which matched (true for the fallback). The HMAC is computed
// over the body as received and, when canonical is set, that does not
// match and the body is at most maxCanonicalBody, over its JCS canonical
// form. Call bodies arrive canonical (the server sends the form it
// signs), so calls pass false; the server signs its sync PUT's canonical
// form but sends json.Marshal's, so syncs pass true.
//
// A refusal costs one HMAC over the body per configured key and, for a
// canonical check, the canonicalization of at most maxCanonicalBody
// bytes.
func (s signature) verify(body []byte, key, fallback []byte, canonical bool) (usedFallback bool, err error) {
	check := func(b []byte) (bool, bool) {
		for i, k := range [][]byte{key, fallback} {
			if len(k) == 0 {
				continue
			}
			h := hmac.New(sha256.New, k)
			h.Write(b)
			h.Write([]byte(s.ts))
			if hmac.Equal(h.Sum(nil), s.mac) {
				return true, i == 1
			}
		}
		return false, false
	}
	if ok, fb := check(body); ok {
		return fb, nil
	}
	// Canonicalizing costs far more CPU and memory than an HMAC, and an
	// unauthenticated sender chooses the body: only the small bodies of
	// the requests that need it get the second try.
	if canonical && len(body) > 0 && len(body) <= maxCanonicalBody {
		if canon, cerr := jcs.Transform(body); cerr == nil {
			if ok, fb := check(canon); ok {
				return fb, nil
			}
		}
	}
	return false, fmt.Errorf("%w", ErrSignatureInvalid)
}

// isLowerHex reports whether s holds only the digits 0-9 and a-f.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
