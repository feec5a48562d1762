package transform

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// OpenAIOptions configures the OpenAI-compatible dialect.
type OpenAIOptions struct {
	// ForwardMetadata sends the request's metadata object upstream. OpenAI accepts it only with store: true
	// and most compatible servers reject it, so it is dropped by default.
	ForwardMetadata bool
	// Azure switches to Azure OpenAI's deployment URLs and api-key header.
	Azure *AzureOptions
}

// AzureOptions describes an Azure OpenAI resource.
type AzureOptions struct {
	// APIVersion is the api-version query parameter, e.g. 2024-10-21.
	APIVersion string
	// Deployments maps model names to deployment names; a model without an entry is used as the deployment name.
	Deployments map[string]string
}

// OpenAI speaks the OpenAI Chat Completions API: OpenAI itself, Azure OpenAI and every compatible server (vLLM,
// Ollama's /v1, Groq, Mistral, DeepSeek, OpenRouter, ...). Bodies pass through byte for byte except for the
// fields the gateway owns: model, stream_options, metadata and the gateway's own routing fields.
type OpenAI struct {
	opts OpenAIOptions
}

// NewOpenAI returns the OpenAI-compatible dialect.
func NewOpenAI(opts OpenAIOptions) *OpenAI { return &OpenAI{opts: opts} }

// gatewayFields are request fields that the gateway consumes and never sends upstream.
var gatewayFields = [...]string{"models", "route"}

// BuildRequest rewrites model, asks a streaming upstream for usage (keeping the client's other stream_options),
// drops stream_options when not streaming, and drops metadata unless configured to forward it.
func (o *OpenAI) BuildRequest(req *Request) (*Outgoing, error) {
	return o.build(req, "/chat/completions")
}

// build is BuildRequest for the endpoint at path suffix (e.g. "/embeddings"): the client's bytes with model
// rewritten and the gateway's own fields dropped.
func (o *OpenAI) build(req *Request, suffix string) (*Outgoing, error) {
	body, err := sjson.SetBytes(req.Body, "model", req.Model)
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	parsed := gjson.ParseBytes(body)
	if req.Stream {
		if !parsed.Get("stream_options.include_usage").Bool() {
			if body, err = sjson.SetBytes(body, "stream_options.include_usage", true); err != nil {
				return nil, InvalidRequest("stream_options", "stream_options must be an object")
			}
		}
	} else if parsed.Get("stream_options").Exists() {
		body, _ = sjson.DeleteBytes(body, "stream_options")
	}
	if !o.opts.ForwardMetadata && parsed.Get("metadata").Exists() {
		body, _ = sjson.DeleteBytes(body, "metadata")
	}
	for _, f := range gatewayFields {
		if parsed.Get(f).Exists() {
			body, _ = sjson.DeleteBytes(body, f)
		}
	}
	path, err := o.path(req.Model, suffix)
	if err != nil {
		return nil, err
	}
	return &Outgoing{Path: path, Body: body}, nil
}

// path is the request path of the endpoint at suffix: Azure's carries the deployment, which must be a plain
// path segment.
func (o *OpenAI) path(model, suffix string) (string, error) {
	az := o.opts.Azure
	if az == nil {
		return suffix, nil
	}
	dep := model
	if d, ok := az.Deployments[model]; ok {
		dep = d
	}
	seg, err := pathSegment("model", dep)
	if err != nil {
		return "", err
	}
	p := "/openai/deployments/" + seg + suffix
	if az.APIVersion != "" {
		p += "?api-version=" + url.QueryEscape(az.APIVersion)
	}
	return p, nil
}

// Authorize sets Authorization: Bearer, or api-key for Azure. An empty key sets nothing (local servers).
func (o *OpenAI) Authorize(req *http.Request, apiKey string) error {
	if apiKey == "" {
		return nil
	}
	if o.opts.Azure != nil {
		req.Header.Set("Api-Key", apiKey)
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	return nil
}

// TranslateResponse keeps the upstream's bytes and only replaces model with the client-facing name.
func (o *OpenAI) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider(o.name()), err)
	}
	if e := errorAnswer(body); e != nil {
		return nil, usage.Usage{}, e
	}
	out := spliceModel(nil, body, req.ClientModel)
	u, _ := parseOpenAIUsage(gjson.GetBytes(body, "usage"))
	return out, u, nil
}

// spliceModel appends data to dst with the value of its top-level "model" replaced by model, without decoding
// anything else.
func spliceModel(dst, data []byte, model string) []byte {
	m := gjson.GetBytes(data, "model")
	if !m.Exists() || m.Index <= 0 {
		return append(dst, data...)
	}
	dst = append(dst, data[:m.Index]...)
	dst = AppendJSONString(dst, model)
	return append(dst, data[m.Index+len(m.Raw):]...)
}

