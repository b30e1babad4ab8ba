//go:build race

package inngesttest_test

// raceDetector reports whether the tests run under the race detector,
// which makes the longest of them too slow.
const raceDetector = true
