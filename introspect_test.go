package inngest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// introspectionCloud is a cloud client with every setting introspection
// reports, and the demo app's nine functions.
func introspectionCloud(t *testing.T) *inngest.Client {
	t.Helper()
	c := testClient(t, inngest.ClientOpts{
		AppID: "demo", Mode: inngest.ModeCloud,
		SigningKey: protoKey, SigningKeyFallback: protoFallbackKey, EventKey: protoEventKey, Env: "staging",
		APIBaseURL: "https://api.example.com", EventAPIBaseURL: "https://events.example.com",
		ServeOrigin: "https://app.example.com", ServePath: "/api/inngest",
	})
	protoDemoApp(t, c)
	return c
}

const (
	introUnauthCloud = `"function_count":9,"has_event_key":true,"has_signing_key":true,"has_signing_key_fallback":true,"mode":"cloud","schema_version":"2024-05-24"}`
	// The key hashes: the bearer form of each signing key (the protocol
	// notes' vector for the primary one) and the SHA-256 of the event key.
	introAuthCloud = `{"authentication_succeeded":true,"function_count":9,"has_event_key":true,"has_signing_key":true,"has_signing_key_fallback":true,"mode":"cloud","schema_version":"2024-05-24",` +
		`"api_origin":"https://api.example.com","app_id":"demo","capabilities":{"trust_probe":"v1"},"env":"staging","event_api_origin":"https://events.example.com",` +
		`"event_key_hash":"bfd39b518cec5669a37f8f103f6e135e24d52dcbfdfdc01a3fb61481d8fc46f4","framework":"nethttp","sdk_language":"go","sdk_version":"` + inngest.Version + `",` +
		`"serve_origin":"https://app.example.com","serve_path":"/api/inngest",` +
		`"signing_key_fallback_hash":"signkey-prod-eb9bfb0760ae28afdd80e2a5354756b4b5c3bcfa0afc5e96b4ae7b36c8faa380",` +
		`"signing_key_hash":"signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"}`
)

func TestIntrospectionDev(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	protoDemoApp(t, c)
	body := `{"authentication_succeeded":null,"function_count":9,"has_event_key":false,"has_signing_key":false,"has_signing_key_fallback":false,"mode":"dev","schema_version":"2024-05-24"}`
	protoAssert(t, protoServe(t, c.Serve(), http.MethodGet, "/api/inngest", nil, nil), protoWant{200, nil, body})
	// Dev mode verifies nothing, so a signature changes nothing.
	protoAssert(t, protoServe(t, c.Serve(), http.MethodGet, "/api/inngest", nil, protoSigned(t, protoKey, nil)), protoWant{200, nil, body})
}

func TestIntrospectionCloud(t *testing.T) {
	c := introspectionCloud(t)
	h := c.Serve()
	now := time.Now()
	for _, tc := range []struct {
		name string
		hdr  http.Header
		body string
	}{
		{"unsigned", nil, `{"authentication_succeeded":null,` + introUnauthCloud},
		{"signed", protoSigned(t, protoKey, nil), introAuthCloud},
		{"signed with the fallback key", protoSigned(t, protoFallbackKey, nil), introAuthCloud},
		{"other key", protoSigned(t, "signkey-prod-00112233", nil), `{"authentication_succeeded":false,` + introUnauthCloud},
		{"signed over a body", protoSigned(t, protoKey, []byte(`{}`)), `{"authentication_succeeded":false,` + introUnauthCloud},
		{"stale", protoSignedAt(t, protoKey, now.Add(-6*time.Minute), nil), `{"authentication_succeeded":false,` + introUnauthCloud},
		{"future", protoSignedAt(t, protoKey, now.Add(6*time.Minute), nil), `{"authentication_succeeded":false,` + introUnauthCloud},
		{"malformed", http.Header{"X-Inngest-Signature": {"s=00"}}, `{"authentication_succeeded":false,` + introUnauthCloud},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protoAssert(t, protoServe(t, h, http.MethodGet, "/api/inngest", nil, tc.hdr), protoWant{200, nil, tc.body})
		})
	}
}

