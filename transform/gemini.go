package transform

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// GeminiBaseURL is the preset base URL of Google's Gemini API; Outgoing.Path is relative to it.
const GeminiBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// geminiSignatureSeparator joins a tool call id and the Gemini thought signature carried inside it.
//
// Gemini 3 attaches an opaque thoughtSignature to functionCall parts and rejects the next turn (400
// INVALID_ARGUMENT) unless the signature comes back on that part. OpenAI's wire format has no slot for it, so
// the dialect keeps it inside the tool call id it gives the client, without server state:
//
//	<call id> "__thought__" <signature bytes, base64url without padding>
//
// <call id> is Gemini's functionCall.id when it sent one, else a minted "call_" + 24 alphanumerics. Clients
// echo the id back in assistant tool_calls and tool messages; BuildRequest splits it, puts <call id> on the
// functionCall and functionResponse parts and the signature, in standard base64, on the functionCall part.
// Ids without the separator (no signature, or ids minted by another provider) pass through as they are.
const geminiSignatureSeparator = "__thought__"

// GeminiOptions configures the Gemini dialect.
type GeminiOptions struct {
	// IncludeThoughts asks thinking models for thought summaries (thinkingConfig.includeThoughts), which the
	// gateway returns as reasoning_content. Off by default: Gemini then sends no thoughts at all.
	IncludeThoughts bool
	// SignatureFallback, when set, is sent as the thoughtSignature of the first function call of an assistant
	// turn that carries none (a history written by another model or client). Google documents
	// "skip_thought_signature_validator" for this; empty (the default) sends no signature, and Gemini 3
	// models then refuse such a history with 400.
	SignatureFallback string
}

// Gemini is the dialect of Google's Gemini API (Generative Language v1beta): generateContent and
// streamGenerateContent?alt=sse, authenticated with the x-goog-api-key header.
//
// reasoning_effort becomes thinkingConfig: thinkingLevel on Gemini 3 models, thinkingBudget on Gemini 2.5
// (see geminiThinking; other models get none). logprobs and top_logprobs are asked for upstream
// (responseLogprobs, logprobs) and Gemini's logprobsResult comes back as choices[].logprobs.content, per
// chunk when streamed (see appendGeminiLogprobs).
//
// What does not translate: parallel_tool_calls (Gemini has no switch; dropped), user, metadata and other
// OpenAI-only fields (dropped), n > 1 with stream (refused with 400: the stream carries one choice).
type Gemini struct {
	opts GeminiOptions
}

var _ Dialect = (*Gemini)(nil)

// NewGemini returns the Gemini dialect.
func NewGemini(opts GeminiOptions) *Gemini {
	return &Gemini{opts: opts}
}

// Authorize sets the x-goog-api-key header; the key never goes into the URL, so it stays out of access logs.
func (g *Gemini) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("x-goog-api-key", apiKey)
	}
	return nil
}

// geminiMintCallID returns the OpenAI tool call id for a Gemini function call: Gemini's own id or a minted
// one, with the thought signature appended as described at geminiSignatureSeparator.
func geminiMintCallID(geminiID, signature string) string {
	if geminiID == "" {
		geminiID = NewID("call_")
	}
	if signature == "" {
		return geminiID
	}
	raw, ok := geminiDecodeBase64(signature)
	if !ok {
		return geminiID // not protobuf bytes: Gemini would not accept it back either
	}
	return geminiID + geminiSignatureSeparator + base64.RawURLEncoding.EncodeToString(raw)
}

// splitGeminiToolCallID splits a tool call id minted by the Gemini dialect into the call id and the thought
// signature (standard base64, as Gemini sent it). An id without a signature is returned unchanged with an
// empty signature.
func splitGeminiToolCallID(id string) (callID, signature string) {
	base, enc, found := strings.Cut(id, geminiSignatureSeparator)
	if !found {
		return id, ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) == 0 {
		return id, ""
	}
	return base, base64.StdEncoding.EncodeToString(raw)
}

// geminiDecodeBase64 decodes standard or URL-safe base64, padded or not, as protobuf JSON bytes allow.
func geminiDecodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		return raw, err == nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	return raw, err == nil
}

// TranslateError turns a Google RPC error ({"error":{"code","message","status","details"}}) or any other
// error body into an OpenAI-shaped error.
func (g *Gemini) TranslateError(status int, h http.Header, body []byte) *Error {
	if CheckJSON(body) == nil {
		root := gjson.Parse(stringView(body))
		if root.IsArray() {
			root = root.Get("0")
		}
		if e := root.Get("error"); e.IsObject() {
			return geminiRPCError(status, h, e)
		}
	}
	msg := bodySnippet(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := NewError(status, TypeForStatus(status), "", "gemini: HTTP "+strconv.Itoa(status)+": "+msg)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// geminiRPCError maps a Google RPC error object. status is the HTTP status when error.code has none.
func geminiRPCError(status int, h http.Header, e gjson.Result) *Error {
	if c := e.Get("code").Int(); c >= 400 && c <= 599 {
		status = int(c)
	}
	rpcStatus := e.Get("status").String()
	msg := e.Get("message").String()
	if msg == "" {
		msg = rpcStatus + " without a message"
	}
	var reason string
	var retry time.Duration
	e.Get("details").ForEach(func(_, d gjson.Result) bool {
		if r := d.Get("reason").String(); r != "" && reason == "" {
			reason = r
		}
		if rd := d.Get("retryDelay").String(); rd != "" {
			if dur, err := time.ParseDuration(rd); err == nil && dur > 0 {
				retry = dur
			}
		}
		return true
	})
	if retry == 0 && h != nil {
		retry = parseRetryAfter(h, time.Now())
	}
	code := ""
	switch {
	case reason == "API_KEY_INVALID" || rpcStatus == "UNAUTHENTICATED":
		status, code = http.StatusUnauthorized, "invalid_api_key"
		msg += " (check the API key configured for this Gemini provider)"
	case status == http.StatusNotFound:
		code = "model_not_found"
	case status == http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	}
	err := NewError(status, TypeForStatus(status), code, "gemini: "+msg)
	err.RetryAfter = retry
	return err
}
