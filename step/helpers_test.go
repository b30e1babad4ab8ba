package step_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
)

// hash is the step hash of the n-th use of id, computed here
// independently of the SDK: sha1 of id, or of "id:n" after the first.
func hash(id string, n ...int) string {
	if len(n) > 0 && n[0] > 0 {
		id += ":" + strconv.Itoa(n[0])
	}
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// newClient returns a dev-mode client for app "demo" whose logs go to
// the returned buffer.
func newClient(t *testing.T, opts ...func(*inngest.ClientOpts)) (*inngest.Client, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	o := inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, f := range opts {
		f(&o)
	}
	c, err := inngest.NewClient(o)
	require.NoError(t, err)
	return c, logs
}

// fn registers a function on c triggered by "demo/<id>".
func fn[T any](t *testing.T, c *inngest.Client, id string, body func(ctx context.Context, in inngest.Input[T]) (any, error), opts ...func(*inngest.FunctionOpts)) *inngest.Function[T] {
	t.Helper()
	o := inngest.FunctionOpts{ID: id}
	for _, f := range opts {
		f(&o)
	}
	f, err := inngest.CreateFunction(c, o, inngest.EventTrigger("demo/"+id, nil), body)
	require.NoError(t, err)
	return f
}

// response is what the handler answered to one call.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// post sends a call request to c's handler.
func post(t *testing.T, c *inngest.Client, query string, body []byte) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/inngest?"+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: testkit.Timings(t, rec.Body.String())}
}

// httptestServer serves c's handler over HTTP for the test.
func httptestServer(t *testing.T, c *inngest.Client) *httptest.Server {
	srv := httptest.NewServer(c.Serve())
	t.Cleanup(srv.Close)
	return srv
}

// postHTTP sends a captured request over HTTP.
func postHTTP(t *testing.T, srv *httptest.Server, cp capture) (int, string) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/api/inngest?"+cp.Query, "application/json", bytes.NewReader(cp.Body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// capture is one call request recorded from a real dev server.
type capture struct {
	Query string          `json:"query"`
	Body  json.RawMessage `json:"body"`
}

// loadCaptures reads testdata/captures/<name>.jsonl.
func loadCaptures(t *testing.T, name string) []capture {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "captures", name+".jsonl"))
	require.NoError(t, err)
	defer f.Close()
	var out []capture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var c capture
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		out = append(out, c)
	}
	require.NoError(t, sc.Err())
	return out
}

// replay sends a captured request to c's handler.
func replay(t *testing.T, c *inngest.Client, cp capture) response {
	t.Helper()
	return post(t, c, cp.Query, cp.Body)
}

// call builds a call request shaped like the dev server's.
type call struct {
	fn               string            // function ID within app "demo"
	target           string            // stepId; "" means "step"
	event            string            // the event's data; "" means {}
	steps            map[string]string // hash → memoized JSON
	stack            []string          // completed hashes, in completion order
	attempt          int
	maxAttempts      int // 0 means 5
	disableImmediate bool
}

func (c call) query() string {
	target := c.target
	if target == "" {
		target = "step"
	}
	return "fnId=demo-" + c.fn + "&stepId=" + target
}

func (c call) body() []byte {
	data := c.event
	if data == "" {
		data = "{}"
	}
	maxAttempts := c.maxAttempts
	if maxAttempts == 0 {
		maxAttempts = 5
	}
	steps := map[string]json.RawMessage{}
	for h, v := range c.steps {
		steps[h] = json.RawMessage(v)
	}
	stack := c.stack
	if stack == nil {
		stack = []string{}
	}
	evt := json.RawMessage(`{"data":` + data + `,"id":"01M89CTBSJYBPM1NTZ3KSR6VWR","name":"demo/` + c.fn + `","ts":1795611766578,"user":{}}`)
	version := 2
	if len(c.steps) == 0 {
		version = -1
	}
	body := map[string]any{
		"ctx": map[string]any{
			"attempt":                     c.attempt,
			"disable_immediate_execution": c.disableImmediate,
			"env":                         "",
			"fn_id":                       "b3dd1ce0-a236-5ff8-b96f-35d36f096c8c",
			"generation_id":               1,
			"job_id":                      "f1w5lfl9429o",
			"max_attempts":                maxAttempts,
			"qi_id":                       "ZjF3NWxmbDk0MjlvOjpkZWZhdWx0",
			"request_id":                  "01M89CTC5E0T05K4TY73X1TS00",
			"run_id":                      "01M89CTC00Y1RFEX6HGGCHG9VY",
			"stack":                       map[string]any{"current": len(stack), "stack": stack},
			"step_id":                     "step",
			"use_api":                     false,
		},
		"defers":  map[string]any{},
		"event":   evt,
		"events":  []json.RawMessage{evt},
		"steps":   steps,
		"use_api": false,
		"version": version,
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return b
}

// do sends the call to c's handler.
func (c call) do(t *testing.T, cl *inngest.Client) response {
	t.Helper()
	return post(t, cl, c.query(), c.body())
}

// counter counts calls per key, safely across goroutines.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// op is an opcode of a 206 answer.
type op struct {
	ID          string          `json:"id"`
	Op          string          `json:"op"`
	Name        string          `json:"name"`
	DisplayName string          `json:"displayName"`
	Opts        json.RawMessage `json:"opts"`
	Data        json.RawMessage `json:"data"`
	Error       *struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Stack   string `json:"stack"`
	} `json:"error"`
}

func decodeOps(t *testing.T, body string) []op {
	t.Helper()
	var ops []op
	require.NoError(t, json.Unmarshal([]byte(body), &ops), body)
	return ops
}

// requireResponse checks status and exact body.
func requireResponse(t *testing.T, r response, status int, body string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, body, r.Body)
}
