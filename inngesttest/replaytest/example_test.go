package replaytest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/inngesttest/replaytest"
	"github.com/go-inngest/inngest/step"
)

// A run of the old code sleeps; the new code renames the step before
// the sleep. The check names the recorded step the new code no longer
// reaches, and what it reaches instead, without running either body.
func ExampleChecker_Check() {
	eng := inngesttest.New(nil)
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		panic(err)
	}
	renamed := false
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "ship"}, inngest.EventTrigger("shop/paid", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			id := "pack"
			if renamed {
				id = "pack-box"
			}
			if _, err := step.Run(ctx, id, func(context.Context) (int, error) { return 1, nil }); err != nil {
				return nil, err
			}
			return nil, step.Sleep(ctx, "wait-for-courier", time.Hour)
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)
	rec := replaytest.FromRun(eng.Start(fn, inngest.Event[any]{Name: "shop/paid"}))

	renamed = true // the new build
	err = (&replaytest.Checker{Handler: client.Serve()}).Check(context.Background(), rec)
	if d, ok := err.(*replaytest.Divergence); ok {
		fmt.Println("expected:", d.Expected)
		fmt.Println("found:", d.Found)
	}
	// Output:
	// expected: step "pack" (hash 6acd621280932e6f3f2f8783e06992590b6c7a53)
	// found: reaches step "pack-box" (hash e4040d8a7f45a310aad454ae6396b51fa75e0af9), which has no recorded result
}
