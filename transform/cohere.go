package transform

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// CohereBaseURL is the preset base URL of Cohere's API; Outgoing.Path ("/v2/chat") is relative to it.
const CohereBaseURL = "https://api.cohere.com"

// Cohere is the dialect of Cohere's v2 API: chat (POST /v2/chat, streamed as server-sent events whose data
// carry the event type: message-start, content-start/-delta/-end, tool-plan-delta, tool-call-start/-delta/
// -end, citation events, message-end with the usage), embeddings (POST /v2/embed) and rerank (POST
// /v2/rerank). Credential: Authorization: Bearer.
//
// Cohere's v2 messages are close to OpenAI's: roles system, user, assistant and tool, tool_calls and
// tool_call_id as OpenAI has them; developer messages are sent as system. top_p becomes p, top_k k, stop
// stop_sequences, max_completion_tokens max_tokens; response_format json_schema becomes
// {"type":"json_object","json_schema":…}; tool_choice "required" and "none" become REQUIRED and NONE, and a
// named function sends that tool alone with REQUIRED (Cohere cannot name one). The assistant's tool_plan and
// thinking content come back as reasoning_content. What does not translate: n > 1 (refused), logprobs,
// logit_bias, parallel_tool_calls, user (dropped).
type Cohere struct{}

var _ Dialect = (*Cohere)(nil)

// NewCohere returns the Cohere dialect.
func NewCohere() *Cohere { return &Cohere{} }

// Authorize sets Authorization: Bearer.
func (c *Cohere) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	return nil
}

// TranslateError turns Cohere's {"message":"…"} (or any other body) into an OpenAI-shaped error.
func (c *Cohere) TranslateError(status int, h http.Header, body []byte) *Error {
	msg := ""
	if CheckJSON(body) == nil {
		msg = gjson.GetBytes(body, "message").String()
	}
	if msg == "" {
		msg = bodySnippet(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	code := ""
	switch status {
	case http.StatusUnauthorized:
		code = "invalid_api_key"
		msg += " (check the API key configured for this Cohere provider)"
	case http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	case http.StatusNotFound:
		code = "model_not_found"
	case 498:
		status, code = http.StatusUnauthorized, "invalid_api_key"
	case 499:
		status = http.StatusBadGateway
	}
	e := NewError(status, TypeForStatus(status), code, "cohere: HTTP "+strconv.Itoa(status)+": "+msg)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// cohereFinishReason maps Cohere's finish_reason to OpenAI's.
func cohereFinishReason(r string) string {
	switch r {
	case "MAX_TOKENS":
		return finishLength
	case "TOOL_CALL":
		return finishToolCalls
	}
	return finishStop
}
