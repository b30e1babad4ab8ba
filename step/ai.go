package step

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// AIFormat is the API format of a model request: it tells Inngest how to
// authenticate the request and how to read its usage for the run view.
type AIFormat string

// The formats Inngest knows. Many providers (Groq, Mistral, Together,
// Ollama, vLLM, OpenRouter…) speak the OpenAI chat-completions format.
const (
	// AIOpenAIChat is the OpenAI chat-completions format; the key is sent
	// as "Authorization: Bearer <key>". It is the default.
	AIOpenAIChat AIFormat = "openai-chat"
	// AIAnthropic is Anthropic's messages format; the key is sent as
	// "x-api-key: <key>".
	AIAnthropic AIFormat = "anthropic"
	// AIGemini is Google's Gemini generateContent format; the key is sent
	// as the "key" query parameter.
	AIGemini AIFormat = "gemini"
	// AIBedrock is Amazon Bedrock's format; the key, already signed, is
	// sent as the "Authorization" header.
	AIBedrock AIFormat = "bedrock"
)

// The providers' public endpoints, used when an InferRequest of the
// format sets no URL.
const (
	OpenAIChatURL        = "https://api.openai.com/v1/chat/completions"
	AnthropicMessagesURL = "https://api.anthropic.com/v1/messages"
	// GeminiURLPrefix is followed by "<model>:generateContent", as in
	// GeminiURLPrefix + "gemini-2.0-flash:generateContent".
	GeminiURLPrefix = "https://generativelanguage.googleapis.com/v1beta/models/"
)

// anthropicVersion is the API version sent to Anthropic when the request
// names none: the API refuses a request without one.
const anthropicVersion = "2023-06-01"

// InferRequest is a model request that Inngest makes for the function.
// Body is the provider's request: an OpenAIChatRequest, AnthropicRequest
// or GeminiRequest, a json.RawMessage, or any type that encodes as the
// JSON object the provider expects.
//
// APIKey travels to Inngest with the request (Inngest adds it to the
// request as Format says, and does not store it) and nowhere else: it is
// left out of the request's JSON and of its String form (which also
// leaves out the headers' values, which may hold credentials too), and
// is removed from the errors Infer returns.
type InferRequest[Body any] struct {
	// URL is the provider's endpoint. It defaults to OpenAIChatURL or
	// AnthropicMessagesURL for those formats and is required for the
	// others.
	URL string
	// Format is the request's API format; empty means AIOpenAIChat.
	Format AIFormat
	// APIKey is the provider's API key, if it needs one.
	APIKey string `json:"-"`
	// Headers are extra headers sent with the request (such as
	// "anthropic-version", which defaults to 2023-06-01 for Anthropic).
	Headers map[string]string
	// Body is the provider's request.
	Body Body
}

// String describes the request without its API key or header values.
func (r InferRequest[Body]) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step.InferRequest{URL: %q, Format: %q", r.URL, r.Format)
	if r.APIKey != "" {
		b.WriteString(", APIKey: [redacted]")
	}
	if len(r.Headers) > 0 {
		names := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, ", Headers: %v (values redacted)", names)
	}
	b.WriteString("}")
	return b.String()
}

// inferOpts is the AIGateway opcode's opts, as the server reads them.
type inferOpts struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	AuthKey string            `json:"auth_key,omitempty"`
	Format  AIFormat          `json:"format"`
	Body    json.RawMessage   `json:"body"`
}

// Infer has Inngest make the model request req and returns the
// provider's response, decoded from JSON into Resp (an
// OpenAIChatResponse, AnthropicResponse, GeminiResponse, a
// json.RawMessage, or any type that fits the provider's answer). The
// function is paused, not running, while the model works, and the
// request and response are recorded in the run.
//
// A request the provider refuses (an HTTP status over 299) or that
// cannot be made is retried like a step, with the function's retries.
// When they run out, Infer returns a *inngest.StepError whose Message
// has the HTTP status and the provider's error message, and whose Data
// holds the provider's answer.
func Infer[Resp, Body any](ctx context.Context, id string, req InferRequest[Body]) (Resp, error) {
	var zero Resp
	r, parallel, err := from(ctx, id)
	if err != nil {
		return zero, err
	}
	s := r.Next(id)
	if raw, ok := r.Memo(s); ok {
		return decodeInfer[Resp](s, raw, req.APIKey)
	}
	op, err := inferOp(id, req)
	if err != nil {
		return zero, err
	}
	if r.Decide(s, parallel, false) == replay.Report {
		o := s.Op(wire.OpAIGateway)
		o.Opts = op
		r.Add(o)
	}
	return zero, r.Stop()
}

