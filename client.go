package inngest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-inngest/inngest/internal/api"
	"github.com/go-inngest/inngest/internal/wire"
)

// Version is this SDK's version, sent in X-Inngest-SDK.
const Version = "0.1.0"

// SDKName is the name half of the X-Inngest-SDK header.
const SDKName = "go-inngest"

// sdkHeader is the X-Inngest-SDK value: "<name>:v<semver>".
const sdkHeader = SDKName + ":v" + Version

// Default addresses.
const (
	DefaultAPIBaseURL      = "https://api.inngest.com"
	DefaultEventAPIBaseURL = "https://inn.gs"
	DefaultDevServerURL    = "http://127.0.0.1:8288"
	// DefaultMaxBodySize bounds the request bodies the handler reads.
	// The server switches to use_api above 4 MiB, so real calls stay far
	// below it.
	DefaultMaxBodySize = 32 << 20
)

// Mode selects the server the client works with.
type Mode int

const (
	// ModeAuto (the zero value) reads INNGEST_DEV: dev mode when it is set
	// to anything but "", "0" or "false", cloud mode otherwise.
	ModeAuto Mode = iota
	// ModeCloud talks to Inngest Cloud or a self-hosted server and
	// verifies every request's signature.
	ModeCloud
	// ModeDev talks to the local dev server and does not require signed
	// requests.
	ModeDev
)

// String returns "auto", "cloud" or "dev".
func (m Mode) String() string {
	switch m {
	case ModeCloud:
		return "cloud"
	case ModeDev:
		return "dev"
	}
	return "auto"
}

// ClientOpts configures a Client. Every string left empty is read from
// the environment variable named in its comment, else takes its default.
// The environment is read once, by NewClient.
type ClientOpts struct {
	// AppID names the app; function IDs are prefixed with it. Required.
	AppID string
	// AppVersion is sent at sync as the app's version. Optional.
	AppVersion string
	// Mode chooses cloud or dev mode; ModeAuto reads INNGEST_DEV.
	Mode Mode
	// SigningKey verifies requests from Inngest and authenticates calls to
	// its API (INNGEST_SIGNING_KEY). Required in cloud mode.
	SigningKey string
	// SigningKeyFallback is tried when SigningKey fails, for key rotation
	// (INNGEST_SIGNING_KEY_FALLBACK).
	SigningKeyFallback string
	// EventKey is used to send events (INNGEST_EVENT_KEY).
	EventKey string
	// Env is the Inngest environment or branch (INNGEST_ENV).
	Env string
	// BaseURL sets both API base URLs (INNGEST_BASE_URL). In dev mode an
	// INNGEST_DEV value that is a URL sets it too.
	BaseURL string
	// APIBaseURL is the Inngest API (INNGEST_API_BASE_URL).
	APIBaseURL string
	// EventAPIBaseURL is the event API (INNGEST_EVENT_API_BASE_URL).
	EventAPIBaseURL string
	// ServeOrigin and ServePath override the URL, inferred from the sync
	// request, at which Inngest reaches the handler (INNGEST_SERVE_ORIGIN,
	// INNGEST_SERVE_PATH): ServeOrigin is a scheme and host such as
	// "https://app.example.com", ServePath a path such as "/api/inngest".
	// With both set the handler's public URL is fixed, and in cloud mode
	// an unsigned sync request (a plain `curl -X PUT`, or a self-hosted
	// server's "add app") is accepted: it registers that URL, never one
	// taken from the request.
	ServeOrigin string
	ServePath   string
	// AllowUnsignedSync accepts, in cloud mode, an unsigned sync request
	// when only ServeOrigin is set: the origin registered is ServeOrigin,
	// the path the one the request came in on
	// (INNGEST_ALLOW_UNSIGNED_SYNC=true also enables it). NewClient
	// refuses it in cloud mode without ServeOrigin, since an unsigned
	// request's Host is anyone's to choose. Signed sync requests are
	// always accepted.
	AllowUnsignedSync bool
	// AllowInBandSync lets the handler answer a sync request in-band
	// (INNGEST_ALLOW_IN_BAND_SYNC=true also enables it).
	AllowInBandSync bool
	// Checkpointing, when set, lets one call run several steps in a row
	// instead of one step per call; see Checkpointing. Nil (the default)
	// runs one step per call.
	Checkpointing *Checkpointing
	// Middleware runs around every function's calls and every send; see
	// Middleware.
	Middleware []Middleware
	// MaxBodySize bounds request bodies; larger ones get 413. Zero means
	// DefaultMaxBodySize.
	MaxBodySize int64
	// HTTPClient makes every outbound request. Nil means a client with a
	// 30 second timeout.
	HTTPClient *http.Client
	// Logger receives the SDK's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Client holds an app's configuration and functions. Create it with
// NewClient, add functions with CreateFunction and mount Serve() on a URL.
// A Client is safe for concurrent use.
type Client struct {
	cfg config

	mu  sync.RWMutex
	fns map[string]*function // by composite ID, companions included
	ord []*function          // registration order, for sync
}

// config is ClientOpts resolved against the environment and defaults.
type config struct {
	appID, appVersion  string
	dev                bool
	signingKey         string
	signingKeyFallback string
	hmacKey, hmacKeyFB []byte
	bearer, bearerFB   string
	eventKey           string
	env                string
	apiBase, eventBase string
	serveOrigin        string
	servePath          string
	allowInBandSync    bool
	allowUnsignedSync  bool
	checkpoint         *Checkpointing
	middleware         []Middleware
	maxBody            int64
	httpClient         *http.Client
	logger             *slog.Logger
	platform           string
	// api makes every request to Inngest, with the settings above.
	api *api.Client
}

var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// NewClient resolves opts (options, then environment, then defaults) and
// returns a Client. It fails when the configuration cannot work, for
// example cloud mode without a signing key.
func NewClient(opts ClientOpts) (*Client, error) {
	cfg, err := resolve(opts, os.Getenv)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, fns: map[string]*function{}}, nil
}

