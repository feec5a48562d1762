package transform

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// OpenAIOptions configures the OpenAI-compatible dialect.
type OpenAIOptions struct {
	// ForwardMetadata sends the request's metadata object upstream. OpenAI accepts it only with store: true
	// and most compatible servers reject it, so it is dropped by default.
	ForwardMetadata bool
	// Azure switches to Azure OpenAI's deployment URLs and api-key header.
	Azure *AzureOptions
	// NativeResponses sends Responses API requests (POST /responses and the stored responses under it) to the
	// upstream's own Responses API, as they are. When false they are served through chat completions.
	NativeResponses bool
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

// name is the dialect's name in error messages when the request names no provider.
func (o *OpenAI) name() string {
	if o.opts.Azure != nil {
		return "azure"
	}
	return "openai"
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
