package inngest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
