package inngest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// updateProtocol rewrites the golden files under testdata/protocol instead
// of comparing against them. Review every rewritten file by hand: the
// golden files are the protocol, not a record of what the code does.
var protoUpdate = flag.Bool("update-protocol", false, "rewrite testdata/protocol golden files")

// Keys used across the protocol tests. testKey is the signing key of the
// protocol notes' bearer-hashing vector, so its hash is known in advance.
const (
	protoKey         = "signkey-prod-12345678"
	protoKeyBearer   = "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
	protoFallbackKey = "signkey-prod-abcdef0123456789"
	protoEventKey    = "evt-key-0123456789"
	protoSDKHeader   = "go-inngest:v" + inngest.Version
)

// inngestEnv lists every environment variable the client reads. Tests
// blank them all so that the environment of whoever runs the tests cannot
// change the results.
var protoEnvVars = []string{
	"INNGEST_SIGNING_KEY", "INNGEST_SIGNING_KEY_FALLBACK", "INNGEST_EVENT_KEY", "INNGEST_ENV",
	"INNGEST_DEV", "INNGEST_BASE_URL", "INNGEST_API_BASE_URL", "INNGEST_EVENT_API_BASE_URL",
	"INNGEST_SERVE_ORIGIN", "INNGEST_SERVE_PATH", "INNGEST_SERVE_HOST", "INNGEST_ALLOW_IN_BAND_SYNC", "INNGEST_ALLOW_UNSIGNED_SYNC",
	"VERCEL", "NETLIFY", "CF_PAGES", "RENDER", "RAILWAY_ENVIRONMENT", "RAILWAY_PROJECT_ID", "FLY_APP_NAME",
}

func protoIsolateEnv(t *testing.T) {
	t.Helper()
	for _, k := range protoEnvVars {
		t.Setenv(k, "")
	}
}

// quietLogger drops the SDK's logs.
func protoQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newClient isolates the environment and creates a client from opts,
// with logs dropped unless opts sets a logger.
func protoClient(t *testing.T, opts inngest.ClientOpts) *inngest.Client {
	t.Helper()
	protoIsolateEnv(t)
	if opts.Logger == nil {
		opts.Logger = protoQuietLogger()
	}
	c, err := inngest.NewClient(opts)
	require.NoError(t, err)
	return c
}

// serve sends one request to h and returns the recorded response.
func protoServe(t *testing.T, h http.Handler, method, target string, body []byte, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkTimings(t, rec)
	return rec
}

// checkTimings checks the timings in rec's body against the clock and
// replaces each with wiretest.Timing, so that the body can be compared
// byte for byte.
func checkTimings(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	rec.Body = bytes.NewBufferString(wiretest.Timings(t, rec.Body.String()))
}

// signed returns the headers of a request signed with key, now.
func protoSigned(t *testing.T, key string, body []byte) http.Header {
	t.Helper()
	return protoSignedAt(t, key, time.Now(), body)
}

func protoSignedAt(t *testing.T, key string, at time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := inngest.Sign(key, at, body)
	require.NoError(t, err)
	return http.Header{"X-Inngest-Signature": {sig}}
}

// want is an expected response. Headers lists protocol headers that must
// have exactly the given value; an empty value means the header must be
// absent.
type protoWant struct {
	status  int
	headers map[string]string
	body    string
}

// assertResponse checks status, the headers every response carries, the
// listed headers and the body, byte for byte.
func protoAssert(t *testing.T, rec *httptest.ResponseRecorder, w protoWant) {
	t.Helper()
	assert.Equal(t, w.status, rec.Code, "status; body: %s", rec.Body.String())
	h := rec.Header()
	assert.Equal(t, []string{protoSDKHeader}, h.Values("X-Inngest-Sdk"), "X-Inngest-SDK")
	assert.Equal(t, []string{"2"}, h.Values("X-Inngest-Req-Version"), "X-Inngest-Req-Version")
	assert.Equal(t, "application/json", h.Get("Content-Type"), "Content-Type")
	for k, v := range w.headers {
		if v == "" {
			assert.Empty(t, h.Values(k), "header %s must be absent", k)
			continue
		}
		assert.Equal(t, []string{v}, h.Values(k), "header %s", k)
	}
	assert.Equal(t, w.body, rec.Body.String(), "body")
}

// noRetry builds the headers map for X-Inngest-No-Retry (and an absent
// Retry-After).
func protoNoRetry(v string) map[string]string {
	return map[string]string{"X-Inngest-No-Retry": v, "Retry-After": ""}
}

// protocolFile reads testdata/protocol/name.
func protoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "protocol", name))
	require.NoError(t, err)
	return b
}

// protoVersioned are the places where a golden file holds the SDK's
// version, and the placeholder the file holds there instead, so that a
// release that changes Version leaves the golden files as they are. A
// payload with any other version is not rewritten and so fails the
// comparison.
var protoVersioned = strings.NewReplacer(
	`"sdk":"go-inngest:v`+inngest.Version+`"`, `"sdk":"go-inngest:v{{Version}}"`,
	`"sdk_version":"`+inngest.Version+`"`, `"sdk_version":"{{Version}}"`,
)

// assertGolden compares got with testdata/protocol/name, or rewrites the
// file with -update-protocol. The SDK's version is compared as the
// placeholder {{Version}} (see protoVersioned).
func protoGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "protocol", name)
	got = []byte(protoVersioned.Replace(string(got)))
	if *protoUpdate {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	wantBytes, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(wantBytes), string(got), "golden file %s (rerun with -update-protocol to rewrite it, then review it)", path)
}

// apiRequest is a request received by fakeAPI.
type protoAPIRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// fakeAPI is an Inngest API stand-in that records every request and
// answers with reply.
type protoAPI struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []protoAPIRequest
	reply func(r protoAPIRequest) (int, string)
}

func newProtoAPI(t *testing.T, reply func(r protoAPIRequest) (int, string)) *protoAPI {
	t.Helper()
	f := &protoAPI{reply: reply}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := protoAPIRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		status, out := f.reply(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *protoAPI) requests() []protoAPIRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protoAPIRequest(nil), f.reqs...)
}

func protoHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func protoSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// protoLogBuffer collects log output; loggers write to it concurrently.
type protoLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *protoLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *protoLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// protoLogger returns a logger writing every level to the returned buffer.
func protoLogger() (*slog.Logger, *protoLogBuffer) {
	buf := &protoLogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
