package transform

import (
	"net/http"

	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var (
	_ MessagesDialect     = (*Vertex)(nil)
	_ CountTokensDialect  = (*Vertex)(nil)
	_ MessagesModelFilter = (*Vertex)(nil)
)

// NativeMessages reports whether the model is Claude (publishers/anthropic), which serves the Messages API
// through rawPredict; Gemini models go through chat.
func (v *Vertex) NativeMessages(model string) bool {
	return isVertexAnthropic(model)
}

// BuildMessages sends the client's Messages request to rawPredict (streamRawPredict when streamed): the
// body as the client sent it, model removed and anthropic_version vertex-2023-10-16 set (as Anthropic's own
// Vertex SDK client does); the client's
// anthropic-beta header values (filtered by the provider's allowed betas) go as the anthropic-beta header,
// which Vertex AI takes as Anthropic does.
func (v *Vertex) BuildMessages(req *Request) (*Outgoing, error) {
	out, err := v.anthropic.BuildMessages(req)
	if err != nil {
		return nil, err
	}
	if out.Body, err = vertexAnthropicBody(out.Body); err != nil {
		return nil, InvalidRequest("model", "could not prepare the Vertex AI request: "+err.Error())
	}
	if out.Path, err = v.modelPath("anthropic", req.Model); err != nil {
		return nil, err
	}
	if req.Stream {
		out.Path += ":streamRawPredict" // the body keeps its "stream": true, as Anthropic's Vertex SDKs send it
	} else {
		out.Path += ":rawPredict"
	}
	out.Header = vertexBetaHeader(out.Header)
	return out, nil
}

// vertexBetaHeader keeps only the anthropic-beta header of an Anthropic request's headers: the version
// travels in the body.
func vertexBetaHeader(h http.Header) http.Header {
	if beta := h.Get("anthropic-beta"); beta != "" {
		return http.Header{"Anthropic-Beta": {beta}}
	}
	return nil
}

// TranslateMessages returns rawPredict's Message with model set to the client's name, and its usage.
func (v *Vertex) TranslateMessages(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return v.anthropic.TranslateMessages(req, body)
}

// NewMessagesStream relays streamRawPredict's events, which are Anthropic's own.
func (v *Vertex) NewMessagesStream(req *Request) StreamTranslator {
	return &messagesRelay{model: req.ClientModel, provider: req.provider("vertex")}
}

// TranslateMessagesError keeps an Anthropic-shaped error body (and its status) as it is; a Google RPC error
// (a 429 RESOURCE_EXHAUSTED quota error, a 401 for the token) is mapped as TranslateError maps it.
func (v *Vertex) TranslateMessagesError(status int, h http.Header, body []byte) *Error {
	e := v.TranslateError(status, h, body)
	if IsMessagesError(body) {
		e.Raw = append([]byte(nil), body...)
		e.Status = status
	}
	return e
}

// BuildCountTokens asks publishers/anthropic/models/count-tokens:rawPredict, whose body names the model
// (unlike rawPredict's), with anthropic_version vertex-2023-10-16.
func (v *Vertex) BuildCountTokens(req *Request) (*Outgoing, error) {
	out, err := v.anthropic.BuildCountTokens(req)
	if err != nil {
		return nil, err
	}
	if out.Body, err = sjson.SetBytes(out.Body, "anthropic_version", VertexAnthropicVersion); err != nil {
		return nil, InvalidRequest("model", "could not prepare the count: "+err.Error())
	}
	if out.Path, err = v.modelPath("anthropic", "count-tokens"); err != nil {
		return nil, err
	}
	out.Path += ":rawPredict"
	out.Header = vertexBetaHeader(out.Header)
	return out, nil
}

// TranslateCountTokens returns the upstream's {"input_tokens":N} as it is.
func (v *Vertex) TranslateCountTokens(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return v.anthropic.TranslateCountTokens(req, body)
}
