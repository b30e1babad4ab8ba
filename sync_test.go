package inngest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func syncNoop(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return nil, nil }

// syncApp creates functions that between them use every trigger kind and
// every flow-control option, with their failure and cancellation
// companions.
func syncApp(t *testing.T, c *inngest.Client) {
	t.Helper()
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "charge",
		Name:    "Charge card",
		Retries: inngest.Ptr(0),
		Concurrency: []inngest.Concurrency{
			{Limit: 5},
			{Limit: 1, Key: "event.data.user_id", Scope: inngest.ScopeAccount},
		},
		Throttle: &inngest.Throttle{Limit: 10, Period: time.Minute, Burst: 2, Key: "event.data.user_id"},
		Debounce: &inngest.Debounce{Period: 5 * time.Second, Key: "event.data.user_id", Timeout: time.Minute},
		Cancel: []inngest.Cancel{
			{Event: "billing/charge.cancelled", Match: "data.charge_id", Timeout: time.Hour},
			{Event: "billing/account.closed", If: "async.data.account == event.data.account && event.data.amount > 100"},
		},
		Timeouts:  &inngest.Timeouts{Start: 10 * time.Second, Finish: 90 * time.Minute},
		Priority:  &inngest.Priority{Run: "event.data.plan == 'pro' ? 120 : 0"},
		Singleton: &inngest.Singleton{Key: "event.data.user_id", Mode: inngest.SingletonCancel},
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) { return nil, nil }),
	}, inngest.EventTrigger("billing/charge.requested", inngest.Ptr("event.data.amount > 0 && event.data.currency != 'XXX'")), syncNoop)
	require.NoError(t, err)

	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:        "digest",
		RateLimit: &inngest.RateLimit{Limit: 10, Period: time.Hour, Key: "event.data.team"},
	}, inngest.MultipleTriggers{
		inngest.CronTrigger("TZ=Europe/Paris 0 9 * * 1-5"),
		{Cron: "30 */2 * * *", Jitter: 30 * time.Second},
	}, syncNoop)
	require.NoError(t, err)

	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:          "bulk-import",
		Retries:     inngest.Ptr(20),
		Idempotency: "event.data.import_id",
		BatchEvents: &inngest.BatchEvents{MaxSize: 100, Timeout: 5 * time.Second, Key: "event.data.tenant", If: "event.data.size < 1000"},
		Concurrency: []inngest.Concurrency{{Limit: 2, Key: "event.data.tenant", Scope: inngest.ScopeEnv}},
	}, inngest.EventTrigger("import/row.parsed", nil), syncNoop)
	require.NoError(t, err)

	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:        "notify",
		Retries:   inngest.Ptr(3),
		Debounce:  &inngest.Debounce{Period: 48 * time.Hour},
		Singleton: &inngest.Singleton{Mode: inngest.SingletonSkip},
		OnCancel:  inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[map[string]any]) (any, error) { return nil, nil }),
	}, inngest.MultipleTriggers{
		inngest.EventTrigger("user/signed.up", nil),
		inngest.EventTrigger("user/invited", inngest.Ptr("event.data.role != 'guest'")),
	}, syncNoop)
	require.NoError(t, err)
}

const syncOK = `{"ok":true,"modified":true,"sync_id":"bf35da81-3097-4715-8b3c-c9a10797dd50","app_id":"c4b1f8c8-7a72-5863-a649-d3cf453aaf66"}`

// syncCloud returns a cloud client for the sync app talking to api.
func syncCloud(t *testing.T, api *testkit.FakeAPI, opts inngest.ClientOpts) *inngest.Client {
	t.Helper()
	opts.AppID = "shop"
	opts.Mode = inngest.ModeCloud
	opts.SigningKey = protoKey
	opts.APIBaseURL = api.URL
	c := testClient(t, opts)
	syncApp(t, c)
	return c
}

// syncPut sends the server's sync PUT, signed with key unless key is "".
func syncPut(t *testing.T, c *inngest.Client, target, key string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	body := []byte(`{"url":"https://shop.example.com/api/inngest"}`)
	h := http.Header{"X-Inngest-Server-Kind": {"cloud"}}
	if key != "" {
		h = protoSigned(t, key, body)
		h.Set("X-Inngest-Server-Kind", "cloud")
	}
	for k, v := range hdr {
		h[k] = v
	}
	return protoServe(t, c.Serve(), http.MethodPut, target, body, h)
}

