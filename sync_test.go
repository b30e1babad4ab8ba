package inngest_test

import (
	"context"
	"encoding/json"
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
