// Package api makes the SDK's requests to Inngest: to its API (sync,
// signals, checkpoints, a run's state), authenticated with the hashed
// signing key and, when that is refused, the fallback key; and to its
// event API, authenticated by the event key in the path. It retries
// network errors and 5xx answers with jittered backoff, honouring the
// context, bounds what it reads of an answer, and reports a failed
// answer as an *Error that holds no secret.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// Attempts and limits.
const (
	// APIAttempts bounds the attempts of one request to the API.
	APIAttempts = 3
	// EventAttempts bounds the attempts of one send to the event API.
	EventAttempts = 5
	// MaxAnswer bounds what is read of an answer from the API.
	MaxAnswer = 64 << 20
	// MaxEventAnswer bounds what is read of an answer from the event API.
	MaxEventAnswer = 1 << 20
	// MaxErrorText bounds the bytes of an answer's body kept in an
	// error.
	MaxErrorText = 200
)

// Backoff before a retry: BackoffBase doubling per retry, capped at
// BackoffMax, of which the second half is random.
const (
	BackoffBase = 100 * time.Millisecond
	BackoffMax  = 5 * time.Second
)

// eventKeyMark replaces the event key wherever a URL is shown.
const eventKeyMark = "<event-key>"

// Client makes requests to Inngest. Build it once, when the SDK's client
// is configured; it is safe for concurrent use and never changed after.
type Client struct {
	// APIBase and EventBase are the base URLs of the API and of the
	// event API, without a trailing slash.
	APIBase, EventBase string
	// Bearer and FallbackBearer are the hashed signing keys sent as the
	// API's bearer token; FallbackBearer, when set, is tried once on a
	// 401 or 403 to Bearer.
	Bearer, FallbackBearer string
	// EventKey authenticates sends; it is never shown in an error or a
	// log line.
	EventKey string
	// Header holds the headers every request carries.
	Header http.Header
	// HTTPClient makes the requests.
	HTTPClient *http.Client
	// Logger receives the retries (debug) and the fallback key's use
	// (warn).
	Logger *slog.Logger
	// Dev says the bases are the dev server's: a request that cannot
	// connect says that the dev server is most likely not running.
	Dev bool
}

// Response is an answer that was not retried away: its status and body.
type Response struct {
	Status int
	Body   []byte

	method, url string
}

// OK reports whether the status is a success (2xx).
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// Err returns nil for a success, else an *Error describing the answer.
func (r *Response) Err() error {
	if r.OK() {
		return nil
	}
	return newError(r.method, r.url, r.Status, r.Body)
}

// Message returns the answer's "error" field, else its body, trimmed and
// cut to MaxErrorText bytes.
func (r *Response) Message() string { return errorText(r.Body) }

// Error is an answer with a status other than a success.
type Error struct {
	// Method and URL are the request's; the URL holds no key.
	Method, URL string
	// Status is the answer's status code.
	Status int
	// Message is the answer's "error" field, else its body, trimmed and
	// cut to MaxErrorText bytes.
	Message string
	// Body is the answer's body cut to MaxErrorText bytes.
	Body string
}

func newError(method, url string, status int, body []byte) *Error {
	return &Error{Method: method, URL: url, Status: status, Message: errorText(body), Body: Truncate(body, MaxErrorText)}
}

// Error returns "inngest: <method> <url> answered <status>: <message>".
func (e *Error) Error() string {
	return "inngest: " + e.Method + " " + e.URL + " answered " + strconv.Itoa(e.Status) + ": " + e.Message
}

// Do makes a request to the API with the bearer token, trying the
// fallback key on 401 and 403. Network errors and 5xx answers are retried
// up to APIAttempts, with backoff, honouring ctx; after the last attempt
// they are an error. Other answers are returned as they are.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header http.Header) (*Response, error) {
	return c.retry(ctx, APIAttempts, "a request to the Inngest API", method, c.APIBase, path, func() (*Response, error) {
		return c.DoOnce(ctx, method, path, body, header)
	})
}

// DoOnce makes one attempt of Do: a network error or a 5xx answer is not
// retried.
func (c *Client) DoOnce(ctx context.Context, method, path string, body []byte, header http.Header) (*Response, error) {
	tokens := []string{c.Bearer}
	if c.FallbackBearer != "" {
		tokens = append(tokens, c.FallbackBearer)
	}
	var resp *Response
	for i, tok := range tokens {
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
		var err error
		if resp, err = c.once(ctx, method, c.APIBase, path, body, h, MaxAnswer); err != nil {
			return nil, err
		}
		if (resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden) && i+1 < len(tokens) {
			c.Logger.WarnContext(ctx, "inngest: the signing key was refused; trying the fallback key", "path", path, "status", resp.Status)
			continue
		}
		break
	}
	return resp, nil
}

