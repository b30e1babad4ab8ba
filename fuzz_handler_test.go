package inngest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
)

// fuzzHandler returns the handler of an app with hardFunctions, talking
// to a fake API that answers every request successfully.
func fuzzHandler(f *testing.F, mode inngest.Mode) http.Handler {
	api := testkit.NewFakeAPI(f, okAPI)
	opts := inngest.ClientOpts{Mode: mode, APIBaseURL: api.URL, EventAPIBaseURL: api.URL, EventKey: hardEventKey}
	if mode == inngest.ModeCloud {
		opts.SigningKey, opts.SigningKeyFallback = hardKey, hardKeyFB
	}
	c := testClient(f, opts)
	hardFunctions(f, c)
	return c.Serve()
}

// fuzzTarget builds a call URL: sel picks the fnId (composite, bare,
// another function, a companion, missing, unknown) or the trust probe.
func fuzzTarget(sel uint8, stepID string) string {
	q := url.Values{}
	switch sel % 7 {
	case 0:
		q.Set("fnId", "hard-seq")
	case 1:
		q.Set("fnId", "seq")
	case 2:
		q.Set("fnId", "hard-typed")
	case 3:
		q.Set("fnId", "hard-seq-failure")
	case 4:
	case 5:
		q.Set("fnId", "hard-nope")
	case 6:
		q.Set("probe", "trust")
	}
	q.Set("stepId", stepID)
	return "/api/inngest?" + q.Encode()
}

// addCallSeeds adds bodies close to what the server sends.
func addCallSeeds(f *testing.F, add func(body []byte, sel uint8, stepID string)) {
	seeds := [][]byte{
		callBody(f, hardData{N: 1}, nil, nil),
		callBody(f, hardData{N: 2}, map[string]json.RawMessage{seqSteps[0].hash: json.RawMessage(`{"data":2}`)}, nil),
		callBody(f, hardData{N: 3, Mode: "panic"}, nil, nil),
		callBody(f, hardData{N: 3, Mode: "noretry"}, nil, nil),
		callBody(f, hardData{N: 3, Mode: "retryat"}, nil, nil),
		callBody(f, hardData{N: 4}, nil, func(r *wire.Request) { r.UseAPI = true }),
		callBody(f, map[string]any{"function_id": "hard-seq", "run_id": "R", "error": map[string]any{"name": "Error", "message": "x"}, "event": map[string]any{"name": "hard/seq", "data": map[string]any{"n": 1}}}, nil, nil),
		[]byte(`{"steps":[],"ctx":"x"}`),
		[]byte(`{"ctx":{"attempt":"1"}}`),
		[]byte(`{"event":{"data":{"count":"two"}}}`),
		[]byte(`null`),
		[]byte(``),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":"not an int"}}}`),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"error":{"name":"E","message":"m"}}}}`),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"input":[{"n":9}]}}}`),
	}
	for i, b := range seeds {
		add(b, uint8(i), "step")
	}
	add(seeds[1], 0, seqSteps[2].hash)
	add(seeds[0], 0, seqSteps[0].hash)
}

// FuzzCallDev posts arbitrary bodies to arbitrary functions in dev mode,
// where nothing is signed: every answer is well formed.
func FuzzCallDev(f *testing.F) {
	h := fuzzHandler(f, inngest.ModeDev)
	addCallSeeds(f, func(b []byte, sel uint8, stepID string) { f.Add(b, sel, stepID) })
	f.Fuzz(func(t *testing.T, body []byte, sel uint8, stepID string) {
		rec := serve(h, httptest.NewRequest(http.MethodPost, fuzzTarget(sel, stepID), bytes.NewReader(body)))
		requireWellFormed(t, rec)
		require.NotEqual(t, http.StatusUnauthorized, rec.Code, "dev mode verifies nothing")
	})
}

