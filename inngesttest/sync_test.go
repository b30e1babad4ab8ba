package inngesttest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sync through the handler (PUT) reaches the engine like any request
// of the client, and updates the app's functions.
func TestSyncThroughHandler(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "first"}, inngest.EventTrigger("shop/first", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return 1, nil }))
	eng.Register(c)

	late := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "late"}, inngest.EventTrigger("shop/late", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return "synced", nil }))
	assert.Empty(t, eng.Send(evt("shop/late", nil)), "not synced yet")

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://shop.test/api/inngest", strings.NewReader("")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	runs := eng.Send(evt("shop/late", nil))
	require.Len(t, runs, 1)
	runs[0].RequireOutput(t, "synced")
	eng.Run(late, evt("", nil)).RequireOutput(t, "synced")
}

// A call whose body would exceed 4 MiB is sent with use_api, as the
// server does; the SDK loads the state from the engine's API.
func TestLargeStateUsesAPI(t *testing.T) {
	var bodies [][]byte
	eng := inngesttest.New(t, inngesttest.WithTrace(func(c inngesttest.Call) { bodies = append(bodies, c.Body) }))
	c := newClient(t, eng)
	big := strings.Repeat("a", 2500*1024)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger("shop/big", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			a, err := step.Run(ctx, "s1", func(context.Context) (string, error) { return big, nil })
			if err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "s2", func(context.Context) (string, error) { return big, nil })
			if err != nil {
				return nil, err
			}
			return len(a) + len(b), nil
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/big", nil))
	run.RequireOutput(t, 2*len(big))
	require.Len(t, bodies, 3)
	var last struct {
		UseAPI bool                       `json:"use_api"`
		Steps  map[string]json.RawMessage `json:"steps"`
		Ctx    struct {
			UseAPI bool `json:"use_api"`
		} `json:"ctx"`
	}
	require.NoError(t, json.Unmarshal(bodies[2], &last))
	assert.True(t, last.UseAPI)
	assert.True(t, last.Ctx.UseAPI)
	assert.Empty(t, last.Steps)
	assert.Less(t, len(bodies[2]), 4<<20)
}

// roundTripper is an http.RoundTripper made of a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// registerTap passes the client's requests on to the engine, recording
// its register requests and letting edit change their bodies on the way.
type registerTap struct {
	next    http.RoundTripper
	edit    func([]byte) []byte
	queries []string
	headers []http.Header
	replies []string
}

func (tap *registerTap) client() *http.Client {
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/fn/register" {
			tap.queries = append(tap.queries, r.URL.RawQuery)
			tap.headers = append(tap.headers, r.Header.Clone())
			if tap.edit != nil {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return nil, err
				}
				body = tap.edit(body)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}
		}
		res, err := tap.next.RoundTrip(r)
		if err == nil && r.URL.Path == "/fn/register" {
			body, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			if rerr != nil {
				return nil, rerr
			}
			tap.replies = append(tap.replies, string(body))
			res.Body = io.NopCloser(bytes.NewReader(body))
		}
		return res, err
	})}
}

// callCtx reads the ctx of a call's body.
func callCtx(t *testing.T, body []byte) (ctx struct {
	Env         string `json:"env"`
	MaxAttempts int    `json:"max_attempts"`
}) {
	t.Helper()
	var b struct {
		Ctx *struct {
			Env         string `json:"env"`
			MaxAttempts int    `json:"max_attempts"`
		} `json:"ctx"`
	}
	require.NoError(t, json.Unmarshal(body, &b))
	require.NotNil(t, b.Ctx)
	ctx.Env, ctx.MaxAttempts = b.Ctx.Env, b.Ctx.MaxAttempts
	return ctx
}

