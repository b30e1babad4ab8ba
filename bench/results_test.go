package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	official "github.com/inngest/inngestgo"
	officialstep "github.com/inngest/inngestgo/step"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// The result scenarios: steps that return what functions in the wild
// return. The values are the files in ../internal/wire/testdata/results,
// which the SDK's decoder benchmarks use too.

// kind is the type of what a step returns.
type kind int

const (
	kindStruct kind = iota // item: {"id":…,"name":…,"ok":…}
	kindMap                // map[string]any with four keys
	kindSlice              // []item with ten elements
	kindDoc                // order, a nested document of about 2 KiB
	kindString             // a 10 KiB string with escaped newlines
)

// resultSet is a function whose steps return the kinds in turn: step i
// returns kinds[i%len(kinds)].
type resultSet struct {
	name  string // the scenario's name: result=<name>
	fn    string // the function ID
	kinds []kind
}

var resultSets = []resultSet{
	{name: "map", fn: "results-map", kinds: []kind{kindMap}},
	{name: "slice", fn: "results-slice", kinds: []kind{kindSlice}},
	{name: "doc-2KiB", fn: "results-doc", kinds: []kind{kindDoc}},
	{name: "string-10KiB", fn: "results-string", kinds: []kind{kindString}},
	{name: "mix", fn: "results-mix", kinds: []kind{kindStruct, kindMap, kindSlice, kindDoc, kindString}},
}

