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
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtable: ")
	var (
		in        = flag.String("in", "", "read benchmark output from this file instead of running the benchmarks")
		out       = flag.String("o", "", "also write the raw benchmark output to this file")
		count     = flag.Int("count", 6, "rounds: each runs every benchmark once, so the SDKs interleave")
		benchtime = flag.String("benchtime", "300ms", "go test -benchtime")
		bench     = flag.String("bench", "^BenchmarkCall$", "go test -bench")
		metric    = flag.String("metric", "wall", "time column: wall (ns/op) or cpu (cpu-ns/op)")
		check     = flag.Bool("check", false, "exit with status 1 when a target is missed")
		chart     = flag.String("chart", "", "write an SVG chart of time per call against memoized steps to this file")
		readme    = flag.String("readme", "", "rewrite the tables between the benchtable markers of this Markdown file")
		summary   = flag.String("summary", "", "rewrite the summary table between the benchtable markers of this Markdown file")
		update    = flag.Bool("update", false, "short for -o results.txt -chart calls.svg -readme README.md -summary ../README.md")
	)
	flag.Parse()
	if *update {
		*out, *chart, *readme, *summary = "results.txt", "calls.svg", "README.md", "../README.md"
	}
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
	if *out != "" && *out != *in {
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
	var tables bytes.Buffer
	t.print(&tables, unit)
	fmt.Fprintln(&tables)
	fmt.Fprintln(&tables, "```")
	allMet := t.checkTargets(&tables, unit)
	fmt.Fprintln(&tables, "```")
	os.Stdout.Write(tables.Bytes())
	if *chart != "" {
		if err := os.WriteFile(*chart, t.svg(unit), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", *chart)
	}
	if *readme != "" {
		if err := replaceBetweenMarkers(*readme, t.header(*metric)+tables.String()); err != nil {
			log.Fatal(err)
		}
		log.Printf("rewrote the table in %s", *readme)
	}
	if *summary != "" {
		var b bytes.Buffer
		b.WriteString(t.header(*metric))
		t.printSummary(&b, unit)
		if err := replaceBetweenMarkers(*summary, b.String()); err != nil {
			log.Fatal(err)
		}
		log.Printf("rewrote the table in %s", *summary)
	}
	if !allMet && *check {
		os.Exit(1)
	}
}

// runBenchmarks builds the bench module's test binary once and runs it
// count times, each run measuring every benchmark once, so that the
// SDKs and the floor are measured in turn in every round rather than
// one after the other (which is what go test -count would do). It
// returns the output of all rounds, which it also copies to stderr.
func runBenchmarks(bench, benchtime string, count int) ([]byte, error) {
	dir, err := os.MkdirTemp("", "benchtable")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go test -c: %w", err)
	}
	var buf bytes.Buffer
	for round := range count {
		args := []string{"-test.run", "^$", "-test.bench", bench, "-test.benchmem", "-test.benchtime", benchtime, "-test.count", "1"}
		log.Printf("round %d of %d: bench.test %s", round+1, count, strings.Join(args, " "))
		cmd := exec.Command(bin, args...)
		var roundOut bytes.Buffer
		cmd.Stdout = io.MultiWriter(&roundOut, os.Stderr)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		out := roundOut.Bytes()
		if round > 0 {
			out = dropConfig(out) // one header, as go test -count prints it
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// dropConfig removes the goos/goarch/pkg/cpu lines and the final PASS
// of one round's output.
func dropConfig(out []byte) []byte {
	var b bytes.Buffer
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "Benchmark") {
			b.WriteString(line)
		}
	}
	return b.Bytes()
}

// replaceBetweenMarkers replaces what lies between the lines
// "<!-- benchtable:begin -->" and "<!-- benchtable:end -->" of the file
// with text. The markers must be lines of their own.
func replaceBetweenMarkers(file, text string) error {
	const begin, end = "\n<!-- benchtable:begin -->\n", "\n<!-- benchtable:end -->"
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.Index(s, begin)
	j := -1
	if i >= 0 {
		j = strings.Index(s[i+len(begin)-1:], end)
	}
	if i < 0 || j < 0 {
		return fmt.Errorf("%s: no lines %q and %q around the table", file, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	j += i + len(begin) - 1 // the newline before the end marker
	s = s[:i+len(begin)] + text + s[j+1:]
	return os.WriteFile(file, []byte(s), 0o644)
}

// table holds every measurement by scenario, SDK and unit.
type table struct {
	order  []string                                   // scenarios, as first seen
	vals   map[string]map[string]map[string][]float64 // scenario → sdk → unit → values
	config map[string]string                          // goos, goarch, cpu, … of the output
}

// parse reads benchmark output. A result named
// BenchmarkCall/sdk=<sdk>/<scenario>-<procs> is one measurement of
// <sdk> in <scenario>.
func parse(r io.Reader, name string) (*table, error) {
	t := &table{vals: map[string]map[string]map[string][]float64{}, config: map[string]string{}}
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // units, syntax errors of non-benchmark lines
		}
		for _, c := range res.Config {
			if c.File {
				t.config[c.Key] = string(c.Value)
			}
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

// paired returns how many times a's figure is b's in scenario s: the
// median of the rounds' own ratios, each round having measured a and b
// one right after the other, so that a round in which the machine was
// slower or faster moves both. With rounds missing on either side it is
// the ratio of the medians.
func (t *table) paired(s, a, b, unit string) float64 {
	as, bs := t.vals[s][a][unit], t.vals[s][b][unit]
	if len(as) == 0 || len(as) != len(bs) {
		return t.get(s, a, unit) / t.get(s, b, unit)
	}
	rs := make([]float64, len(as))
	for i := range as {
		rs[i] = as[i] / bs[i]
	}
	slices.Sort(rs)
	if n := len(rs); n%2 == 0 {
		return (rs[n/2-1] + rs[n/2]) / 2
	}
	return rs[len(rs)/2]
}

func (t *table) print(w io.Writer, unit string) {
	fmt.Fprintf(w, "| scenario | ours %s | official %[1]s | floor %[1]s | official ÷ ours | ours ÷ floor | ours B/op | official B/op | ours allocs/op | official allocs/op | official ÷ ours allocs |\n", unit)
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range t.order {
		ours, theirs, floor := t.get(s, "ours", unit), t.get(s, "official", unit), t.get(s, "floor", unit)
		oa, ta := t.get(s, "ours", "allocs/op"), t.get(s, "official", "allocs/op")
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s,
			duration(ours), duration(theirs), duration(floor), times(t.paired(s, "official", "ours", unit)), times(t.paired(s, "ours", "floor", unit)),
			bytesText(t.get(s, "ours", "B/op")), bytesText(t.get(s, "official", "B/op")),
			count(oa), count(ta), ratio(ta, oa))
	}
}

// header describes the machine and the run, for the Markdown files.
func (t *table) header(metric string) string {
	rounds := 0
	for _, s := range t.order {
		rounds = max(rounds, len(t.vals[s]["ours"]["ns/op"]))
	}
	what := "wall time per call (ns/op)"
	if metric == "cpu" {
		what = "CPU time per call, all threads (cpu-ns/op)"
	}
	cmd := "go run ./cmd/benchtable -update"
	if metric == "cpu" {
		cmd += " -metric cpu"
	}
	return fmt.Sprintf("Written by `%s` (in `bench/`). %s/%s, %s; %s, medians of %d interleaved rounds; "+
		"the time ratios are medians of each round's own ratio.\n\n",
		cmd, t.config["goos"], t.config["goarch"], t.config["cpu"], what, rounds)
}

// printSummary prints the short table of the repository's README.
func (t *table) printSummary(w io.Writer, unit string) {
	fmt.Fprintln(w, "| scenario | this SDK | official | floor | official ÷ ours | allocs ours / official |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, s := range t.order {
		ours, theirs, floor := t.get(s, "ours", unit), t.get(s, "official", unit), t.get(s, "floor", unit)
		oa, ta := t.get(s, "ours", "allocs/op"), t.get(s, "official", "allocs/op")
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s / %s |\n", s, duration(ours), duration(theirs), duration(floor),
			times(t.paired(s, "official", "ours", unit)), count(oa), count(ta))
	}
}

// memoized returns how many memoized steps scenario s replays, and
// whether s is a call with no state at all.
func memoized(s string) (n int, noState bool) {
	switch s {
	case "failure-handler", "steps=0":
		return 0, true
	case "parallel=10x10":
		return 100, false
	}
	for _, part := range strings.Split(s, "/") {
		_, v, ok := strings.Cut(part, "steps=")
		if !ok {
			_, v, ok = strings.Cut(part, "steps-")
		}
		if ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n, n == 0
			}
		}
	}
	return -1, false
}

