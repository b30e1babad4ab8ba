package inngest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrNoSignalWaiter is returned by SendSignal when no run is waiting for
// the signal.
var ErrNoSignalWaiter = errors.New("inngest: no run is waiting for the signal")

// SendSignal resumes the run waiting for signal at step.WaitForSignal,
// handing it data (which must encode as JSON), and returns that run's
// ID. It fails with ErrNoSignalWaiter when no run waits for the signal.
// Network errors and 5xx answers are retried, as for every call to the
// Inngest API.
func (c *Client) SendSignal(ctx context.Context, signal string, data any) (string, error) {
	if err := c.check("SendSignal"); err != nil {
		return "", err
	}
	if strings.TrimSpace(signal) == "" {
		return "", errors.New("inngest: SendSignal: a signal name is required")
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("inngest: SendSignal %q: data: %w", signal, err)
	}
	body, err := json.Marshal(struct {
		Signal string          `json:"signal"`
		Data   json.RawMessage `json:"data"`
	}{signal, raw})
	if err != nil {
		return "", fmt.Errorf("inngest: SendSignal %q: %w", signal, err)
	}
	resp, err := c.cfg.api.Do(ctx, http.MethodPost, "/v1/signals", body, nil)
	if err != nil {
		c.logFailure(ctx, "SendSignal", err)
		return "", err
	}
	switch {
	case resp.Status == http.StatusNotFound:
		return "", fmt.Errorf("%w %q", ErrNoSignalWaiter, signal)
	case !resp.OK():
		return "", fmt.Errorf("inngest: SendSignal %q: %s answered %d: %s", signal, c.cfg.apiBase, resp.Status, resp.Message())
	}
	var out struct {
		Data struct {
			RunID string `json:"run_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	return out.Data.RunID, nil
}
