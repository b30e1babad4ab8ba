package inngest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncVia PUTs a sync (signed in cloud mode) and returns the answer.
func syncVia(t *testing.T, c *inngest.Client, ctx context.Context, signed bool) *httptest.ResponseRecorder {
	t.Helper()
	body := []byte(`{"url":"http://app.test/api/inngest"}`)
	key := ""
	if signed {
		key = hardKey
	}
	req := hardReq(t, http.MethodPut, "/api/inngest", body, key).WithContext(ctx)
	return serve(c.Serve(), req)
}

func registerClient(t *testing.T, api *testkit.FakeAPI, mode inngest.Mode, fallback string) *inngest.Client {
	t.Helper()
	c := testClient(t, inngest.ClientOpts{Mode: mode, SigningKey: hardKey, SigningKeyFallback: fallback, APIBaseURL: api.URL})
	hardFunctions(t, c)
	return c
}

func TestRegisterRetriesServerAndNetworkErrors(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"db down"}`)
		case 2:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			_, _ = io.WriteString(w, `{"ok":true,"modified":true}`)
		}
	})
	rec := syncVia(t, registerClient(t, api, inngest.ModeDev, ""), context.Background(), false)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"message":"Successfully synced.","modified":true}`, rec.Body.String())
	reqs := api.Requests()
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		assert.Equal(t, "/fn/register", r.URL.Path)
		assert.Equal(t, string(api.Requests()[0].Body), string(api.Requests()[i].Body), "every attempt registers the same payload")
	}
}

func TestRegisterGivesUpClearly(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"error":"upstream gone"}`)
	})
	rec := syncVia(t, registerClient(t, api, inngest.ModeDev, ""), context.Background(), false)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	requireWellFormed(t, rec)
	var reply struct {
		Message  string `json:"message"`
		Modified bool   `json:"modified"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply))
	assert.Contains(t, reply.Message, "/fn/register answered 502: upstream gone")
	assert.Contains(t, reply.Message, "gave up after 3 attempts")
	assert.EqualValues(t, 3, api.Calls())
}

