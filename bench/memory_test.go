package bench

import (
	"flag"
	"runtime"
	"sync"
	"testing"
	"time"
)

var calls = flag.Int("calls", 1_000_000, "calls TestMemoryStaysBounded makes")

// TestMemoryStaysBounded makes a million calls (-calls) through our
// handler, from as many goroutines as there are processors, and checks
// that nothing accumulates: the live heap and the goroutine count after
// them are what they were after a warm-up. Every thousandth call carries
// the 1 MiB result, so pooled buffers meet large values too.
func TestMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million calls take a while")
	}
	h := ours(t, false).handler
	small, big := stepsRequest(t, 1), bigRequest(t)
	run := func(n int) {
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					rq, want := small, stepIDs[1]
					if i%1000 == 999 {
						rq, want = big, "measure"
					}
					if w := call(h, rq, ""); w.Code != 206 {
						t.Errorf("call %d: status %d, want 206 (%s)", i, w.Code, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	settle := func() (heap uint64, goroutines int) {
		// Let finished goroutines exit, then measure the live heap.
		for range 10 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, runtime.NumGoroutine()
	}
	run(10_000)
	heap0, g0 := settle()
	start := time.Now()
	run(*calls)
	heap1, g1 := settle()
	t.Logf("%d calls in %v; live heap %d KiB before, %d KiB after; goroutines %d before, %d after",
		*calls, time.Since(start).Round(time.Millisecond), heap0>>10, heap1>>10, g0, g1)
	if g1 > g0 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	const slack = 4 << 20 // pools emptied by the GC, runtime caches
	if heap1 > heap0+slack {
		t.Errorf("live heap grew from %d to %d bytes over %d calls", heap0, heap1, *calls)
	}
}
