package step

import (
	"context"

	"github.com/go-inngest/inngest/internal/replay"
)

// Patched reports whether this run takes the new branch of a change to
// the function's code, guarded as
//
//	if step.Patched(ctx, "send-receipt-v2") {
//		// the new code
//	} else {
//		// the code runs that started before the change recorded
//	}
//
// so that runs already in flight when the change is deployed keep the
// steps they recorded while new runs take the new code.
//
// Patched needs no extra step and no round trip to Inngest: it decides
// from the run's recorded steps. A run that has no recorded step beyond
// this point in the code is at new code and takes the new branch. A run
// with recorded steps beyond it takes the new branch if that branch
// reaches them, and the old one if it does not: when the new branch
// finds a step with no recorded result (or returns) while recorded steps
// remain unvisited, the SDK executes the function again, in the same
// call, with Patched false. So the two branches must differ in the steps
// they reach: the new branch reaches a step the old one does not (a new
// or renamed ID) before any step the old one reaches, or returns. Code
// between steps runs once more for such a run; keep it free of side
// effects, as replays already require.
//
// Retiring a patch: once no run that started before the change is in
// flight (check with replaytest.CheckInFlight against a build with the
// old branch deleted, or wait out the longest run), delete the old
// branch and the Patched call, keeping the new branch's code.
//
// id names the patch; use a new ID for each change. Outside an Inngest
// function there is no recorded run, and Patched reports true. Inside a
// step's body it fails the call, as other step tools do.
func Patched(ctx context.Context, id string) bool {
	r, _, err := replay.From(ctx)
	if err != nil {
		return true
	}
	return r.Patched(id)
}
