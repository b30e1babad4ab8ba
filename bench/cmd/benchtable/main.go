// Command benchtable runs the handler benchmarks (or reads their output)
// and prints a side-by-side table of this SDK, the official one and the
// floor, with the ratios and the performance targets.
//
// From the bench directory:
//
//	go run ./cmd/benchtable                  # run the benchmarks, print the table
//	go run ./cmd/benchtable -count 10 -o out.txt
//	go run ./cmd/benchtable -in out.txt      # table from saved `go test -bench` output
//
// Each figure is the median over the -count runs. With -metric cpu the
// time columns show CPU time per call (all threads, garbage collection
// included) instead of wall time; it suffers less from other load on the
// machine.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtable: ")
	var (
		in        = flag.String("in", "", "read benchmark output from this file instead of running the benchmarks")
		out       = flag.String("o", "", "also write the raw benchmark output to this file")
		count     = flag.Int("count", 6, "runs of each benchmark (go test -count)")
		benchtime = flag.String("benchtime", "300ms", "go test -benchtime")
		bench     = flag.String("bench", "^BenchmarkCall$", "go test -bench")
		metric    = flag.String("metric", "wall", "time column: wall (ns/op) or cpu (cpu-ns/op)")
		check     = flag.Bool("check", false, "exit with status 1 when a target is missed")
	)
	flag.Parse()
	unit := map[string]string{"wall": "ns/op", "cpu": "cpu-ns/op"}[*metric]
	if unit == "" {
		log.Fatalf("-metric is wall or cpu, not %q", *metric)
	}

	var raw []byte
	var err error
	if *in != "" {
		raw, err = os.ReadFile(*in)
	} else {
		raw, err = runBenchmarks(*bench, *benchtime, *count)
	}
	if err != nil {
		log.Fatal(err)
	}
	if *out != "" {
		if err := os.WriteFile(*out, raw, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	t, err := parse(bytes.NewReader(raw), *in)
	if err != nil {
		log.Fatal(err)
	}
	if len(t.order) == 0 {
		log.Fatal("no BenchmarkCall results in the input")
	}
	t.print(os.Stdout, unit)
	if !t.checkTargets(os.Stdout, unit) && *check {
		os.Exit(1)
	}
}

// runBenchmarks runs go test in the current directory (the bench module)
// and returns its output, which it also copies to stderr as it comes.
func runBenchmarks(bench, benchtime string, count int) ([]byte, error) {
	args := []string{"test", "-run", "^$", "-bench", bench, "-benchmem", "-benchtime", benchtime, "-count", fmt.Sprint(count), "."}
	log.Printf("go %s", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test: %w", err)
	}
	return buf.Bytes(), nil
}

// table holds every measurement by scenario, SDK and unit.
type table struct {
	order []string                                   // scenarios, as first seen
	vals  map[string]map[string]map[string][]float64 // scenario → sdk → unit → values
}

// parse reads benchmark output. A result named
// BenchmarkCall/sdk=<sdk>/<scenario>-<procs> is one measurement of
// <sdk> in <scenario>.
func parse(r io.Reader, name string) (*table, error) {
	t := &table{vals: map[string]map[string]map[string][]float64{}}
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // units, syntax errors of non-benchmark lines
		}
		_, parts := res.Name.Parts()
		var sdk string
		var rest []string
		for _, p := range parts {
			s := string(p)
			switch {
			case strings.HasPrefix(s, "/sdk="):
				sdk = strings.TrimPrefix(s, "/sdk=")
			case strings.HasPrefix(s, "/"):
				rest = append(rest, strings.TrimPrefix(s, "/"))
			}
		}
		if sdk == "" || len(rest) == 0 {
			continue
		}
		scenario := strings.Join(rest, "/")
		if t.vals[scenario] == nil {
			t.vals[scenario] = map[string]map[string][]float64{}
			t.order = append(t.order, scenario)
		}
		if t.vals[scenario][sdk] == nil {
			t.vals[scenario][sdk] = map[string][]float64{}
		}
		for _, v := range res.Values {
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue
			}
			t.vals[scenario][sdk][unit] = append(t.vals[scenario][sdk][unit], value)
		}
	}
	return t, br.Err()
}

// get returns the median of a measurement, or NaN.
func (t *table) get(scenario, sdk, unit string) float64 {
	xs := slices.Clone(t.vals[scenario][sdk][unit])
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

func (t *table) print(w io.Writer, unit string) {
	fmt.Fprintf(w, "| scenario | ours %s | official %[1]s | floor %[1]s | official ÷ ours | ours ÷ floor | ours B/op | official B/op | ours allocs/op | official allocs/op | official ÷ ours allocs |\n", unit)
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range t.order {
		ours, theirs, floor := t.get(s, "ours", unit), t.get(s, "official", unit), t.get(s, "floor", unit)
		oa, ta := t.get(s, "ours", "allocs/op"), t.get(s, "official", "allocs/op")
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s,
			duration(ours), duration(theirs), duration(floor), ratio(theirs, ours), ratio(ours, floor),
			bytesText(t.get(s, "ours", "B/op")), bytesText(t.get(s, "official", "B/op")),
			count(oa), count(ta), ratio(ta, oa))
	}
}

// checkTargets prints whether the targets hold and reports whether all
// of them do.
func (t *table) checkTargets(w io.Writer, unit string) bool {
	all := true
	report := func(ok bool, format string, args ...any) {
		mark := "ok    "
		if !ok {
			mark, all = "MISSED", false
		}
		fmt.Fprintf(w, "%s %s\n", mark, fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w)
	for _, s := range []string{"steps=100", "steps=1000"} {
		if t.vals[s] == nil {
			continue
		}
		ours, theirs, floor := t.get(s, "ours", unit), t.get(s, "official", unit), t.get(s, "floor", unit)
		oa, ta := t.get(s, "ours", "allocs/op"), t.get(s, "official", "allocs/op")
		report(theirs/ours >= 3, "%s: at least 3x less time than official (%.1fx)", s, theirs/ours)
		report(ta/oa >= 4, "%s: at least 4x fewer allocations than official (%.1fx)", s, ta/oa)
		report(ours/floor <= 1.5, "%s: within 1.5x of the floor (%.2fx)", s, ours/floor)
	}
	if t.vals["steps=100"] != nil && t.vals["steps=1000"] != nil {
		g := t.get("steps=1000", "ours", unit) / t.get("steps=100", "ours", unit)
		report(g <= 11, "linear growth: 1,000 steps cost at most 11x 100 steps (%.1fx)", g)
	}
	return all
}

func duration(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func bytesText(b float64) string {
	switch {
	case math.IsNaN(b):
		return "–"
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func count(n float64) string {
	if math.IsNaN(n) {
		return "–"
	}
	return fmt.Sprintf("%.0f", n)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