// FuzzCallCloud posts arbitrary bodies in cloud mode, signed with the
// primary key, the fallback key, another key, or with an arbitrary
// header. Only the first two get past verification.
func FuzzCallCloud(f *testing.F) {
	h := fuzzHandler(f, inngest.ModeCloud)
	addCallSeeds(f, func(b []byte, sel uint8, stepID string) {
		for mode := range uint8(4) {
			f.Add(b, sel, stepID, mode, "t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954")
		}
	})
	f.Fuzz(func(t *testing.T, body []byte, sel uint8, stepID string, sigMode uint8, header string) {
		req := httptest.NewRequest(http.MethodPost, fuzzTarget(sel, stepID), bytes.NewReader(body))
		now := time.Now()
		switch sigMode % 4 {
		case 0:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKey, now, body))
		case 1:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKeyFB, now, body))
		case 2:
			req.Header.Set("X-Inngest-Signature", sign(t, hardOtherKey, now, body))
		case 3:
			req.Header.Set("X-Inngest-Signature", header)
		}
		rec := serve(h, req)
		requireWellFormed(t, rec)
		if sigMode%4 >= 2 {
			require.Equal(t, http.StatusUnauthorized, rec.Code, "a request not signed with a known key is refused: %s", rec.Body)
		} else {
			require.NotEqual(t, http.StatusUnauthorized, rec.Code, "a correctly signed request is not refused: %s", rec.Body)
		}
	})
}

// FuzzSync sends arbitrary sync requests (body, Host, query, in-band or
// not) in dev and cloud mode.
func FuzzSync(f *testing.F) {
	dev := fuzzHandler(f, inngest.ModeDev)
	cloud := fuzzHandler(f, inngest.ModeCloud)
	for _, b := range []string{`{"url":"http://127.0.0.1:3000/api/inngest"}`, `{"url":""}`, `{}`, `[]`, ``, `{"url":"::"}`, `{"url":"http://[::1"}`} {
		for _, inBand := range []bool{false, true} {
			f.Add([]byte(b), inBand, "example.com", "deployId=d1", uint8(0))
			f.Add([]byte(b), inBand, "", "", uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, inBand bool, host, query string, mode uint8) {
		req := httptest.NewRequest(http.MethodPut, "/api/inngest", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Host = host
		if inBand {
			req.Header.Set("X-Inngest-Sync-Kind", "in_band")
		}
		h := dev
		if mode%3 != 0 {
			h = cloud
			if mode%3 == 1 {
				req.Header.Set("X-Inngest-Signature", sign(t, hardKey, time.Now(), body))
			}
		}
		rec := serve(h, req)
		requireWellFormed(t, rec)
		if mode%3 == 2 {
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.NotContains(t, rec.Body.String(), "functions", "an unsigned sync learns nothing about the app")
		}
	})
}

// FuzzIntrospection sends GET and HEAD requests with arbitrary signature
// headers: the authenticated body appears exactly when the header is a
// valid signature of the empty body.
func FuzzIntrospection(f *testing.F) {
	h := fuzzHandler(f, inngest.ModeCloud)
	f.Add("", uint8(0))
	f.Add("t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954", uint8(0))
	f.Add("t=&s=", uint8(0))
	f.Add("s=00&t=99999999999999999999", uint8(0))
	f.Add("t=1;s=2", uint8(0))
	f.Add("", uint8(1))
	f.Add("", uint8(2))
	f.Add("", uint8(3))
	f.Fuzz(func(t *testing.T, header string, mode uint8) {
		method := http.MethodGet
		if mode&4 != 0 {
			method = http.MethodHead
		}
		req := httptest.NewRequest(method, "/api/inngest", nil)
		valid := false
		switch mode % 4 {
		case 0:
			req.Header.Set("X-Inngest-Signature", header)
		case 1:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKey, time.Now(), nil))
			valid = true
		case 2:
			req.Header.Set("X-Inngest-Signature", sign(t, hardKeyFB, time.Now(), nil))
			valid = true
		case 3:
			req.Header.Set("X-Inngest-Signature", sign(t, hardOtherKey, time.Now(), nil))
		}
		rec := serve(h, req)
		require.Equal(t, http.StatusOK, rec.Code)
		requireWellFormed(t, rec)
		var m map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
		_, detailed := m["signing_key_hash"]
		require.Equal(t, valid, detailed, "authenticated details only for a valid signature: %s", rec.Body)
		switch {
		case valid:
			require.Equal(t, true, m["authentication_succeeded"])
		case req.Header.Get("X-Inngest-Signature") == "":
			require.Nil(t, m["authentication_succeeded"])
		default:
			require.Equal(t, false, m["authentication_succeeded"])
		}
		requireNoSecrets(t, rec.Body.String(), valid)
	})
}

