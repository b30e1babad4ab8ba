package inngest_test

import (
	"net/http"
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
