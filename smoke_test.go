package inngest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

func TestSmoke(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	if err != nil {
		t.Fatal(err)
	}
	type D struct{ N int `json:"n"` }
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger("demo/steps", nil),
		func(ctx context.Context, in inngest.Input[D]) (any, error) {
			a, err := step.Run(ctx, "a", func(ctx context.Context) (D, error) { return D{in.Event.Data.N}, nil })
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) { return a.N + 1, nil })
			return map[string]any{"a": a, "b": b}, err
		})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Serve())
	defer srv.Close()
	for _, body := range []string{
		`{"ctx":{"attempt":0,"disable_immediate_execution":false,"env":"","fn_id":"x","max_attempts":5,"run_id":"R","stack":{"current":0,"stack":[]},"step_id":"step","use_api":false},"event":{"data":{"n":1},"id":"E","name":"demo/steps","ts":1,"user":{}},"events":[{"data":{"n":1},"id":"E","name":"demo/steps","ts":1,"user":{}}],"steps":{},"use_api":false,"version":-1}`,
		`{"ctx":{"attempt":0,"max_attempts":5,"run_id":"R","stack":{"current":1,"stack":["86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"]},"step_id":"step"},"event":{"data":{"n":1},"id":"E","name":"demo/steps","ts":1,"user":{}},"events":[],"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":{"n":1}}},"version":2}`,
		`{"ctx":{"attempt":0,"max_attempts":5,"run_id":"R","stack":{"current":1,"stack":[]},"step_id":"step"},"event":{"data":{"n":1},"id":"E","name":"demo/steps","ts":1,"user":{}},"events":[],"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":{"n":1}},"c2640f79b4ed481b838ce4ad75330aa3f825d4d9":null},"version":2}`,
		`{"ctx":{"attempt":0,"max_attempts":5,"run_id":"R","stack":{"current":1,"stack":[]},"step_id":"step"},"event":{"data":{"n":1},"id":"E","name":"demo/steps","ts":1,"user":{}},"events":[],"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":{"n":1}},"c2640f79b4ed481b838ce4ad75330aa3f825d4d9":null,"e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98":{"data":2}},"version":2}`,
	} {
		resp, err := http.Post(srv.URL+"?fnId=demo-steps&stepId=step", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		t.Logf("%d %v %s", resp.StatusCode, resp.Header, b)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, _ := http.DefaultClient.Do(req)
	b, _ := io.ReadAll(resp.Body)
	t.Logf("%d %s", resp.StatusCode, b)
}
