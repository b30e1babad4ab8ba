package bench

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	official "github.com/inngest/inngestgo"
	officialgroup "github.com/inngest/inngestgo/group"
	officialstep "github.com/inngest/inngestgo/step"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// The parallel scenario: groupBranches branches, each running
// groupSteps steps in sequence, all memoized, then one new step after
// the group.
const (
	groupBranches = 10
	groupSteps    = 10
)

// branchIDs[k][j] is the ID of branch k's step j.
var branchIDs = func() [][]string {
	ids := make([][]string, groupBranches)
	for k := range ids {
		for j := range groupSteps {
			ids[k] = append(ids[k], "p"+strconv.Itoa(k)+"-"+strconv.Itoa(j))
		}
	}
	return ids
}()

// registerGroup adds the parallel function to our client.
func registerGroup(tb testing.TB, c *inngest.Client) {
	tb.Helper()
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fanout"}, inngest.EventTrigger("bench/fanout", nil),
		func(ctx context.Context, in inngest.Input[eventData]) (any, error) {
			g := step.NewGroup(ctx)
			sums := make([]int, groupBranches)
			for k, ids := range branchIDs {
				g.Go(func(ctx context.Context) error {
					for j, id := range ids {
						it, err := step.Run(ctx, id, func(context.Context) (item, error) { return newItem(k*groupSteps + j), nil })
						if err != nil {
							return err
						}
						sums[k] += it.ID
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return step.Run(ctx, "after", func(context.Context) (int, error) { return len(sums), nil })
		})
	if err != nil {
		tb.Fatal(err)
	}
}

// registerOfficialGroup adds the same function to the official client,
// with its group.Parallel.
func registerOfficialGroup(tb testing.TB, c official.Client) {
	tb.Helper()
	_, err := official.CreateFunction(c, official.FunctionOpts{ID: "fanout"}, official.EventTrigger("bench/fanout", nil),
		func(ctx context.Context, in official.Input[eventData]) (any, error) {
			sums := make([]int, groupBranches)
			var branches []func(ctx context.Context) (any, error)
			for k, ids := range branchIDs {
				branches = append(branches, func(ctx context.Context) (any, error) {
					for j, id := range ids {
						it, err := officialstep.Run(ctx, id, func(context.Context) (item, error) { return newItem(k*groupSteps + j), nil })
						if err != nil {
							return nil, err
						}
						sums[k] += it.ID
					}
					return nil, nil
				})
			}
			if err := officialgroup.Parallel(ctx, branches...).AnyError(); err != nil {
				return nil, err
			}
			return officialstep.Run(ctx, "after", func(context.Context) (int, error) { return len(sums), nil })
		})
	if err != nil {
		tb.Fatal(err)
	}
}

// groupRequest memoizes every branch step of the parallel function, in
// branch order.
func groupRequest(tb testing.TB) request {
	var ids []string
	var memos []json.RawMessage
	for k, branch := range branchIDs {
		for j, id := range branch {
			b, _ := json.Marshal(map[string]item{"data": newItem(k*groupSteps + j)})
			ids = append(ids, id)
			memos = append(memos, b)
		}
	}
	return buildRequest(tb, "fanout", ids, memos, append(append([]string(nil), ids...), "after"))
}
