package step

import (
	"context"
	"errors"
	"sync"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
)

// A Group runs steps in parallel. It works like errgroup.Group: start
// each branch with Go, then call Wait. Results travel through variables
// the branches close over.
//
//	g := step.NewGroup(ctx)
//	var a, b int
//	g.Go(func(ctx context.Context) (err error) {
//		a, err = step.Run(ctx, "a", fetchA)
//		return err
//	})
//	g.Go(func(ctx context.Context) (err error) {
//		b, err = step.Run(ctx, "b", fetchB)
//		return err
//	})
//	if err := g.Wait(); err != nil {
//		return nil, err
//	}
//
// The steps run in parallel, not the branches' code: Go runs each branch
// at once, to its first step that has not finished, and the steps the
// branches reach are reported to Inngest together, which then runs them
// concurrently (each Run step in a request of its own). As they finish,
// the function is called again and each branch goes on past its
// finished steps. Branches run one at a time, in the order of the Go
// calls, so the steps are found in the same order on every call.
//
// A branch must call its steps with the context Go passes it (name it
// ctx, shadowing the function's): a step called with another context is
// not part of the group and runs on its own. A Group must be used from
// the function's goroutine or from a branch of another Group.
//
// A Group must be made with NewGroup: the zero Group has no function to
// run its branches in, so its Go runs nothing and its Wait returns
// ErrZeroGroup.
type Group struct {
	ctx context.Context
	r   *replay.State

	mu      sync.Mutex
	err     error
	stopped bool
}

// ErrZeroGroup is returned by Wait of a Group that was not made with
// NewGroup (as a NoRetryError: retrying cannot fix it).
var ErrZeroGroup = errors.New("inngest: step.Group used without step.NewGroup; make it with step.NewGroup(ctx)")

// NewGroup returns a Group for the function's context ctx.
func NewGroup(ctx context.Context) *Group {
	g := &Group{ctx: ctx}
	r, _, err := replay.From(ctx)
	if err != nil {
		g.err = err
		return g
	}
	g.r = r
	return g
}

// Go runs f as a branch of the group, with a context for its steps, and
// returns when f returns or reaches a step that has not finished. A
// panic in f is raised again by Go.
func (g *Group) Go(f func(ctx context.Context) error) {
	if g.ctx == nil {
		return // not made with NewGroup; Wait says so
	}
	if g.r == nil {
		return // the context is unusable; Wait returns why
	}
	if !g.r.Managed() {
		// Not on the function's goroutine: the request fails.
		g.setErr(g.r.Stop())
		return
	}
	var (
		err error
		p   *replay.PanicError
	)
	ctx := replay.Branch(g.ctx)
	returned := g.r.Go(func() { err = f(ctx) }, &p)
	if p != nil {
		panic(p)
	}
	if !returned {
		g.mu.Lock()
		g.stopped = true
		g.mu.Unlock()
		return
	}
	g.setErr(err)
}

func (g *Group) setErr(err error) {
	if err == nil {
		return
	}
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
}

// Wait returns the first error a branch returned, in the order of the Go
// calls, once every branch has finished. When any branch stopped at a
// step that has not finished, Wait stops the function there, as a step
// does, and the steps are reported together.
func (g *Group) Wait() error {
	if g.ctx == nil {
		return inngest.NoRetryError(ErrZeroGroup)
	}
	g.mu.Lock()
	stopped, err := g.stopped, g.err
	g.mu.Unlock()
	if stopped {
		return g.r.Stop()
	}
	return err
}