// FuzzReplay calls seqFn with arbitrary memoized state: each step is
// absent, validly memoized, memoized with fuzzed JSON, a stored error, or
// an {"input": …} entry, with a fuzzed target step, attempt and
// immediate-execution flag. The answer must be exactly what a replay of
// the steps in code order gives: the first step without a result is the
// one reported or run, a memo that does not fit is a non-retriable error
// naming its step, and when every step has a result the function's
// return value is the answer. No step is lost or run twice.
func FuzzReplay(f *testing.F) {
	h := fuzzHandler(f, inngest.ModeDev)
	f.Add(uint64(0), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o22222222), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o02222222), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(4), uint8(5), false)
	f.Add(uint64(0o02222222), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(7), uint8(1), uint8(5), false)
	f.Add(uint64(0o00222222), []byte(`null`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o23222222), []byte(`null`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o24222222), []byte(`null`), []byte(`{"name":1}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o0000002), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(2), uint8(0), uint8(0), true)
	f.Add(uint64(0o3), []byte(`{"data":"no"}`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o6), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o7), []byte(`1`), []byte(`{}`), []byte(`"x"`), uint8(9), uint8(0), uint8(0), false)
	f.Add(uint64(0o522)|1<<63, []byte(`{"data":{"x":1}}`), []byte(`{"error":"driver"}`), []byte(`{"data":{"x":"1"}}`), uint8(3), uint8(0), uint8(0), false)
	f.Fuzz(func(t *testing.T, sel uint64, v1, v2, v3 []byte, target, attempt, maxAttempts uint8, disable bool) {
		steps := map[string]json.RawMessage{}
		var stack []string
		vals := [][]byte{v1, v2, v3}
		for i, s := range seqSteps {
			var raw string
			switch code := (sel >> (3 * i)) & 7; code {
			case 2:
				raw = s.valid
			case 3, 4, 5:
				if v := vals[code-3]; json.Valid(v) {
					raw = string(v)
				}
			case 6:
				raw = `{"error":{"name":"StoredError","message":"stored failure"}}`
			case 7:
				raw = `{"input":[{"n":9}]}`
			}
			if raw != "" {
				steps[s.hash] = json.RawMessage(raw)
				stack = append(stack, s.hash)
			}
		}
		if sel&(1<<63) != 0 && json.Valid(v1) {
			steps[strings.Repeat("0", 40)] = json.RawMessage(v1)
		}
		targetHash := ""
		switch ti := int(target % 10); {
		case ti < len(seqSteps):
			targetHash = seqSteps[ti].hash
		case ti == 8:
			targetHash = strings.Repeat("f", 40)
		}
		body := callBody(t, hardData{N: 5}, steps, func(r *wire.Request) {
			r.Ctx.Attempt = int(attempt % 6)
			r.Ctx.MaxAttempts = int(maxAttempts % 6)
			r.Ctx.DisableImmediateExecution = disable
			r.Ctx.Stack = wire.Stack{Stack: stack, Current: len(stack)}
		})
		stepID := targetHash
		if stepID == "" {
			stepID = "step"
		}
		rec := serve(h, httptest.NewRequest(http.MethodPost, fuzzTarget(0, stepID), bytes.NewReader(body)))
		got := requireWellFormed(t, rec)
		want := replayModel(steps, targetHash, disable, int(attempt%6), int(maxAttempts%6), 5)
		want.check(t, rec, got)
	})
}

// replayWant is what replayModel expects of one call.
type replayWant struct {
	status  int
	noRetry string // expected X-Inngest-No-Retry, "" for none
	op      string // 206: the one opcode
	opID    string
	opData  string // StepRun: the result JSON
	errStep string // 400: the step the error names
	errName string // 400: the error name
	result  string // 200: the body
}

func (w replayWant) check(t *testing.T, rec *httptest.ResponseRecorder, got any) {
	t.Helper()
	require.Equal(t, w.status, rec.Code, "body: %s", rec.Body)
	require.Equal(t, w.noRetry, rec.Header().Get("X-Inngest-No-Retry"), "body: %s", rec.Body)
	switch w.status {
	case http.StatusOK:
		require.JSONEq(t, w.result, rec.Body.String())
	case http.StatusPartialContent:
		ops := got.([]any)
		require.Len(t, ops, 1, "a sequential function reports one step: %s", rec.Body)
		op := ops[0].(map[string]any)
		require.Equal(t, w.op, op["op"], "body: %s", rec.Body)
		require.Equal(t, w.opID, op["id"], "body: %s", rec.Body)
		if w.opData != "" {
			data, err := json.Marshal(op["data"])
			require.NoError(t, err)
			require.JSONEq(t, w.opData, string(data))
		}
	case http.StatusBadRequest:
		var e struct {
			Name    string `json:"name"`
			Message string `json:"message"`
			Data    struct {
				StepID string `json:"step_id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Equal(t, w.errName, e.Name, "body: %s", rec.Body)
		if w.errName == "NonRetriableError" {
			require.Contains(t, e.Message, `step "`+w.errStep+`"`, "the error names the step")
		} else {
			require.Equal(t, w.errStep, e.Data.StepID, "body: %s", rec.Body)
		}
	case http.StatusInternalServerError:
		require.Contains(t, rec.Body.String(), "Could not find step")
	}
}