// parseOpenAIUsage reads an OpenAI usage object. ok is false when v is absent or null.
func parseOpenAIUsage(v gjson.Result) (usage.Usage, bool) {
	if !v.IsObject() {
		return usage.Usage{}, false
	}
	u := usage.Usage{Origin: usage.Reported}
	var rep usage.Report
	v.ForEach(func(k, val gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			u.PromptTokens = rep.Count(val)
		case "completion_tokens":
			u.CompletionTokens = rep.Count(val)
		case "total_tokens":
			u.TotalTokens = rep.Count(val)
		case "prompt_tokens_details":
			u.CachedTokens = rep.Count(val.Get("cached_tokens"))
		case "completion_tokens_details":
			u.ReasoningTokens = rep.Count(val.Get("reasoning_tokens"))
		}
		return true
	})
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u), true
}

// NewStream returns a translator that relays OpenAI chunks with model rewritten.
func (o *OpenAI) NewStream(req *Request) StreamTranslator {
	return &openAIStream{model: req.ClientModel, provider: req.provider(o.name()), buf: make([]byte, 0, 1024)}
}

// name is the dialect's name in error messages when the request names no provider.
func (o *OpenAI) name() string {
	if o.opts.Azure != nil {
		return "azure"
	}
	return "openai"
}

type openAIStream struct {
	model    string
	provider string
	buf      []byte
	finished bool
	// The spans of the current chunk's top-level members, found while it is validated.
	modelAt, choicesAt, usageAt, errorAt, objectAt span
}

// span is where a member's value lies in a chunk; end is 0 when the chunk has no such member.
type span struct{ start, end int }

var doneMarker = []byte("[DONE]")

// Translate relays the chunk's bytes with only model replaced. One pass over the chunk validates it and finds
// its top-level model, choices, usage, error and object members; nothing else is decoded. A chunk that is an
// error ends the stream with that error, and the usage-only chunk is not relayed: its usage goes to the sink.
func (s *openAIStream) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneMarker) {
		return true, nil
	}
	if len(data) == 0 {
		return false, nil
	}
	s.modelAt, s.choicesAt, s.usageAt, s.errorAt, s.objectAt = span{}, span{}, span{}, span{}, span{}
	if err := scanJSON(data, s.member); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	if data[0] != '{' {
		return false, badUpstream("provider '" + s.provider + "' sent a stream event that is not a JSON object")
	}
	view := stringView(data)
	// An "error" that is not null, or vLLM's "object":"error": the chunk may be an error (cloned, as it
	// outlives the reader's buffer when the stream has not begun).
	errAt, objAt := s.errorAt, s.objectAt
	if errAt.end > 0 && data[errAt.start] != 'n' || objAt.end > 0 && string(data[objAt.start:objAt.end]) == `"error"` {
		if e := errorAnswer(bytes.Clone(data)); e != nil {
			return false, e
		}
	}
	var choices gjson.Result
	if c := s.choicesAt; c.end > 0 && data[c.start] == '[' {
		choices = gjson.Result{Type: gjson.JSON, Raw: view[c.start:c.end], Index: c.start}
	}
	hasChoices := hasElements(choices)
	if u := s.usageAt; u.end > 0 && data[u.start] == '{' {
		parsed, _ := parseOpenAIUsage(gjson.Result{Type: gjson.JSON, Raw: view[u.start:u.end], Index: u.start})
		sink.Usage(parsed, data[u.start:u.end])
		if !hasChoices {
			if uc, ok := sink.(UsageChunkSink); ok {
				uc.UsageChunk(data)
			}
			return false, nil
		}
	}
	// A JSON string cannot hold this byte sequence unescaped, so it only matches a real finish_reason.
	if !s.finished && strings.Contains(choices.Raw, `"finish_reason":"`) {
		s.finished = true
	}
	out := data
	if m := s.modelAt; m.end > 0 {
		s.buf = append(s.buf[:0], data[:m.start]...)
		s.buf = AppendJSONString(s.buf, s.model)
		out = append(s.buf, data[m.end:]...)
		s.buf = out
	}
	if cs, ok := sink.(ChoicesSink); ok && hasChoices {
		return false, cs.ChunkChoices(out, choices)
	}
	return false, sink.Chunk(out)
}

