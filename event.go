package inngest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-inngest/inngest/internal/api"
	"github.com/go-inngest/inngest/internal/replay"
)

// Event is an event with data of type T. Functions receive their
// triggering events as Event[T] of the data type they were created with;
// Send takes Event[any].
type Event[T any] struct {
	// ID is the event's ID. When sending, it is an optional idempotency
	// key: Inngest ignores a second event with the same ID within 24h.
	ID string `json:"id,omitempty"`
	// Name is the event's name, such as "billing/invoice.created".
	Name string `json:"name"`
	// Data is the event's payload; on the wire it is a JSON object.
	Data T `json:"data"`
	// User holds optional user information.
	User map[string]any `json:"user,omitempty"`
	// Timestamp is the event's time in Unix milliseconds; zero means now.
	Timestamp int64 `json:"ts,omitempty"`
	// Version is an optional schema version.
	Version string `json:"v,omitempty"`
}

// Time returns the event's timestamp as a time.Time.
func (e Event[T]) Time() time.Time { return time.UnixMilli(e.Timestamp) }

// ValidateEvents checks events as Send does before it sends anything:
// there is at least one, every event has a name, names under "inngest/"
// are reserved for Inngest, data encodes as a JSON object (nil data is
// sent as {}), and the event's JSON is at most MaxEventSize bytes. The
// error names the first bad event by index.
func ValidateEvents(events ...Event[any]) error {
	if len(events) == 0 {
		return errors.New("inngest: at least one event is required")
	}
	for i, e := range events {
		if _, err := validateEvent(i, e); err != nil {
			return err
		}
	}
	return nil
}

// validateEvent checks an event to send and returns its JSON. A name is
// required, names under "inngest/" are reserved, and data must be a JSON
// object (nil data is sent as {}).
func validateEvent(i int, e Event[any]) ([]byte, error) {
	if strings.TrimSpace(e.Name) == "" {
		return nil, fmt.Errorf("inngest: event %d: a name is required", i)
	}
	if strings.HasPrefix(e.Name, "inngest/") {
		return nil, fmt.Errorf("inngest: event %d: the name %q is reserved for Inngest's own events", i, e.Name)
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("inngest: event %d (%s): data: %w", i, e.Name, err)
	}
	if string(data) == "null" {
		e.Data = struct{}{}
	} else if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("inngest: event %d (%s): data must be a JSON object (a struct or map), got %s", i, e.Name, api.Truncate(data, 40))
	}
	b, err := json.Marshal(e)
	if err == nil && len(b) > MaxEventSize {
		return nil, fmt.Errorf("inngest: event %d (%s) is %d bytes of JSON, over Inngest's limit of %d bytes for an event (inngest.MaxEventSize)", i, e.Name, len(b), MaxEventSize)
	}
	return b, err
}

// Send sends events to Inngest and returns their IDs, in order. Every
// event is validated before anything is sent. Network errors and 5xx
// answers are retried with backoff up to 5 attempts, honouring ctx;
// 4xx answers are not. All attempts carry the same event-ID seed, so
// Inngest gives a retried event the same ID and never stores it twice.
// Client middleware sees the events first (BeforeSendEvents) and the
// outcome last (AfterSendEvents).
func (c *Client) Send(ctx context.Context, events ...Event[any]) ([]string, error) {
	if err := c.check("Send"); err != nil {
		return nil, err
	}
	if len(c.cfg.middleware) == 0 {
		return c.send(ctx, events, nil)
	}
	for _, m := range c.cfg.middleware {
		events = m.BeforeSendEvents(ctx, events)
	}
	h := http.Header{}
	for _, m := range c.cfg.middleware {
		m.SendHeaders(ctx, h)
	}
	ids, err := c.send(ctx, events, h)
	for _, m := range c.cfg.middleware {
		m.AfterSendEvents(ctx, ids, err)
	}
	return ids, err
}

// send sends events, with the extra headers h (nil for none).
func (c *Client) send(ctx context.Context, events []Event[any], h http.Header) ([]string, error) {
	if len(events) == 0 {
		return nil, errors.New("inngest: Send needs at least one event")
	}
	if c.cfg.eventKey == "" {
		return nil, errors.New("inngest: sending events needs an event key: set INNGEST_EVENT_KEY (or ClientOpts.EventKey), or use dev mode")
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range events {
		b, err := validateEvent(i, e)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return c.sendRaw(ctx, buf.Bytes(), h)
}

// sendRaw sends a JSON array of events, with the extra headers h, and
// returns their IDs.
func (c *Client) sendRaw(ctx context.Context, body []byte, h http.Header) ([]string, error) {
	resp, err := c.cfg.api.SendEvents(ctx, body, sendSeed(ctx, time.Now()), h)
	switch {
	case err != nil:
	case resp.Status == http.StatusUnauthorized:
		err = fmt.Errorf("inngest: send: the event key was refused (401): %s", resp.Message())
	case !resp.OK():
		err = resp.Err()
	}
	if err != nil {
		c.logFailure(ctx, "Send", err)
		return nil, err
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	return out.IDs, nil
}

// sendSeed returns the event-ID seed of one Send. Inside a step's body
// it is derived from the run, the step and the count of sends the body
// made before, so that every attempt of the step gives its events the
// same IDs and Inngest does not run a retried step's events twice;
// elsewhere it is random.
func sendSeed(ctx context.Context, now time.Time) string {
	runID, hash, n, ok := replay.NextSend(ctx)
	if !ok {
		return eventIDSeed(now)
	}
	ms, ok := ulidMillis(runID)
	if !ok {
		return eventIDSeed(now)
	}
	sum := sha256.Sum256([]byte(runID + "\x00" + hash + "\x00" + strconv.Itoa(n)))
	return strconv.FormatInt(ms, 10) + "," + base64.StdEncoding.EncodeToString(sum[:10])
}

// ulidMillis returns the timestamp of a ULID, in Unix milliseconds.
func ulidMillis(id string) (int64, bool) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	if len(id) != 26 {
		return 0, false
	}
	id = strings.ToUpper(id)
	var ms int64
	for i := 0; i < len(id); i++ {
		d := strings.IndexByte(alphabet, id[i])
		if d < 0 {
			return 0, false
		}
		if i < 10 { // the first 10 characters hold the 48-bit time
			ms = ms<<5 | int64(d)
		}
	}
	return ms, ms > 0
}

// eventIDSeed returns "<unix ms>,<base64 of 10 random bytes>", from which
// Inngest derives the sent events' IDs deterministically.
func eventIDSeed(now time.Time) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(now.UnixMilli(), 10) + "," + base64.StdEncoding.EncodeToString(b[:])
}