func TestSyncOutOfBand(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	c := syncCloud(t, api, inngest.ClientOpts{SigningKeyFallback: protoFallbackKey, Env: "staging", AppVersion: "2026.11.25"})

	res := syncPut(t, c, "http://shop.example.com/api/inngest?deployId=deploy-42", protoKey,
		http.Header{"X-Forwarded-Proto": {"https"}})
	protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
		`{"message":"Successfully synced.","modified":true}`})

	reqs := api.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/fn/register", r.Path)
	assert.Equal(t, "deployId=deploy-42", r.RawQuery)
	assert.Equal(t, "Bearer "+protoKeyBearer, r.Header.Get("Authorization"))
	assert.Equal(t, "cloud", r.Header.Get("X-Inngest-Expected-Server-Kind"))
	assert.Equal(t, "staging", r.Header.Get("X-Inngest-Env"))
	assert.Equal(t, protoSDKHeader, r.Header.Get("X-Inngest-Sdk"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "out_of_band", r.Header.Get("X-Inngest-Sync-Kind"))
	assert.Empty(t, r.Header.Values("X-Inngest-Platform"))
	protoGolden(t, "sync_register.json", r.Body)

	// No key, raw or hashed, is sent in the body.
	for _, secret := range []string{protoKey, protoFallbackKey, "12345678", "abcdef0123456789", protoKeyBearer} {
		assert.NotContains(t, string(r.Body), secret)
	}
}

