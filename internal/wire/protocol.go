package wire

// Header names of the protocol, in canonical form, so that they can also
// index an http.Header directly.
const (
	// HeaderSDK names the SDK and its version, "<name>:v<semver>", on
	// every answer and every request to Inngest.
	HeaderSDK = "X-Inngest-Sdk"
	// HeaderReqVersion is the request version the handler speaks.
	HeaderReqVersion = "X-Inngest-Req-Version"
	// HeaderSignature signs a request from Inngest (and the answer to a
	// trust probe): "t=<unix seconds>&s=<hex HMAC-SHA256>".
	HeaderSignature = "X-Inngest-Signature"
	// HeaderNoRetry, "true" or "false", tells the server whether a failed
	// call may be retried.
	HeaderNoRetry = "X-Inngest-No-Retry"
	// HeaderRetryAfter is the earliest time of the next attempt.
	HeaderRetryAfter = "Retry-After"
	// HeaderSyncKind is "in_band" or "out_of_band".
	HeaderSyncKind = "X-Inngest-Sync-Kind"
	// HeaderServerKind is the kind of server ("dev" or "cloud") that
	// sent a request.
	HeaderServerKind = "X-Inngest-Server-Kind"
	// HeaderExpectedServerKind asks the server to refuse a sync unless
	// it is of that kind.
	HeaderExpectedServerKind = "X-Inngest-Expected-Server-Kind"
	// HeaderEnv is the Inngest environment (branch) of a request.
	HeaderEnv = "X-Inngest-Env"
	// HeaderPlatform names the platform the app is hosted on.
	HeaderPlatform = "X-Inngest-Platform"
	// HeaderEventIDSeed is "<unix ms>,<base64 of 10 bytes>", from which
	// the event API derives the IDs of the events sent.
	HeaderEventIDSeed = "X-Inngest-Event-Id-Seed"
	// HeaderStepID is the step a call targets (the server sends it
	// beside the stepId query parameter).
	HeaderStepID = "X-Inngest-Step-Id"
)

// Values of HeaderSyncKind.
const (
	SyncInBand    = "in_band"
	SyncOutOfBand = "out_of_band"
)

// DevEventKey is the event key of an app in dev mode that sets none: the
// dev server takes any key.
const DevEventKey = "NO_EVENT_KEY_SET"

// ReqVersion is the HeaderReqVersion value this SDK speaks.
const ReqVersion = "2"

// Error names the server reads in a serialized Error.
const (
	// ErrNameDefault is the name of an ordinary, retriable error.
	ErrNameDefault = "Error"
	// ErrNameNoRetry is the name of an error that must not be retried.
	ErrNameNoRetry = "NonRetriableError"
	// ErrNameRetryAt is the name of an error retried no earlier than its
	// Retry-After.
	ErrNameRetryAt = "RetryAfterError"
	// ErrNameStepFailed is the name of a step that failed for good.
	ErrNameStepFailed = "StepError"
)

// DefaultMaxAttempts is the attempts the server allows a step when a
// function sets no retries: 4 retries, 5 attempts.
const DefaultMaxAttempts = 5
