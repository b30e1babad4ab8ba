package inngest_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// leakCheck makes the test fail if, once it and its cleanups are done,
// a goroutine it started is still running. Call it first.
func leakCheck(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		if leaked := waitForLeaks(before, 2*time.Second); len(leaked) > 0 {
			t.Errorf("found unexpected goroutines:\n%s", strings.Join(leaked, "\n\n"))
		}
	})
}

// waitForLeaks returns the stacks of the goroutines not in before that
// are still running after up to wait: goroutines that end soon after the
// test (a server's connection handlers, say) get that long.
func waitForLeaks(before map[int]string, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		var leaked []string
		for id, stack := range goroutines() {
			if _, old := before[id]; !old && !testingGoroutine(stack) {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			slices.Sort(leaked)
			return leaked
		}
		time.Sleep(delay)
	}
}

// testingGoroutine reports whether a stack is one of the testing
// package's own goroutines (other tests' runners), which are no leak.
func testingGoroutine(stack string) bool {
	return strings.Contains(stack, "\ncreated by testing.") || strings.Contains(stack, "\ntesting.RunTests(")
}

// goroutines returns every goroutine's stack by its ID.
func goroutines() map[int]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		// "goroutine 12 [chan receive]:"
		rest, ok := bytes.CutPrefix(g, []byte("goroutine "))
		if !ok {
			continue
		}
		idText, _, _ := bytes.Cut(rest, []byte(" "))
		id, err := strconv.Atoi(string(idText))
		if err != nil {
			continue
		}
		out[id] = string(g)
	}
	return out
}

// leakRecorder is a testing.TB that records errors and runs its
// cleanups when asked.
type leakRecorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *leakRecorder) Helper()          {}
func (r *leakRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *leakRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *leakRecorder) finish() {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
}

// The leak check finds a goroutine the test left running, names it by
// its stack, and lets a goroutine that ends soon after the test go.
func TestLeakCheck(t *testing.T) {
	stop := make(chan struct{})
	rec := &leakRecorder{TB: t}
	leakCheck(rec)
	go parkUntilClosed(stop)
	rec.finish()
	close(stop)
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "found unexpected goroutines") || !strings.Contains(rec.errs[0], "parkUntilClosed") {
		t.Fatalf("want one error naming parkUntilClosed, got %q", rec.errs)
	}

	rec = &leakRecorder{TB: t}
	leakCheck(rec)
	go func() { time.Sleep(50 * time.Millisecond) }()
	rec.finish()
	if len(rec.errs) != 0 {
		t.Fatalf("a goroutine that ends soon is no leak: %q", rec.errs)
	}

	// Goroutines that existed before the check are not its business.
	stop2 := make(chan struct{})
	defer close(stop2)
	go parkUntilClosed(stop2)
	rec = &leakRecorder{TB: t}
	leakCheck(rec)
	rec.finish()
	if len(rec.errs) != 0 {
		t.Fatalf("an older goroutine is no leak: %q", rec.errs)
	}
}

func parkUntilClosed(c chan struct{}) { <-c }
