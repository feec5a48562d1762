package transform

import (
	"net/http"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Defaults for AnthropicOptions.
const (
	// defaultAnthropicMaxTokens is sent as max_tokens when the client set neither max_tokens nor
	// max_completion_tokens: Anthropic requires one.
	defaultAnthropicMaxTokens = 4096
	// defaultAnthropicVersion is the anthropic-version header value.
	defaultAnthropicVersion = "2023-06-01"
	// anthropicOverloadedRetry is the retry-after sent for an overload when Anthropic gave none.
	anthropicOverloadedRetry = time.Second
)

// AnthropicOptions configures the Anthropic dialect. Zero values mean the defaults.
type AnthropicOptions struct {
	// DefaultMaxTokens is used when the request has neither max_tokens nor max_completion_tokens.
	DefaultMaxTokens int
	// Version is the anthropic-version header value.
	Version string
	// Beta, when set, is sent as the anthropic-beta header (comma-separated feature names).
	Beta string
	// Betas, when not empty, are the only beta features a Messages API client may ask for in its
	// anthropic-beta header, which the Messages API passthrough otherwise forwards as it is; others are
	// removed from the header.
	Betas []string
}

// Anthropic speaks the Anthropic Messages API (POST /v1/messages). It translates OpenAI Chat Completions
// requests to Messages requests and Messages answers, streams and errors back.
//
// Request translation:
//   - system and developer messages become the top-level system prompt, joined by blank lines;
//   - tool messages become tool_result blocks; consecutive ones (and a user message right after them) share
//     one user message, tool results first;
//   - temperature is clamped to Anthropic's 0..1 range (OpenAI allows up to 2); when both temperature and
//     top_p are set, top_p is dropped, because current Claude models refuse both;
//   - response_format json_schema becomes output_config.format; json_object has no Anthropic equivalent and
//     becomes an instruction at the end of the system prompt to answer with one JSON object;
//   - reasoning_effort turns on extended thinking, thinking: {type: "enabled", budget_tokens: N}, with
//     N = 1024 for low, 8192 for medium, 24576 for high and 32000 for xhigh ("none" and "minimal": no
//     thinking; see anthropicThinkingBudget for when it stays off). max_tokens becomes N plus the tokens the
//     client asked for (or the default), so the budget does not eat the answer. With thinking on,
//     temperature and top_k are dropped and top_p is kept only from 0.95 to 1, as Anthropic requires;
//   - n > 1 is refused with a 400; logprobs, top_logprobs, seed, frequency_penalty, presence_penalty,
//     logit_bias and previous turns' reasoning_content are dropped: Anthropic has no equivalent;
//   - the non-standard fields thinking and top_k are passed through for clients that know Anthropic; a
//     thinking object wins over reasoning_effort.
//
// Responses carry thinking as reasoning_content. Anthropic does not report thinking tokens apart from output
// tokens, so reasoning tokens are 0 in usage. A refusal (stop_reason "refusal") finishes with
// content_filter, and message.refusal (delta.refusal when streamed, in its own chunk before the finish
// chunk) carries stop_details.explanation, or a sentence naming the category when there is none; the
// category (stop_details.category, e.g. "cyber" or "bio") goes in the non-standard refusal_category next to
// it.
type Anthropic struct {
	opts AnthropicOptions
}

// NewAnthropic returns the Anthropic dialect with opts, defaults filled in.
func NewAnthropic(opts AnthropicOptions) *Anthropic {
	if opts.DefaultMaxTokens <= 0 {
		opts.DefaultMaxTokens = defaultAnthropicMaxTokens
	}
	if opts.Version == "" {
		opts.Version = defaultAnthropicVersion
	}
	return &Anthropic{opts: opts}
}

// Authorize sets x-api-key, and anthropic-version and anthropic-beta when the request has none (a
// Messages API passthrough carries the client's).
func (a *Anthropic) Authorize(req *http.Request, apiKey string) error {
	req.Header.Set("x-api-key", apiKey)
	if req.Header.Get("anthropic-version") == "" {
		a.setVersionHeaders(req.Header)
	}
	return nil
}

func (a *Anthropic) setVersionHeaders(h http.Header) {
	h.Set("anthropic-version", a.opts.Version)
	if a.opts.Beta != "" {
		h.Set("anthropic-beta", a.opts.Beta)
	}
}

// TranslateError turns an Anthropic error response ({"type":"error","error":{"type","message"}}, or any
// other body) into an OpenAI-shaped error. 529 overloaded becomes 503 with a retry-after of at least the
// upstream's (1s when it gave none); 429 keeps the upstream's retry-after.
func (a *Anthropic) TranslateError(status int, h http.Header, body []byte) *Error {
	var typ, msg string
	if CheckJSON(body) == nil {
		typ = gjson.GetBytes(body, "error.type").String()
		msg = gjson.GetBytes(body, "error.message").String()
	}
	if msg == "" {
		msg = bodySnippet(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return anthropicError(status, typ, msg, h)
}

// anthropicError builds the OpenAI error for an Anthropic error of the given HTTP status (0 when it came
// inside a stream, 200 when it came as a successful answer) and error type.
func anthropicError(status int, typ, msg string, h http.Header) *Error {
	if st := anthropicStatusForType(typ); st != 0 && (status == 0 || status == http.StatusOK) {
		status = st
	}
	if status == 0 || status == http.StatusOK {
		status = http.StatusBadGateway
	}
	code := ""
	switch {
	case status == 529 || typ == "overloaded_error":
		status, code = http.StatusServiceUnavailable, "overloaded"
		msg += " (Anthropic is overloaded; retry later)"
	case typ == "rate_limit_error" || status == http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	case typ == "not_found_error" && strings.HasPrefix(msg, "model:"):
		code = "model_not_found"
	case typ == "authentication_error" || status == http.StatusUnauthorized:
		msg += " (check the API key configured for this Anthropic provider)"
	case typ == "billing_error", typ == "request_too_large", typ == "timeout_error":
		code = typ
	}
	e := &Error{Status: status, Type: TypeForStatus(status), Code: code, Message: "anthropic: " + redactKeys(msg)}
	if status == http.StatusTooManyRequests || status >= 500 {
		if h != nil {
			e.RetryAfter = parseRetryAfter(h, time.Now())
		}
		if code == "overloaded" && e.RetryAfter <= 0 {
			e.RetryAfter = anthropicOverloadedRetry
		}
	}
	return e
}

// anthropicStatusForType returns the HTTP status Anthropic uses for an error type, 0 when unknown.
func anthropicStatusForType(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "api_error":
		return http.StatusInternalServerError
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	}
	return 0
}

// anthropicFinishReason maps a Messages stop_reason to an OpenAI finish_reason.
func anthropicFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return finishLength
	case "tool_use":
		return finishToolCalls
	case "refusal":
		return finishContentFilter
	}
	return finishStop
}

// bodySnippet returns the start of a non-JSON error body as one line, for error messages.
func bodySnippet(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body[:min(len(body), max)]))
	return strings.Join(strings.Fields(s), " ")
}

// redactKeys replaces anything that looks like an API key ("sk-…") in an upstream message.
func redactKeys(msg string) string {
	i := strings.Index(msg, "sk-")
	if i < 0 {
		return msg
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(msg[:i])
		b.WriteString("sk-[redacted]")
		msg = msg[i+3:]
		end := strings.IndexAny(msg, " \t\n\"',;)")
		if end < 0 {
			end = len(msg)
		}
		msg = msg[end:]
		i = strings.Index(msg, "sk-")
	}
	b.WriteString(msg)
	return b.String()
}
