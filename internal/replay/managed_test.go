package replay

import (
	"context"
	"iter"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deep calls f under n more frames.
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	deep(n-1, f)
}

func TestManagedGoroutines(t *testing.T) {
	r := New(Config{})
	assert.False(t, r.Managed(), "the test's goroutine")
	var onGo, deepInGo, nested, spawned, afterNested, pulled bool
	var p *PanicError
	returned := r.Go(func() {
		onGo = r.Managed()
		// Deeper than the first buffer outermost uses.
		deep(100, func() { deepInGo = r.Managed() })
		r.Go(func() { nested = r.Managed() }, &p)
		afterNested = r.Managed()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			spawned = r.Managed()
		}()
		wg.Wait()
		// A coroutine of user code's own is not managed either.
		next, stop := iter.Pull(func(yield func(bool) bool) { yield(r.Managed()) })
		pulled, _ = next()
		stop()
	}, &p)
	require.True(t, returned)
	require.Nil(t, p)
	assert.True(t, onGo, "on the goroutine Go started")
	assert.True(t, deepInGo, "deep in the goroutine Go started")
	assert.True(t, nested, "on a nested Go")
	assert.True(t, afterNested, "after a nested Go returned")
	assert.False(t, spawned, "on a goroutine user code started")
	assert.False(t, pulled, "on a coroutine user code started (iter.Pull)")
	assert.False(t, r.Managed(), "after Go returned")

	// A Run with no goroutine running manages none, even on another
	// Run's goroutine.
	other := New(Config{})
	var onOther bool
	r.Go(func() { onOther = other.Managed() }, &p)
	assert.False(t, onOther)
}

func TestStopOnAnUnmanagedGoroutine(t *testing.T) {
	r := New(Config{})
	out := r.Execute(context.Background(), func(ctx context.Context) (any, error) {
		var err error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			err = r.Stop()
		}()
		wg.Wait()
		return "went on", err
	})
	assert.ErrorIs(t, out.Err, ErrUnmanagedGoroutine)
	assert.ErrorIs(t, out.Fatal, ErrUnmanagedGoroutine)
	assert.Equal(t, "went on", out.Value)
}

func TestStopEndsTheManagedGoroutine(t *testing.T) {
	r := New(Config{})
	reached := false
	out := r.Execute(context.Background(), func(ctx context.Context) (any, error) {
		defer func() {
			// Goexit runs deferred calls; recover sees no panic.
			assert.Nil(t, recover())
		}()
		deep(50, func() { _ = r.Stop() })
		reached = true
		return nil, nil
	})
	assert.False(t, reached)
	assert.True(t, out.Stopped)
	assert.NoError(t, out.Fatal)
}

// A stop in a nested Go ends that goroutine only: the outer one goes on,
// and the stop never reaches the goroutine that called the outer Go.
func TestStopInANestedGo(t *testing.T) {
	r := New(Config{})
	var innerReturned, outerWentOn bool
	var p *PanicError
	deferred := 0
	returned := r.Go(func() {
		innerReturned = r.Go(func() {
			defer func() { deferred++ }()
			_ = r.Stop()
		}, &p)
		outerWentOn = true
	}, &p)
	assert.True(t, returned)
	assert.False(t, innerReturned)
	assert.True(t, outerWentOn)
	assert.Equal(t, 1, deferred)
	assert.Nil(t, p)
}

// User code that stops at a step while it panics (a deferred call that
// reaches a step) is stopped; the panic ends with the goroutine, as it
// does with a plain runtime.Goexit, and nothing escapes to the caller.
func TestStopWhilePanicking(t *testing.T) {
	r := New(Config{})
	out := r.Execute(context.Background(), func(ctx context.Context) (any, error) {
		defer func() { _ = r.Stop() }()
		panic("boom")
	})
	assert.True(t, out.Stopped)
	assert.Nil(t, out.Panic)
	assert.NoError(t, out.Fatal)
}

// A panic in user code is reported with the stack it was raised on, and
// a panic user code recovers itself stays its own.
func TestPanicsInManagedGoroutines(t *testing.T) {
	r := New(Config{})
	var p *PanicError
	returned := r.Go(func() { deep(3, func() { panic("boom") }) }, &p)
	assert.False(t, returned)
	require.NotNil(t, p)
	assert.Equal(t, "boom", p.Value)
	assert.Contains(t, p.Stack, "replay.deep")

	p = nil
	var recovered any
	returned = r.Go(func() {
		func() {
			defer func() { recovered = recover() }()
			panic("mine")
		}()
	}, &p)
	assert.True(t, returned)
	assert.Nil(t, p)
	assert.Equal(t, "mine", recovered)
}
