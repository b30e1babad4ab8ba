package bench

import (
	"fmt"
	"testing"
)

// BenchmarkCall measures one call (POST) of the same function with the
// same request bytes through this SDK's handler (sdk=ours), the official
// SDK's (sdk=official) and the floor (sdk=floor: a handler that reads
// the body, decodes it with encoding/json, hashes the step IDs and
// writes a fixed answer, the least any handler does), each called the
// same way.
func BenchmarkCall(b *testing.B) {
	dev := []sdk{ours(b, false), theirs(b, false)}
	cloud := []sdk{ours(b, true), theirs(b, true)}
	type scenario struct {
		name   string
		rq     request
		sdks   []sdk
		signed bool
		want   string
	}
	var scenarios []scenario
	for _, n := range []int{0, 10, 100, 1000} {
		scenarios = append(scenarios, scenario{name: fmt.Sprintf("steps=%d", n), rq: stepsRequest(b, n), sdks: dev, want: stepIDs[n]})
	}
	scenarios = append(scenarios,
		scenario{name: "state=1MiB", rq: bigRequest(b), sdks: dev, want: "measure"},
		scenario{name: "signed=steps-100", rq: stepsRequest(b, 100), sdks: cloud, signed: true, want: stepIDs[100]},
		scenario{name: "parallel=10x10", rq: groupRequest(b), sdks: dev, want: "after"},
	)
	for _, rs := range resultSets {
		for _, n := range []int{10, 100, 1000} {
			scenarios = append(scenarios, scenario{name: fmt.Sprintf("result=%s/steps=%d", rs.name, n), rq: resultsRequest(b, rs, n), sdks: dev, want: stepIDs[n]})
		}
	}
	scenarios = append(scenarios, scenario{name: "failure-handler", rq: failureRequest(b), sdks: dev, want: "notify"})
	for _, sc := range scenarios {
		for _, s := range sc.sdks {
			b.Run("sdk="+s.name+"/"+sc.name, func(b *testing.B) {
				sig := ""
				if sc.signed {
					sig = sign(b, sc.rq)
				}
				checkStepRun(b, call(s.handler, sc.rq, sig), sc.want)
				b.ReportAllocs()
				b.ResetTimer()
				stop := cpuMeter(b)
				for b.Loop() {
					call(s.handler, sc.rq, sig)
				}
				stop()
			})
		}
		b.Run("sdk=floor/"+sc.name, func(b *testing.B) {
			h := floorHandler(b, sc.rq, sc.signed)
			b.ReportAllocs()
			stop := cpuMeter(b)
			for b.Loop() {
				call(h, sc.rq, "")
			}
			stop()
		})
	}
	// Many calls at once, each with 100 memoized steps.
	rq := stepsRequest(b, 100)
	for _, s := range dev {
		b.Run("sdk="+s.name+"/concurrent=steps-100", func(b *testing.B) {
			b.ReportAllocs()
			stop := cpuMeter(b)
			defer stop()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := call(s.handler, rq, "")
					if w.Code != 206 {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
	b.Run("sdk=floor/concurrent=steps-100", func(b *testing.B) {
		h := floorHandler(b, rq, false)
		b.ReportAllocs()
		stop := cpuMeter(b)
		defer stop()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call(h, rq, "")
			}
		})
	})
}
