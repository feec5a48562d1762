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
