package inngest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blankConfigEnv blanks every variable NewClient reads, then sets env.
func cfgBlankEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range testkit.EnvVars {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// view is the resolved configuration as comparable text.
func cfgView(c config) map[string]string {
	return map[string]string{
		"mode":        map[bool]string{true: "dev", false: "cloud"}[c.dev],
		"api":         c.apiBase,
		"event":       c.eventBase,
		"signingKey":  c.signingKey,
		"fallback":    c.signingKeyFallback,
		"bearer":      c.bearer,
		"bearerFB":    c.bearerFB,
		"eventKey":    c.eventKey,
		"env":         c.env,
		"serveOrigin": c.serveOrigin,
		"servePath":   c.servePath,
		"inBand":      fmt.Sprint(c.allowInBandSync),
		"unsigned":    fmt.Sprint(c.allowUnsignedSync),
		"platform":    c.platform,
		"maxBody":     fmt.Sprint(c.maxBody),
	}
}

const (
	cfgKey         = "signkey-prod-12345678"
	cfgKeyHash     = "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
	cfgKey2        = "signkey-prod-abcdef01"
	cfgCloudAPI    = "https://api.inngest.com"
	cfgCloudEvents = "https://inn.gs"
	cfgDevURL      = "http://127.0.0.1:8288"
)

func TestResolveConfig(t *testing.T) {
	key := map[string]string{"INNGEST_SIGNING_KEY": cfgKey}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name string
		opts ClientOpts
		env  map[string]string
		want map[string]string
	}{
		// Defaults.
		{"cloud defaults", ClientOpts{}, key, map[string]string{
			"mode": "cloud", "api": cfgCloudAPI, "event": cfgCloudEvents, "signingKey": cfgKey, "bearer": cfgKeyHash,
			"eventKey": "", "env": "", "serveOrigin": "", "servePath": "", "inBand": "false", "platform": "",
			"fallback": "", "bearerFB": "", "maxBody": fmt.Sprint(DefaultMaxBodySize)}},
		{"dev defaults", ClientOpts{Mode: ModeDev}, nil, map[string]string{
			"mode": "dev", "api": cfgDevURL, "event": cfgDevURL, "signingKey": "", "bearer": "", "eventKey": "NO_EVENT_KEY_SET"}},

		// INNGEST_DEV.
		{"INNGEST_DEV=1", ClientOpts{}, map[string]string{"INNGEST_DEV": "1"}, map[string]string{"mode": "dev", "api": cfgDevURL, "event": cfgDevURL}},
		{"INNGEST_DEV=true", ClientOpts{}, map[string]string{"INNGEST_DEV": "true"}, map[string]string{"mode": "dev", "api": cfgDevURL}},
		{"INNGEST_DEV URL", ClientOpts{}, map[string]string{"INNGEST_DEV": "http://dev.test:9999/"}, map[string]string{
			"mode": "dev", "api": "http://dev.test:9999", "event": "http://dev.test:9999"}},
		{"INNGEST_DEV=0", ClientOpts{}, with(key, "INNGEST_DEV", "0"), map[string]string{"mode": "cloud", "api": cfgCloudAPI, "event": cfgCloudEvents}},
		{"INNGEST_DEV=false", ClientOpts{}, with(key, "INNGEST_DEV", "false"), map[string]string{"mode": "cloud", "api": cfgCloudAPI}},
		{"INNGEST_DEV=FALSE", ClientOpts{}, with(key, "INNGEST_DEV", " FALSE "), map[string]string{"mode": "cloud"}},
		{"Mode beats INNGEST_DEV=1", ClientOpts{Mode: ModeCloud}, with(key, "INNGEST_DEV", "1"), map[string]string{"mode": "cloud", "api": cfgCloudAPI}},
		{"Mode beats INNGEST_DEV=0", ClientOpts{Mode: ModeDev}, map[string]string{"INNGEST_DEV": "0"}, map[string]string{"mode": "dev", "api": cfgDevURL}},

		// Base URLs: option > specific env > INNGEST_BASE_URL > dev URL > default.
		{"INNGEST_BASE_URL sets both", ClientOpts{}, with(key, "INNGEST_BASE_URL", "https://inngest.internal/"), map[string]string{
			"api": "https://inngest.internal", "event": "https://inngest.internal"}},
		{"specific env beats INNGEST_BASE_URL", ClientOpts{}, with(key,
			"INNGEST_BASE_URL", "https://base.test", "INNGEST_API_BASE_URL", "https://api.test", "INNGEST_EVENT_API_BASE_URL", "https://events.test"),
			map[string]string{"api": "https://api.test", "event": "https://events.test"}},
		{"specific env, one side", ClientOpts{}, with(key, "INNGEST_BASE_URL", "https://base.test", "INNGEST_EVENT_API_BASE_URL", "https://events.test"),
			map[string]string{"api": "https://base.test", "event": "https://events.test"}},
		{"options beat env", ClientOpts{APIBaseURL: "https://api.opt", EventAPIBaseURL: "https://events.opt"}, with(key,
			"INNGEST_BASE_URL", "https://base.test", "INNGEST_API_BASE_URL", "https://api.test", "INNGEST_EVENT_API_BASE_URL", "https://events.test"),
			map[string]string{"api": "https://api.opt", "event": "https://events.opt"}},
		{"BaseURL option beats env", ClientOpts{BaseURL: "https://base.opt"}, with(key, "INNGEST_API_BASE_URL", "https://api.test"),
			map[string]string{"api": "https://base.opt", "event": "https://base.opt"}},
		{"specific option beats BaseURL option", ClientOpts{BaseURL: "https://base.opt", APIBaseURL: "https://api.opt"}, key,
			map[string]string{"api": "https://api.opt", "event": "https://base.opt"}},
		{"INNGEST_BASE_URL beats dev URL", ClientOpts{}, map[string]string{"INNGEST_DEV": "http://dev.test:9999", "INNGEST_BASE_URL": "http://base.test:8288"},
			map[string]string{"mode": "dev", "api": "http://base.test:8288", "event": "http://base.test:8288"}},

		// Keys and the rest: option > env, env values trimmed.
		{"keys from env", ClientOpts{}, map[string]string{
			"INNGEST_SIGNING_KEY": " " + cfgKey + "\n", "INNGEST_SIGNING_KEY_FALLBACK": cfgKey2, "INNGEST_EVENT_KEY": "evt", "INNGEST_ENV": "branch-1"},
			map[string]string{"signingKey": cfgKey, "bearer": cfgKeyHash, "fallback": cfgKey2,
				"bearerFB": "signkey-prod-" + cfgSHA256Hex([]byte{0xab, 0xcd, 0xef, 0x01}), "eventKey": "evt", "env": "branch-1"}},
		{"options beat env for keys", ClientOpts{SigningKey: cfgKey2, SigningKeyFallback: cfgKey, EventKey: "evt-opt", Env: "env-opt"}, map[string]string{
			"INNGEST_SIGNING_KEY": cfgKey, "INNGEST_SIGNING_KEY_FALLBACK": cfgKey2, "INNGEST_EVENT_KEY": "evt", "INNGEST_ENV": "branch-1"},
			map[string]string{"signingKey": cfgKey2, "fallback": cfgKey, "bearerFB": cfgKeyHash, "eventKey": "evt-opt", "env": "env-opt"}},
		{"self-hosted bare key", ClientOpts{SigningKey: "12345678"}, nil, map[string]string{
			"bearer": "b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"}},
		{"dev event key from env", ClientOpts{Mode: ModeDev}, map[string]string{"INNGEST_EVENT_KEY": "evt"}, map[string]string{"eventKey": "evt"}},

		// Serve URL overrides.
		{"serve origin and path from env", ClientOpts{}, with(key, "INNGEST_SERVE_ORIGIN", "https://app.test/", "INNGEST_SERVE_PATH", "/api/inngest"),
			map[string]string{"serveOrigin": "https://app.test", "servePath": "/api/inngest"}},
		{"INNGEST_SERVE_HOST alias", ClientOpts{}, with(key, "INNGEST_SERVE_HOST", "https://host.test/"), map[string]string{"serveOrigin": "https://host.test"}},
		{"INNGEST_SERVE_ORIGIN beats INNGEST_SERVE_HOST", ClientOpts{}, with(key, "INNGEST_SERVE_HOST", "https://host.test", "INNGEST_SERVE_ORIGIN", "https://origin.test"),
			map[string]string{"serveOrigin": "https://origin.test"}},
		{"serve options beat env", ClientOpts{ServeOrigin: "https://opt.test", ServePath: "/opt"}, with(key,
			"INNGEST_SERVE_ORIGIN", "https://app.test", "INNGEST_SERVE_PATH", "/api/inngest"),
			map[string]string{"serveOrigin": "https://opt.test", "servePath": "/opt"}},

		// In-band sync.
		{"in-band from env true", ClientOpts{}, with(key, "INNGEST_ALLOW_IN_BAND_SYNC", "true"), map[string]string{"inBand": "true"}},
		{"in-band from env 1", ClientOpts{}, with(key, "INNGEST_ALLOW_IN_BAND_SYNC", "1"), map[string]string{"inBand": "true"}},
		{"in-band env false", ClientOpts{}, with(key, "INNGEST_ALLOW_IN_BAND_SYNC", "false"), map[string]string{"inBand": "false"}},
		{"in-band option", ClientOpts{AllowInBandSync: true}, with(key, "INNGEST_ALLOW_IN_BAND_SYNC", "false"), map[string]string{"inBand": "true"}},

		// Unsigned sync.
		{"unsigned sync default", ClientOpts{}, key, map[string]string{"unsigned": "false"}},
		{"unsigned sync from env", ClientOpts{}, with(key, "INNGEST_ALLOW_UNSIGNED_SYNC", " TRUE ", "INNGEST_SERVE_ORIGIN", "https://app.test"), map[string]string{"unsigned": "true"}},
		{"unsigned sync env 0", ClientOpts{}, with(key, "INNGEST_ALLOW_UNSIGNED_SYNC", "0"), map[string]string{"unsigned": "false"}},
		{"unsigned sync option", ClientOpts{AllowUnsignedSync: true, ServeOrigin: "https://app.test"}, with(key, "INNGEST_ALLOW_UNSIGNED_SYNC", "false"), map[string]string{"unsigned": "true"}},
		{"serve path gets its slash", ClientOpts{ServePath: "api/inngest"}, key, map[string]string{"servePath": "/api/inngest"}},

		// Platforms.
		{"vercel", ClientOpts{}, with(key, "VERCEL", "1"), map[string]string{"platform": "vercel"}},
		{"netlify", ClientOpts{}, with(key, "NETLIFY", "true"), map[string]string{"platform": "netlify"}},
		{"cloudflare pages", ClientOpts{}, with(key, "CF_PAGES", "1"), map[string]string{"platform": "cloudflare-pages"}},
		{"render", ClientOpts{}, with(key, "RENDER", "true"), map[string]string{"platform": "render"}},
		{"railway", ClientOpts{}, with(key, "RAILWAY_ENVIRONMENT", "production"), map[string]string{"platform": "railway"}},
		{"railway project", ClientOpts{}, with(key, "RAILWAY_PROJECT_ID", "p"), map[string]string{"platform": "railway"}},
		{"fly", ClientOpts{}, with(key, "FLY_APP_NAME", "app"), map[string]string{"platform": "fly"}},

		{"max body", ClientOpts{MaxBodySize: 1024}, key, map[string]string{"maxBody": "1024"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgBlankEnv(t, tc.env)
			if tc.opts.AppID == "" {
				tc.opts.AppID = "app"
			}
			c, err := NewClient(tc.opts)
			require.NoError(t, err)
			got := cfgView(c.cfg)
			for k, v := range tc.want {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
}

func TestResolveConfigErrors(t *testing.T) {
	key := map[string]string{"INNGEST_SIGNING_KEY": cfgKey}
	for _, tc := range []struct {
		name string
		opts ClientOpts
		env  map[string]string
		want []string // substrings of the error
	}{
		{"missing AppID", ClientOpts{Mode: ModeDev}, nil, []string{"ClientOpts.AppID", "required"}},
		{"bad AppID", ClientOpts{AppID: "my app", Mode: ModeDev}, nil, []string{"ClientOpts.AppID", `"my app"`}},
		{"AppID starting with a dash", ClientOpts{AppID: "-app", Mode: ModeDev}, nil, []string{"ClientOpts.AppID"}},
		{"cloud without signing key", ClientOpts{AppID: "app"}, nil, []string{"cloud mode", "INNGEST_SIGNING_KEY", "INNGEST_DEV"}},
		{"INNGEST_DEV=0 without signing key", ClientOpts{AppID: "app"}, map[string]string{"INNGEST_DEV": "0"}, []string{"cloud mode"}},
		{"ModeCloud without signing key", ClientOpts{AppID: "app", Mode: ModeCloud}, map[string]string{"INNGEST_DEV": "1"}, []string{"cloud mode"}},
		{"fallback only", ClientOpts{AppID: "app", SigningKeyFallback: cfgKey}, nil, []string{"cloud mode"}},
		{"bad signing key", ClientOpts{AppID: "app", SigningKey: "signkey-prod-xyz"}, nil, []string{"signing key", "hex"}},
		{"bad signing key in env", ClientOpts{AppID: "app"}, map[string]string{"INNGEST_SIGNING_KEY": "secret"}, []string{"signing key"}},
		{"empty key after prefix", ClientOpts{AppID: "app", SigningKey: "signkey-prod-"}, nil, []string{"signing key"}},
		{"bad fallback key", ClientOpts{AppID: "app", SigningKey: cfgKey, SigningKeyFallback: "signkey-prod-nothex"}, nil, []string{"fallback signing key"}},
		{"bad API URL", ClientOpts{AppID: "app"}, map[string]string{"INNGEST_SIGNING_KEY": cfgKey, "INNGEST_API_BASE_URL": "api.inngest.com"}, []string{"INNGEST_API_BASE_URL", `"api.inngest.com"`}},
		{"bad event URL", ClientOpts{AppID: "app", EventAPIBaseURL: "ftp://events.test"}, key, []string{"INNGEST_EVENT_API_BASE_URL"}},
		{"bad base URL", ClientOpts{AppID: "app"}, map[string]string{"INNGEST_SIGNING_KEY": cfgKey, "INNGEST_BASE_URL": "::"}, []string{"not an http(s) URL"}},
		{"bad mode", ClientOpts{AppID: "app", Mode: Mode(42)}, key, []string{"ClientOpts.Mode"}},
		{"negative max body", ClientOpts{AppID: "app", MaxBodySize: -1}, key, []string{"ClientOpts.MaxBodySize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgBlankEnv(t, tc.env)
			c, err := NewClient(tc.opts)
			require.Error(t, err)
			assert.Nil(t, c)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			// The error never shows a key.
			assert.NotContains(t, err.Error(), "12345678")
		})
	}
}

// NewClient reads the environment once: changing it later changes
// nothing, neither the configuration nor what the handler does.
func TestConfigResolvedOnce(t *testing.T) {
	cfgBlankEnv(t, map[string]string{"INNGEST_DEV": "1", "INNGEST_EVENT_KEY": "evt"})
	c, err := NewClient(ClientOpts{AppID: "app", Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	before := cfgView(c.cfg)

	for k, v := range map[string]string{
		"INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": cfgKey, "INNGEST_EVENT_KEY": "other", "INNGEST_ENV": "prod",
		"INNGEST_BASE_URL": "https://base.test", "INNGEST_SERVE_ORIGIN": "https://app.test", "INNGEST_ALLOW_IN_BAND_SYNC": "true",
		"VERCEL": "1",
	} {
		t.Setenv(k, v)
	}
	assert.Equal(t, before, cfgView(c.cfg))
	assert.Equal(t, ModeDev, c.Mode())
	assert.Equal(t, cfgDevURL, c.APIBaseURL())
	assert.Equal(t, cfgDevURL, c.EventAPIBaseURL())

	// An unsigned call is still accepted and introspection still reports
	// dev mode without a signing key.
	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/inngest", nil))
	assert.Equal(t, `{"authentication_succeeded":null,"function_count":0,"has_event_key":true,"has_signing_key":false,"has_signing_key_fallback":false,"mode":"dev","schema_version":"2024-05-24"}`, rec.Body.String())
	rec = httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/inngest?fnId=app-none", strings.NewReader(`{}`)))
	assert.Equal(t, http.StatusNotFound, rec.Code, "the call was not checked for a signature: %s", rec.Body.String())
}

func cfgSHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
