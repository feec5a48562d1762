package transform

import "github.com/aibackend/caddy-ai-gateway/usage"

var (
	_ EndpointFilter     = (*OpenAI)(nil)
	_ CompletionsDialect = (*OpenAI)(nil)
	_ ModerationsDialect = (*OpenAI)(nil)
	_ RerankDialect      = (*OpenAI)(nil)
)

// BuildCompletions passes a legacy text completion request through with model rewritten (and, streamed, the
// upstream asked for usage).
func (o *OpenAI) BuildCompletions(req *Request) (*Outgoing, error) {
	return o.build(req, "/completions")
}

// TranslateCompletions keeps the upstream's text_completion bytes with model replaced.
func (o *OpenAI) TranslateCompletions(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return o.TranslateResponse(req, body)
}

// NewCompletionsStream relays text_completion chunks with model rewritten, as chat chunks are.
func (o *OpenAI) NewCompletionsStream(req *Request) StreamTranslator {
	return o.NewStream(req)
}

// BuildModerations passes a moderation request through with model rewritten.
func (o *OpenAI) BuildModerations(req *Request) (*Outgoing, error) {
	return o.build(req, "/moderations")
}

// TranslateModerations keeps the upstream's bytes with model replaced.
func (o *OpenAI) TranslateModerations(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return o.TranslateResponse(req, body)
}

// BuildRerank passes a rerank request (vLLM, Jina, Cohere v2 shape) through with model rewritten.
func (o *OpenAI) BuildRerank(req *Request) (*Outgoing, error) {
	return o.build(req, "/rerank")
}

// TranslateRerank keeps the upstream's bytes with model replaced where the answer names one (Cohere's does
// not).
func (o *OpenAI) TranslateRerank(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return o.TranslateResponse(req, body)
}

// ServesEndpoint reports whether the configured API has the endpoint: Azure OpenAI has no moderations or
// rerank deployments (it has image and audio ones); OpenAI and compatible servers are asked for every
// endpoint (one that lacks it answers with its own error). The Responses API is served natively only when
// NativeResponses is set (else through chat completions).
func (o *OpenAI) ServesEndpoint(endpoint string) bool {
	if endpoint == "responses" {
		return o.opts.NativeResponses
	}
	if o.opts.Azure != nil {
		switch endpoint {
		case "chat/completions", "completions", "embeddings", "images/generations", "images/edits",
			"audio/speech", "audio/transcriptions", "audio/translations":
			return true
		}
		return false
	}
	return true
}
