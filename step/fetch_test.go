package step_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

func TestFetchAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK: a POST that got an
	// answer, then a GET to a closed port that failed (the server retried
	// it before it recorded the error).
	c, _ := newClient(t)
	var resp *step.FetchResponse
	var fetchErr error
	fn(t, c, "fetch", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var err error
		resp, err = step.Fetch(ctx, "get", step.FetchRequest{
			URL:     "http://127.0.0.1:3940/echo?x=1",
			Method:  "POST",
			Headers: map[string]string{"X-Test": "yes"},
			Body:    `{"hello":"world"}`,
		})
		if err != nil {
			return nil, err
		}
		_, fetchErr = step.Fetch(ctx, "bad", step.FetchRequest{URL: "http://127.0.0.1:1/nothing"})
		return resp.StatusCode, nil
	})
	calls := loadCaptures(t, "server-fetch")
	require.Len(t, calls, 7)
	requireResponse(t, replay(t, c, calls[0]), 206,
		`[{"id":"783923e57ba5e8f1044632c31fd806ee24814bb5","op":"Gateway","name":"get","displayName":"get","opts":{"url":"http://127.0.0.1:3940/echo?x=1","method":"POST","headers":{"X-Test":"yes"},"body":"{\"hello\":\"world\"}"},"data":null,"userland":{"id":"get"}}]`)
	bad := `[{"id":"1902e3d6fc4e78a0bcc50ba12b882769afbf4a8c","op":"Gateway","name":"bad","displayName":"bad","opts":{"url":"http://127.0.0.1:1/nothing","method":"GET","body":""},"data":null,"userland":{"id":"bad"}}]`
	for i := 1; i <= 5; i++ {
		requireResponse(t, replay(t, c, calls[i]), 206, bad)
	}
	requireResponse(t, replay(t, c, calls[6]), 200, `200`)
	assert.Equal(t, &step.FetchResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Length": "62", "Content-Type": "text/plain; charset=utf-8", "Date": "Wed, 25 Nov 2026 13:28:31 GMT", "X-Echo": "1"},
		Body:       `{"method":"POST","xtest":"yes","body":"{\"hello\":\"world\"}"}`,
		URL:        "http://127.0.0.1:3940/echo?x=1",
	}, resp)
	var se *inngest.StepError
	require.ErrorAs(t, fetchErr, &se)
	assert.Equal(t, &inngest.StepError{StepID: "bad", Name: "GatewayError", Message: "Error making gateway request: Unable to reach SDK URL"}, se)
}

func TestFetchRejectsBadURLs(t *testing.T) {
	c, _ := newClient(t)
	for i, u := range []string{"", "/relative", "ftp://example.com/x", "http://"} {
		var got error
		id := "f" + string(rune('a'+i))
		fn(t, c, id, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, got = step.Fetch(ctx, "get", step.FetchRequest{URL: u})
			return nil, got
		})
		r := call{fn: id}.do(t, c)
		require.Error(t, got, u)
		assert.Contains(t, got.Error(), "URL")
		assert.True(t, inngest.IsNoRetryError(got))
		assert.Equal(t, 400, r.Status, r.Body)
	}
}

func TestFetchMemoWithoutData(t *testing.T) {
	c, _ := newClient(t)
	var got error
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.Fetch(ctx, "get", step.FetchRequest{URL: "https://example.com"})
		return nil, got
	})
	call{fn: "f", steps: map[string]string{hash("get"): `{}`}}.do(t, c)
	assert.True(t, inngest.IsNoRetryError(got), "%v", got)
}
