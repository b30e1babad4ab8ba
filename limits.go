package inngest

// Limits of the Inngest server, which the SDK checks where the user can
// act on them (a step's output before it is reported, an event before it
// is sent) and which the in-process engine of package inngesttest
// enforces as the server does, so that a test fails where production
// would. Sizes are in bytes of JSON, as the server measures them.
const (
	// MaxStepOutputSize is the largest a step's output may be, measured
	// as the server stores it: {"data":<the result's JSON>}. step.Run
	// fails a step whose result is larger, without retries, with a
	// *StepError naming the step and the size.
	MaxStepOutputSize = 4 << 20

	// MaxRunStateSize is the most state a run may hold: its events and
	// the stored outputs of its steps. The server fails a run that would
	// grow past it with InngestErrStateOverflowed.
	MaxRunStateSize = 32 << 20

	// MaxSteps is the most steps a run may have. The server fails a run
	// that reaches it with InngestErrFunctionOverflowed.
	MaxSteps = 1000

	// MaxEventSize is the largest event the server accepts, as the JSON
	// of one event. Client.Send and step.SendEvent refuse a larger event
	// before sending anything. (Inngest Cloud's limit may be lower,
	// depending on the plan; it answers 400 then.)
	MaxEventSize = 3 << 20
)

// Limits the server enforces, checked at CreateFunction.
const (
	MaxRetries       = 20
	maxTriggers      = 10
	maxConcurrency   = 2
	maxCancellations = 5
	maxPriority      = 600
)