// isInputMemo reports whether raw is an {"input": …} entry, which holds
// replacement input rather than a result.
func isInputMemo(raw json.RawMessage) bool {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	var m wire.Memo
	return json.Unmarshal(raw, &m) == nil && m.Input != nil && m.Data == nil && m.Error == nil
}

// replayModel replays seqFn's steps in code order over steps, as the
// protocol describes, and returns the expected answer.
func replayModel(steps map[string]json.RawMessage, target string, disable bool, attempt, maxAttempts, n int) replayWant {
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	vals := map[string]any{}
	for _, s := range seqSteps {
		raw, ok := steps[s.hash]
		if ok && isInputMemo(raw) {
			ok = false
		}
		if ok {
			switch s.kind {
			case kindSleep:
				continue
			case kindWait:
				v, err := s.decode(raw)
				if err != nil {
					return replayWant{status: 400, noRetry: "true", errName: "NonRetriableError", errStep: s.id}
				}
				vals[s.hash] = v
				continue
			}
			var m wire.Memo
			if json.Unmarshal(raw, &m) != nil {
				return replayWant{status: 400, noRetry: "true", errName: "NonRetriableError", errStep: s.id}
			}
			if m.Error != nil {
				name := m.Error.Name
				if name == "" {
					name = "Error"
				}
				return replayWant{status: 400, noRetry: "true", errName: name, errStep: s.id}
			}
			v, err := s.decode(m.Data)
			if err != nil {
				return replayWant{status: 400, noRetry: "true", errName: "NonRetriableError", errStep: s.id}
			}
			vals[s.hash] = v
			continue
		}
		runnable := s.kind == kindRun || s.kind == kindFail
		runs := runnable && (target == s.hash || (target == "" && !disable))
		if target != "" && !runs {
			return replayWant{status: 500, noRetry: "false"}
		}
		if !runs {
			op := map[hardStepKind]string{kindRun: wire.OpStepPlanned, kindFail: wire.OpStepPlanned, kindSleep: wire.OpSleep, kindWait: wire.OpWaitForEvent}[s.kind]
			return replayWant{status: 206, op: op, opID: s.hash}
		}
		if s.kind == kindFail {
			if attempt+1 >= maxAttempts {
				return replayWant{status: 206, noRetry: "true", op: wire.OpStepFailed, opID: s.hash}
			}
			return replayWant{status: 206, noRetry: "false", op: wire.OpStepError, opID: s.hash}
		}
		data := s.result
		switch s.id {
		case "a":
			data = itoa(n)
		case "b":
			b, _ := json.Marshal(hardPair{X: vals[seqSteps[0].hash].(int) + 1, S: "b"})
			data = string(b)
		}
		return replayWant{status: 206, op: wire.OpStepRun, opID: s.hash, opData: data}
	}
	if target != "" {
		return replayWant{status: 500, noRetry: "false"}
	}
	res, _ := json.Marshal(hardResult{
		A:        vals[seqSteps[0].hash].(int),
		B:        vals[seqSteps[2].hash].(hardPair),
		Loops:    []string{vals[seqSteps[3].hash].(string), vals[seqSteps[4].hash].(string)},
		Approval: vals[seqSteps[6].hash].(string),
		C:        vals[seqSteps[7].hash].(int),
	})
	return replayWant{status: 200, result: string(res)}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
