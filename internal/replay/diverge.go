package replay

import (
	"context"
	"sync"

	"github.com/go-inngest/inngest/internal/wire"
)

// Divergence is the first step an execution found with no memoized
// result while memoized steps of the call were still unvisited: the code
// no longer matches the recorded run (a step renamed, inserted, removed
// or moved).
type Divergence struct {
	// Step is the step found, as the code names it.
	Step Step
	// Visited is the number of memoized steps the execution had returned
	// before it found Step.
	Visited int
}

// Patched reports whether this execution takes the patched branch of the
// patch named id. A run that has replayed all its memoized steps is at
// new code and takes it. A run with memoized steps still ahead takes it
// tentatively: if the execution then diverges from its record (a new
// step is found, or the function returns, while memoized steps remain
// unvisited), Run executes the function again with this patch off, so
// that the run keeps the branch its steps were recorded with.
func (r *State) Patched(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.cfg.Patches[id]; ok {
		return v
	}
	if r.memoHits < r.memoTotal {
		r.tentative = append(r.tentative, id)
	}
	return true
}

// diverged records s as the first divergence, if it is one, and reports
// whether the execution should start again with a tentative patch off.
// r.mu is held.
func (r *State) diverged(s Step, parallel bool) (restart bool) {
	if r.memoHits >= r.memoTotal || r.divergence != nil {
		return false
	}
	r.divergence = &Divergence{Step: s, Visited: r.memoHits}
	return !parallel && r.canRestart()
}

// canRestart reports whether a tentative patch can be turned off and the
// execution started again: nothing has been reported, run or saved yet.
// r.mu is held.
func (r *State) canRestart() bool {
	return len(r.tentative) > 0 && len(r.ops) == 0 && r.checkpointed == 0 && r.fatal == nil
}

// maxRestarts bounds the executions of one call: one per patch turned
// off.
const maxRestarts = 16

// Run executes fn over cfg as New(cfg).Execute does and, when the
// execution diverges from the record after a tentative step.Patched
// answer, executes it again with that patch off (the latest first),
// until an execution matches its record or no tentative answer is left.
// cfg.OnNewCode is called at most once over all executions.
func Run(ctx context.Context, cfg Config, fn func(context.Context) (any, error)) Outcome {
	if cfg.OnNewCode != nil {
		cfg.OnNewCode = sync.OnceFunc(cfg.OnNewCode)
	}
	for i := 0; ; i++ {
		r := New(cfg)
		out := r.Execute(ctx, fn)
		if out.restart == "" || i == maxRestarts {
			return out
		}
		patches := make(map[string]bool, len(cfg.Patches)+1)
		for k, v := range cfg.Patches {
			patches[k] = v
		}
		patches[out.restart] = false
		cfg.Patches = patches
	}
}

// lastTentative returns the latest tentative patch not yet decided.
// r.mu is held.
func (r *State) lastTentative() string {
	for i := len(r.tentative) - 1; i >= 0; i-- {
		if _, ok := r.cfg.Patches[r.tentative[i]]; !ok {
			return r.tentative[i]
		}
	}
	return ""
}

type observerKey struct{}

// WithObserver returns a context whose call, when a request carrying it
// reaches the SDK's handler, reports its outcome to f (after the
// response is written) instead of logging a divergence: the replay
// checker's way to see which memoized steps the code visited.
func WithObserver(ctx context.Context, f func(Outcome)) context.Context {
	return context.WithValue(ctx, observerKey{}, f)
}

// ObserverFrom returns the observer of ctx, or nil.
func ObserverFrom(ctx context.Context) func(Outcome) {
	f, _ := ctx.Value(observerKey{}).(func(Outcome))
	return f
}

// Bounds on naming unvisited steps, which hashes candidate IDs.
const (
	maxNamed       = 32 // unvisited steps named per call
	maxOccurrences = 64 // occurrences tried past those the execution reached
)

// nameUnvisited returns, for the unvisited hashes it can name, the step
// they are: an occurrence of an ID this execution used, such as the
// third "send" of a loop whose bound went down. The memo holds hashes
// only; these are the names the SDK can recover. r.mu is held.
func (r *State) nameUnvisited(hashes []string) map[string]Step {
	var named map[string]Step
	for k, h := range hashes {
		if k == maxNamed {
			break
		}
	search:
		for id, n := range r.counts {
			for i := 0; i < n+maxOccurrences; i++ {
				if wire.HashID(id, i) == h {
					if named == nil {
						named = make(map[string]Step)
					}
					named[h] = Step{ID: id, Hash: h, Index: i}
					break search
				}
			}
		}
	}
	return named
}
