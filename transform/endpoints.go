package transform

import "github.com/aibackend/caddy-ai-gateway/usage"

// A Dialect serves chat completions. It serves other endpoints by implementing the optional interfaces below;
// the gateway asks for them once per provider, skips a provider whose dialect lacks the endpoint's interface
// and answers 400 unsupported_endpoint when no target of a request can serve it. Each Build method gets the
// client's OpenAI request body in Request.Body (already validated by the gateway) and each Translate method a
// complete, successful upstream body, which it returns in OpenAI's format with model set to
// Request.ClientModel, with the usage the upstream reported (Origin Unknown if none: the gateway counts).

// EmbeddingsDialect serves POST /embeddings.
type EmbeddingsDialect interface {
	BuildEmbeddings(req *Request) (*Outgoing, error)
	TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error)
}

// CompletionsDialect serves POST /completions (legacy text completions), streamed and not.
type CompletionsDialect interface {
	BuildCompletions(req *Request) (*Outgoing, error)
	TranslateCompletions(req *Request, body []byte) ([]byte, usage.Usage, error)
	// NewCompletionsStream returns a translator whose chunks are text_completion objects.
	NewCompletionsStream(req *Request) StreamTranslator
}

// ModerationsDialect serves POST /moderations.
type ModerationsDialect interface {
	BuildModerations(req *Request) (*Outgoing, error)
	TranslateModerations(req *Request, body []byte) ([]byte, usage.Usage, error)
}

// RerankDialect serves POST /rerank (the shape vLLM, Jina and Cohere's v2 API share: model, query,
// documents, top_n).
type RerankDialect interface {
	BuildRerank(req *Request) (*Outgoing, error)
	TranslateRerank(req *Request, body []byte) ([]byte, usage.Usage, error)
}

// EndpointFilter is implemented by a dialect whose support for an endpoint depends on its options (Azure
// OpenAI serves embeddings and completions but no moderations or rerank). endpoint is the path after /v1/,
// e.g. "embeddings"; chat completions are always served.
type EndpointFilter interface {
	ServesEndpoint(endpoint string) bool
}

// UsageChunkSink is a Sink that also takes the upstream's own usage chunk of an OpenAI-compatible stream
// (valid during the call only), so the gateway's final usage chunk can keep the upstream's fields (id,
// created, system_fingerprint, service_tier, obfuscation).
type UsageChunkSink interface {
	Sink
	UsageChunk(chunk []byte)
}

// ResponsesDialect serves OpenAI's Responses API (POST /responses and the stored responses under it)
// natively: the client's request passes through with model rewritten, the answer keeps the upstream's
// bytes, and a stream's named events are relayed one by one to an EventSink. A dialect that does not
// implement it (or whose EndpointFilter refuses "responses") still serves the Responses API: the gateway
// translates it through Chat Completions (see package gateway's surfaces).
type ResponsesDialect interface {
	BuildResponses(req *Request) (*Outgoing, error)
	// TranslateResponses returns the upstream's Response object with model set to req.ClientModel and its id
	// passed through req.ResourceID, and the usage it reports.
	TranslateResponses(req *Request, body []byte) ([]byte, usage.Usage, error)
	// NewResponsesStream returns a translator that passes each upstream event, model and response ids
	// rewritten as in TranslateResponses, to its sink's Event method (the sink is an EventSink), and the usage
	// of response.completed to Usage.
	NewResponsesStream(req *Request) StreamTranslator
	// BuildResponseResource builds the request for a stored response: method (GET, DELETE or POST) and rest,
	// the path after /responses with its query (e.g. "/resp_abc/input_items?limit=5"), the id unwrapped.
	BuildResponseResource(method, rest string) (*Outgoing, error)
}

// EventSink is the Sink of a surface whose streams are named server-sent events (event: name, data: JSON).
type EventSink interface {
	Sink
	// Event queues one event; data is only valid during the call.
	Event(name string, data []byte) error
}

// SurfaceStream writes a stream of a client surface (the Responses API, Anthropic's Messages API): for a
// dialect that serves the surface through Chat Completions it turns the dialect's chat.completion.chunk
// payloads into the surface's events; it also writes the events that end a stream, complete or failed. It
// keeps per-stream state only.
type SurfaceStream interface {
	// Chunk takes one chat.completion.chunk (valid during the call only) and writes the events it yields.
	Chunk(chunk []byte, out EventSink) error
	// Finish ends a complete translated answer; u is the final usage (reported or counted) and cost its
	// price in USD, or negative when it is unknown or not to be reported.
	Finish(u usage.Usage, cost float64, out EventSink) error
	// Fail ends a stream, translated or relayed natively, that failed with e after it began.
	Fail(e *Error, out EventSink)
	// Result is the complete answer object the stream described (for surfaces whose answers the gateway
	// keeps, like stored responses); nil when there is none.
	Result() []byte
}
