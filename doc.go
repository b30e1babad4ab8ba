// Package inngest is an SDK for Inngest, a durable execution engine: it
// runs your Go functions in steps that are retried on failure, can sleep
// or wait for events for days, and resume where they left off, while
// your code stays an ordinary HTTP handler in your own process.
//
// A function is triggered by an event (or a cron schedule). Each step's
// result is recorded by Inngest, so after a crash, a deploy or a week of
// sleep the function picks up after its last finished step:
//
//	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	_, err = inngest.CreateFunction(client,
//		inngest.FunctionOpts{ID: "welcome-email"},
//		inngest.EventTrigger("shop/user.signed_up", nil),
//		func(ctx context.Context, in inngest.Input[SignUp]) (any, error) {
//			if _, err := step.Run(ctx, "send-welcome", func(ctx context.Context) (string, error) {
//				return mailer.Send(ctx, in.Event.Data.Email, "Welcome!")
//			}); err != nil {
//				return nil, err
//			}
//			if err := step.Sleep(ctx, "wait-a-day", 24*time.Hour); err != nil {
//				return nil, err
//			}
//			return step.Run(ctx, "send-tips", func(ctx context.Context) (string, error) {
//				return mailer.Send(ctx, in.Event.Data.Email, "Three tips")
//			})
//		})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("/api/inngest", client.Serve())
//	log.Fatal(http.ListenAndServe(":3000", nil))
//
// Run it with INNGEST_DEV=1 and start the dev server with
// `npx inngest-cli@latest dev -u http://localhost:3000/api/inngest`.
//
// # Client
//
// A [Client] holds an app's configuration and functions. [NewClient]
// resolves [ClientOpts] once, from the options, then the environment
// (INNGEST_SIGNING_KEY, INNGEST_EVENT_KEY, INNGEST_DEV, …), then
// defaults. In dev mode ([ModeDev], or INNGEST_DEV set) it works with the
// local dev server and needs no keys; in cloud mode ([ModeCloud]) it
// needs a signing key and verifies every request. [Client.Serve] is the
// [net/http.Handler] Inngest calls: mount it at one path of any server.
// [Client.Send] sends events.
//
// # Functions
//
// [CreateFunction] defines a function whose event data has type T and
// adds it to the client; its options ([FunctionOpts]) are checked at
// once. It is triggered by [EventTrigger], [CronTrigger] or several
// ([MultipleTriggers]), and receives an [Input] with the typed [Event].
//
// # Steps
//
// The step tools live in package step: step.Run, step.Sleep,
// step.SleepUntil, step.WaitForEvent, step.Invoke, step.SendEvent,
// step.NewGroup for parallel steps, and more. A finished step is never run
// again; code outside steps runs on every call of the function, so keep
// side effects inside steps.
//
// # Failure handlers
//
// [OnFailure] runs once after a function has failed for good, with the
// error and the original event; [OnCancel] runs after a run was
// cancelled. [CreateFailureFunction] handles the failures of all (or
// some) functions of the app, for alerting. All of them are durable
// functions, so steps work in them.
//
// # Errors
//
// A failing step or function is retried ([FunctionOpts.Retries], four
// retries by default). [NoRetryError] stops the retries; [RetryAtError]
// and [RetryAfterError] choose when the next attempt starts. A step
// whose attempts are used up returns a [*StepError]: handle it, for
// example with a compensating step, or return it to fail the run.
//
// # Checkpointing and middleware
//
// With [ClientOpts.Checkpointing] one call runs several steps in a row
// instead of one step per call. [Middleware] hooks run around every call
// and every send, for tracing, per-run context or encrypting step data.
//
// # Testing
//
// Package inngesttest runs functions in process, without a server,
// through the real handler and protocol: retries attempt by attempt,
// sleeps and waits on a virtual clock, events delivered between
// functions, failure handlers run as Inngest runs them, and steps
// replaced by mocks. It is also how the examples run with `go run`
// anywhere.
package inngest