// The trust probe answers a correctly signed POST ?probe=trust with {},
// signed with the key that verified the request.
func TestTrustProbe(t *testing.T) {
	c := introspectionCloud(t)
	h := c.Serve()
	for _, key := range []string{protoKey, protoFallbackKey} {
		res := protoServe(t, h, http.MethodPost, "/api/inngest?probe=trust", []byte(`{}`), protoSigned(t, key, []byte(`{}`)))
		protoAssert(t, res, protoWant{200, nil, `{}`})
		sig, err := url.ParseQuery(res.Header().Get("X-Inngest-Signature"))
		require.NoError(t, err)
		ts, err := strconv.ParseInt(sig.Get("t"), 10, 64)
		require.NoError(t, err)
		want, err := inngest.Sign(key, time.Unix(ts, 0), []byte(`{}`))
		require.NoError(t, err)
		assert.Equal(t, want, res.Header().Get("X-Inngest-Signature"))
	}

	res := protoServe(t, h, http.MethodPost, "/api/inngest?probe=trust", []byte(`{}`), nil)
	protoAssert(t, res, protoWant{401, map[string]string{"X-Inngest-Signature": ""}, `{"error":"inngest: the request has no X-Inngest-Signature header"}`})

	dev := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	res = protoServe(t, dev.Serve(), http.MethodPost, "/api/inngest?probe=trust", []byte(`{}`), nil)
	protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Signature": ""}, `{}`})
}

// No answer, to anyone, ever shows a signing key or the event key.
func TestNoKeyInAnyAnswer(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 401, `{"error":"unauthorized"}` }))
	c := testClient(t, inngest.ClientOpts{
		AppID: "demo", Mode: inngest.ModeCloud, AllowInBandSync: true,
		SigningKey: protoKey, SigningKeyFallback: protoFallbackKey, EventKey: protoEventKey, Env: "staging",
		APIBaseURL: api.URL,
	})
	protoDemoApp(t, c)
	h := c.Serve()
	call := protoFile(t, "calls/steps-1.json")
	useAPI := protoFile(t, "calls/big-3-use-api.json")
	put := []byte(`{"url":"https://app.example.com/api/inngest"}`)
	inBand := protoSigned(t, protoKey, put)
	inBand.Set("X-Inngest-Sync-Kind", "in_band")
	bad := "signkey-prod-00112233"

	for _, r := range []struct {
		method, target string
		body           []byte
		hdr            http.Header
	}{
		{http.MethodGet, "/api/inngest", nil, nil},
		{http.MethodGet, "/api/inngest", nil, protoSigned(t, protoKey, nil)},
		{http.MethodGet, "/api/inngest", nil, protoSigned(t, bad, nil)},
		{http.MethodPut, "/api/inngest", put, inBand},
		{http.MethodPut, "/api/inngest", put, protoSigned(t, protoKey, put)}, // register refused: 500
		{http.MethodPut, "/api/inngest", put, protoSigned(t, bad, put)},
		{http.MethodPost, "/api/inngest?" + protoQuery("steps"), call, protoSigned(t, protoKey, call)},
		{http.MethodPost, "/api/inngest?" + protoQuery("steps"), call, protoSigned(t, bad, call)},
		{http.MethodPost, "/api/inngest?" + protoQuery("big"), useAPI, protoSigned(t, protoKey, useAPI)}, // API refused: 500
		{http.MethodPost, "/api/inngest?probe=trust", []byte(`{}`), protoSigned(t, protoKey, []byte(`{}`))},
		{http.MethodPost, "/api/inngest?probe=trust", []byte(`{}`), protoSigned(t, bad, []byte(`{}`))},
	} {
		res := protoServe(t, h, r.method, r.target, r.body, r.hdr)
		out := res.Body.String()
		for k, v := range res.Header() {
			if k != "X-Inngest-Signature" { // a MAC, whose hex digits are arbitrary
				out += "\n" + k + ": " + v[0]
			}
		}
		for _, secret := range []string{protoKey, protoFallbackKey, protoEventKey, "12345678", "abcdef0123456789", "0123456789"} {
			assert.NotContains(t, out, secret, "%s %s answered %d", r.method, r.target, res.Code)
		}
	}
}