func TestRegisterNeverRetriesClientErrors(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"Expected server kind dev, got cloud"}`)
	})
	rec := syncVia(t, registerClient(t, api, inngest.ModeDev, ""), context.Background(), false)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "Expected server kind dev, got cloud")
	assert.EqualValues(t, 1, api.Calls())
}

func TestRegisterHonoursTheRequestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		cancel() // the dev server hung up while we were registering
		<-r.Context().Done()
	})
	rec := syncVia(t, registerClient(t, api, inngest.ModeDev, ""), ctx, false)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "context canceled")
	assert.EqualValues(t, 1, api.Calls())
}

// TestRegisterFallsBackToTheFallbackKey: a refused signing key (401 or
// 403) is tried again at once with the fallback key; a refusal of both
// is an error that says so.
func TestRegisterFallsBackToTheFallbackKey(t *testing.T) {
	primary := "Bearer signkey-prod-" + bearerHex(hardKey)
	fallback := "Bearer signkey-prod-" + bearerHex(hardKeyFB)
	cases := []struct {
		name     string
		fallback string
		answer   func(n int, auth string) int
		status   int
		auths    []string
	}{
		{"401 then fallback", hardKeyFB, func(n int, auth string) int {
			if auth == primary {
				return 401
			}
			return 200
		}, 200, []string{primary, fallback}},
		{"403 then fallback", hardKeyFB, func(n int, auth string) int {
			if auth == primary {
				return 403
			}
			return 200
		}, 200, []string{primary, fallback}},
		{"both refused", hardKeyFB, func(n int, auth string) int { return 401 }, 500, []string{primary, fallback}},
		{"no fallback", "", func(n int, auth string) int { return 401 }, 500, []string{primary}},
		{"fallback hits a 503 then works", hardKeyFB, func(n int, auth string) int {
			switch {
			case auth == primary:
				return 401
			case n == 2:
				return 503
			}
			return 200
		}, 200, []string{primary, fallback, primary, fallback}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
				status := tc.answer(n, r.Header.Get("Authorization"))
				w.WriteHeader(status)
				if status == 200 {
					_, _ = io.WriteString(w, `{"ok":true,"modified":false}`)
					return
				}
				_, _ = io.WriteString(w, `{"error":"key refused"}`)
			})
			rec := syncVia(t, registerClient(t, api, inngest.ModeCloud, tc.fallback), context.Background(), true)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			var auths []string
			for _, r := range api.Requests() {
				auths = append(auths, r.Header.Get("Authorization"))
			}
			assert.Equal(t, tc.auths, auths)
			if tc.status != 200 {
				assert.Contains(t, rec.Body.String(), "401")
				assert.Contains(t, rec.Body.String(), "key refused")
			}
		})
	}
}

// The server refuses a sync with an invalid expression with a bare "At
// least one function is invalid" (its publicerr body, the detail left
// out). The sync's error then lists the expressions to check, function by
// function.
func TestSyncInvalidFunctionListsExpressions(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) {
		return 400, `{"error":"At least one function is invalid","data":null,"status":400}`
	}))
	c := syncCloud(t, api, inngest.ClientOpts{})
	res := syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	require.Equal(t, 500, res.Code)
	var reply struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
	assert.Equal(t, "inngest: sync: "+api.URL+" answered 400: At least one function is invalid"+
		" (the server does not say which; check these CEL expressions, or register the app with an inngesttest.Engine, which names the invalid ones: "+
		`shop-charge: trigger 0 Expression "event.data.amount > 0 && event.data.currency != 'XXX'", `+
		`Cancel[0].If "event.data.charge_id == async.data.charge_id", `+
		`Cancel[1].If "async.data.account == event.data.account && event.data.amount > 100", `+
		`Concurrency[1].Key "event.data.user_id", Throttle.Key "event.data.user_id", Debounce.Key "event.data.user_id", `+
		`Priority.Run "event.data.plan == 'pro' ? 120 : 0", Singleton.Key "event.data.user_id"; `+
		`shop-charge-failure: trigger 0 Expression "event.data.function_id == 'shop-charge'"; `+
		`shop-digest: RateLimit.Key "event.data.team"; `+
		`shop-bulk-import: Concurrency[0].Key "event.data.tenant", Idempotency "event.data.import_id", BatchEvents.Key "event.data.tenant", BatchEvents.If "event.data.size < 1000"; `+
		`shop-notify: trigger 1 Expression "event.data.role != 'guest'"; `+
		`shop-notify-cancel: trigger 0 Expression "event.data.function_id == 'shop-notify'")`,
		reply.Message)

	// Other refusals are left as the server wrote them.
	api = testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 400, `{"error":"Expected server kind dev, got cloud"}` }))
	c = syncCloud(t, api, inngest.ClientOpts{})
	res = syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
	assert.Equal(t, "inngest: sync: "+api.URL+" answered 400: Expected server kind dev, got cloud", reply.Message)
}

func TestFunctionConfigsForAWebSocketURLRegisterTheWSRuntime(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "cfgs", Mode: inngest.ModeDev})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f", Retries: inngest.Ptr(2)}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	require.NoError(t, err)

	for _, tc := range []struct{ url, typ string }{
		{"ws://connect", "ws"},
		{"WSS://connect/x", "ws"},
		{"http://app.test/api/inngest", "http"},
	} {
		b, err := c.FunctionConfigs(tc.url)
		require.NoError(t, err)
		var got []struct {
			ID    string `json:"id"`
			Steps map[string]struct {
				Runtime struct{ Type, URL string } `json:"runtime"`
				Retries struct{ Attempts int }     `json:"retries"`
			} `json:"steps"`
		}
		require.NoError(t, json.Unmarshal(b, &got), string(b))
		require.Len(t, got, 1)
		assert.Equal(t, "cfgs-f", got[0].ID)
		assert.Equal(t, tc.typ, got[0].Steps["step"].Runtime.Type, tc.url)
		assert.Equal(t, tc.url+"?fnId=cfgs-f&stepId=step", got[0].Steps["step"].Runtime.URL)
		assert.Equal(t, 2, got[0].Steps["step"].Retries.Attempts)
	}
}
