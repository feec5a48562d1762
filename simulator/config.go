// Package simulator plays real LLM providers' wire formats for demos, tests and benchmarks: OpenAI-compatible
// chat completions, Anthropic Messages and Gemini generateContent, streamed and not, with tool calls, exact
// usage and injectable faults, and the simple JSON endpoints (embeddings, legacy completions, moderations,
// rerank). New returns a plain http.Handler (its documentation lists the paths); the Caddy module
// http.handlers.ai_simulator wraps it.
//
// Every answer is deterministic except ids, timestamps and signatures, and needs no key. What a request asks
// for, the simulator plays along with:
//
//   - Text: CompletionTokens stock words, each one o200k_base token, so usage is exact; max_tokens (or
//     max_completion_tokens, maxOutputTokens) cuts it with the dialect's length reason.
//   - Structured outputs: OpenAI response_format {"type":"json_schema","json_schema":{"schema":…}} or
//     {"type":"json_object"}, Anthropic output_config.format (or the beta's output_format)
//     {"type":"json_schema","schema":…}, Gemini generationConfig.responseMimeType "application/json" with
//     responseJsonSchema or responseSchema. The answer is a JSON value that validates against the schema
//     (see appendExample for the keywords honoured: types, enum, const, required, nested objects and arrays,
//     $ref, anyOf, formats, bounds); json_object without a schema answers {"answer":"<the stock words>"}.
//     The JSON is streamed in pieces, each counted as one token.
//   - Tool calls: when the request declares tools (and the conversation does not end with a tool result, and
//     tool choice is not none), the answer calls the forced tool or the first one, with arguments generated
//     from its JSON Schema the same way. When the conversation ends with a tool result (OpenAI role "tool",
//     Anthropic tool_result, Gemini functionResponse), the answer is the text "The tool returned: <its
//     content>", so a demo shows the result was read.
//   - Scripted agent (Config.Agent): a request offering a file-reading or command tool, in a conversation
//     with no tool result yet, gets a call to that tool reading the file the user's prompt names; once a
//     tool result is in the conversation, the answer quotes it. An agent client such as Claude Code or
//     Codex thus completes "read notes.txt and tell me the code word" with no model behind it.
//   - Choices: OpenAI n and Gemini candidateCount (up to 128 and 8) give that many choices, each with its own
//     index and its own words (all open with the same word); usage counts them all. Streams interleave them.
//   - Log probabilities: OpenAI logprobs and top_logprobs (choice.logprobs.content, in stream chunks too),
//     legacy completions logprobs (tokens, token_logprobs, top_logprobs, text_offset), Gemini
//     responseLogprobs and logprobs (avgLogprobs, logprobsResult). Values are between -0.01 and -0.23 for the
//     chosen token; alternatives are stock words, each less likely than the one before.
//   - Thinking: OpenAI-compatible reasoning_effort (minimal 4 words, low 8, medium 16, high 32) answers
//     message.reasoning_content and streams delta.reasoning_content before the content, as DeepSeek and vLLM
//     do, counted in completion_tokens_details.reasoning_tokens; Anthropic thinking {"type":"enabled"}
//     (16 words, at most budget_tokens) or {"type":"adaptive"} (by output_config.effort) answers a thinking
//     block with a signature first (streamed as thinking_delta events then one signature_delta), counted in
//     output_tokens; Gemini thinkingConfig.includeThoughts answers a "thought":true part first (16 words, at
//     most thinkingBudget; thinkingLevel as reasoning_effort), counted as thoughtsTokenCount.
//   - Embeddings (OpenAI */embeddings, Gemini :embedContent and :batchEmbedContents, Ollama /api/embed):
//     unit vectors of the requested dimensions (dimensions, outputDimensionality) or of the model's
//     (3072 for text-embedding-3-large and gemini-embedding-*, 1536 for text-embedding-3-small and ada-002,
//     768 otherwise). A vector is the normalised sum of one pseudo-random vector per word, so equal texts
//     have equal vectors and texts sharing words are similar. encoding_format "base64" gives little-endian
//     float32 bytes. Inputs may be a string, strings, token ids or arrays of token ids; usage counts tokens.
//   - Legacy completions (*/completions): one choice per prompt and per n, streamed or not, with usage and
//     the usage chunk when stream_options.include_usage asks.
//   - Moderations (*/moderations): one result per input in omni-moderation's shape. An input is flagged
//     when it holds one of these trigger words (whole word, any case): idiot (harassment), threaten
//     (harassment, harassment/threatening), hate (hate), steal (illicit), bomb (illicit, illicit/violent,
//     violence), suicide (self-harm, self-harm/intent), nsfw (sexual), kill (violence), gore (violence,
//     violence/graphic). Flagged categories score above 0.9, the others below 0.002.
//   - Rerank (*/rerank, the shape Cohere v2, Jina and vLLM share): results sorted by relevance_score, which
//     grows with the share of the query's words a document holds, with top_n and return_documents.
//   - Video jobs (video.go): OpenAI's */videos (create from JSON or multipart, status, list, delete, content)
//     and Veo's :predictLongRunning, operations and file download. A job is queued for the first fifth of
//     video_render_time, then in_progress with its progress, then completed; its content is a valid MP4 (one
//     H.264 track written without an encoder, mp4.go) of the seconds and aspect ratio asked for, whose colours
//     follow the prompt. A prompt with the word "fail" makes a job that fails. The simulator keeps the last
//     1,024 jobs in memory.
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

	// Burst writes a stream's events without flushing between them, so they leave together as the
	// response writer's buffer fills, like a recorded answer replayed at once: what a relay's per-event work
	// is measured with. Pacing (TokensPerSecond) still applies.
	Burst bool `json:"burst,omitempty"`

	// CutAfter, when positive, closes the connection mid-stream after that many events, without the
	// stream's terminator. A non-streamed answer is cut after half of its body.
	CutAfter int `json:"cut_after,omitempty"`

	// Hang accepts requests and sends nothing until the client goes away.
	Hang bool `json:"hang,omitempty"`

	// Agent plays a scripted agent conversation, so that an agent client (Claude Code, Codex, an SDK's
	// agent loop) completes a task that reads a file. When the request offers a tool that reads files (its
	// name says read, view, cat or open but not image, write or edit, and it has a path property such as
	// file_path or path) or one that runs commands (bash, shell, exec, run…, with a command or cmd property),
	// and the conversation has no tool result yet, the answer calls that tool to read the first file named in
	// the user's last prompt ("read notes.txt and tell me the code word"): the file-reading tool with the
	// path (made absolute with the working directory the client announces, as Claude Code and Codex do),
	// else the command tool with `cat <file>`. Once a tool result is in the conversation, the answer quotes
	// it: "The tool returned: <result>". A tool forced by name is still called as asked. It applies to every
	// chat format (OpenAI chat, Anthropic Messages, Gemini, Responses).
	Agent bool `json:"agent,omitempty"`

	// RequireKey, when set, is the only API key accepted, from Authorization: Bearer, x-api-key,
	// x-goog-api-key or Gemini's ?key= query parameter. Other requests get 401 in the dialect's error shape.
	RequireKey string `json:"require_key,omitempty"`

	// VideoRenderTime is how long a video job takes: queued for its first fifth, then in_progress, then
	// completed (or failed, for a prompt with the word "fail"). Default: 3s.
	VideoRenderTime caddy.Duration `json:"video_render_time,omitempty"`

	// Models are listed by GET /models. Default: ["simulator"]. Requests may name any model: it is echoed.
	Models []string `json:"models,omitempty"`
}

// Validate reports the first knob that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Latency < 0, c.TTFT < 0, c.RetryAfter < 0, c.VideoRenderTime < 0:
		return fmt.Errorf("latency, ttft, retry_after and video_render_time must not be negative")
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
	burst                     bool
	hang                      bool
	agent                     bool
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
		burst:            c.Burst,
		hang:             c.Hang,
		agent:            c.Agent,
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
