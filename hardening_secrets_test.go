package inngest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
)

// keyHex is a signing key without its "signkey-<env>-" prefix.
func keyHex(key string) string { return key[strings.LastIndexByte(key, '-')+1:] }

// bearerHex is the hex SHA-256 of the key's hex-decoded bytes: the
// hashed form Inngest accepts as an API credential.
func bearerHex(key string) string {
	raw, err := hex.DecodeString(keyHex(key))
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// requireNoSecrets fails when text holds a key, or any 12-character
// fragment from the start of a key's secret part. Hashes of the keys are
// allowed only where the caller proved it knows a key (hashed is true).
func requireNoSecrets(tb testing.TB, text string, hashed bool) {
	tb.Helper()
	secrets := map[string]string{
		"signing key":          keyHex(hardKey),
		"fallback signing key": keyHex(hardKeyFB),
		"event key":            hardEventKey,
	}
	if !hashed {
		secrets["signing key hash"] = bearerHex(hardKey)
		secrets["fallback signing key hash"] = bearerHex(hardKeyFB)
		secrets["event key hash"] = sha256Hex(hardEventKey)
	}
	for name, s := range secrets {
		for _, frag := range []string{s, s[:12], s[len(s)-12:]} {
			require.NotContainsf(tb, text, frag, "the %s leaked", name)
		}
	}
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

// TestSecretsStayOutOfLogsErrorsAndBodies drives every path that logs or
// fails, with keys configured, and looks for key material in the log,
// the answers and the errors.
func TestSecretsStayOutOfLogsErrorsAndBodies(t *testing.T) {
	log, logs := testkit.RecordingLogger()
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"refused"}`)
	})
	c := testClient(t, inngest.ClientOpts{
		Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB, EventKey: hardEventKey,
		APIBaseURL: api.URL, EventAPIBaseURL: api.URL, AllowInBandSync: true, Logger: log,
		HTTPClient: &http.Client{Transport: failingEventTransport{api.Client().Transport}},
	})
	hardFunctions(t, c)
	h := c.Serve()
	var unauth, authed strings.Builder
	note := func(rec *httptest.ResponseRecorder) {
		unauth.WriteString(rec.Body.String())
		for k, v := range rec.Header() {
			unauth.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
	}
	body := callBody(t, hardData{N: 1}, nil, nil)
	now := time.Now()
	for _, hdr := range []string{"", "t=1&s=00", sign(t, hardOtherKey, now, body), sign(t, hardKey, now.Add(-time.Hour), body), sign(t, hardKey, now, []byte(`{"other":1}`))} {
		for _, target := range []string{"/api/inngest?fnId=hard-seq&stepId=step", "/api/inngest?probe=trust"} {
			req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
			req.Header.Set("X-Inngest-Signature", hdr)
			rec := serve(h, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			note(rec)
		}
		req := httptest.NewRequest(http.MethodPut, "/api/inngest", strings.NewReader(`{"url":"http://x/api/inngest"}`))
		req.Header.Set("X-Inngest-Signature", hdr)
		req.Header.Set("X-Inngest-Sync-Kind", "in_band")
		rec := serve(h, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		note(rec)
	}
	// Signed requests that fail further on: a sync whose register is
	// refused with both keys, a use_api call whose state load is refused,
	// a panicking function and a failing step.
	for _, tc := range []struct {
		method, target string
		body           []byte
		status         int
	}{
		{http.MethodPut, "/api/inngest", []byte(`{"url":"http://x/api/inngest"}`), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", callBody(t, hardData{}, nil, func(r *wire.Request) { r.UseAPI = true }), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", callBody(t, hardData{Mode: "panic"}, nil, nil), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=" + seqSteps[7].hash, callBody(t, hardData{}, memoUpTo(7), nil), http.StatusPartialContent},
	} {
		rec := serve(h, hardReq(t, tc.method, tc.target, tc.body, hardKey))
		require.Equalf(t, tc.status, rec.Code, "%s %s: %s", tc.method, tc.target, rec.Body)
		note(rec)
	}
	// Verified requests may learn the key hashes (not the keys).
	req := hardReq(t, http.MethodPut, "/api/inngest", []byte(`{"url":"http://x/api/inngest"}`), hardKey)
	req.Header.Set("X-Inngest-Sync-Kind", "in_band")
	rec := serve(h, req)
	require.Equal(t, http.StatusOK, rec.Code)
	authed.WriteString(rec.Body.String())
	rec = serve(h, hardReq(t, http.MethodPost, "/api/inngest?probe=trust", nil, hardKey))
	require.Equal(t, http.StatusOK, rec.Code)
	note(rec)

	// Sending: a refused key and a network failure.
	_, err := c.Send(context.Background(), inngest.Event[any]{Name: "hard/x"})
	require.Error(t, err)
	unauth.WriteString(err.Error())

	// A malformed key in the options.
	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "x", Mode: inngest.ModeCloud, SigningKey: "signkey-prod-" + keyHex(hardKey) + "zz"})
	require.Error(t, err)
	unauth.WriteString(err.Error())

	requireNoSecrets(t, unauth.String(), false)
	requireNoSecrets(t, authed.String(), true)
	requireNoSecrets(t, logs.String(), false)
	// The paths above did log: the check looked at real output.
	for _, want := range []string{"rejected a request", "rejected a sync request", "sync failed", "fallback key", "panicked", "loading the run's state", "sending events failed"} {
		assert.Contains(t, logs.String(), want)
	}
}

// failingEventTransport fails every request to the event API (paths
// under /e/) at the network level and passes the others on.
type failingEventTransport struct{ next http.RoundTripper }

func (f failingEventTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/e/") {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// TestSendErrorHidesEventKey: the event key is part of the send URL,
// which net/http puts into its errors.
func TestSendErrorHidesEventKey(t *testing.T) {
	log, logs := testkit.RecordingLogger()
	c := testClient(t, inngest.ClientOpts{
		Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: "http://127.0.0.1:1",
		Logger: log, HTTPClient: &http.Client{Transport: failingEventTransport{http.DefaultTransport}},
	})
	_, err := c.Send(context.Background(), inngest.Event[any]{Name: "hard/x", Data: map[string]int{"n": 1}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset by peer")
	assert.Contains(t, err.Error(), "/e/<event-key>")
	assert.NotContains(t, err.Error(), hardEventKey)
	assert.NotContains(t, logs.String(), hardEventKey)
}

// TestInBandSyncOnlyWhenAllowedAndSigned: the app's configuration is
// answered in-band only when the option allows it and, in cloud mode,
// the request is signed.
func TestInBandSyncOnlyWhenAllowedAndSigned(t *testing.T) {
	api := testkit.NewFakeAPI(t, okAPI)
	body := []byte(`{"url":"https://app.example.com/api/inngest"}`)
	cases := []struct {
		name    string
		opts    inngest.ClientOpts
		env     string // INNGEST_ALLOW_IN_BAND_SYNC
		key     string
		status  int
		kind    string // X-Inngest-Sync-Kind of the answer
		details bool   // key hashes in the answer
	}{
		{"cloud, allowed, signed", inngest.ClientOpts{Mode: inngest.ModeCloud, AllowInBandSync: true}, "", hardKey, 200, "in_band", true},
		{"cloud, allowed by env, signed", inngest.ClientOpts{Mode: inngest.ModeCloud}, "true", hardKey, 200, "in_band", true},
		{"cloud, allowed, fallback key", inngest.ClientOpts{Mode: inngest.ModeCloud, AllowInBandSync: true}, "", hardKeyFB, 200, "in_band", true},
		{"cloud, allowed, unsigned", inngest.ClientOpts{Mode: inngest.ModeCloud, AllowInBandSync: true}, "", "", 401, "", false},
		{"cloud, allowed, other key", inngest.ClientOpts{Mode: inngest.ModeCloud, AllowInBandSync: true}, "", hardOtherKey, 401, "", false},
		{"cloud, not allowed, signed", inngest.ClientOpts{Mode: inngest.ModeCloud}, "", hardKey, 200, "out_of_band", false},
		{"cloud, env says false", inngest.ClientOpts{Mode: inngest.ModeCloud}, "false", hardKey, 200, "out_of_band", false},
		{"dev, allowed, unsigned", inngest.ClientOpts{Mode: inngest.ModeDev, AllowInBandSync: true}, "", "", 200, "in_band", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.SigningKey, opts.SigningKeyFallback, opts.EventKey, opts.APIBaseURL = hardKey, hardKeyFB, hardEventKey, api.URL
			testkit.IsolateEnv(t)
			t.Setenv("INNGEST_ALLOW_IN_BAND_SYNC", tc.env)
			opts.AppID, opts.Logger = hardApp, testkit.QuietLogger()
			c, err := inngest.NewClient(opts)
			require.NoError(t, err)
			hardFunctions(t, c)
			before := api.Calls()
			req := hardReq(t, http.MethodPut, "/api/inngest", body, tc.key)
			req.Header.Set("X-Inngest-Sync-Kind", "in_band")
			rec := serve(c.Serve(), req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			requireWellFormed(t, rec)
			assert.Equal(t, tc.kind, rec.Header().Get("X-Inngest-Sync-Kind"))
			requireNoSecrets(t, rec.Body.String(), tc.details)
			var m map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
			switch tc.kind {
			case "in_band":
				assert.Equal(t, before, api.Calls(), "an in-band sync does not call the API")
				assert.Equal(t, "https://app.example.com/api/inngest", m["url"])
				assert.Len(t, m["functions"], 3)
				insp, _ := m["inspection"].(map[string]any)
				_, hasHash := insp["signing_key_hash"]
				assert.Equal(t, tc.details, hasHash, "key hashes only for a verified request")
			case "out_of_band":
				assert.Equal(t, before+1, api.Calls(), "an out-of-band sync registers through the API")
				assert.Equal(t, "Successfully synced.", m["message"])
			default:
				assert.Equal(t, before, api.Calls())
				assert.NotContains(t, rec.Body.String(), "functions")
			}
		})
	}
}
