// Package replaytest checks, before a deploy, that runs recorded with
// earlier code replay cleanly against today's code: that the function
// still reaches every recorded step, in order, so that a run in flight
// when the new code is deployed goes on where it left off.
//
// A check replays a Record (a run's events and memoized steps) through
// the app's handler, as Inngest would call it, but never runs a step's
// body: every call asks the SDK to report steps instead of running them.
// It fails with a *Divergence naming the first recorded step the code no
// longer reaches and what it reaches instead.
//
// Records come from three places:
//
//   - a run on the in-process engine: FromRun;
//   - calls captured from a real deployment: the Capture middleware
//     writes each run's latest state to a directory, which LoadDir reads;
//   - the Inngest API, for the runs in flight now: FromAPI and
//     CheckInFlight, which a CI job runs against a deployment's signing
//     key before shipping a build.
//
// To change a function that has runs in flight, guard the change with
// step.Patched and check the old records against the patched code.
package replaytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/wire"
)

// Record is a run as Inngest recorded it: its events and its completed
// steps.
type Record struct {
	// RunID is the run's ID.
	RunID string `json:"run_id"`
	// FunctionID is the function's full ID, "<appID>-<fnID>".
	FunctionID string `json:"function_id"`
	// Events are the run's triggering events; the first is the event.
	Events []json.RawMessage `json:"events"`
	// Steps are the run's completed steps, in the order they completed
	// unless Unordered.
	Steps []Step `json:"steps"`
	// Unordered says the order of Steps is not known (a record from the
	// API, which returns memoized steps as a map): the check then only
	// requires the code to reach every step, in any order.
	Unordered bool `json:"unordered,omitempty"`
	// Pending are the steps the run waits on (a sleep, a wait for an
	// event, an invoke), reported but not finished, when known: when one
	// finishes, Inngest calls the code with it memoized, so the check
	// requires the code to reach it next. Records from the engine have
	// them; the API and captured calls do not say.
	Pending []Step `json:"pending,omitempty"`
}

// Step is a completed step of a Record.
type Step struct {
	// Hash is the step's hashed ID, as on the wire.
	Hash string `json:"hash"`
	// ID is the step's ID as written in code, when known (records from
	// the engine have it; the wire carries hashes only).
	ID string `json:"id,omitempty"`
	// Data is the memoized value Inngest sends for the step, such as
	// {"data": …} or {"error": …}; none for a pending step.
	Data json.RawMessage `json:"data,omitempty"`
}

// describe names the step for a report.
func (s Step) describe() string {
	if s.ID != "" {
		return fmt.Sprintf("step %q (hash %s)", s.ID, s.Hash)
	}
	return "the step with hash " + s.Hash
}

// FromRun returns the record of a run on the in-process engine, as far
// as it has got: start runs of the old code, let them pause (at a sleep
// or a wait), and check their records against the new code.
func FromRun(r *inngesttest.Run) *Record {
	events, steps, stack := r.State()
	ids := make(map[string]string)
	rec := &Record{RunID: r.ID(), FunctionID: r.FunctionID(), Events: events}
	for _, s := range r.Steps() {
		ids[s.Hash] = s.ID
		if _, done := steps[s.Hash]; !done && s.Status == inngesttest.StepPending && s.Kind != inngesttest.KindRun {
			rec.Pending = append(rec.Pending, Step{Hash: s.Hash, ID: s.ID})
		}
	}
	for _, h := range stack {
		if raw, ok := steps[h]; ok && !wire.IsInput(raw) {
			rec.Steps = append(rec.Steps, Step{Hash: h, ID: ids[h], Data: raw})
		}
	}
	return rec
}

// fromState builds a record from a call's state: its memoized steps by
// hash and, when known, the order they completed in.
func fromState(runID, fnID string, events []json.RawMessage, steps map[string]json.RawMessage, stack []string) *Record {
	rec := &Record{RunID: runID, FunctionID: fnID, Events: events}
	seen := make(map[string]bool, len(stack))
	for _, h := range stack {
		if raw, ok := steps[h]; ok && !wire.IsInput(raw) && !seen[h] {
			seen[h] = true
			rec.Steps = append(rec.Steps, Step{Hash: h, Data: raw})
		}
	}
	var rest []string
	for h, raw := range steps {
		if !seen[h] && !wire.IsInput(raw) {
			rest = append(rest, h)
		}
	}
	if len(rest) > 0 {
		// Steps whose place is not known: the order is lost.
		sort.Strings(rest)
		for _, h := range rest {
			rec.Steps = append(rec.Steps, Step{Hash: h, Data: steps[h]})
		}
		rec.Unordered = true
	}
	return rec
}

// Load reads a record saved as JSON (by Capture, or by Save).
func Load(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replaytest: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("replaytest: %s: %w", path, err)
	}
	if err := rec.validate(); err != nil {
		return nil, fmt.Errorf("replaytest: %s: %w", path, err)
	}
	return &rec, nil
}

// LoadDir reads every record (*.json) in dir, in name order.
func LoadDir(dir string) ([]*Record, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("replaytest: %w", err)
	}
	if len(paths) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("replaytest: %w", err)
		}
	}
	recs := make([]*Record, 0, len(paths))
	for _, p := range paths {
		rec, err := Load(p)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// Save writes rec as JSON to path, through a temporary file so that a
// reader never sees half a record.
func (rec *Record) Save(path string) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("replaytest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".record-*")
	if err != nil {
		return fmt.Errorf("replaytest: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("replaytest: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("replaytest: %w", err)
	}
	return nil
}

func (rec *Record) validate() error {
	var errs []string
	if rec.FunctionID == "" {
		errs = append(errs, "no function_id")
	}
	if len(rec.Events) == 0 {
		errs = append(errs, "no events")
	}
	for i, s := range rec.Steps {
		if s.Hash == "" || len(s.Data) == 0 {
			errs = append(errs, fmt.Sprintf("step %d has no hash or no data", i))
		}
	}
	if len(errs) > 0 {
		return errors.New("not a run record: " + strings.Join(errs, ", "))
	}
	return nil
}