// SendEvents posts a JSON array of events to the event API with the
// event-ID seed, which every attempt shares so that Inngest never stores
// a retried event twice. Network errors and 5xx answers are retried up to
// EventAttempts, with backoff, honouring ctx; other answers are returned
// as they are. extra headers, when not nil, are added to the request;
// they cannot replace the seed.
func (c *Client) SendEvents(ctx context.Context, body []byte, seed string, extra http.Header) (*Response, error) {
	path := "/e/" + c.EventKey
	h := http.Header{}
	for k, v := range extra {
		h[k] = v
	}
	h.Set(wire.HeaderEventIDSeed, seed)
	return c.retry(ctx, EventAttempts, "sending events", http.MethodPost, c.EventBase, c.redact(path), func() (*Response, error) {
		return c.once(ctx, http.MethodPost, c.EventBase, path, body, h, MaxEventAnswer)
	})
}

// retry makes up to attempts calls of once, the request method
// base+path, retrying network errors and 5xx answers; what names the
// request in the debug line of each retry.
func (c *Client) retry(ctx context.Context, attempts int, what, method, base, path string, once func() (*Response, error)) (*Response, error) {
	var last error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			c.Logger.DebugContext(ctx, "inngest: "+what+" failed; retrying", "method", method, "path", path, "attempt", attempt, "error", last)
			if err := sleep(ctx, Backoff(attempt)); err != nil {
				return nil, fmt.Errorf("inngest: %s %s%s: %w (last error: %v)", method, base, path, err, last)
			}
		}
		resp, err := once()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, err
			}
			last = err
		case resp.Status >= 500:
			last = resp.Err()
		default:
			return resp, nil
		}
	}
	return nil, fmt.Errorf("%w (gave up after %d attempts)", last, attempts)
}

// once makes one request to base+path, with the common headers and
// header, and reads at most limit bytes of the answer.
func (c *Client) once(ctx context.Context, method, base, path string, body []byte, header http.Header, limit int64) (*Response, error) {
	shown := base + c.redact(path)
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("inngest: %s %s: %w", method, shown, c.redactErr(err))
	}
	req.Header = c.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("inngest: %s %s: %w", method, shown, c.devServerHint(c.redactErr(err), base))
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("inngest: %s %s: reading the response: %w", method, shown, c.redactErr(err))
	}
	return &Response{Status: resp.StatusCode, Body: rb, method: method, url: shown}, nil
}

// redact hides the event key in s.
func (c *Client) redact(s string) string {
	if c.EventKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.EventKey, eventKeyMark)
}

// redactErr hides the event key in the URL that net/http puts into its
// errors.
func (c *Client) redactErr(err error) error {
	var ue *url.Error
	if c.EventKey != "" && errors.As(err, &ue) {
		ue.URL = c.redact(ue.URL)
	}
	return err
}

// devServerHint explains, in dev mode, a request to base that could not
// even connect: the dev server is most likely not running. Other errors,
// and every error in cloud mode, are returned as they are.
func (c *Client) devServerHint(err error, base string) error {
	var op *net.OpError
	if !c.Dev || !errors.As(err, &op) || op.Op != "dial" {
		return err
	}
	return fmt.Errorf("the Inngest dev server is not reachable at %s: start it with `npx inngest-cli@latest dev`, "+
		"or set INNGEST_DEV (or INNGEST_BASE_URL) to the URL it runs at: %w", base, err)
}

// Backoff returns the wait before retry n (n >= 1): BackoffBase doubling,
// capped at BackoffMax, with up to 50% jitter.
func Backoff(n int) time.Duration {
	d := BackoffMax
	if n < 32 {
		d = min(BackoffBase<<(n-1), BackoffMax)
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errorText returns the "error" field of a JSON answer, else the answer,
// trimmed and cut to MaxErrorText bytes.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return Truncate([]byte(e.Error), MaxErrorText)
	}
	return Truncate(bytes.TrimSpace(body), MaxErrorText)
}

// Truncate returns b as text, cut to n bytes with "…" after a cut.
func Truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