// inferOp checks req and returns the opcode's opts.
func inferOp[Body any](id string, req InferRequest[Body]) (inferOpts, error) {
	const tool = "Infer"
	format := req.Format
	if format == "" {
		format = AIOpenAIChat
	}
	target := req.URL
	switch format {
	case AIOpenAIChat:
		if target == "" {
			target = OpenAIChatURL
		}
	case AIAnthropic:
		if target == "" {
			target = AnthropicMessagesURL
		}
	case AIGemini, AIBedrock:
		if target == "" {
			return inferOpts{}, optsError(tool, id, "InferRequest.URL is required for the %s format", format)
		}
	default:
		return inferOpts{}, optsError(tool, id, "InferRequest.Format %q is not one Inngest knows (AIOpenAIChat, AIAnthropic, AIGemini, AIBedrock); OpenAI-compatible providers use AIOpenAIChat", format)
	}
	if h := keyHeader(format); h != "" && hasHeader(req.Headers, h) {
		// Inngest adds the key's header and then the extra headers, so
		// the provider would get two.
		return inferOpts{}, optsError(tool, id, "InferRequest.Headers sets %q, which Inngest sets from APIKey for the %s format: set APIKey instead", h, format)
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return inferOpts{}, optsError(tool, id, "InferRequest.URL %q must be an absolute http(s) URL", target)
	}
	body, err := jsonObject(req.Body)
	if err != nil {
		return inferOpts{}, optsError(tool, id, "InferRequest.Body (%T): %v", req.Body, err)
	}
	headers := req.Headers
	if format == AIAnthropic && !hasHeader(headers, "anthropic-version") {
		headers = make(map[string]string, len(req.Headers)+1)
		for k, v := range req.Headers {
			headers[k] = v
		}
		headers["anthropic-version"] = anthropicVersion
	}
	return inferOpts{URL: target, Headers: headers, AuthKey: req.APIKey, Format: format, Body: body}, nil
}

// keyHeader is the header that carries the API key in format, if one
// does.
func keyHeader(format AIFormat) string {
	switch format {
	case AIAnthropic:
		return "x-api-key"
	case AIGemini:
		return ""
	}
	return "Authorization"
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// decodeInfer decodes a memoized AIGateway result: {"data": <the
// provider's answer>} or {"error": …}.
func decodeInfer[Resp any](s replay.Step, raw json.RawMessage, key string) (Resp, error) {
	var zero Resp
	var m struct {
		Data  json.RawMessage `json:"data"`
		Error *wire.MemoError `json:"error"`
	}
	if err := wire.Unmarshal(raw, &m); err != nil {
		return zero, memoMismatch[Resp](s, err)
	}
	if m.Error != nil {
		return zero, inferError(s, m.Error, key)
	}
	if isNull(m.Data) {
		return zero, memoMismatch[Resp](s, errMissingData)
	}
	var v Resp
	if err := wire.Unmarshal(m.Data, &v); err != nil {
		return zero, memoMismatch[Resp](s, err)
	}
	return v, nil
}

// inferError is the StepError of a failed model request. The server's
// message says the HTTP status; the provider's own message, read from
// its answer (in the error's data), is added to it. The API key is
// removed from every field, in case the provider's answer echoed it.
func inferError(s replay.Step, e *wire.MemoError, key string) *inngest.StepError {
	se := stepError(s, e)
	if msg := providerMessage(e.Data); msg != "" && !strings.Contains(se.Message, msg) {
		se.Message += ": " + msg
	}
	if len(key) >= 4 {
		const mask = "[redacted]"
		se.Message = strings.ReplaceAll(se.Message, key, mask)
		se.Stack = strings.ReplaceAll(se.Stack, key, mask)
		if len(se.Data) > 0 {
			// The key is JSON-escaped in the data as it would be in a
			// string, so the replacement keeps the JSON valid.
			k, _ := json.Marshal(key)
			se.Data = []byte(strings.ReplaceAll(string(se.Data), strings.Trim(string(k), `"`), mask))
		}
	}
	return se
}

// providerMessage reads the error message of a provider's answer: OpenAI,
// Anthropic and Gemini all answer {"error": {"message": …}}; some
// compatible servers answer {"error": "…"} or {"message": "…"}.
func providerMessage(data json.RawMessage) string {
	if len(data) == 0 {
		return ""
	}
	var m struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m.Error, &s) == nil && s != "" {
		return s
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(m.Error, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	return m.Message
}

// wrapOpts is a StepRun opcode's opts for a wrapped model call: the
// server shows the input beside the step's output in the run view and
// counts the step as an AI call.
type wrapOpts struct {
	Type  string          `json:"type"`
	Input json.RawMessage `json:"input"`
}

// WrapAI runs fn, the function's own model call (through any provider's
// SDK), as a step named id: like Run, it runs once, with retries on
// error, and returns the recorded result afterwards. Inngest also
// records input, the request fn is given, beside the result, and shows
// the step as an AI call in the run view. input and the result must
// encode as JSON; keep secrets such as API keys out of both (a client
// made outside the step holds them).
func WrapAI[In, Out any](ctx context.Context, id string, input In, fn func(ctx context.Context, input In) (Out, error)) (Out, error) {
	var zero Out
	b, err := wire.Marshal([]In{input})
	if err != nil {
		return zero, inngest.NoRetryError(fmt.Errorf("step.WrapAI %q: encoding its input (%T) as JSON: %w", id, input, err))
	}
	return run(ctx, id, wrapOpts{Type: "step.ai.wrap", Input: b}, func(ctx context.Context) (Out, error) {
		return fn(ctx, input)
	})
}