// Retries: inngest.Ptr(0) is sent as zero retries, an unset Retries is
// left to the server's default.
func TestSyncRetries(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	c := syncCloud(t, api, inngest.ClientOpts{})
	syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	reqs := api.Requests()
	require.Len(t, reqs, 1)
	var body struct {
		Functions []struct {
			ID    string                                `json:"id"`
			Steps map[string]map[string]json.RawMessage `json:"steps"`
		} `json:"functions"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	retries := map[string]string{}
	for _, f := range body.Functions {
		r, ok := f.Steps["step"]["retries"]
		if !ok {
			r = json.RawMessage("absent")
		}
		retries[f.ID] = string(r)
	}
	assert.Equal(t, map[string]string{
		"shop-charge":         `{"attempts":0}`,
		"shop-charge-failure": `{"attempts":1}`,
		"shop-digest":         "absent",
		"shop-bulk-import":    `{"attempts":20}`,
		"shop-notify":         `{"attempts":3}`,
		"shop-notify-cancel":  `{"attempts":1}`,
	}, retries)
}

func TestSyncRegisterQuery(t *testing.T) {
	for _, tc := range []struct {
		target, query string
	}{
		{"http://shop.example.com/api/inngest", ""},
		{"http://shop.example.com/api/inngest?deployId=d-1", "deployId=d-1"},
		{"http://shop.example.com/api/inngest?deployId=a+b%26c&probe=x", "deployId=a+b%26c"},
		{"http://shop.example.com/api/inngest?other=1", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
			c := syncCloud(t, api, inngest.ClientOpts{})
			res := syncPut(t, c, tc.target, protoKey, nil)
			require.Equal(t, 200, res.Code, res.Body.String())
			reqs := api.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tc.query, reqs[0].RawQuery)
			var body struct {
				URL string `json:"url"`
			}
			require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
			assert.Equal(t, "http://shop.example.com/api/inngest", body.URL, "the app URL carries no query")
		})
	}
}

// The register call is retried once with the fallback key when the API
// refuses the primary one, with 401 or 403.
func TestSyncFallbackKey(t *testing.T) {
	fallbackBearer := "Bearer signkey-prod-" + protoSHA256(protoHex(t, "abcdef0123456789"))
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(r testkit.APIRequest) (int, string) {
				if r.Header.Get("Authorization") != fallbackBearer {
					return status, `{"error":"refused"}`
				}
				return 200, `{"ok":true,"modified":false}`
			}))
			c := syncCloud(t, api, inngest.ClientOpts{SigningKeyFallback: protoFallbackKey})
			res := syncPut(t, c, "http://shop.example.com/api/inngest?deployId=d-1", protoKey, nil)
			protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
				`{"message":"Successfully synced.","modified":false}`})
			reqs := api.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, "Bearer "+protoKeyBearer, reqs[0].Header.Get("Authorization"))
			assert.Equal(t, fallbackBearer, reqs[1].Header.Get("Authorization"))
			assert.Equal(t, reqs[0].Body, reqs[1].Body)
			assert.Equal(t, "deployId=d-1", reqs[1].RawQuery)
		})
	}
}

func TestSyncFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback bool
		status   int
		reply    string
		calls    int
		message  string // after "inngest: sync: <api> answered "
	}{
		{"bad request", false, 400, `{"error":"Expected server kind dev, got cloud"}`, 1, `400: Expected server kind dev, got cloud`},
		{"not JSON", false, 404, "404 page not found\n", 1, `404: 404 page not found`},
		{"primary refused, no fallback", false, 401, `{"error":"unauthorized"}`, 1, `401: unauthorized`},
		{"both keys refused", true, 403, `{"error":"forbidden"}`, 2, `403: forbidden`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return tc.status, tc.reply }))
			opts := inngest.ClientOpts{}
			if tc.fallback {
				opts.SigningKeyFallback = protoFallbackKey
			}
			c := syncCloud(t, api, opts)
			res := syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
			protoAssert(t, res, protoWant{500, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
				`{"message":"inngest: sync: ` + api.URL + ` answered ` + tc.message + `","modified":false}`})
			assert.Equal(t, tc.calls, len(api.Requests()))
		})
	}

	// A server error fails the sync too; the message carries the
	// server's error.
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 500, `{"error":"database unavailable"}` }))
	c := syncCloud(t, api, inngest.ClientOpts{})
	res := syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	assert.Equal(t, 500, res.Code)
	var reply struct {
		Message  *string `json:"message"`
		Modified *bool   `json:"modified"`
	}
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
	require.NotNil(t, reply.Message)
	require.NotNil(t, reply.Modified)
	assert.Contains(t, *reply.Message, "database unavailable")
	assert.False(t, *reply.Modified)
}

// The app URL sent at sync comes from the request (Host, TLS,
// X-Forwarded-Proto), overridden by ServeOrigin and ServePath.
func TestSyncAppURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   inngest.ClientOpts
		target string
		hdr    http.Header
		want   string
	}{
		{"host and path", inngest.ClientOpts{}, "http://shop.example.com:8080/api/inngest", nil, "http://shop.example.com:8080/api/inngest"},
		{"forwarded https", inngest.ClientOpts{}, "http://shop.example.com/api/inngest", http.Header{"X-Forwarded-Proto": {"https"}}, "https://shop.example.com/api/inngest"},
		{"TLS", inngest.ClientOpts{}, "https://shop.example.com/api/inngest", nil, "https://shop.example.com/api/inngest"},
		{"forwarded junk ignored", inngest.ClientOpts{}, "http://shop.example.com/x", http.Header{"X-Forwarded-Proto": {"gopher"}}, "http://shop.example.com/x"},
		{"serve origin", inngest.ClientOpts{ServeOrigin: "https://public.example.com/"}, "http://10.0.0.7:3000/api/inngest", nil, "https://public.example.com/api/inngest"},
		{"serve path", inngest.ClientOpts{ServePath: "/prefix/api/inngest"}, "http://shop.example.com/api/inngest", nil, "http://shop.example.com/prefix/api/inngest"},
		{"serve path without slash", inngest.ClientOpts{ServePath: "inngest"}, "http://shop.example.com/api/inngest", nil, "http://shop.example.com/inngest"},
		{"both", inngest.ClientOpts{ServeOrigin: "https://public.example.com", ServePath: "/hooks/inngest"}, "http://10.0.0.7:3000/api/inngest?deployId=x", nil, "https://public.example.com/hooks/inngest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
			c := syncCloud(t, api, tc.opts)
			res := syncPut(t, c, tc.target, protoKey, tc.hdr)
			require.Equal(t, 200, res.Code, res.Body.String())
			reqs := api.Requests()
			require.Len(t, reqs, 1)
			var body struct {
				URL       string `json:"url"`
				Functions []struct {
					ID    string `json:"id"`
					Steps map[string]struct {
						Runtime struct {
							Type string `json:"type"`
							URL  string `json:"url"`
						} `json:"runtime"`
					} `json:"steps"`
				} `json:"functions"`
			}
			require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
			assert.Equal(t, tc.want, body.URL)
			require.NotEmpty(t, body.Functions)
			for _, f := range body.Functions {
				assert.Equal(t, "http", f.Steps["step"].Runtime.Type)
				assert.Equal(t, tc.want+"?fnId="+f.ID+"&stepId=step", f.Steps["step"].Runtime.URL)
			}
		})
	}
}

// unsignedRefusal is the 401 message of an unsigned sync request when
// the handler's URL is not configured.
const unsignedRefusal = "inngest: the sync request has no X-Inngest-Signature header; in cloud mode an unsigned sync, such as curl -X PUT, " +
	"is accepted only when the handler's public URL is configured: set INNGEST_SERVE_ORIGIN and INNGEST_SERVE_PATH " +
	"(ClientOpts.ServeOrigin and ServePath), for example to https://app.example.com and /api/inngest"

// In cloud mode, without a configured URL, a sync PUT must be signed; a
// refused one never reaches the API.
func TestSyncUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		name, key, msg string
		hdr            http.Header
	}{
		{"unsigned", "", unsignedRefusal, nil},
		{"other key", "signkey-prod-00112233", "inngest: the request's signature does not match", nil},
		{"unsigned in-band", "", unsignedRefusal, http.Header{"X-Inngest-Sync-Kind": {"in_band"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
			c := syncCloud(t, api, inngest.ClientOpts{AllowInBandSync: true})
			res := syncPut(t, c, "http://shop.example.com/api/inngest", tc.key, tc.hdr)
			protoAssert(t, res, protoWant{401, map[string]string{"X-Inngest-Sync-Kind": ""},
				`{"message":"` + tc.msg + `","modified":false}`})
			assert.Empty(t, api.Requests())
		})
	}
}

// The dev server signs the JCS form of its PUT body but sends Go's
// json.Marshal bytes, with '&' escaped.
func TestSyncSignedOverJCS(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	c := syncCloud(t, api, inngest.ClientOpts{})
	sent := []byte(`{"url":"http://shop.example.com/api/inngest?a=1\u0026b=2"}`)
	canonical := []byte(`{"url":"http://shop.example.com/api/inngest?a=1&b=2"}`)
	res := protoServe(t, c.Serve(), http.MethodPut, "http://shop.example.com/api/inngest", sent, protoSigned(t, protoKey, canonical))
	protoAssert(t, res, protoWant{200, nil, `{"message":"Successfully synced.","modified":true}`})
	assert.Equal(t, 1, len(api.Requests()))
}

func TestSyncDevMode(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	logger, logs := testkit.RecordingLogger()
	c := testClient(t, inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, APIBaseURL: api.URL, Logger: logger})
	syncApp(t, c)

	res := protoServe(t, c.Serve(), http.MethodPut, "http://127.0.0.1:3940/api/inngest", nil, http.Header{"X-Inngest-Server-Kind": {"dev"}})
	protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"}, `{"message":"Successfully synced.","modified":true}`})
	reqs := api.Requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Header.Values("Authorization"), "no key, no Authorization")
	assert.Equal(t, "dev", reqs[0].Header.Get("X-Inngest-Expected-Server-Kind"))
	assert.Empty(t, reqs[0].Header.Values("X-Inngest-Env"))
	assert.NotContains(t, logs.String(), "server of kind")

	// A PUT from a cloud server to an app in dev mode is served, with a
	// warning, and the register call expects the same kind.
	protoServe(t, c.Serve(), http.MethodPut, "http://127.0.0.1:3940/api/inngest", nil, http.Header{"X-Inngest-Server-Kind": {"cloud"}})
	reqs = api.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "cloud", reqs[1].Header.Get("X-Inngest-Expected-Server-Kind"))
	assert.Contains(t, logs.String(), "server of kind cloud")
}

func TestSyncInBand(t *testing.T) {
	inBandHdr := http.Header{"X-Inngest-Sync-Kind": {"in_band"}}

	t.Run("allowed and signed", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{
			AppID: "shop", Mode: inngest.ModeCloud, SigningKey: protoKey, APIBaseURL: "https://api.example.com",
			AllowInBandSync: true, SigningKeyFallback: protoFallbackKey, EventKey: protoEventKey, Env: "staging", AppVersion: "2026.11.25",
		})
		syncApp(t, c)
		res := syncPut(t, c, "http://10.0.0.7:3000/api/inngest?deployId=d-1", protoKey, inBandHdr)
		assert.Equal(t, 200, res.Code)
		assert.Equal(t, "in_band", res.Header().Get("X-Inngest-Sync-Kind"))
		assert.Equal(t, protoSDKHeader, res.Header().Get("X-Inngest-Sdk"))
		assert.Equal(t, "application/json", res.Header().Get("Content-Type"))
		protoGolden(t, "sync_inband.json", res.Body.Bytes())
		for _, secret := range []string{protoKey, protoFallbackKey, protoEventKey, "12345678", "abcdef0123456789"} {
			assert.NotContains(t, res.Body.String(), secret)
		}

		// The functions are those an out-of-band sync registers for the
		// same URL.
		api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
		syncPut(t, syncCloud(t, api, inngest.ClientOpts{}), "https://shop.example.com/api/inngest", protoKey, nil)
		reqs := api.Requests()
		require.Len(t, reqs, 1)
		var oob, inb struct {
			Functions json.RawMessage `json:"functions"`
		}
		require.NoError(t, json.Unmarshal(reqs[0].Body, &oob))
		require.NoError(t, json.Unmarshal(res.Body.Bytes(), &inb))
		assert.JSONEq(t, string(oob.Functions), string(inb.Functions))
	})

	t.Run("not allowed falls back to out-of-band", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
		c := syncCloud(t, api, inngest.ClientOpts{})
		res := syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, inBandHdr)
		protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
			`{"message":"Successfully synced.","modified":true}`})
		assert.Equal(t, 1, len(api.Requests()))
	})

	t.Run("no url", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
		c := syncCloud(t, api, inngest.ClientOpts{AllowInBandSync: true})
		for _, body := range []string{`{}`, `{"url":"not a url"}`, `not json`} {
			h := protoSigned(t, protoKey, []byte(body))
			h.Set("X-Inngest-Sync-Kind", "in_band")
			res := protoServe(t, c.Serve(), http.MethodPut, "http://shop.example.com/api/inngest", []byte(body), h)
			assert.Equal(t, 400, res.Code, body)
			assert.True(t, strings.HasPrefix(res.Body.String(), `{"error":"`), res.Body.String())
		}
		assert.Empty(t, api.Requests())
	})

	t.Run("dev mode", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, AllowInBandSync: true, SigningKey: protoKey})
		syncApp(t, c)
		body := []byte(`{"url":"http://127.0.0.1:3940/api/inngest"}`)
		res := protoServe(t, c.Serve(), http.MethodPut, "http://127.0.0.1:3940/api/inngest", body, inBandHdr)
		require.Equal(t, 200, res.Code)
		var reply struct {
			URL        string                     `json:"url"`
			Inspection map[string]json.RawMessage `json:"inspection"`
		}
		require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
		assert.Equal(t, "http://127.0.0.1:3940/api/inngest", reply.URL)
		// Nothing was verified: no authenticated details, in particular
		// not the signing key hash, which the API accepts as a bearer.
		assert.Equal(t, "null", string(reply.Inspection["authentication_succeeded"]))
		assert.NotContains(t, reply.Inspection, "signing_key_hash")
		assert.NotContains(t, res.Body.String(), protoKeyBearer)
	})
}