func resolve(o ClientOpts, getenv func(string) string) (config, error) {
	pick := func(opt, env string) string {
		if opt != "" {
			return opt
		}
		return strings.TrimSpace(getenv(env))
	}
	c := config{
		appID:              o.AppID,
		appVersion:         o.AppVersion,
		signingKey:         pick(o.SigningKey, "INNGEST_SIGNING_KEY"),
		signingKeyFallback: pick(o.SigningKeyFallback, "INNGEST_SIGNING_KEY_FALLBACK"),
		eventKey:           pick(o.EventKey, "INNGEST_EVENT_KEY"),
		env:                pick(o.Env, "INNGEST_ENV"),
		serveOrigin:        strings.TrimRight(pick(o.ServeOrigin, "INNGEST_SERVE_ORIGIN"), "/"),
		servePath:          pick(o.ServePath, "INNGEST_SERVE_PATH"),
		maxBody:            o.MaxBodySize,
		httpClient:         o.HTTPClient,
		logger:             o.Logger,
		platform:           detectPlatform(getenv),
	}
	if c.appID == "" {
		return c, errors.New(`inngest: ClientOpts.AppID is required: it names your app in Inngest, for example inngest.ClientOpts{AppID: "billing"}`)
	}
	if !appIDPattern.MatchString(c.appID) {
		return c, fmt.Errorf("inngest: ClientOpts.AppID %q must start with a letter or digit and hold only letters, digits, '-', '_' and '.'", c.appID)
	}
	if c.serveOrigin == "" {
		c.serveOrigin = strings.TrimRight(strings.TrimSpace(getenv("INNGEST_SERVE_HOST")), "/")
	}
	if c.servePath != "" && !strings.HasPrefix(c.servePath, "/") {
		c.servePath = "/" + c.servePath
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodySize
	}
	if c.maxBody < 0 {
		return c, fmt.Errorf("inngest: ClientOpts.MaxBodySize must not be negative, got %d", c.maxBody)
	}
	cp, err := resolveCheckpointing("ClientOpts.Checkpointing", o.Checkpointing)
	if err != nil {
		return c, fmt.Errorf("inngest: %w", err)
	}
	c.checkpoint = cp
	for i, m := range o.Middleware {
		if m == nil {
			return c, fmt.Errorf("inngest: ClientOpts.Middleware[%d] is nil", i)
		}
	}
	c.middleware = append([]Middleware(nil), o.Middleware...)
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.allowInBandSync = o.AllowInBandSync || envTrue(getenv("INNGEST_ALLOW_IN_BAND_SYNC"))
	c.allowUnsignedSync = o.AllowUnsignedSync || envTrue(getenv("INNGEST_ALLOW_UNSIGNED_SYNC"))

	// Mode and the dev server URL.
	devURL := ""
	switch o.Mode {
	case ModeDev:
		c.dev = true
	case ModeCloud:
	case ModeAuto:
		v := strings.TrimSpace(getenv("INNGEST_DEV"))
		switch strings.ToLower(v) {
		case "", "0", "false":
		default:
			c.dev = true
		}
		if u, err := url.Parse(v); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
			devURL = strings.TrimRight(v, "/")
		}
	default:
		return c, fmt.Errorf("inngest: ClientOpts.Mode %d is not a Mode", o.Mode)
	}
	if c.dev && devURL == "" {
		devURL = DefaultDevServerURL
	}
	base := func(opt, env, def string) (string, error) {
		v := firstNonEmpty(opt, o.BaseURL, strings.TrimSpace(getenv(env)), strings.TrimSpace(getenv("INNGEST_BASE_URL")))
		if v == "" {
			if c.dev {
				v = devURL
			} else {
				v = def
			}
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", fmt.Errorf("inngest: %s %q is not an http(s) URL", env, v)
		}
		return strings.TrimRight(v, "/"), nil
	}
	if c.apiBase, err = base(o.APIBaseURL, "INNGEST_API_BASE_URL", DefaultAPIBaseURL); err != nil {
		return c, err
	}
	if c.eventBase, err = base(o.EventAPIBaseURL, "INNGEST_EVENT_API_BASE_URL", DefaultEventAPIBaseURL); err != nil {
		return c, err
	}

	// Keys.
	if c.signingKey != "" {
		if c.hmacKey, c.bearer, err = parseSigningKey(c.signingKey); err != nil {
			return c, fmt.Errorf("inngest: signing key: %w", err)
		}
	}
	if c.signingKeyFallback != "" {
		if c.hmacKeyFB, c.bearerFB, err = parseSigningKey(c.signingKeyFallback); err != nil {
			return c, fmt.Errorf("inngest: fallback signing key: %w", err)
		}
	}
	if !c.dev && c.signingKey == "" {
		return c, errors.New("inngest: cloud mode needs a signing key: set INNGEST_SIGNING_KEY (or ClientOpts.SigningKey) " +
			"to the key from your Inngest dashboard, or set INNGEST_DEV=1 (or ClientOpts.Mode = inngest.ModeDev) to work with the local dev server")
	}
	if !c.dev && c.allowUnsignedSync && c.serveOrigin == "" {
		return c, errors.New("inngest: AllowUnsignedSync (INNGEST_ALLOW_UNSIGNED_SYNC) needs ServeOrigin (INNGEST_SERVE_ORIGIN), " +
			"the scheme and host Inngest reaches the handler at, such as https://app.example.com: " +
			"an unsigned sync request's Host is anyone's to choose, so it is never registered")
	}
	if c.eventKey == "" && c.dev {
		c.eventKey = wire.DevEventKey
	}
	c.api = c.apiClient()
	return c, nil
}

