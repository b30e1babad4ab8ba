package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest/internal/wire"
)

// The transport signs requests under the API base, tries the fallback
// key after a 401 with the body sent again, and refuses other URLs.
func TestTransportSignsOnlyTheAPI(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	hc := &http.Client{Transport: client(s.URL, nil).Transport()}
	resp, err := hc.Post(s.URL+"/v1/traces/userland", "application/json", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"Bearer " + bearer, "Bearer " + fallback}, s.auths())
	assert.Equal(t, []string{`{"a":1}`, `{"a":1}`}, s.bodies)
	assert.Equal(t, "go-inngest:v0.0.0", s.reqs[1].Header.Get(wire.HeaderSDK))

	_, err = hc.Get("http://elsewhere.invalid/v1/traces/userland")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only under "+s.URL)
	_, err = hc.Get(s.URL + "evil.example/x") // a host that merely starts like the base
	require.Error(t, err)
	assert.Equal(t, 2, s.count(), "nothing was sent outside the API")
}
