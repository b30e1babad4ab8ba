//go:build !unix

package wire

// cpuTime is not measured here.
func cpuTime() int64 { return -1 }
