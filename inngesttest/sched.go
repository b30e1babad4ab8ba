package inngesttest

import (
	"container/heap"
	"time"
)

// The engine's work is a queue of items ordered by virtual due time (and
// by insertion among items due at the same time). Driving the engine
// pops items in that order, moving the virtual clock to each item's due
// time, so that a sleep of a year costs nothing but one item.

type itemKind int

const (
	itemCall          itemKind = iota // a request to the SDK
	itemWake                          // a pause ends by itself: a sleep is over, or a timeout passed
	itemFetch                         // the engine makes a step.Fetch request
	itemFunc                          // an After callback
	itemFinishTimeout                 // the function's timeouts.finish
	itemTimer                         // engine work due at a time (flow control), done with the lock held
)

type item struct {
	due  time.Time
	seq  uint64
	kind itemKind
	run  *Run

	// Calls: the queue item's stepId ("step" or a step hash), its
	// zero-based attempt and its job ID, kept across retries.
	stepID  string
	attempt int
	jobID   string
	// first is when the call was first due, for the step's duration.
	first time.Time
	// attemptBase counts the attempts that checkpoints reset to 0: the
	// server resets a queue item's attempts after a checkpoint but goes
	// on counting its dispatches (generation_id).
	attemptBase int
	// checkpointed counts the steps checkpointed during the call in
	// progress.
	checkpointed int
	// enqueued is when the call was last queued, and order its place
	// among calls queued at once; heldAt is when the queue held it back
	// for capacity, waitedOn the concurrency limit it waited behind and
	// throttleWake when its throttle has capacity again. slots are the
	// concurrency slots it holds while it is made.
	enqueued time.Time
	order    uint64
	// sleep marks the call after a sleep: on the server, the sleep's
	// queue item, which carries no priority factor.
	sleep        bool
	heldAt       time.Time
	waitedOn     string
	throttleWake time.Time
	slots        []string

	pause *pause
	fn    func()
	// background marks work that recurs by itself (a cron schedule):
	// Wait does not wait for it.
	background bool

	index int
}

type queue struct {
	items []*item
	seq   uint64
}

func (q *queue) Len() int { return len(q.items) }
func (q *queue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.seq < b.seq
}
func (q *queue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].index = i
	q.items[j].index = j
}
func (q *queue) Push(x any) {
	it := x.(*item)
	it.index = len(q.items)
	q.items = append(q.items, it)
}
func (q *queue) Pop() any {
	n := len(q.items)
	it := q.items[n-1]
	q.items[n-1] = nil
	q.items = q.items[:n-1]
	it.index = -1
	return it
}

func (e *Engine) push(it *item) {
	e.queue.seq++
	it.seq = e.queue.seq
	heap.Push(&e.queue, it)
}

// remove takes it off the queue if it is still there.
func (e *Engine) remove(it *item) {
	if it != nil && it.index >= 0 && it.index < len(e.queue.items) && e.queue.items[it.index] == it {
		heap.Remove(&e.queue, it.index)
	}
}

// removeRun takes every item of r off the queue.
func (e *Engine) removeRun(r *Run) {
	var rm []*item
	for _, it := range e.queue.items {
		if it.run == r {
			rm = append(rm, it)
		}
	}
	for _, it := range rm {
		e.remove(it)
	}
}

// driveLocked does the queued work in order. It stops when done reports
// true, when the queue is empty, or at the first item due after limit
// (no limit when limit is zero); with a limit, the clock ends at it. A
// call made while the engine is already being driven (from a callback)
// returns at once: the outer loop does the work. e.mu is held.
func (e *Engine) driveLocked(limit time.Time, done func() bool) {
	if e.driving {
		return
	}
	e.driving = true
	defer func() { e.driving = false }()
	for {
		e.flushDeferred()
		if done != nil && done() {
			break
		}
		if e.conc.admit && (e.queue.Len() == 0 || e.queue.items[0].due.After(e.now)) {
			// Everything due now is done or held: the queue takes the
			// held calls that have capacity, best score first.
			e.conc.admit = false
			e.admitWaiting()
			continue
		}
		if e.queue.Len() == 0 || limit.IsZero() && e.onlyBackground() {
			break
		}
		it := e.queue.items[0]
		if !limit.IsZero() && it.due.After(limit) {
			break
		}
		heap.Pop(&e.queue)
		if it.due.After(e.now) {
			e.now = it.due
		}
		e.exec(it)
	}
	if !limit.IsZero() && limit.After(e.now) {
		e.now = limit
	}
}

func (e *Engine) exec(it *item) {
	switch it.kind {
	case itemCall:
		switch {
		case it.run.done(), e.priorityDelay(it):
		case it.constrained():
			e.hold(it)
		default:
			e.call(it)
		}
	case itemWake:
		e.wake(it.pause)
	case itemFetch:
		e.doFetch(it)
	case itemFunc:
		e.unlocked(it.fn)
	case itemTimer:
		it.fn()
	case itemFinishTimeout:
		if !it.run.done() {
			e.cancelRun(it.run, "the function's finish timeout passed")
		}
	}
}

// unlocked calls f without holding e.mu.
func (e *Engine) unlocked(f func()) {
	e.mu.Unlock()
	defer e.mu.Lock()
	f()
}

// flushDeferred runs the pause callbacks queued while the engine's state
// was being updated.
func (e *Engine) flushDeferred() {
	for len(e.deferred) > 0 {
		f := e.deferred[0]
		e.deferred = e.deferred[1:]
		e.unlocked(f)
	}
}

// onlyBackground reports whether all the queued work is background work.
func (e *Engine) onlyBackground() bool {
	for _, it := range e.queue.items {
		if !it.background {
			return false
		}
	}
	return true
}
