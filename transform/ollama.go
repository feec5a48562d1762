package transform

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// OllamaBaseURL is the preset base URL of a local Ollama server; Outgoing.Path ("/api/chat") is relative to it.
const OllamaBaseURL = "http://127.0.0.1:11434"

// OllamaOptions configures the native Ollama dialect.
type OllamaOptions struct {
	// KeepAlive, when set, is sent as keep_alive: how long Ollama keeps the model loaded after the request,
	// a Go duration ("5m", "1h", "0s" to unload at once, a negative one such as "-1m" for ever; Ollama
	// refuses a string without a unit such as "-1"). Empty leaves the server's default.
	KeepAlive string
}

// Ollama is the dialect of Ollama's native chat API (POST /api/chat), whose streams are newline-delimited
// JSON rather than server-sent events. Ollama's OpenAI-compatible /v1 endpoint stays the default for Ollama;
// this dialect is for features only the native API has (keep_alive, format with a schema on old servers,
// thinking text) and for Ollama Cloud.
//
// What does not translate: tool_choice other than "none" (Ollama lets the model decide; "none" sends no
// tools), parallel_tool_calls, logprobs, logit_bias, user and other OpenAI-only fields (dropped); n > 1 and
// image URLs that are not data: URLs (refused with 400: Ollama takes one answer and inline images only).
type Ollama struct {
	opts OllamaOptions
}

var _ FramedDialect = (*Ollama)(nil)

// NewOllama returns the native Ollama dialect.
func NewOllama(opts OllamaOptions) *Ollama {
	return &Ollama{opts: opts}
}

// Authorize sets Authorization: Bearer when a key is configured (Ollama Cloud); a local server needs none.
func (o *Ollama) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	return nil
}

// NewEventReader splits the application/x-ndjson stream into one event per line.
func (o *Ollama) NewEventReader(body io.Reader, maxEvent int) EventReader {
	return newNDJSONReader(body, maxEvent)
}

// TranslateError turns Ollama's {"error":"..."} (or the OpenAI-layer {"error":{"message":...}}) or any
// other error body into an OpenAI-shaped error.
func (o *Ollama) TranslateError(status int, h http.Header, body []byte) *Error {
	msg, fromJSON := "", false
	if CheckJSON(body) == nil {
		e := gjson.Get(stringView(body), "error")
		if e.IsObject() {
			e = e.Get("message")
		}
		if e.Type == gjson.String && e.Str != "" {
			msg, fromJSON = e.Str, true
		}
	}
	if msg == "" {
		msg = bodySnippet(body)
		if msg == "" {
			msg = http.StatusText(status)
		}
		msg = "HTTP " + strconv.Itoa(status) + ": " + msg
	}
	code := ""
	switch {
	case status == http.StatusNotFound && fromJSON:
		code = "model_not_found"
		msg += " (check the model name, or pull the model on the Ollama server: ollama pull <model>)"
	case status == http.StatusNotFound:
		msg += " (is the base URL the Ollama server root, e.g. http://127.0.0.1:11434, without /v1?)"
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
		msg += " (check the API key configured for this Ollama provider)"
	case status == http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	}
	e := NewError(status, TypeForStatus(status), code, "ollama: "+msg)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// ollamaStreamError maps an error that arrived after a 200: an NDJSON line {"error":"..."}.
func ollamaStreamError(e gjson.Result) *Error {
	msg := e.String()
	if e.IsObject() {
		msg = e.Get("message").String()
	}
	if msg == "" {
		msg = "the upstream reported an error without a message"
	}
	return NewError(http.StatusBadGateway, "server_error", "upstream_error", "ollama: "+msg)
}
