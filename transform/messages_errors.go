package transform

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// MessagesErrorType returns the Anthropic error type for an HTTP status.
func MessagesErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// IsMessagesError reports whether body is an Anthropic error body ({"type":"error","error":{"type",
// "message"}}), as the Anthropic API and the Messages surface send.
func IsMessagesError(body []byte) bool {
	if CheckJSON(body) != nil {
		return false
	}
	root := gjson.ParseBytes(body)
	return root.Get("type").Str == "error" && root.Get("error.type").Type == gjson.String &&
		root.Get("error.message").Type == gjson.String
}

// AppendMessagesError appends e as an Anthropic error body: {"type":"error","error":{"type","message"}},
// the type from e's status. An upstream body that already has Anthropic's shape (e.Raw from an Anthropic
// provider served by passthrough) is appended unchanged, since clients such as Claude Code decide retries from
// its wording; an OpenAI-shaped e.Raw gives its message.
func AppendMessagesError(dst []byte, e *Error) []byte {
	if e.Raw != nil && IsMessagesError(e.Raw) {
		return append(dst, e.Raw...)
	}
	msg := e.Message
	if msg == "" && e.Raw != nil {
		msg = gjson.GetBytes(e.Raw, "error.message").String()
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = AppendJSONString(dst, MessagesErrorType(e.Status))
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, msg)
	return append(dst, "}}"...)
}
