package api

import (
	"fmt"
	"net/http"
	"strings"
)

// Transport returns a RoundTripper for requests to the API that the SDK
// does not make itself: it adds the common headers and the bearer token
// (and tries the fallback token once on a 401 or 403, when the request's
// body can be read again), and refuses any URL outside APIBase, so that
// the token is sent nowhere else.
func (c *Client) Transport() http.RoundTripper { return apiTransport{c} }

type apiTransport struct{ c *Client }

func (t apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if u := req.URL.String(); !strings.HasPrefix(u, c.APIBase+"/") {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("inngest: the API client sends requests only under %s, not to %s", c.APIBase, req.URL.Redacted())
	}
	next := http.DefaultTransport
	if c.HTTPClient != nil && c.HTTPClient.Transport != nil {
		next = c.HTTPClient.Transport
	}
	tokens := []string{c.Bearer}
	if c.FallbackBearer != "" && (req.Body == nil || req.GetBody != nil) {
		tokens = append(tokens, c.FallbackBearer)
	}
	for i, tok := range tokens {
		r := req.Clone(req.Context())
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		for k, v := range c.Header {
			if _, set := r.Header[k]; !set {
				r.Header[k] = v
			}
		}
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := next.RoundTrip(r)
		if err != nil || i+1 == len(tokens) || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
			return resp, err
		}
		_ = resp.Body.Close()
		c.Logger.WarnContext(req.Context(), "inngest: the signing key was refused; trying the fallback key", "path", req.URL.Path, "status", resp.StatusCode)
	}
	panic("unreachable")
}
