//go:build race

package inngest_test

// raceSlowdown is how much slower the race detector makes CPU-bound
// code; bounds on CPU time are multiplied by it.
const raceSlowdown = 5
