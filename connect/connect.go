// Package connect serves an Inngest app over Connect: the worker dials
// out to Inngest's gateway over a WebSocket and runs the calls that come
// back on it, so the app needs no public URL.
//
// A call that arrives over the connection runs through the client's own
// HTTP handler (inngest.Client.Serve), in process and signed with the
// app's signing key as Inngest signs its HTTP calls, so every function,
// step tool, failure and cancellation handler runs exactly as it does over
// HTTP. The handler's answer (status, X-Inngest-No-Retry, Retry-After and
// body) becomes the reply on the connection.
//
// When Run's context ends the worker shuts down gracefully: the gateway is
// told to send no more calls, the calls in flight finish and their replies
// are delivered, for at most Options.ShutdownTimeout (25 s by default).
// Calls still running then have their contexts cancelled and are
// abandoned, each logged with its request and run IDs (Inngest runs them
// again), and Run returns an error wrapping ErrShutdownTimeout. A reply
// already produced is never dropped: it goes over the connection while it
// lasts, else through Inngest's flush API.
//
// It is a module of its own, so the SDK's users who serve over HTTP never
// pull in its WebSocket and protobuf dependencies.
package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-inngest/inngest"
)

// Options configure a worker. Each setting is read once, in Run: from its
// field, else from its environment variable, else from its default.
type Options struct {
	// InstanceID identifies this worker across reconnects (keep it stable
	// per process or pod). Default: the host name.
	InstanceID string

	// MaxConcurrency bounds how many calls run at once; the gateway is told
	// it too. Environment INNGEST_CONNECT_MAX_WORKER_CONCURRENCY; default
	// 1,000.
	MaxConcurrency int

	// SigningKey authenticates the worker to Inngest and signs the calls
	// handed to the client's handler. Environment INNGEST_SIGNING_KEY.
	// Required unless the client is in dev mode. It must be the key the
	// client verifies with.
	SigningKey string

	// SigningKeyFallback is tried when Inngest refuses SigningKey, as during
	// a key rotation. Environment INNGEST_SIGNING_KEY_FALLBACK.
	SigningKeyFallback string

	// Env is the Inngest environment (branch) to connect to. Environment
	// INNGEST_ENV.
	Env string

	// AppVersion is sent with the app's configuration. Environment
	// INNGEST_APP_VERSION.
	AppVersion string

	// APIBaseURL is where the start and flush calls go. Default: the
	// client's APIBaseURL.
	APIBaseURL string

	// GatewayURL, when set, is dialled instead of the gateway endpoint the
	// start call names, for a gateway reached through a proxy or a
	// forwarded port. Environment INNGEST_CONNECT_GATEWAY_URL.
	GatewayURL string

	// Logger receives the worker's logs. Default: slog.Default().
	Logger *slog.Logger

	// HTTPClient makes the start and flush calls. Default: a client with a
	// 30-second timeout.
	HTTPClient *http.Client

	// ShutdownTimeout bounds how long Run, once its context is done, waits
	// for the calls in flight to finish. When it passes, the calls still
	// running have their contexts cancelled and are abandoned: each is
	// logged, Inngest runs it again (on the error reply it may still send,
	// or once its lease lapses), and Run returns an error wrapping
	// ErrShutdownTimeout. Replies already produced are delivered first, over
	// the connection if it is alive, else through the flush API, which adds
	// at most a few seconds. Default: 25 seconds, inside the 30-second grace
	// period Kubernetes, ECS and systemd give a process between SIGTERM and
	// SIGKILL. Negative values are an error.
	ShutdownTimeout time.Duration
}

// Errors Run returns when it cannot go on.
var (
	// ErrUnauthenticated: Inngest refused the signing key and its fallback.
	ErrUnauthenticated = errors.New("connect: Inngest refused the signing key (and its fallback, if any)")
	// ErrTooManyConnections: the first start call was refused with 429.
	ErrTooManyConnections = errors.New("connect: Inngest refused the connection: too many connections for this app")
	// ErrShutdownTimeout: calls were still running when ShutdownTimeout
	// passed; they were cancelled and abandoned. The error Run returns
	// wraps it and names the calls' request IDs.
	ErrShutdownTimeout = errors.New("connect: calls were still running when the shutdown timeout passed")
)

// backoff is the wait before each reconnect attempt; the last repeats.
var backoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}

const (
	subprotocol        = "v0.connect.inngest.com"
	dialTimeout        = 10 * time.Second
	helloTimeout       = 5 * time.Second
	readyTimeout       = 20 * time.Second
	replyAckTimeout    = 5 * time.Second
	readLimit          = 10 << 20
	defaultConcurrency = 1000
	// defaultShutdownTimeout leaves 5 s of the usual 30-second SIGTERM
	// grace period for cancelling, replying and closing.
	defaultShutdownTimeout = 25 * time.Second
	// cancelGrace is how long the calls cancelled at the shutdown timeout
	// get to return, so that what they answer is still delivered.
	cancelGrace = time.Second
	// finalAckGrace and finalFlushGrace are the least time left, after the
	// shutdown timeout, for acknowledgements of replies and for the flush
	// API.
	finalAckGrace   = time.Second
	finalFlushGrace = 5 * time.Second
	// appURL is the placeholder step URL a Connect app registers.
	appURL = "ws://connect"
)