// apiClient returns the client for requests to Inngest, with the headers
// every request carries.
func (c *config) apiClient() *api.Client {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(wire.HeaderSDK, sdkHeader)
	h.Set("User-Agent", sdkHeader)
	if c.env != "" {
		h.Set(wire.HeaderEnv, c.env)
	}
	if c.platform != "" {
		h.Set(wire.HeaderPlatform, c.platform)
	}
	return &api.Client{
		APIBase:        c.apiBase,
		EventBase:      c.eventBase,
		Bearer:         c.bearer,
		FallbackBearer: c.bearerFB,
		EventKey:       c.eventKey,
		Header:         h,
		HTTPClient:     c.httpClient,
		Logger:         c.logger,
		Dev:            c.dev,
	}
}

// envTrue reports whether a boolean environment variable is set to true
// ("true" or "1", in any case).
func envTrue(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "true" || v == "1"
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

var keyPrefix = regexp.MustCompile(`^signkey-\w+-`)

// parseSigningKey returns the HMAC key (the key without its prefix, as
// text) and the bearer token (the prefix, then the hex SHA-256 of the
// hex-decoded rest).
func parseSigningKey(key string) (hmacKey []byte, bearer string, err error) {
	prefix := keyPrefix.FindString(key)
	rest := key[len(prefix):]
	raw, err := hex.DecodeString(rest)
	if err != nil || len(rest) == 0 {
		return nil, "", errors.New("a signing key is hex text, optionally after a signkey-<env>- prefix")
	}
	sum := sha256.Sum256(raw)
	return []byte(rest), prefix + hex.EncodeToString(sum[:]), nil
}

// detectPlatform names the hosting platform from its environment.
func detectPlatform(getenv func(string) string) string {
	switch {
	case getenv("VERCEL") != "":
		return "vercel"
	case getenv("NETLIFY") != "":
		return "netlify"
	case getenv("CF_PAGES") != "":
		return "cloudflare-pages"
	case getenv("RENDER") != "":
		return "render"
	case getenv("RAILWAY_ENVIRONMENT") != "" || getenv("RAILWAY_PROJECT_ID") != "":
		return "railway"
	case getenv("FLY_APP_NAME") != "":
		return "fly"
	}
	return ""
}

// errNilClient is the error of a method called on a nil *Client: the
// usual cause is an error from NewClient that was dropped.
const errNilClient = "the *inngest.Client is nil: inngest.NewClient returned an error that was not checked; " +
	"check the error NewClient returns (it says what is missing, for example a signing key)"

// errZeroClient is the error of a method called on a Client that
// NewClient did not make.
const errZeroClient = "the inngest.Client was not created by inngest.NewClient; create it with NewClient"

// check returns an error naming op when c cannot be used: it is nil, or
// NewClient did not make it.
func (c *Client) check(op string) error {
	switch {
	case c == nil:
		return errors.New("inngest: " + op + ": " + errNilClient)
	case c.cfg.appID == "":
		return errors.New("inngest: " + op + ": " + errZeroClient)
	}
	return nil
}

// logFailure logs, as one line at warn level, an operation that failed
// for good, unless it failed because ctx ended: the caller stopped it.
// The attempts before, retried, are logged at debug level.
func (c *Client) logFailure(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	c.cfg.logger.WarnContext(ctx, "inngest: "+op+" failed", "error", err)
}

// AppID returns the app ID, or "" for a nil Client.
func (c *Client) AppID() string {
	if c == nil {
		return ""
	}
	return c.cfg.appID
}

// Mode returns ModeDev or ModeCloud, as resolved by NewClient, or
// ModeAuto for a nil Client.
func (c *Client) Mode() Mode {
	switch {
	case c == nil:
		return ModeAuto
	case c.cfg.dev:
		return ModeDev
	}
	return ModeCloud
}

// APIBaseURL returns the resolved Inngest API base URL, or "" for a nil
// Client.
func (c *Client) APIBaseURL() string {
	if c == nil {
		return ""
	}
	return c.cfg.apiBase
}

// APIClient returns an HTTP client for requests to the Inngest API that
// the SDK does not make itself, such as exporting OpenTelemetry spans to
// the run view (inngestotel does). It sends through ClientOpts.HTTPClient's
// transport, adds the SDK's headers and the signing key's bearer token
// (the fallback key after a 401 or 403), and refuses any URL outside
// APIBaseURL, so that the key goes nowhere else.
func (c *Client) APIClient() *http.Client {
	return &http.Client{Transport: c.cfg.api.Transport(), Timeout: c.cfg.httpClient.Timeout}
}

// EventAPIBaseURL returns the resolved event API base URL, or "" for a
// nil Client.
func (c *Client) EventAPIBaseURL() string {
	if c == nil {
		return ""
	}
	return c.cfg.eventBase
}

type clientCtxKey struct{}

// ClientFromContext returns the Client whose handler is running the
// function that received ctx, or nil outside a function.
func ClientFromContext(ctx context.Context) *Client {
	c, _ := ctx.Value(clientCtxKey{}).(*Client)
	return c
}
