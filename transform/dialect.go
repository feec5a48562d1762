// Package transform speaks the providers' wire formats: it turns the client's OpenAI Chat Completions
// request into what an upstream expects, and the upstream's answer (whole or streamed) back into OpenAI's
// format. No Caddy imports: package dialects wraps each dialect as a Caddy module.
//
// Each dialect's files follow one scheme: <dialect>.go holds its type, options, authentication and errors;
// <dialect>_request.go, <dialect>_response.go and <dialect>_stream.go translate the request, the whole
// answer and the streamed answer; <dialect>_<endpoint>.go serves another endpoint (see endpoints.go).
package transform

import (
	"io"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Request is a validated client request as the dialects see it.
type Request struct {
	// Body is the client's OpenAI chat completion request body.
	Body []byte
	// ClientHeader holds the client's request headers, read only, for a dialect serving a client surface
	// natively (the Messages API's anthropic-version and anthropic-beta); nil for chat. Credentials in it
	// must never be sent upstream.
	ClientHeader http.Header
	// InputTokens is the gateway's local count of the request's input, for surfaces that report it before
	// the upstream does (message_start) or answer with it (count_tokens); 0 when not counted.
	InputTokens int
	// Model is the model name the upstream expects.
	Model string
	// ClientModel is the model name the client sees in responses ("provider/model" or an alias).
	ClientModel string
	// Stream is true when the client asked for a streamed answer.
	Stream bool
	// IncludeUsage is true when a streaming client asked for the usage chunk (stream_options.include_usage).
	IncludeUsage bool
	// Provider is the configured provider's name, for error messages; empty means the dialect's own name.
	Provider string
	// Form is the client's multipart body, for the endpoints that take one (Body is then nil).
	Form Form
	// ResourceID, when set, turns the id of a resource the upstream keeps (a stored response) into the id
	// the client sees, one that names the provider so that later requests for it reach the same provider.
	ResourceID func(id string) string
}

// provider returns the name error messages give the upstream.
func (r *Request) provider(dialect string) string {
	if r.Provider != "" {
		return r.Provider
	}
	return dialect
}

// Outgoing is the upstream request a dialect built.
type Outgoing struct {
	// Method is the HTTP method; empty means POST.
	Method string
	// Path is appended to the provider's base URL; it may carry a query string.
	Path string
	// Body is the upstream request body.
	Body []byte
	// BodyReader, when set, is the upstream request body instead of Body: one read as it is sent (a multipart
	// body streamed from the client, a JSON body with a file inline). Header then sets its Content-Type.
	BodyReader io.Reader
	// Header holds dialect-specific headers (e.g. anthropic-version); nil when there are none. The gateway
	// sends a JSON Content-Type and an Accept for every request itself; auth is set by Dialect.Authorize.
	Header http.Header
}

// Dialect is one provider API's translator. A dialect module of package dialects (a Caddy module of the
// http.handlers.ai_gateway.dialects namespace) configures one and hands it to the engine.
type Dialect interface {
	// BuildRequest translates the client's request into the upstream's.
	BuildRequest(req *Request) (*Outgoing, error)
	// Authorize authenticates one upstream request with the provider's credential (empty when none is
	// configured). It is called once per attempt, after the body, URL and every header are final, so it may
	// sign the whole request (SigV4, OAuth tokens) as well as set a key header; an error fails the attempt
	// with a 502 and no request is sent.
	Authorize(req *http.Request, credential string) error
	// TranslateResponse turns a complete, successful upstream body into an OpenAI chat.completion body with
	// model set to req.ClientModel, and returns the usage the upstream reported (Origin Unknown if none).
	TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error)
	// NewStream returns a translator for one streamed upstream response.
	NewStream(req *Request) StreamTranslator
	// TranslateError turns an upstream error response (status >= 400) into an OpenAI-shaped error.
	TranslateError(status int, h http.Header, body []byte) *Error
}

// StreamTranslator turns one upstream stream into OpenAI chat.completion.chunk payloads, event by event.
// It keeps only per-stream state (indexes, ids, usage), never the stream's text.
type StreamTranslator interface {
	// Translate handles one upstream event and passes the OpenAI chunks it yields to sink. done reports that
	// the upstream signalled the end of the stream. An *Error return means the upstream reported an error
	// inside the stream.
	Translate(ev Event, sink Sink) (done bool, err error)
	// Finish is called once after the upstream stream ended (done, or EOF when eof is true without done). It
	// yields any final chunks, and returns an *Error when the stream ended before it was complete.
	Finish(sink Sink, eof bool) error
}

// ChoicesSink is a Sink that can take a chunk's choices already parsed, so that a passthrough translator
// that has parsed them does not make the sink parse the chunk again.
type ChoicesSink interface {
	Sink
	// ChunkChoices is Chunk for a payload whose "choices" array is choices (valid during the call only).
	ChunkChoices(data []byte, choices gjson.Result) error
}

// Sink receives a translator's output. Chunk payloads are only valid during the call.
type Sink interface {
	// Chunk receives one chat.completion.chunk JSON payload (without the "data: " framing).
	Chunk(data []byte) error
	// Usage receives the usage the upstream reported, once it is final, and the upstream's own OpenAI usage
	// object bytes when it had one (raw is nil for translated dialects).
	Usage(u usage.Usage, raw []byte)
}