// member records where the chunk's members of interest lie.
func (s *openAIStream) member(key []byte, start, end int) {
	switch string(key) {
	case "model":
		s.modelAt = span{start, end}
	case "choices":
		s.choicesAt = span{start, end}
	case "usage":
		s.usageAt = span{start, end}
	case "error":
		s.errorAt = span{start, end}
	case "object":
		s.objectAt = span{start, end}
	}
}

// Finish accepts an upstream that closed after its finish_reason without [DONE]; any other early end is an error.
func (s *openAIStream) Finish(_ Sink, eof bool) error {
	if eof && !s.finished {
		return StreamCut("the upstream closed the stream before it was complete")
	}
	return nil
}

// TranslateError passes an OpenAI-shaped error body through unchanged and normalizes the other shapes seen
// from compatible servers: vLLM's integer code or flat object, Ollama's {"error":"..."} and plain text.
func (o *OpenAI) TranslateError(status int, h http.Header, body []byte) *Error {
	e := openAIErrorFromJSON(status, body)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// errorAnswer returns the error that a 200 answer or stream event (valid JSON) carries instead of a completion
// or chunk: a non-null "error" member, or vLLM's flat {"object":"error",...}; nil for anything else. Its
// status is the one the error's code or type stands for.
func errorAnswer(data []byte) *Error {
	root := gjson.Parse(stringView(data))
	obj := root.Get("error")
	switch {
	case obj.IsObject():
	case obj.Type == gjson.String && obj.Str != "":
	case root.Get("object").Str == "error":
		obj = root
	default:
		return nil
	}
	return openAIErrorFromJSON(openAIErrorStatus(obj), data)
}

// openAIErrorStatus is the HTTP status an OpenAI-shaped error object stands for: its numeric code, or what
// its code or type means; 502 when neither says.
func openAIErrorStatus(obj gjson.Result) int {
	code := obj.Get("code")
	if n := code.Int(); code.Type == gjson.Number && n >= 400 && n <= 599 {
		return int(n)
	}
	switch code.Str {
	case "invalid_api_key":
		return http.StatusUnauthorized
	case "model_not_found":
		return http.StatusNotFound
	case "rate_limit_exceeded", "insufficient_quota":
		return http.StatusTooManyRequests
	}
	switch obj.Get("type").Str {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "rate_limit_error", "insufficient_quota", "tokens", "requests":
		return http.StatusTooManyRequests
	case "server_error", "api_error":
		return http.StatusInternalServerError
	case "service_unavailable_error", "overloaded_error":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

func openAIErrorFromJSON(status int, body []byte) *Error {
	e := &Error{Status: status, Type: TypeForStatus(status)}
	if CheckJSON(body) != nil {
		e.Message = plainErrorMessage(status, body)
		return e
	}
	root := gjson.ParseBytes(body)
	obj := root.Get("error")
	switch {
	case obj.IsObject():
	case obj.Type == gjson.String:
		e.Message = obj.Str
		return e
	case root.Get("message").Type == gjson.String:
		obj = root
	default:
		e.Message = plainErrorMessage(status, body)
		return e
	}
	msg, typ, code, param := obj.Get("message"), obj.Get("type"), obj.Get("code"), obj.Get("param")
	wellFormed := msg.Type == gjson.String && root.Get("error").IsObject() &&
		(typ.Type == gjson.String || typ.Type == gjson.Null) &&
		(code.Type == gjson.String || code.Type == gjson.Null || !code.Exists()) &&
		(param.Type == gjson.String || param.Type == gjson.Null || !param.Exists())
	if wellFormed && typ.Type == gjson.String {
		e.Raw = body
		return e
	}
	e.Message = msg.String()
	if typ.Type == gjson.String && typ.Str != "" {
		e.Type = typ.Str
	}
	switch code.Type {
	case gjson.String:
		e.Code = code.Str
	case gjson.Number:
		e.Code = strconv.FormatInt(code.Int(), 10)
	}
	if param.Type == gjson.String {
		e.Param = param.Str
	}
	return e
}

// hasElements reports whether v is a non-empty array, from its first bytes alone.
func hasElements(v gjson.Result) bool {
	if !v.IsArray() {
		return false
	}
	for i := 1; i < len(v.Raw); i++ {
		switch v.Raw[i] {
		case ' ', '\t', '\n', '\r':
		case ']':
			return false
		default:
			return true
		}
	}
	return false
}

// plainErrorMessage describes an upstream error whose body is not an error object.
func plainErrorMessage(status int, body []byte) string {
	s := bodySnippet(body)
	if s == "" {
		s = "(empty body)"
	}
	return fmt.Sprintf("the upstream answered HTTP %d %s: %s", status, http.StatusText(status), s)
}