// registered returns the app URL and the step URLs of the one register
// call api received.
func registered(t *testing.T, api *testkit.FakeAPI) (string, []string) {
	t.Helper()
	reqs := api.Requests()
	require.Len(t, reqs, 1, "one register call")
	var body struct {
		URL       string `json:"url"`
		Functions []struct {
			Steps map[string]struct {
				Runtime struct {
					URL string `json:"url"`
				} `json:"runtime"`
			} `json:"steps"`
		} `json:"functions"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	var steps []string
	for _, f := range body.Functions {
		steps = append(steps, f.Steps["step"].Runtime.URL)
	}
	return body.URL, steps
}

// cloudClientFromEnv isolates the environment, sets env, and returns a
// cloud client for the sync app talking to api, with its log.
func cloudClientFromEnv(t *testing.T, api *testkit.FakeAPI, opts inngest.ClientOpts, env map[string]string) (*inngest.Client, *testkit.LogBuffer) {
	t.Helper()
	testkit.IsolateEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	logger, logs := testkit.RecordingLogger()
	opts.AppID, opts.Mode, opts.SigningKey, opts.APIBaseURL, opts.Logger = "shop", inngest.ModeCloud, protoKey, api.URL, logger
	c, err := inngest.NewClient(opts)
	require.NoError(t, err)
	syncApp(t, c)
	return c, logs
}

// In cloud mode an unsigned sync (curl -X PUT, a self-hosted server's
// "add app") is accepted when the handler's public URL is configured,
// and registers that URL: never the Host, scheme or path of the
// unsigned request, which anyone can choose.
func TestSyncUnsignedWithConfiguredURL(t *testing.T) {
	const want = "https://shop.example.com/api/inngest"
	evil := http.Header{"X-Forwarded-Proto": {"http"}}
	for _, tc := range []struct {
		name   string
		opts   inngest.ClientOpts
		env    map[string]string
		target string
		want   string
	}{
		{"options", inngest.ClientOpts{ServeOrigin: "https://shop.example.com", ServePath: "/api/inngest"}, nil,
			"http://attacker.example.net/elsewhere", want},
		{"environment", inngest.ClientOpts{}, map[string]string{"INNGEST_SERVE_ORIGIN": "https://shop.example.com/", "INNGEST_SERVE_PATH": "/api/inngest"},
			"http://attacker.example.net/elsewhere", want},
		{"INNGEST_SERVE_HOST alias", inngest.ClientOpts{}, map[string]string{"INNGEST_SERVE_HOST": "https://shop.example.com", "INNGEST_SERVE_PATH": "api/inngest"},
			"http://attacker.example.net/elsewhere", want},
		{"origin and AllowUnsignedSync: the path it came in on", inngest.ClientOpts{ServeOrigin: "https://shop.example.com", AllowUnsignedSync: true}, nil,
			"http://attacker.example.net/api/inngest?deployId=d-1", want},
		{"origin and INNGEST_ALLOW_UNSIGNED_SYNC", inngest.ClientOpts{}, map[string]string{"INNGEST_SERVE_ORIGIN": "https://shop.example.com", "INNGEST_ALLOW_UNSIGNED_SYNC": "true"},
			"http://attacker.example.net/hooks/inngest", "https://shop.example.com/hooks/inngest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
			c, _ := cloudClientFromEnv(t, api, tc.opts, tc.env)
			res := syncPut(t, c, tc.target, "", evil)
			protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
				`{"message":"Successfully synced.","modified":true}`})
			url, steps := registered(t, api)
			assert.Equal(t, tc.want, url)
			require.NotEmpty(t, steps)
			for _, s := range steps {
				assert.True(t, strings.HasPrefix(s, tc.want+"?fnId=shop-"), s)
			}
			r := api.Requests()[0]
			assert.Equal(t, "Bearer "+protoKeyBearer, r.Header.Get("Authorization"), "the app registers with its own key")
			assert.Equal(t, "cloud", r.Header.Get("X-Inngest-Expected-Server-Kind"))
		})
	}
}

// An unsigned request asking for an in-band sync gets an out-of-band
// one: the in-band answer carries the app's authenticated details.
func TestSyncUnsignedInBandIsOutOfBand(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	c, _ := cloudClientFromEnv(t, api, inngest.ClientOpts{
		ServeOrigin: "https://shop.example.com", ServePath: "/api/inngest", AllowInBandSync: true,
	}, nil)
	res := syncPut(t, c, "http://attacker.example.net/api/inngest", "", http.Header{"X-Inngest-Sync-Kind": {"in_band"}})
	protoAssert(t, res, protoWant{200, map[string]string{"X-Inngest-Sync-Kind": "out_of_band"},
		`{"message":"Successfully synced.","modified":true}`})
	url, _ := registered(t, api)
	assert.Equal(t, "https://shop.example.com/api/inngest", url)
}

// Without a configured URL an unsigned sync is refused with a 401 that
// says what to set; a wrong signature is refused whatever the
// configuration. Nothing reaches the API.
func TestSyncUnsignedRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts inngest.ClientOpts
		key  string
		msg  string
	}{
		{"nothing configured", inngest.ClientOpts{}, "", unsignedRefusal},
		{"path only", inngest.ClientOpts{ServePath: "/api/inngest"}, "", unsignedRefusal},
		{"origin only", inngest.ClientOpts{ServeOrigin: "https://shop.example.com"}, "",
			"inngest: the sync request has no X-Inngest-Signature header; in cloud mode an unsigned sync, such as curl -X PUT, " +
				"is accepted only when the handler's public URL is configured: INNGEST_SERVE_ORIGIN is set; set INNGEST_SERVE_PATH (ClientOpts.ServePath) too, " +
				"or INNGEST_ALLOW_UNSIGNED_SYNC=true (ClientOpts.AllowUnsignedSync) to register the path the request came in on"},
		{"wrong signature, URL configured", inngest.ClientOpts{ServeOrigin: "https://shop.example.com", ServePath: "/api/inngest"},
			"signkey-prod-00112233", "inngest: the request's signature does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
			c, logs := cloudClientFromEnv(t, api, tc.opts, nil)
			res := syncPut(t, c, "http://shop.example.com/api/inngest", tc.key, nil)
			protoAssert(t, res, protoWant{401, map[string]string{"X-Inngest-Sync-Kind": ""},
				`{"message":` + jsonString(t, tc.msg) + `,"modified":false}`})
			assert.Empty(t, api.Requests())
			assert.Contains(t, logs.String(), "rejected")
		})
	}
}

// AllowUnsignedSync in cloud mode needs ServeOrigin: the Host of an
// unsigned request is never registered. In dev mode nothing is signed
// and the option is moot.
func TestAllowUnsignedSyncNeedsServeOrigin(t *testing.T) {
	testkit.IsolateEnv(t)
	_, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", SigningKey: protoKey, AllowUnsignedSync: true, ServePath: "/api/inngest"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AllowUnsignedSync (INNGEST_ALLOW_UNSIGNED_SYNC) needs ServeOrigin (INNGEST_SERVE_ORIGIN)")

	t.Setenv("INNGEST_ALLOW_UNSIGNED_SYNC", "1")
	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "shop", SigningKey: protoKey})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs ServeOrigin")

	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "shop", SigningKey: protoKey, ServeOrigin: "https://shop.example.com"})
	require.NoError(t, err)
	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	require.NoError(t, err)
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

// routed is an app served by a real HTTP server behind a router, with
// a fake Inngest API that records what the sync registers.
type routed struct {
	srv *httptest.Server
	api *testkit.FakeAPI
	c   *inngest.Client
	tls bool
}

// newRouted starts the app "shop" with one function, "greet", mounted by
// mount on a real server (TLS and HTTP/2 when tls is set).
func newRouted(t *testing.T, opts inngest.ClientOpts, tls bool, mount func(h http.Handler) http.Handler) *routed {
	t.Helper()
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	opts.AppID, opts.Mode, opts.SigningKey, opts.APIBaseURL = "shop", inngest.ModeCloud, protoKey, api.URL
	c := testClient(t, opts)
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "greet"}, inngest.EventTrigger("shop/greet", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return "hello", nil })
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(mount(c.Serve()))
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &routed{srv: srv, api: api, c: c, tls: tls}
}

// do sends a request signed with the app's key to the server.
func (a *routed) do(t *testing.T, method, url string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sig, err := inngest.Sign(protoKey, time.Now(), body)
	require.NoError(t, err)
	req.Header.Set("X-Inngest-Signature", sig)
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if a.tls {
		require.Equal(t, 2, resp.ProtoMajor, "HTTP/2")
	}
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(rb)
}

// syncAndCall syncs the app with a PUT to path and checks that the URL
// registered is the one the PUT came in on, then calls the function at
// its registered step URL, as Inngest would, and checks that it ran.
func (a *routed) syncAndCall(t *testing.T, path string) {
	t.Helper()
	resp, body := a.do(t, http.MethodPut, a.srv.URL+path, []byte(`{"url":"`+a.srv.URL+path+`"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	reqs := a.api.Requests()
	require.NotEmpty(t, reqs)
	var reg struct {
		URL       string `json:"url"`
		Functions []struct {
			ID    string `json:"id"`
			Steps map[string]struct {
				Runtime struct {
					URL string `json:"url"`
				} `json:"runtime"`
			} `json:"steps"`
		} `json:"functions"`
	}
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &reg))
	assert.Equal(t, a.srv.URL+path, reg.URL, "the registered URL is the one the sync came in on")
	require.Len(t, reg.Functions, 1)
	stepURL := reg.Functions[0].Steps["step"].Runtime.URL
	assert.Equal(t, a.srv.URL+path+"?fnId=shop-greet&stepId=step", stepURL)

	call := []byte(`{"event":{"name":"shop/greet","data":{}},"events":[{"name":"shop/greet","data":{}}],"steps":{},` +
		`"ctx":{"run_id":"01JROUTER0000000000000000","attempt":0,"stack":{"stack":[]}},"version":2}`)
	resp, body = a.do(t, http.MethodPost, stepURL, call)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the call at the registered URL reaches the function: %s", body)
	assert.Equal(t, `"hello"`, body)
	assert.Equal(t, "go-inngest:v"+inngest.Version, resp.Header.Get("X-Inngest-Sdk"), "the answer is the SDK's, not the router's")
}