// Register learns the app from the register request its sync makes,
// and nothing else: the functions, their retries and step URLs, and the
// environment are what that request says. Registering again after the
// app changed syncs the change.
func TestRegisterLearnsTheAppThroughItsSync(t *testing.T) {
	var calls []inngesttest.Call
	eng := inngesttest.New(t, inngesttest.WithTrace(func(c inngesttest.Call) { calls = append(calls, c) }))
	tap := &registerTap{next: eng.HTTPClient().Transport}
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, Env: "staging", HTTPClient: tap.client(), Logger: quiet})
	require.NoError(t, err)
	first := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "first", Retries: inngest.Ptr(2)}, inngest.EventTrigger("shop/first", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return "one", nil }))
	eng.Register(c)

	require.Len(t, tap.queries, 1, "one register request per Register")
	assert.Regexp(t, `^deployId=\S+$`, tap.queries[0], "the engine's sync names its deploy, as the server's does")
	assert.Equal(t, "staging", tap.headers[0].Get("X-Inngest-Env"))
	assert.Equal(t, "dev", tap.headers[0].Get("X-Inngest-Expected-Server-Kind"), "without a signing key the engine is a dev server")
	assert.Empty(t, tap.headers[0].Get("Authorization"))
	assert.JSONEq(t, `{"ok":true,"modified":true}`, tap.replies[0])
	eng.Register(c)
	assert.JSONEq(t, `{"ok":true,"modified":false}`, tap.replies[1], "the same sync again")

	eng.Run(first, evt("shop/first", nil)).RequireOutput(t, "one")
	require.Len(t, calls, 1)
	assert.Equal(t, "http://inngesttest.invalid/api/inngest?fnId=shop-first&stepId=step", calls[0].URL)
	assert.Equal(t, "", calls[0].Header.Get("X-Inngest-Signature"), "a dev server does not sign")
	ctx := callCtx(t, calls[0].Body)
	assert.Equal(t, "staging", ctx.Env, "ctx.env is the X-Inngest-Env of the sync")
	assert.Equal(t, 3, ctx.MaxAttempts)

	// The app changes: a new function, and the sync as it reaches the
	// engine says first has no retries. The engine goes by the sync.
	second := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "second"}, inngest.EventTrigger("shop/second", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return "two", nil }))
	assert.Empty(t, eng.Send(evt("shop/second", nil)), "not synced yet")
	tap.edit = func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"retries":{"attempts":2}`), []byte(`"retries":{"attempts":0}`), 1)
	}
	eng.Register(c)
	require.Len(t, tap.queries, 3)
	assert.NotEqual(t, tap.queries[1], tap.queries[2], "each sync has its own deploy ID")
	assert.JSONEq(t, `{"ok":true,"modified":true}`, tap.replies[2])

	eng.Run(second, evt("shop/second", nil)).RequireOutput(t, "two")
	eng.Run(first, evt("shop/first", nil)).RequireOutput(t, "one")
	require.Len(t, calls, 3)
	assert.Equal(t, 1, callCtx(t, calls[2].Body).MaxAttempts, "the retries the sync said")

	// A sync that drops a function removes it.
	tap.edit = func(b []byte) []byte {
		var p map[string]any
		require.NoError(t, json.Unmarshal(b, &p))
		p["functions"] = p["functions"].([]any)[1:]
		return must(json.Marshal(p))
	}
	eng.Register(c)
	assert.Empty(t, eng.Send(evt("shop/first", nil)), "shop-first is gone")
	require.Len(t, eng.Send(evt("shop/second", nil)), 1)
}

// A client whose requests do not reach the engine cannot be registered:
// the error says how to wire it. A client wired to another engine is
// registered with neither.
func TestRegisterUnwiredClientFails(t *testing.T) {
	offline := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("dial tcp 127.0.0.1:8288: connect: connection refused")
	})}
	other := inngesttest.New(t)
	for name, hc := range map[string]*http.Client{"offline": offline, "another engine": other.HTTPClient()} {
		t.Run(name, func(t *testing.T) {
			c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: hc, Logger: quiet})
			require.NoError(t, err)
			must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/f", nil),
				func(ctx context.Context, in inngest.Input[order]) (any, error) { return nil, nil }))
			msg := failure(t, func(tb testing.TB) { inngesttest.New(tb).Register(c) })
			assert.Contains(t, msg, `inngesttest: Register: app "shop": its sync did not reach the engine (the handler answered 500: `)
			assert.Contains(t, msg, "create the client with ClientOpts.HTTPClient: eng.HTTPClient()")
		})
	}
	assert.Empty(t, other.Send(evt("shop/f", nil)), "the other engine did not take the app either")

	assert.Contains(t, failure(t, func(tb testing.TB) { inngesttest.New(tb).Register(nil) }), "the client is nil")
	assert.Contains(t, failure(t, func(tb testing.TB) { inngesttest.New(tb).Register(&inngest.Client{}) }),
		"the client was not created by inngest.NewClient")
}

// In cloud mode the engine plays Inngest Cloud with the key the test
// gives it: it signs the sync and every call, and takes a sync only when
// it is authenticated with that key.
func TestRegisterCloudModeNeedsTheEnginesKey(t *testing.T) {
	const key = "signkey-test-12345678"
	const hashed = "signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
	const otherKey = "signkey-test-abcdef01"
	newApp := func(t *testing.T, eng *inngesttest.Engine, opts inngest.ClientOpts) (*inngest.Client, *registerTap) {
		t.Helper()
		tap := &registerTap{next: eng.HTTPClient().Transport}
		opts.AppID, opts.HTTPClient, opts.Logger = "shop", tap.client(), quiet
		c, err := inngest.NewClient(opts)
		require.NoError(t, err)
		must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/f", nil),
			func(ctx context.Context, in inngest.Input[order]) (any, error) { return "ok", nil }))
		return c, tap
	}
	registerFails := func(t *testing.T, eng func(tb testing.TB) *inngesttest.Engine, opts inngest.ClientOpts) string {
		t.Helper()
		return failure(t, func(tb testing.TB) {
			e := eng(tb)
			c, _ := newApp(t, e, opts)
			e.Register(c)
		})
	}
	keyed := func(tb testing.TB) *inngesttest.Engine { return inngesttest.New(tb, inngesttest.SigningKey(key)) }
	unkeyed := func(tb testing.TB) *inngesttest.Engine { return inngesttest.New(tb) }

	t.Run("the same key", func(t *testing.T) {
		var sigs []string
		eng := inngesttest.New(t, inngesttest.SigningKey(key), inngesttest.WithTrace(func(c inngesttest.Call) {
			sigs = append(sigs, c.Header.Get("X-Inngest-Signature"))
		}))
		c, tap := newApp(t, eng, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: key})
		eng.Register(c)
		require.Len(t, tap.headers, 1)
		assert.Equal(t, "Bearer "+hashed, tap.headers[0].Get("Authorization"))
		assert.Equal(t, "cloud", tap.headers[0].Get("X-Inngest-Expected-Server-Kind"))
		eng.Run(inngesttest.FunctionID("shop-f"), evt("shop/f", nil)).RequireOutput(t, "ok")
		require.Len(t, sigs, 1)
		assert.Regexp(t, `^t=\d+&s=[0-9a-f]{64}$`, sigs[0])
	})
	t.Run("the engine's key as the fallback", func(t *testing.T) {
		// Key rotation: the primary key is refused, the SDK retries with
		// the fallback, which the engine takes.
		eng := inngesttest.New(t, inngesttest.SigningKey(key))
		c, tap := newApp(t, eng, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: otherKey, SigningKeyFallback: key})
		eng.Register(c)
		require.Len(t, tap.headers, 2)
		assert.Equal(t, "Bearer "+hashed, tap.headers[1].Get("Authorization"))
		eng.Run(inngesttest.FunctionID("shop-f"), evt("shop/f", nil)).RequireOutput(t, "ok")
	})
	t.Run("no key given to the engine", func(t *testing.T) {
		msg := registerFails(t, unkeyed, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: key})
		assert.Contains(t, msg, `app "shop" is in cloud mode`)
		assert.Contains(t, msg, "inngesttest.New(t, inngesttest.SigningKey(key))")
	})
	t.Run("another key in the client", func(t *testing.T) {
		msg := registerFails(t, keyed, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: otherKey})
		assert.Contains(t, msg, `app "shop" refused the engine's signed sync request (401: `)
		assert.Contains(t, msg, "is not the key given to inngesttest.SigningKey")
	})
	t.Run("no key in the client", func(t *testing.T) {
		msg := registerFails(t, keyed, inngest.ClientOpts{Mode: inngest.ModeDev})
		assert.Contains(t, msg, `app "shop": the request carries no signing key (no Authorization: Bearer header)`)
	})
	t.Run("a register request with another key", func(t *testing.T) {
		// A dev-mode app does not check the engine's signature, but its
		// sync is authenticated with its own key.
		msg := registerFails(t, keyed, inngest.ClientOpts{Mode: inngest.ModeDev, SigningKey: otherKey})
		assert.Contains(t, msg, `app "shop": the request is authenticated with another signing key than the engine's`)
	})
	t.Run("a key that is not one", func(t *testing.T) {
		msg := failure(t, func(tb testing.TB) { inngesttest.New(tb, inngesttest.SigningKey("signkey-test-xyz")) })
		assert.Contains(t, msg, "inngesttest: SigningKey: ")
	})
}

// With a signing key the engine's API, like Inngest Cloud's, answers only
// requests authenticated with it; the event API needs none.
func TestSigningKeyGuardsTheAPI(t *testing.T) {
	eng := inngesttest.New(t, inngesttest.SigningKey("signkey-test-12345678"))
	get := func(auth string) int {
		req := must(http.NewRequest(http.MethodGet, "http://api.test/v0/runs/01ABC/actions", nil))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res := must(eng.HTTPClient().Do(req))
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, get(""))
	assert.Equal(t, http.StatusUnauthorized, get("signkey-test-0123"))
	assert.Equal(t, http.StatusBadRequest, get("signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"), "unknown run, but authorized")
	assert.Equal(t, http.StatusBadRequest, get("signkey-test-12345678"), "the plain key is accepted too")

	res := must(eng.HTTPClient().Post("http://inn.test/e/key", "application/json", strings.NewReader(`{"name":"shop/x"}`)))
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}
