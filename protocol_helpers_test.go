package inngest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
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

// testClient isolates the environment and creates a client from opts
// (app "hard" unless opts names one), with logs dropped unless opts sets
// a logger.
func testClient(tb testing.TB, opts inngest.ClientOpts) *inngest.Client {
	tb.Helper()
	testkit.IsolateEnv(tb)
	if opts.AppID == "" {
		opts.AppID = hardApp
	}
	if opts.Logger == nil {
		opts.Logger = testkit.QuietLogger()
	}
	c, err := inngest.NewClient(opts)
	require.NoError(tb, err)
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
// replaces each with testkit.Timing, so that the body can be compared
// byte for byte.
func checkTimings(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	rec.Body = bytes.NewBufferString(testkit.Timings(t, rec.Body.String()))
}

// signed returns the headers of a request signed with key, now.
func protoSigned(t *testing.T, key string, body []byte) http.Header {
	t.Helper()
	return protoSignedAt(t, key, time.Now(), body)
}

func protoSignedAt(t testing.TB, key string, at time.Time, body []byte) http.Header {
	t.Helper()
	return http.Header{"X-Inngest-Signature": {sign(t, key, at, body)}}
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