// series returns the chart line scenario s belongs to and its number of
// memoized steps: "steps=100" is on line "struct", "result=map/steps=100"
// on line "map". Other scenarios are on no line.
func series(s string) (name string, steps int, ok bool) {
	rest, ok := strings.CutPrefix(s, "result=")
	name = "struct"
	if ok {
		name, rest, ok = strings.Cut(rest, "/")
		if !ok {
			return "", 0, false
		}
	}
	v, ok := strings.CutPrefix(rest, "steps=")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return name, n, true
}

// checkTargets prints whether the targets hold and reports whether all
// of them do. In every scenario with 100 or 1,000 memoized steps: at
// least 4x less time and 4x fewer allocations than the official SDK, and
// within 1.5x of the floor. With no state: within 2x of the floor. And
// on every line of the chart, growth from 100 to 1,000 steps that is
// linear: cost ~ steps^k with k at most maxGrowth.
func (t *table) checkTargets(w io.Writer, unit string) bool {
	all := true
	report := func(ok bool, format string, args ...any) {
		mark := "ok    "
		if !ok {
			mark, all = "MISSED", false
		}
		fmt.Fprintf(w, "%s %s\n", mark, fmt.Sprintf(format, args...))
	}
	at := map[string]map[int]float64{} // series → steps → time
	for _, s := range t.order {
		ours := t.get(s, "ours", unit)
		faster, overFloor := t.paired(s, "official", "ours", unit), t.paired(s, "ours", "floor", unit)
		oa, ta := t.get(s, "ours", "allocs/op"), t.get(s, "official", "allocs/op")
		if name, n, ok := series(s); ok {
			if at[name] == nil {
				at[name] = map[int]float64{}
			}
			at[name][n] = ours
		}
		switch n, noState := memoized(s); {
		case noState:
			report(overFloor <= 2, "%s: within 2x of the floor (%.2fx)", s, overFloor)
		case n == 100 || n == 1000:
			report(faster >= 4, "%s: at least 4x less time than official (%.1fx)", s, faster)
			report(ta/oa >= 4, "%s: at least 4x fewer allocations than official (%.1fx)", s, ta/oa)
			report(overFloor <= 1.5, "%s: within 1.5x of the floor (%.2fx)", s, overFloor)
		}
	}
	names := slices.Sorted(maps.Keys(at))
	for _, name := range names {
		a, b := at[name][100], at[name][1000]
		if a > 0 && b > 0 {
			// Cost ~ n^k from 100 to 1,000 steps: k = 1 is linear (less
			// with a fixed cost per call), 2 quadratic.
			k := math.Log10(b / a)
			report(k <= maxGrowth, "linear growth, %s: cost ~ steps^%.2f from 100 to 1,000 steps, at most ^%.1f (%.1fx the cost for 10x the steps)", name, k, maxGrowth, b/a)
		}
	}
	return all
}

// maxGrowth bounds the exponent k of cost ~ steps^k from 100 to 1,000
// memoized steps (15.8x the cost for 10x the steps). Exactly linear work
// is k = 1; a quadratic term pulls k towards 2 (100x). The margin is for
// work that is linear but not constant per step on this machine: at
// 1,000 steps of 10 KiB strings a call allocates 21 MiB (its 10 MiB
// request and the strings), more than the heap the runtime keeps mapped
// between calls, so that part of it comes as new pages, faulted in and
// zeroed (with GOGC=off, when every page is new, a 100-step call costs
// 1.7x as much); and for noise, ±15% to ±25% on a scenario between
// rounds.
const maxGrowth = 1.2

func duration(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
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
	if b == 0 {
		return "–"
	}
	return times(a / b)
}

func times(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2fx", r)
}