type config struct {
	instanceID   string
	concurrency  int
	shutdown     time.Duration
	keys         []string // signing key, then fallback; hashed for the API
	signKey      string   // the key calls are signed with; empty in dev mode
	env          string
	appVersion   string
	apiBase      string
	gatewayURL   string
	log          *slog.Logger
	hc           *http.Client
	appID        string
	functions    []byte
	capabilities []byte
}

func resolve(c *inngest.Client, o Options) (*config, error) {
	if c == nil {
		return nil, errors.New("connect: the client is nil")
	}
	cfg := &config{
		instanceID:  firstNonEmpty(o.InstanceID, os.Getenv("INNGEST_CONNECT_INSTANCE_ID")),
		concurrency: o.MaxConcurrency,
		shutdown:    o.ShutdownTimeout,
		env:         firstNonEmpty(o.Env, os.Getenv("INNGEST_ENV")),
		appVersion:  firstNonEmpty(o.AppVersion, os.Getenv("INNGEST_APP_VERSION")),
		apiBase:     strings.TrimRight(firstNonEmpty(o.APIBaseURL, c.APIBaseURL()), "/"),
		gatewayURL:  firstNonEmpty(o.GatewayURL, os.Getenv("INNGEST_CONNECT_GATEWAY_URL")),
		log:         o.Logger,
		hc:          o.HTTPClient,
		appID:       c.AppID(),
	}
	if cfg.instanceID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "worker"
		}
		cfg.instanceID = h
	}
	if cfg.concurrency == 0 {
		if v := os.Getenv("INNGEST_CONNECT_MAX_WORKER_CONCURRENCY"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("connect: INNGEST_CONNECT_MAX_WORKER_CONCURRENCY=%q is not a positive integer", v)
			}
			cfg.concurrency = n
		} else {
			cfg.concurrency = defaultConcurrency
		}
	}
	if cfg.concurrency < 0 {
		return nil, fmt.Errorf("connect: MaxConcurrency %d is negative", cfg.concurrency)
	}
	switch {
	case cfg.shutdown < 0:
		return nil, fmt.Errorf("connect: ShutdownTimeout %v is negative", cfg.shutdown)
	case cfg.shutdown == 0:
		cfg.shutdown = defaultShutdownTimeout
	}
	key := firstNonEmpty(o.SigningKey, os.Getenv("INNGEST_SIGNING_KEY"))
	fb := firstNonEmpty(o.SigningKeyFallback, os.Getenv("INNGEST_SIGNING_KEY_FALLBACK"))
	for _, k := range []string{key, fb} {
		if k == "" {
			continue
		}
		h, err := hashKey(k)
		if err != nil {
			return nil, err
		}
		cfg.keys = append(cfg.keys, h)
	}
	if c.Mode() != inngest.ModeDev {
		if key == "" {
			return nil, errors.New("connect: no signing key: set Options.SigningKey or INNGEST_SIGNING_KEY (or run the client in dev mode)")
		}
		cfg.signKey = key
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.hc == nil {
		cfg.hc = &http.Client{Timeout: 30 * time.Second}
	}
	fns, err := c.FunctionConfigs(appURL)
	if err != nil {
		return nil, err
	}
	cfg.functions = fns
	cfg.capabilities = []byte(`{"trust_probe":"v1","connect":"v1"}`)
	return cfg, nil
}

var keyPrefix = regexp.MustCompile(`^signkey-[a-zA-Z0-9]+-`)

// hashKey returns the form of a signing key Inngest's API takes as a
// bearer token: its prefix, then the hex SHA-256 of the key's bytes.
func hashKey(k string) (string, error) {
	prefix := keyPrefix.FindString(k)
	raw, err := hex.DecodeString(k[len(prefix):])
	if err != nil || len(raw) == 0 {
		return "", fmt.Errorf("connect: the signing key is not hex after its %q prefix", prefix)
	}
	sum := sha256.Sum256(raw)
	return prefix + hex.EncodeToString(sum[:]), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Run connects the client's functions to Inngest and serves them until ctx
// is done. It then stops taking calls, tells the gateway so, lets the calls
// in flight finish and delivers their replies, and returns nil. Calls still
// running after Options.ShutdownTimeout are cancelled and abandoned, and
// Run returns an error wrapping ErrShutdownTimeout. It returns an error
// early only when it cannot connect at all (a refused signing key, a bad
// configuration); a dropped connection is re-established with backoff (1 s,
// growing to 5 min, reset after each successful connection).
func Run(ctx context.Context, c *inngest.Client, opts Options) error {
	cfg, err := resolve(c, opts)
	if err != nil {
		return err
	}
	w := newWorker(cfg, c.Serve())
	return w.run(ctx)
}

func sysAttrs() (int32, string) { return int32(runtime.NumCPU()), runtime.GOOS }

// lockedMap is a small mutex-guarded map.
type lockedMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (l *lockedMap[K, V]) set(k K, v V) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[K]V{}
	}
	l.m[k] = v
	l.mu.Unlock()
}

func (l *lockedMap[K, V]) get(k K) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[k]
	return v, ok
}

func (l *lockedMap[K, V]) del(k K) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[k]
	delete(l.m, k)
	return v, ok
}

func (l *lockedMap[K, V]) snapshot() map[K]V {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[K]V, len(l.m))
	for k, v := range l.m {
		out[k] = v
	}
	return out
}
