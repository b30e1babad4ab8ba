package step

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-inngest/inngest/internal/wire"
)

// FetchRequest is an HTTP request that Inngest makes for the function.
type FetchRequest struct {
	// URL is the absolute http(s) URL to call. Required.
	URL string
	// Method is the HTTP method; empty means GET.
	Method string
	// Headers are sent with the request.
	Headers map[string]string
	// Body is the request body, as text.
	Body string
}

// FetchResponse is the response to a FetchRequest.
type FetchResponse struct {
	// StatusCode is the HTTP status code.
	StatusCode int `json:"status_code"`
	// Headers holds the response headers; repeated headers are joined
	// with ",".
	Headers map[string]string `json:"headers"`
	// Body is the response body, as text.
	Body string `json:"body"`
	// URL is the URL that was called.
	URL string `json:"url"`
}

type fetchOpts struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
}

// Fetch has Inngest make the HTTP request req and returns the response.
// The function is paused, not running, while the request is in flight,
// which suits slow calls. Any HTTP status is a response, not an error;
// when the request cannot be made at all, Fetch returns a
// *inngest.StepError.
func Fetch(ctx context.Context, id string, req FetchRequest) (*FetchResponse, error) {
	r, parallel, err := from(ctx, id)
	if err != nil {
		return nil, err
	}
	const tool = "Fetch"
	u, err := url.Parse(req.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, optsError(tool, id, "FetchRequest.URL %q must be an absolute http(s) URL", req.URL)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	op := fetchOpts{URL: req.URL, Method: method, Headers: req.Headers, Body: req.Body}
	s, raw, err := await(r, parallel, id, wire.OpGateway, op)
	if err != nil {
		return nil, err
	}
	var m struct {
		Data  *FetchResponse  `json:"data"`
		Error *wire.MemoError `json:"error"`
	}
	if err := wire.Unmarshal(raw, &m); err != nil {
		return nil, memoMismatch[*FetchResponse](s, err)
	}
	if m.Error != nil {
		return nil, stepError(s, m.Error)
	}
	if m.Data == nil {
		return nil, memoMismatch[*FetchResponse](s, errMissingData)
	}
	return m.Data, nil
}
