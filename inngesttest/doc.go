// Package inngesttest runs Inngest functions in process, without a
// server, for tests and local runs. It is to an Inngest app what
// net/http/httptest is to an HTTP handler: the engine drives the app's
// real handler (Client.Serve) over the real protocol, and plays the
// server's part.
//
// The engine learns an app as the server does: Register sends the app's
// handler a sync request, and the SDK posts its configuration to the
// engine through the client's HTTP client, which is the engine's
// (Engine.HTTPClient). So triggers, retries, cancellations and failure
// handlers are the ones the server would see. For each call it builds
// the request body the server sends (ctx with run_id, attempt,
// max_attempts, stack, disable_immediate_execution…; event, events,
// steps, version), in the server's canonical JSON, signs it when the
// engine has a signing key, hands it to the handler, and applies the
// opcodes it answers with: it stores step results, retries failed steps
// and calls, plans parallel steps, sleeps, waits for events and signals,
// invokes functions, and calls the function again until the run
// completes, fails or is cancelled.
//
// # Virtual time
//
// The engine keeps a virtual clock. Sleeps, waits that time out and
// retry delays (the server's backoff table 15s, 30s, 1m, 2m, …, or the
// SDK's Retry-After) complete at once but move the clock, and are
// recorded with their durations: a function that sleeps for a week runs
// in microseconds, and Run.Elapsed says a week passed. Calls take no
// virtual time. Times the SDK states as dates are read against the
// virtual clock (step.SleepUntil, timeouts), except Retry-After, which
// the SDK computes from the real clock.
//
// # Retries and failures
//
// Retries follow the server: each step (and each call) gets retries+1
// attempts, ctx.attempt counts them and starts at 0 again for the next
// step; a StepError is retried unless the answer says X-Inngest-No-Retry:
// true or attempts are used up, after which the step's error is stored
// and the function called again to handle it. A failing call (500) is
// retried; a 400 with X-Inngest-No-Retry: true fails the run at once.
// When a run fails for good the engine emits inngest/function.failed,
// shaped as the server's (data.function_id, run_id, event, events,
// error, result, _inngest.status; the run's ID as event ID), which runs
// the function's OnFailure handler exactly once. A cancelled run emits
// inngest/function.cancelled, which runs OnCancel handlers. Every run
// that ends emits inngest/function.finished. Runs triggered by
// inngest/function.failed emit nothing.
//
// # As strict as the server
//
// What the server would refuse, the engine refuses, so that a mistake
// fails a unit test instead of a deploy:
//
//   - Register checks every expression of every function as the server
//     checks it at sync, in the server's CEL environment (the variables
//     event, async and vars; no "events"): trigger expressions, debounce,
//     rate-limit, idempotency and batch keys and batch if must compile;
//     cancel expressions must compile and use no macros
//     and no function calls besides comparisons, logic, indexing, "in"
//     and int, uint and double; concurrency keys must parse. It also
//     refuses throttle and singleton keys that do not parse and priority
//     expressions that do not compile, which the server's sync lets
//     through but it cannot evaluate later. The error names each
//     function and field.
//   - A step.WaitForEvent whose If does not compile fails its run at
//     once, without retries, with an InvalidExpression error naming the
//     step, as on the server.
//   - Run and Start refuse an event that would not start the function:
//     its name must match one of the function's event triggers and that
//     trigger's expression must be true for it (a cron function takes an
//     event without a name, or named inngest/scheduled.timer). The error
//     lists the function's triggers.
//
// Event names match as on the server: exactly, or by a wildcard after a
// "/" or "." ("shop/*", "shop/order.*"); a "*" elsewhere is part of the
// name. Cancellations match names exactly.
//
// # Events
//
// Engine.Send delivers events as the event API would: they cancel runs
// (Cancel options), resume waits (step.WaitForEvent) and trigger
// functions, with trigger, cancel and wait expressions evaluated by the
// engine's own CEL implementation (standard library only, held to
// cel-go's verdicts and results by a differential test), with the
// server's functions (lowercase, uppercase, b64decode, json_parse, date,
// now, now_plus, now_minus; now is the virtual time). Events a function
// sends (step.SendEvent, Client.Send) reach the engine, since the app's
// client is created with the engine's HTTPClient.
//
// # Registering an app
//
// Create the app's client with the engine's HTTPClient, create its
// functions, then Register it. Register syncs the app, as the server
// does, and fails the test, saying what to change, when the app's sync
// does not reach the engine:
//
//	eng := inngesttest.New(t)
//	client, err := inngest.NewClient(inngest.ClientOpts{
//		AppID:      "shop",
//		Mode:       inngest.ModeDev,
//		HTTPClient: eng.HTTPClient(),
//	})
//	// ... create the functions, then:
//	eng.Register(client)
//
// Without a signing key the engine plays the dev server: it signs
// nothing, as the dev server does, and syncs apps in dev mode. An app in
// cloud mode verifies every request's signature; give the engine and the
// client the same key, and the engine plays Inngest Cloud: it signs the
// sync and every call, and takes the app's requests to the API only when
// they are authenticated with that key:
//
//	const key = "signkey-test-12345678"
//	eng := inngesttest.New(t, inngesttest.SigningKey(key))
//	client, err := inngest.NewClient(inngest.ClientOpts{
//		AppID:      "shop",
//		Mode:       inngest.ModeCloud,
//		SigningKey: key,
//		HTTPClient: eng.HTTPClient(),
//	})
//
// # Driving the engine
//
// Engine.Run runs a function to the end, skipping time as needed, with
// an event that triggers it.
// Engine.Start, Send, Signal and Advance move step by step: Start and
// Send do what happens at the current instant and return, leaving runs
// paused; Advance moves the clock; Wait finishes everything. OnPause and
// After deliver events in the middle of a Run: OnPause when a run pauses
// at a given step, After at a given virtual time.
//
// # Checkpointing
//
// A client created with ClientOpts.Checkpointing saves each step.Run
// with the checkpoint API and goes on to the next step in the same call.
// The engine answers that API as the server does: it stores each
// checkpointed step as if the call had reported it (Step.Checkpointed is
// set and the timeline says "checkpointed"), and resets the call's
// attempts, so retries and results are the same as without
// checkpointing, in fewer calls (Run.Calls). Checkpoints that do not
// come from the run's call in progress are refused (409), and the SDK
// then reports the step in its answer. Runs with mocks are called with
// disable_immediate_execution, so they do not checkpoint.
//
// # Limits
//
// The engine enforces the server's limits, in inngest.MaxStepOutputSize,
// MaxRunStateSize, MaxSteps and MaxEventSize, where the server does and
// with the errors it records: a step output over 4 MiB that reaches it
// (the SDK fails such a step itself) fails the run naming the step's
// hash; a run whose events and step outputs would pass 32 MiB fails with
// InngestErrStateOverflowed; a run with 1,000 finished steps fails at its
// next call, and an answer planning more than 1,000 steps at once, with
// InngestErrFunctionOverflowed; the event API refuses an event over
// 3 MiB. A checkpoint of a step over a limit is refused (413). Failure
// handlers receive these errors as they would from the server.
//
// # Mocks and assertions
//
// A StepMock replaces a step's result or error without touching the
// function's code: the engine stores the mocked value as the step's
// result, so its body never runs. Run's Require methods, and StepCheck's,
// take a testing.TB and fail with what was expected, what was found and
// the run's timeline.
//
// A failed run can start several handlers: its function's OnFailure
// companion and a CreateFailureFunction for the whole app, say.
// RequireFailureHandlerRan checks the function's own OnFailure handler,
// RequireFailureFunctionRan a given failure function; likewise
// RequireCancelHandlerRan and RequireCancelFunctionRan.
//
// # Flow control
//
// Send applies a function's flow control as the server does, on the
// virtual clock; Run and Start start the run they are asked for.
//
//   - RateLimit is the server's GCRA: an emission interval of
//     Period/Limit and a burst of Limit/10, per Key (a key expression
//     that is false does not limit the event). An event over the limit
//     starts no run; Skipped lists it as SkippedRateLimited.
//   - Throttle holds runs back and never drops them: Limit+Burst start
//     at once, then one every Period/Limit (Period in whole seconds),
//     per Key; a held-back run's timeline has an EntryThrottled entry
//     saying how long it waited. The throttle is taken when the run's
//     first call is made, and held-back runs start in the queue's
//     order: the order they came, or by Priority.
//   - Idempotency lets one run per key start in 24 hours: the server
//     makes it a rate limit of 1 per 24 h by the key. Other events of
//     the key are SkippedIdempotent.
//   - Singleton keeps one run per Key in progress. In skip mode another
//     event of the key starts no run (SkippedSingleton); in cancel mode
//     it cancels the run in progress ("cancelled by singleton") and
//     starts its own. A run holds its key until it ends.
//   - Timeouts.Start cancels a run that has not made its first call (a
//     throttle holds it back) within Start of its creation.
//   - BatchEvents: the first event of a Key opens a batch due Timeout
//     later, the event that fills it to MaxSize starts it at once, and
//     an event for which If is false runs at once on its own. The run
//     has the batch's events (Run.Events) and an EntryBatched entry.
//   - Debounce starts one run per Key with the last event, Period plus
//     1.05 s (the server's queue buffer) after the last event; an event
//     with an older ts does not replace the held one. Timeout caps the
//     wait from the first event, cutting the period to the whole
//     seconds left. Superseded events are SkippedDebounced, and the
//     run's timeline starts with an EntryDebounced entry.
//   - Concurrency limits count the calls in progress, not the runs: each
//     call (a step, the call after a sleep or a wait) needs a slot of the
//     function's limit and of each keyed limit (Key evaluated on the
//     run's event, counted per value in the function, the environment or
//     the account), and holds it for the call's virtual duration; a
//     sleeping or waiting run holds none. Calls take no virtual time
//     unless WithCallDuration gives them some, so without it a limit
//     never holds anything back. Held calls start the instant a slot
//     frees, in the order of the server's queue: the oldest run first.
//     A call that waited has an EntryConcurrency entry; CallSpans and
//     RequireMaxConcurrent say how many calls ran at once.
//   - Priority.Run, an integer clamped to ±12 hours, moves a run's calls
//     (not the call after a sleep, whose queue item carries no factor on
//     the server) ahead by that many seconds among the calls a
//     concurrency limit or a throttle holds back; a negative priority holds the run's calls
//     until that long after its start (an EntryPriority entry), as the
//     server's queue scores them. An expression that gives a double,
//     such as a number read from the event, gives no priority.
//
// The engine starts held-back work the instant capacity comes back; the
// server's queue looks at a function's held-back work again after a
// delay, and its calls take real time, so there such work starts later,
// and work of different keys may start in another order.
//
// # Cron
//
// Cron triggers fire on the virtual clock: Advance(24*time.Hour) runs a
// daily function once. The schedule is read as the server reads it (five
// fields with names, ranges, lists and steps; an optional TZ= or
// CRON_TZ= prefix, UTC otherwise), each run gets the event the server
// builds (inngest/scheduled.timer, the scheduled time in RFC 3339 as its
// ID, data.cron, data.scheduledAt, data.fireAt), and a trigger's Jitter
// delays each run by between 1 s and the jitter. Wait does not move the
// clock to a cron's time; Advance does.
package inngesttest
