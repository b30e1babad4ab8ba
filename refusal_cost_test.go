//go:build unix

package inngest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
)

// refusalCPUBound is the CPU time the README promises for refusing an
// unsigned or wrongly signed request of up to 1 MiB with both keys set
// (about 1 ms an HMAC; canonicalization used to cost 100 ms or more).
// The race detector's instrumentation multiplies it.
const refusalCPUBound = 5 * time.Millisecond * raceSlowdown

// manyKeys returns a JSON object of n bytes or a little less, made of
// many short keys: the shape that costs canonicalization the most.
func manyKeys(n int) []byte {
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('{')
	for i := 0; ; i++ {
		kv := `"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i%10)
		if b.Len()+len(kv)+2 > n {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// processCPU is the CPU time, user and system, used so far by the whole
// process: every thread, the garbage collector's included.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRefusingCostsLittleCPU: refusing a request with no signature, a
// malformed one, a wrong one or an expired one costs at most a few
// milliseconds of CPU, whatever the body: a body of just under 1 MiB of
// many small keys, which canonicalization would take a few hundred
// milliseconds over, for calls, syncs and trust probes. Both keys are
// set, so a wrong signature costs two HMACs.
//
// The cost is the process's CPU time (getrusage, all threads, garbage
// collection included) over a batch of requests, divided by their
// number; the least of three batches counts, so that work the runtime
// does for other reasons does not fail the test. No other test runs
// meanwhile (none of this package's tests is parallel with it).
func TestRefusingCostsLittleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU time")
	}
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB})
	hardFunctions(t, c)
	h := c.Serve()
	big := manyKeys(1<<20 - 64)
	small := manyKeys(8 << 10) // the largest body whose canonical form is checked
	now := time.Now()
	headers := map[string]func(body []byte) string{
		"no signature": func([]byte) string { return "" },
		"malformed":    func([]byte) string { return "t=" + strconv.FormatInt(now.Unix(), 10) + "&s=not-hex" },
		"wrong":        func(b []byte) string { return sign(t, hardOtherKey, now, b) },
		"expired":      func(b []byte) string { return sign(t, hardKey, now.Add(-10*time.Minute), b) },
	}
	targets := []struct{ method, target string }{
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step"},
		{http.MethodPut, "/api/inngest"},
		{http.MethodPost, "/api/inngest?probe=trust"},
	}
	const batch, rounds = 16, 3
	t.Logf("GOMAXPROCS=%d, %d requests a batch, the least of %d batches", runtime.GOMAXPROCS(0), batch, rounds)
	for _, tg := range targets {
		for _, name := range []string{"no signature", "malformed", "wrong", "expired"} {
			for _, body := range [][]byte{big, small} {
				label := tg.method + " " + strings.TrimPrefix(tg.target, "/api/inngest") + ", " + name + ", " + strconv.Itoa(len(body)) + " bytes"
				header := headers[name](body)
				do := func() {
					req := httptest.NewRequest(tg.method, tg.target, bytes.NewReader(body))
					if header != "" {
						req.Header.Set("X-Inngest-Signature", header)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusUnauthorized {
						t.Fatalf("%s: answered %d, not 401: %s", label, rec.Code, rec.Body)
					}
				}
				do() // warm up
				best := time.Duration(1 << 62)
				for range rounds {
					runtime.GC()
					start := processCPU(t)
					for range batch {
						do()
					}
					best = min(best, (processCPU(t)-start)/batch)
				}
				t.Logf("%s: %v of CPU a refusal", label, best)
				if best > refusalCPUBound {
					t.Errorf("%s: refusing costs %v of CPU, more than %v", label, best, refusalCPUBound)
				}
			}
		}
	}
}
