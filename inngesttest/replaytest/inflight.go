package replaytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/api"
)

// API reads runs from Inngest's API with a deployment's signing key.
type API struct {
	// BaseURL is the API's base URL: https://api.inngest.com for
	// Inngest Cloud, the dev server's URL for it.
	BaseURL string
	// SigningKey is the deployment's signing key (signkey-…); empty
	// for a dev server, which asks for none.
	SigningKey string
	// Env names the branch environment, when there is one.
	Env string
	// HTTPClient makes the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
}

var keyPrefix = regexp.MustCompile(`^signkey-\w+-`)

func (a *API) client() (*api.Client, error) {
	if a.BaseURL == "" {
		return nil, errors.New("replaytest: API.BaseURL is empty")
	}
	bearer := ""
	if a.SigningKey != "" {
		prefix := keyPrefix.FindString(a.SigningKey)
		raw, err := hex.DecodeString(a.SigningKey[len(prefix):])
		if err != nil || len(raw) == 0 {
			return nil, errors.New("replaytest: API.SigningKey is not a signing key (hex text, optionally after a signkey-<env>- prefix)")
		}
		sum := sha256.Sum256(raw)
		bearer = prefix + hex.EncodeToString(sum[:])
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if a.Env != "" {
		h.Set("X-Inngest-Env", a.Env)
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &api.Client{APIBase: strings.TrimRight(a.BaseURL, "/"), Bearer: bearer,
		Header: h, HTTPClient: hc}, nil
}

func (a *API) get(ctx context.Context, c *api.Client, path string, v any) error {
	resp, err := c.Do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return fmt.Errorf("replaytest: %w", err)
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("replaytest: GET %s answered %d: %s", path, resp.Status, api.Truncate(resp.Body, api.MaxErrorText))
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("replaytest: GET %s: %w", path, err)
	}
	return nil
}

// Record reads the record of run runID of function fnID (its full ID)
// from the endpoints the SDK loads large run state from: GET
// /v0/runs/{id}/batch and /v0/runs/{id}/actions. The API gives the
// memoized steps without their order, so the record is Unordered.
func (a *API) Record(ctx context.Context, fnID, runID string) (*Record, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	base := "/v0/runs/" + url.PathEscape(runID)
	var events []json.RawMessage
	if err := a.get(ctx, c, base+"/batch", &events); err != nil {
		return nil, err
	}
	var steps map[string]json.RawMessage
	if err := a.get(ctx, c, base+"/actions", &steps); err != nil {
		return nil, err
	}
	rec := fromState(runID, fnID, events, steps, nil)
	rec.Unordered = true
	return rec, nil
}

// InFlight lists the IDs of the runs of function fnID (its ID within
// app appID) that are running, from GET
// /v2/apps/{app}/functions/{fn}/runs?status=RUNNING, page by page.
func (a *API) InFlight(ctx context.Context, appID, fnID string) ([]string, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	var ids []string
	cursor := ""
	for {
		q := url.Values{"status": {"RUNNING"}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		path := "/v2/apps/" + url.PathEscape(appID) + "/functions/" + url.PathEscape(fnID) + "/runs?" + q.Encode()
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			Page struct {
				Cursor  string `json:"cursor"`
				HasMore bool   `json:"hasMore"`
			} `json:"page"`
		}
		if err := a.get(ctx, c, path, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Data {
			ids = append(ids, r.ID)
		}
		if !page.Page.HasMore || page.Page.Cursor == "" || page.Page.Cursor == cursor {
			return ids, nil
		}
		cursor = page.Page.Cursor
	}
}

// Function is a function to check: an *inngest.Function.
type Function interface {
	ID() string
	FullID() string
}

// InFlightOpts configures CheckInFlight.
type InFlightOpts struct {
	// API reads the runs. Its BaseURL defaults to the client's API base
	// URL and its SigningKey to INNGEST_SIGNING_KEY.
	API API
	// Functions are the functions whose runs are checked.
	Functions []Function
	// SigningKey signs the check's calls to the client's handler, for a
	// client not in dev mode; it defaults to API.SigningKey.
	SigningKey string
}

// Result is the check of one run.
type Result struct {
	FunctionID, RunID string
	// Err is nil when the run replays cleanly, a *Divergence when it
	// does not, another error when it could not be checked.
	Err error
}

// Report is what CheckInFlight found.
type Report struct {
	Results []Result
}

// Failed returns the results with an error.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Err != nil {
			out = append(out, res)
		}
	}
	return out
}

// String summarises the report: "N in-flight runs of F functions replay
// cleanly", or the runs that do not, one a line.
func (r *Report) String() string {
	fns := map[string]bool{}
	for _, res := range r.Results {
		fns[res.FunctionID] = true
	}
	failed := r.Failed()
	if len(failed) == 0 {
		return fmt.Sprintf("%d in-flight run(s) of %d function(s) replay cleanly against this build", len(r.Results), len(fns))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d in-flight run(s) do not replay against this build:", len(failed), len(r.Results))
	for _, res := range failed {
		b.WriteString("\n  ")
		b.WriteString(res.Err.Error())
	}
	return b.String()
}

// CheckInFlight lists the running runs of opts.Functions from Inngest's
// API and checks each against client's code, the build under test. It
// returns an error only when the runs could not be listed; a run that
// could not be read or does not replay is a failed Result.
//
// Run it in CI before a deploy, from a test in the app's own module so
// that it replays that build's functions:
//
//	func TestInFlightRunsReplay(t *testing.T) {
//		if os.Getenv("INNGEST_SIGNING_KEY") == "" {
//			t.Skip("INNGEST_SIGNING_KEY is not set")
//		}
//		rep, err := replaytest.CheckInFlight(ctx, client, replaytest.InFlightOpts{Functions: app.Functions()})
//		...
//	}
func CheckInFlight(ctx context.Context, client *inngest.Client, opts InFlightOpts) (*Report, error) {
	a := opts.API
	if a.BaseURL == "" {
		a.BaseURL = client.APIBaseURL()
	}
	if a.SigningKey == "" {
		a.SigningKey = os.Getenv("INNGEST_SIGNING_KEY")
	}
	if len(opts.Functions) == 0 {
		return nil, errors.New("replaytest: InFlightOpts.Functions is empty: name the functions whose runs to check")
	}
	key := opts.SigningKey
	if key == "" && client.Mode() != inngest.ModeDev {
		key = a.SigningKey
	}
	checker := &Checker{Handler: client.Serve(), SigningKey: key}
	rep := &Report{}
	for _, fn := range opts.Functions {
		ids, err := a.InFlight(ctx, client.AppID(), fn.ID())
		if err != nil {
			return nil, fmt.Errorf("listing the runs of %s: %w", fn.FullID(), err)
		}
		for _, id := range ids {
			res := Result{FunctionID: fn.FullID(), RunID: id}
			rec, err := a.Record(ctx, fn.FullID(), id)
			if err == nil {
				err = checker.Check(ctx, rec)
			}
			res.Err = err
			rep.Results = append(rep.Results, res)
		}
	}
	return rep, nil
}
