// Package simulator plays real LLM providers' wire formats for demos, tests and benchmarks: OpenAI-compatible
// chat completions, Anthropic Messages and Gemini generateContent, streamed and not, with tool calls, exact
// usage and injectable faults. New returns a plain http.Handler; the Caddy module http.handlers.ai_simulator
// wraps it.
package simulator

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Defaults applied by New to zero-valued knobs.
const (
	// DefaultCompletionTokens is the length of a text answer in tokens (words).
	DefaultCompletionTokens = 20
	// DefaultChunkTokens is the number of tokens per streamed chunk.
	DefaultChunkTokens = 1
	// DefaultFailStatus is the status of a simulated failure.
	DefaultFailStatus = 503
	// DefaultModel is listed by GET /models when no models are configured.
	DefaultModel = "simulator"
	// FaultHeader selects faults and overrides knobs for one request; see Config.
	FaultHeader = "X-Simulator-Fault"
)

// Config holds the simulator's knobs. The zero value answers immediately with a 20-word text, reports usage,
// and never fails.
//
// Every knob except require_key and models can be overridden for one request with the header
// X-Simulator-Fault, a list of settings separated by commas or semicolons, named as the JSON fields below:
//
//	X-Simulator-Fault: status=503, retry_after=2s
//	X-Simulator-Fault: cut_after=3
//	X-Simulator-Fault: hang
//	X-Simulator-Fault: latency=50ms; ttft=200ms; tokens_per_second=40; report_usage=off
//
// `status=<code>` fails the request with that status (as fail_rate 1 with fail_status <code> would), so one
// simulator serves many test cases.
type Config struct {
	// Latency is waited before the response headers are written, for every request, failures included.
	Latency caddy.Duration `json:"latency,omitempty"`

	// TTFT is the time to first token: in a stream, the wait between the headers and the first event; in a
	// non-streamed answer, it is added to the wait before the headers.
	TTFT caddy.Duration `json:"ttft,omitempty"`

	// TokensPerSecond paces generation. In a stream, chunks are spaced so that tokens arrive at this rate;
	// a non-streamed answer waits for the whole generation time before its headers. 0 generates as fast as
	// possible.
	TokensPerSecond float64 `json:"tokens_per_second,omitempty"`

	// CompletionTokens is the length of a text answer, in words that are each exactly one o200k_base token, so
	// the reported completion tokens are exact. The request's max_tokens (or max_completion_tokens,
	// maxOutputTokens) caps it, and the answer then ends with the dialect's "length" reason. Default: 20.
	CompletionTokens int `json:"completion_tokens,omitempty"`

	// ChunkTokens is the number of tokens per streamed text chunk. Default: 1.
	ChunkTokens int `json:"chunk_tokens,omitempty"`

	// ReportUsage, when false, makes the simulator a silent self-hosted server: no usage field in
	// non-streamed answers, no usage chunk in OpenAI streams, no usage in Anthropic or Gemini events.
	// Default: true.
	ReportUsage *bool `json:"report_usage,omitempty"`

	// FailRate is the probability, from 0 to 1, that a request fails with FailStatus in the dialect's error
	// shape.
	FailRate float64 `json:"fail_rate,omitempty"`

	// FailStatus is the HTTP status of a simulated failure. Default: 503.
	FailStatus int `json:"fail_status,omitempty"`

	// RetryAfter, when positive, is sent as the retry-after header (whole seconds, rounded up) of simulated
	// failures, and as the RetryInfo retryDelay of Gemini 429s.
	RetryAfter caddy.Duration `json:"retry_after,omitempty"`

	// CutAfter, when positive, closes the connection mid-stream after that many events, without the
	// stream's terminator. A non-streamed answer is cut after half of its body.
	CutAfter int `json:"cut_after,omitempty"`

	// Hang accepts requests and sends nothing until the client goes away.
	Hang bool `json:"hang,omitempty"`

	// RequireKey, when set, is the only API key accepted, from Authorization: Bearer, x-api-key,
	// x-goog-api-key or Gemini's ?key= query parameter. Other requests get 401 in the dialect's error shape.
	RequireKey string `json:"require_key,omitempty"`

	// Models are listed by GET /models. Default: ["simulator"]. Requests may name any model: it is echoed.
	Models []string `json:"models,omitempty"`
}

// Validate reports the first knob that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Latency < 0, c.TTFT < 0, c.RetryAfter < 0:
		return fmt.Errorf("latency, ttft and retry_after must not be negative")
	case c.TokensPerSecond < 0:
		return fmt.Errorf("tokens_per_second must not be negative (0 means as fast as possible), got %v", c.TokensPerSecond)
	case c.CompletionTokens < 0:
		return fmt.Errorf("completion_tokens must not be negative, got %d", c.CompletionTokens)
	case c.ChunkTokens < 0:
		return fmt.Errorf("chunk_tokens must not be negative, got %d", c.ChunkTokens)
	case c.FailRate < 0 || c.FailRate > 1:
		return fmt.Errorf("fail_rate must be between 0 and 1, got %v", c.FailRate)
	case c.FailStatus != 0 && (c.FailStatus < 400 || c.FailStatus > 599):
		return fmt.Errorf("fail_status must be an HTTP error status (400-599), got %d", c.FailStatus)
	case c.CutAfter < 0:
		return fmt.Errorf("cut_after must not be negative, got %d", c.CutAfter)
	}
	return nil
}

// knobs are the settings one request is served with: the Config's, with defaults applied and the request's
// fault header on top.
type knobs struct {
	latency, ttft, retryAfter time.Duration
	tokensPerSecond           float64
	completionTokens          int
	chunkTokens               int
	reportUsage               bool
	failRate                  float64
	failStatus                int
	cutAfter                  int
	hang                      bool
}

func (c Config) knobs() knobs {
	k := knobs{
		latency:          max(time.Duration(c.Latency), 0),
		ttft:             max(time.Duration(c.TTFT), 0),
		retryAfter:       max(time.Duration(c.RetryAfter), 0),
		tokensPerSecond:  max(c.TokensPerSecond, 0),
		completionTokens: c.CompletionTokens,
		chunkTokens:      c.ChunkTokens,
		reportUsage:      c.ReportUsage == nil || *c.ReportUsage,
		failRate:         min(max(c.FailRate, 0), 1),
		failStatus:       c.FailStatus,
		cutAfter:         max(c.CutAfter, 0),
		hang:             c.Hang,
	}
	if k.completionTokens <= 0 {
		k.completionTokens = DefaultCompletionTokens
	}
	if k.chunkTokens <= 0 {
		k.chunkTokens = DefaultChunkTokens
	}
	if k.failStatus < 400 || k.failStatus > 599 {
		k.failStatus = DefaultFailStatus
	}
	return k
}