// Mounted the ways Go apps mount handlers, the sync registers the URL
// the request really came in on, whatever the router did to
// r.URL.Path, and Inngest's calls at that URL reach the function.
func TestSyncBehindStdlibRouters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		mount func(h http.Handler) http.Handler
		paths []string
	}{
		{"StripPrefix", false, func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("/inngest", h)
			outer := http.NewServeMux()
			outer.Handle("/api/", http.StripPrefix("/api", inner))
			return outer
		}, []string{"/api/inngest"}},
		{"StripPrefix over HTTP/2", true, func(h http.Handler) http.Handler {
			return http.StripPrefix("/api", h)
		}, []string{"/api/inngest"}},
		{"nested StripPrefix", false, func(h http.Handler) http.Handler {
			return http.StripPrefix("/v1", http.StripPrefix("/api", h))
		}, []string{"/v1/api/inngest"}},
		{"ServeMux method patterns", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("PUT /api/inngest", h)
			mux.Handle("POST /api/inngest", h)
			mux.Handle("GET /api/inngest", h)
			return mux
		}, []string{"/api/inngest"}},
		{"ServeMux with and without the trailing slash", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/api/inngest", h)
			mux.Handle("/api/inngest/", h)
			return mux
		}, []string{"/api/inngest", "/api/inngest/"}},
		{"ServeMux subtree, trailing slash", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/api/inngest/", h)
			return mux
		}, []string{"/api/inngest/"}},
		{"ServeMux subtree under StripPrefix", false, func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("/inngest/", h)
			return http.StripPrefix("/api", inner)
		}, []string{"/api/inngest/"}},
		{"ServeMux wildcard pattern", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/tenants/{tenant}/inngest", h)
			return mux
		}, []string{"/tenants/acme/inngest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.paths {
				a := newRouted(t, inngest.ClientOpts{}, tc.tls, tc.mount)
				a.syncAndCall(t, p)
			}
		})
	}
}

