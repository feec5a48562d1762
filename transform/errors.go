package transform

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// Error is an OpenAI-shaped error: {"error":{"message","type","param","code"}}. It is what the client sees
// for every failure, whichever provider or part of the gateway produced it.
type Error struct {
	// Status is the HTTP status sent to the client.
	Status int
	// Message says what went wrong and, where possible, what to do about it. It never contains a credential.
	Message string
	// Type is OpenAI's error type, e.g. invalid_request_error, rate_limit_error, server_error.
	Type string
	// Param names the offending request field, if any.
	Param string
	// Code is OpenAI's error code, e.g. model_not_found, rate_limit_exceeded.
	Code string
	// RetryAfter, when positive, is sent as the retry-after header.
	RetryAfter time.Duration
	// Raw, when set, is an upstream error body that is already OpenAI-shaped and is sent unchanged.
	Raw []byte
	// Kind says whether the request reached the upstream; retry decisions read it, never Code.
	Kind ErrorKind
}

// ErrorKind tells failures that are an answer (from the upstream, or the gateway's own refusal) from those
// where no answer came: the request was never sent, or was sent and then failed. It decides retries the way
// reverse_proxy's DialError does: a request never sent is always safe to retry, one sent may have been billed.
type ErrorKind uint8

const (
	// KindAnswer is an error answered by the upstream or by the gateway itself: its Status decides retries.
	KindAnswer ErrorKind = iota
	// KindNotSent is a request that never reached the upstream (connecting failed): always safe to retry.
	KindNotSent
	// KindNoAnswer is a request that was sent and then failed without a usable answer (timeout, connection
	// reset, stream cut before its first event, no first token in time): the upstream may have billed it. It is
	// retried as the retry policy's "no response".
	KindNoAnswer
)

// StreamCut is the 502 upstream_stream_cut for an upstream stream that ended before it was complete.
func StreamCut(message string) *Error {
	return &Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_stream_cut", Message: message,
		Kind: KindNoAnswer}
}

// String names the kind for logs.
func (k ErrorKind) String() string {
	switch k {
	case KindNotSent:
		return "not_sent"
	case KindNoAnswer:
		return "no_answer"
	}
	return "answer"
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message == "" && e.Raw != nil {
		return gjson.GetBytes(e.Raw, "error.message").String()
	}
	return e.Message
}

// NewError returns an Error with the given status, type, code and message.
func NewError(status int, typ, code, message string) *Error {
	return &Error{Status: status, Type: typ, Code: code, Message: message}
}

// InvalidRequest returns a 400 invalid_request_error naming the offending field.
func InvalidRequest(param, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: message}
}

// AppendJSON appends the error object {"error":{...}}.
func (e *Error) AppendJSON(dst []byte) []byte {
	if e.Raw != nil {
		return append(dst, e.Raw...)
	}
	dst = append(dst, `{"error":{"message":`...)
	dst = AppendJSONString(dst, e.Message)
	dst = append(dst, `,"type":`...)
	dst = appendNullable(dst, e.Type)
	dst = append(dst, `,"param":`...)
	dst = appendNullable(dst, e.Param)
	dst = append(dst, `,"code":`...)
	dst = appendNullable(dst, e.Code)
	return append(dst, "}}"...)
}

// WriteHeaders sets the headers that go with the error: content type and retry-after.
func (e *Error) WriteHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
}

func appendNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return AppendJSONString(dst, s)
}

// badUpstream is the 502 for an upstream answer the gateway cannot read.
func badUpstream(msg string) *Error {
	return NewError(http.StatusBadGateway, "server_error", "bad_upstream_response", msg)
}

// TypeForStatus returns OpenAI's error type for an HTTP status.
func TypeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusServiceUnavailable:
		return "service_unavailable_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// parseRetryAfter reads retry-after-ms and retry-after (seconds or an HTTP date) from upstream headers.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
