package inngest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
)

// seedPattern is "<unix ms>,<base64 of 10 bytes>".
var seedPattern = regexp.MustCompile(`^[0-9]{13},[A-Za-z0-9+/]{14}==$`)

func sendClient(t *testing.T, api *testkit.FakeAPI) *inngest.Client {
	t.Helper()
	return testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: api.URL})
}

var twoEvents = []inngest.Event[any]{
	{Name: "hard/one", Data: map[string]int{"n": 1}},
	{Name: "hard/two", Data: map[string]int{"n": 2}, ID: "dedup-2"},
}

// requireOneSend checks that the requests are attempts of one Send: the
// same path, body and event-ID seed, and no Authorization header.
func requireOneSend(t *testing.T, api *testkit.FakeAPI, attempts int) {
	t.Helper()
	reqs := api.Requests()
	require.Len(t, reqs, attempts)
	seed := reqs[0].Header.Get("X-Inngest-Event-Id-Seed")
	require.Regexp(t, seedPattern, seed)
	for i, r := range reqs {
		assert.Equal(t, "/e/"+hardEventKey, r.URL.Path)
		assert.Equal(t, seed, r.Header.Get("X-Inngest-Event-Id-Seed"), "attempt %d reuses the seed, so no event is stored twice", i+1)
		assert.Empty(t, r.Header.Get("Authorization"), "the event key is in the path")
		assert.Equal(t, string(api.Requests()[0].Body), string(api.Requests()[i].Body), "attempt %d sends the same body", i+1)
	}
}

func TestSendRetriesServerErrorsWithOneSeed(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"down"}`)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `<html>bad gateway</html>`)
		default:
			_, _ = io.WriteString(w, `{"ids":["01A","01B"],"status":200}`)
		}
	})
	ids, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.NoError(t, err)
	assert.Equal(t, []string{"01A", "01B"}, ids)
	requireOneSend(t, api, 3)
	assert.JSONEq(t, `[{"name":"hard/one","data":{"n":1}},{"id":"dedup-2","name":"hard/two","data":{"n":2}}]`, string(api.Requests()[0].Body))
}

func TestSendRetriesNetworkErrorsWithOneSeed(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			// Hang up without answering.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, `{"ids":["01A","01B"],"status":200}`)
	})
	ids, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.NoError(t, err)
	assert.Equal(t, []string{"01A", "01B"}, ids)
	requireOneSend(t, api, 2)
}

func TestSendNeverRetriesClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413, 422, 429} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"ids":[],"status":`+itoa(status)+`,"error":"refused on purpose"}`)
			})
			_, err := sendClient(t, api).Send(context.Background(), twoEvents...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), itoa(status))
			assert.Contains(t, err.Error(), "refused on purpose")
			requireOneSend(t, api, 1)
		})
	}
}

func TestSendGivesUpClearly(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"maintenance"}`)
	})
	_, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 5 attempts")
	assert.Contains(t, err.Error(), "503")
	assert.Contains(t, err.Error(), "maintenance")
	requireOneSend(t, api, 5)
}

func TestSendHonoursContext(t *testing.T) {
	t.Run("cancelled during an attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		_, err := sendClient(t, api).Send(ctx, twoEvents...)
		require.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), hardEventKey)
		requireOneSend(t, api, 1)
	})
	t.Run("cancelled after a failed attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"down"}`)
		})
		c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: api.URL,
			HTTPClient: &http.Client{Transport: cancelAfter{next: api.Client().Transport, cancel: cancel}}})
		_, err := c.Send(ctx, twoEvents...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "500: down", "the error tells what failed")
		requireOneSend(t, api, 1)
	})
	t.Run("deadline while waiting for the answer", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := sendClient(t, api).Send(ctx, twoEvents...)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotContains(t, err.Error(), hardEventKey)
		requireOneSend(t, api, 1)
	})
}

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

// TestLoadingStateFromTheAPI: a use_api call loads the events and steps
// through the API, retrying server errors; a state the API no longer has
// fails the attempt with the API's reason.
func TestLoadingStateFromTheAPI(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			okAPI(n, w, r)
		})
		c := registerClient(t, api, inngest.ModeCloud, "")
		body := callBody(t, hardData{N: 99}, nil, func(r *wire.Request) { r.UseAPI, r.Events, r.Event = true, nil, nil })
		rec := serve(c.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", body, hardKey))
		require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
		var ops []wire.Op
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ops))
		require.Len(t, ops, 1)
		assert.JSONEq(t, `5`, string(ops[0].Data), "the event came from the API")
		var paths []string
		for _, r := range api.Requests() {
			paths = append(paths, r.URL.Path)
			assert.Equal(t, "Bearer signkey-prod-"+bearerHex(hardKey), r.Header.Get("Authorization"))
		}
		assert.Equal(t, []string{"/v0/runs/01HARDRUN/batch", "/v0/runs/01HARDRUN/batch", "/v0/runs/01HARDRUN/actions"}, paths)
	})
	t.Run("gone", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/actions") {
				w.WriteHeader(http.StatusGone)
				_, _ = io.WriteString(w, `{"error":"runtime state is no longer available"}`)
				return
			}
			okAPI(n, w, r)
		})
		c := registerClient(t, api, inngest.ModeCloud, "")
		body := callBody(t, hardData{}, nil, func(r *wire.Request) { r.Ctx.UseAPI = true })
		rec := serve(c.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", body, hardKey))
		require.Equal(t, http.StatusInternalServerError, rec.Code)
		requireWellFormed(t, rec)
		assert.Contains(t, rec.Body.String(), "runtime state is no longer available")
		assert.EqualValues(t, 2, api.Calls(), "a 410 is not retried")
	})
}

// cancelAfter is a transport that cancels a context once it has the
// whole answer to a request.
type cancelAfter struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	c.cancel()
	return resp, err
}