// A request the handler receives on a path other than ServePath, the
// path it registers, is logged at warn level: every such sync, and the
// first of the other requests. A request on ServePath is not.
func TestRequestOffServePathIsLogged(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	logger, logs := testkit.RecordingLogger()
	c := syncCloud(t, api, inngest.ClientOpts{ServePath: "/api/inngest", Logger: logger})
	h := c.Serve()
	serveAt := func(method, target string) {
		var body []byte
		var hdr http.Header
		if method != http.MethodGet {
			body = []byte(`{}`)
			hdr = protoSigned(t, protoKey, body)
		}
		protoServe(t, h, method, target, body, hdr)
	}
	warnings := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "reached the handler on") {
				out = append(out, l)
			}
		}
		return out
	}

	serveAt(http.MethodPut, "http://shop.example.com/api/inngest")
	serveAt(http.MethodGet, "http://shop.example.com/api/inngest")
	assert.Empty(t, warnings(), "requests on ServePath are not logged")

	serveAt(http.MethodPut, "http://shop.example.com/inngest")
	got := warnings()
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "a request reached the handler on /inngest, but the handler registers the path /api/inngest (ClientOpts.ServePath or INNGEST_SERVE_PATH)")
	assert.Contains(t, got[0], "method=PUT")

	serveAt(http.MethodPut, "http://shop.example.com/api/inngest/")
	assert.Len(t, warnings(), 2, "every sync off ServePath is logged")

	serveAt(http.MethodPost, "http://shop.example.com/inngest?fnId=shop-charge&stepId=step")
	serveAt(http.MethodPost, "http://shop.example.com/inngest?fnId=shop-charge&stepId=step")
	serveAt(http.MethodGet, "http://shop.example.com/inngest")
	assert.Len(t, warnings(), 3, "of the other requests, the first is logged")
}

