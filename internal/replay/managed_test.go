package replay

import (
	"context"
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
	var onGo, deepInGo, nested, spawned, afterNested bool
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
	}, &p)
	require.True(t, returned)
	require.Nil(t, p)
	assert.True(t, onGo, "on the goroutine Go started")
	assert.True(t, deepInGo, "deep in the goroutine Go started")
	assert.True(t, nested, "on a nested Go")
	assert.True(t, afterNested, "after a nested Go returned")
	assert.False(t, spawned, "on a goroutine user code started")
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