// FuzzIntrospection sends GET and HEAD requests with arbitrary signature
// headers: the authenticated body appears exactly when the header is a
// valid signature of the empty body.
func FuzzIntrospection(f *testing.F) {
	h := fuzzHandler(f, inngest.ModeCloud)
	f.Add("", uint8(0))
	f.Add("t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954", uint8(0))
	f.Add("t=&s=", uint8(0))
	f.Add("s=00&t=99999999999999999999", uint8(0))
	f.Add("t=1;s=2", uint8(0))
	f.Add("", uint8(1))
	f.Add("", uint8(2))
	f.Add("", uint8(3))
	f.Fuzz(func(t *testing.T, header string, mode uint8) {
		method := http.MethodGet
		if mode&4 != 0 {
			method = http.MethodHead
		}
		req := httptest.NewRequest(method, "/api/inngest", nil)
		valid := false
		switch mode % 4 {
		case 0:
			req.Header.Set("X-Inngest-Signature", header)
		case 1:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKey, time.Now(), nil))
			valid = true
		case 2:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKeyFB, time.Now(), nil))
			valid = true
		case 3:
			req.Header.Set("X-Inngest-Signature", sign(t, hardOtherKey, time.Now(), nil))
		}
		rec := serve(h, req)
		require.Equal(t, http.StatusOK, rec.Code)
		requireWellFormed(t, rec)
		var m map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
		_, detailed := m["signing_key_hash"]
		require.Equal(t, valid, detailed, "authenticated details only for a valid signature: %s", rec.Body)
		switch {
		case valid:
			require.Equal(t, true, m["authentication_succeeded"])
		case req.Header.Get("X-Inngest-Signature") == "":
			require.Nil(t, m["authentication_succeeded"])
		default:
			require.Equal(t, false, m["authentication_succeeded"])
		}
		requireNoSecrets(t, rec.Body.String(), valid)
	})
}

// TestIntrospectionDetailsOnlyForValidSignature checks who gets which
// introspection body: details (with key hashes, never keys) only for a
// valid signature in cloud mode.
func TestIntrospectionDetailsOnlyForValidSignature(t *testing.T) {
	cloud := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB, EventKey: hardEventKey})
	dev := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev, SigningKey: hardKey, SigningKeyFallback: hardKeyFB, EventKey: hardEventKey})
	now := time.Now()
	cases := []struct {
		name   string
		c      *inngest.Client
		header string
		auth   any // authentication_succeeded
	}{
		{"no signature", cloud, "", nil},
		{"garbage", cloud, "nonsense", false},
		{"other key", cloud, sign(t, hardOtherKey, now, nil), false},
		{"stale", cloud, sign(t, hardKey, now.Add(-6*time.Minute), nil), false},
		{"future", cloud, sign(t, hardKey, now.Add(6*time.Minute), nil), false},
		{"signed over a body", cloud, sign(t, hardKey, now, []byte(`{}`)), false},
		{"primary key", cloud, sign(t, hardKey, now, nil), true},
		{"fallback key", cloud, sign(t, hardKeyFB, now, nil), true},
		{"dev mode ignores signatures", dev, sign(t, hardKey, now, nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/inngest", nil)
			if tc.header != "" {
				req.Header.Set("X-Inngest-Signature", tc.header)
			}
			rec := serve(tc.c.Serve(), req)
			require.Equal(t, http.StatusOK, rec.Code)
			var m map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
			assert.Equal(t, tc.auth, m["authentication_succeeded"])
			authed := tc.auth == true
			requireNoSecrets(t, rec.Body.String(), authed)
			if !authed {
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				assert.ElementsMatch(t, []string{"authentication_succeeded", "function_count", "has_event_key", "has_signing_key",
					"has_signing_key_fallback", "mode", "schema_version"}, keys, "the unauthenticated body has no details")
				return
			}
			assert.Equal(t, "signkey-prod-"+bearerHex(hardKey), m["signing_key_hash"])
			assert.Equal(t, "signkey-prod-"+bearerHex(hardKeyFB), m["signing_key_fallback_hash"])
			assert.Equal(t, sha256Hex(hardEventKey), m["event_key_hash"])
		})
	}
}