// FuzzSync sends arbitrary sync requests (body, Host, query, in-band or
// not) in dev and cloud mode.
func FuzzSync(f *testing.F) {
	dev := fuzzHandler(f, inngest.ModeDev)
	cloud := fuzzHandler(f, inngest.ModeCloud)
	for _, b := range []string{`{"url":"http://127.0.0.1:3000/api/inngest"}`, `{"url":""}`, `{}`, `[]`, ``, `{"url":"::"}`, `{"url":"http://[::1"}`} {
		for _, inBand := range []bool{false, true} {
			f.Add([]byte(b), inBand, "example.com", "deployId=d1", uint8(0))
			f.Add([]byte(b), inBand, "", "", uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, inBand bool, host, query string, mode uint8) {
		req := httptest.NewRequest(http.MethodPut, "/api/inngest", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Host = host
		if inBand {
			req.Header.Set("X-Inngest-Sync-Kind", "in_band")
		}
		h := dev
		if mode%3 != 0 {
			h = cloud
			if mode%3 == 1 {
				req.Header.Set("X-Inngest-Signature", sign(t, hardKey, time.Now(), body))
			}
		}
		rec := serve(h, req)
		requireWellFormed(t, rec)
		if mode%3 == 2 {
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.NotContains(t, rec.Body.String(), "functions", "an unsigned sync learns nothing about the app")
		}
	})
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

func TestSyncSaysTheDevServerIsNotRunning(t *testing.T) {
	t.Parallel()
	url := unusedPortURL(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, BaseURL: url, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/x", nil),
		func(context.Context, inngest.Input[any]) (any, error) { return nil, nil })
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://127.0.0.1:3000/api/inngest", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var reply struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply))
	assert.Contains(t, reply.Message, "the Inngest dev server is not reachable at "+url+": start it with `npx inngest-cli@latest dev`")
}