// order is the shape of doc.json.
type order struct {
	ID       string `json:"id"`
	Created  string `json:"created"`
	Customer struct {
		ID      int    `json:"id"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Address struct {
			Street  string `json:"street"`
			City    string `json:"city"`
			Postal  string `json:"postal"`
			Country string `json:"country"`
		} `json:"address"`
		Tags []string `json:"tags"`
	} `json:"customer"`
	Lines []struct {
		SKU   string            `json:"sku"`
		Title string            `json:"title"`
		Qty   int               `json:"qty"`
		Price float64           `json:"price"`
		Attrs map[string]string `json:"attrs"`
	} `json:"lines"`
	Total float64        `json:"total"`
	Paid  bool           `json:"paid"`
	Meta  map[string]any `json:"meta"`
}

// results holds each kind's JSON and its value, decoded once with
// encoding/json; a new step returns the value.
type results struct {
	raw  [kindString + 1]json.RawMessage
	item item
	m    map[string]any
	list []item
	doc  order
	text string
}

var (
	fixturesOnce sync.Once
	fixtures     results
	fixturesErr  error
)

// loadFixtures reads the result files.
func loadFixtures(tb testing.TB) *results {
	tb.Helper()
	fixturesOnce.Do(func() {
		files := [...]string{kindStruct: "item.json", kindMap: "map.json", kindSlice: "slice.json", kindDoc: "doc.json", kindString: "string.json"}
		targets := [...]any{&fixtures.item, &fixtures.m, &fixtures.list, &fixtures.doc, &fixtures.text}
		for k, f := range files {
			b, err := os.ReadFile(filepath.Join("..", "internal", "wire", "testdata", "results", f))
			if err == nil {
				err = json.Unmarshal(b, targets[k])
			}
			if err != nil {
				fixturesErr = err
				return
			}
			fixtures.raw[k] = b
		}
	})
	if fixturesErr != nil {
		tb.Fatal(fixturesErr)
	}
	return &fixtures
}

// observe, when set (by TestSameAnswer only), is given every value a
// step returns, memoized or new, so the test can check that both SDKs
// decode the same values.
var observe func(k kind, v any)

func seen[T any](k kind, v T, err error) error {
	if observe != nil && err == nil {
		observe(k, v)
	}
	return err
}

// ourStep runs step id of kind k with this SDK.
func ourStep(ctx context.Context, fx *results, k kind, id string) error {
	switch k {
	case kindStruct:
		v, err := step.Run(ctx, id, func(context.Context) (item, error) { return fx.item, nil })
		return seen(k, v, err)
	case kindMap:
		v, err := step.Run(ctx, id, func(context.Context) (map[string]any, error) { return fx.m, nil })
		return seen(k, v, err)
	case kindSlice:
		v, err := step.Run(ctx, id, func(context.Context) ([]item, error) { return fx.list, nil })
		return seen(k, v, err)
	case kindDoc:
		v, err := step.Run(ctx, id, func(context.Context) (order, error) { return fx.doc, nil })
		return seen(k, v, err)
	default:
		v, err := step.Run(ctx, id, func(context.Context) (string, error) { return fx.text, nil })
		return seen(k, v, err)
	}
}

// officialStep runs step id of kind k with the official SDK.
func officialStep(ctx context.Context, fx *results, k kind, id string) error {
	switch k {
	case kindStruct:
		v, err := officialstep.Run(ctx, id, func(context.Context) (item, error) { return fx.item, nil })
		return seen(k, v, err)
	case kindMap:
		v, err := officialstep.Run(ctx, id, func(context.Context) (map[string]any, error) { return fx.m, nil })
		return seen(k, v, err)
	case kindSlice:
		v, err := officialstep.Run(ctx, id, func(context.Context) ([]item, error) { return fx.list, nil })
		return seen(k, v, err)
	case kindDoc:
		v, err := officialstep.Run(ctx, id, func(context.Context) (order, error) { return fx.doc, nil })
		return seen(k, v, err)
	default:
		v, err := officialstep.Run(ctx, id, func(context.Context) (string, error) { return fx.text, nil })
		return seen(k, v, err)
	}
}

// registerResults adds the result functions and the failing function
// with its failure handler to our client.
func registerResults(tb testing.TB, c *inngest.Client) {
	tb.Helper()
	fx := loadFixtures(tb)
	for _, rs := range resultSets {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: rs.fn}, inngest.EventTrigger("bench/"+rs.fn, nil),
			func(ctx context.Context, in inngest.Input[eventData]) (any, error) {
				for i, id := range stepIDs {
					if err := ourStep(ctx, fx, rs.kinds[i%len(rs.kinds)], id); err != nil {
						return nil, err
					}
				}
				return nil, nil
			})
		if err != nil {
			tb.Fatal(err)
		}
	}
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{
		ID: "fails",
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[eventData]) (any, error) {
			return step.Run(ctx, "notify", func(context.Context) (notice, error) {
				return notice{Function: f.FunctionID, Run: f.RunID, N: f.Event.Data.N, Error: f.Error.Message}, nil
			})
		}),
	}, inngest.EventTrigger("bench/fails", nil),
		func(ctx context.Context, in inngest.Input[eventData]) (any, error) {
			return nil, inngest.NoRetryError(context.Canceled)
		})
	if err != nil {
		tb.Fatal(err)
	}
}

// registerOfficialResults adds the same functions to the official
// client. It has no failure handlers: its users write a function
// triggered by inngest/function.failed for the failing function's ID,
// which is what this does.
func registerOfficialResults(tb testing.TB, c official.Client) {
	tb.Helper()
	fx := loadFixtures(tb)
	for _, rs := range resultSets {
		_, err := official.CreateFunction(c, official.FunctionOpts{ID: rs.fn}, official.EventTrigger("bench/"+rs.fn, nil),
			func(ctx context.Context, in official.Input[eventData]) (any, error) {
				for i, id := range stepIDs {
					if err := officialStep(ctx, fx, rs.kinds[i%len(rs.kinds)], id); err != nil {
						return nil, err
					}
				}
				return nil, nil
			})
		if err != nil {
			tb.Fatal(err)
		}
	}
	_, err := official.CreateFunction(c, official.FunctionOpts{ID: "fails-failure"},
		official.EventTrigger("inngest/function.failed", official.StrPtr("event.data.function_id == 'bench-fails'")),
		func(ctx context.Context, in official.Input[failedData]) (any, error) {
			d := in.Event.Data
			return officialstep.Run(ctx, "notify", func(context.Context) (notice, error) {
				return notice{Function: d.FunctionID, Run: d.RunID, N: d.Event.Data.N, Error: d.Error.Message}, nil
			})
		})
	if err != nil {
		tb.Fatal(err)
	}
}

// notice is what the failure handler's step returns.
type notice struct {
	Function string `json:"function"`
	Run      string `json:"run"`
	N        int    `json:"n"`
	Error    string `json:"error"`
}

// failedData is the data of an inngest/function.failed event, as an
// official SDK user declares it.
type failedData struct {
	FunctionID string `json:"function_id"`
	RunID      string `json:"run_id"`
	Error      struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"error"`
	Event official.GenericEvent[eventData] `json:"event"`
}

// resultsRequest memoizes the first n steps of rs's function.
func resultsRequest(tb testing.TB, rs resultSet, n int) request {
	fx := loadFixtures(tb)
	memos := make([]json.RawMessage, n)
	for i := range memos {
		memos[i] = json.RawMessage(`{"data":` + string(fx.raw[rs.kinds[i%len(rs.kinds)]]) + `}`)
	}
	return buildRequest(tb, rs.fn, stepIDs[:n], memos, stepIDs[:n+1])
}

// failedEvent is the inngest/function.failed event the server sends a
// failure handler (its shape as recorded from the dev server).
const failedEvent = `{"data":{"_inngest":{"status":"Failed"},"error":{"error":"NonRetriableError","message":"unhandled step error: card declined","name":"Error"},` +
	`"event":{"data":{"n":1},"id":"01M89CTBSFKHDZQQ7MR6TMT4C1","name":"bench/fails","ts":1795611766575,"user":{}},` +
	`"events":[{"data":{"n":1},"id":"01M89CTBSFKHDZQQ7MR6TMT4C1","name":"bench/fails","ts":1795611766575}],` +
	`"function_id":"bench-fails","result":{"message":"unhandled step error: card declined"},"run_id":"01M89CTBZPCSVRVJH4BX7HVATX"},` +
	`"id":"01M89CTBZPCSVRVJH4BX7HVATX","name":"inngest/function.failed","ts":1795611768278,"user":{}}`

// failureRequest is the first call of the failure handler's run: no
// state, and the handler's one step runs at once.
func failureRequest(tb testing.TB) request {
	return buildEventRequest(tb, "fails-failure", json.RawMessage(failedEvent), nil, nil, []string{"notify"})
}

// checkObserved runs fn with observe set and fails unless every value a
// step returned equals its fixture, and there were want of them.
func checkObserved(t *testing.T, want int, fn func()) {
	t.Helper()
	fx := loadFixtures(t)
	values := [...]any{kindStruct: fx.item, kindMap: fx.m, kindSlice: fx.list, kindDoc: fx.doc, kindString: fx.text}
	got := 0
	observe = func(k kind, v any) {
		got++
		if !reflect.DeepEqual(v, values[k]) {
			t.Errorf("a step of kind %d returned %v, want %v", k, truncate([]byte(stringOf(v))), truncate([]byte(stringOf(values[k]))))
		}
	}
	defer func() { observe = nil }()
	fn()
	if got != want {
		t.Errorf("%d steps returned values, want %d", got, want)
	}
}

func stringOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
