package openapi

import (
	"slices"
	"strings"
)

// operation describes one HTTP operation of an endpoint.
type operation struct {
	path, method     string
	summary, details string
	// request is the JSON request body's schema; empty when the operation has no body.
	request string
	// response is the successful answer's JSON schema; stream the schema of each streamed event's data when
	// the operation can stream (stream: true), sent as text/event-stream.
	response, stream string
	// params are path parameters, each a string.
	params []string
	// anthropic marks the Messages surface: Anthropic's error shape, x-api-key accepted.
	anthropic bool
}

// operations are the operations of each endpoint, by the endpoint's fixed name in package gateway.
var operations = map[string][]operation{
	"chat_completions": {{path: "/chat/completions", method: "POST", summary: "Create a chat completion",
		details: "OpenAI's Chat Completions API, served for every configured provider: passed through to " +
			"OpenAI-compatible servers with only `model` rewritten, translated for Anthropic, Gemini and Ollama. " +
			"`usage` is always present, counted by the gateway when the upstream reports none.",
		request: "ChatCompletionRequest", response: "ChatCompletion", stream: "ChatCompletionStreamEvent"}},
	"completions": {{path: "/completions", method: "POST", summary: "Create a (legacy) text completion",
		request: "CompletionRequest", response: "Completion", stream: "CompletionStreamEvent"}},
	"embeddings": {{path: "/embeddings", method: "POST", summary: "Create embeddings",
		details: "OpenAI's embeddings API; Gemini and Ollama are translated.",
		request: "EmbeddingRequest", response: "EmbeddingList"}},
	"moderations": {{path: "/moderations", method: "POST", summary: "Classify text for moderation",
		request: "ModerationRequest", response: "ModerationResult"}},
	"rerank": {{path: "/rerank", method: "POST", summary: "Rerank documents against a query",
		details: "The rerank API of vLLM, Jina and Cohere-compatible servers.",
		request: "RerankRequest", response: "RerankResult"}},
	"models": {{path: "/models", method: "GET", summary: "List the models clients may use",
		response: "ModelList"}},
	"model": {{path: "/models/{model}", method: "GET", summary: "Describe one model", params: []string{"model"},
		response: "ModelObject"}},
}

// everyOperation returns all described operations, in a fixed order.
func everyOperation() []operation {
	names := make([]string, 0, len(operations))
	for n := range operations {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []operation
	for _, n := range names {
		out = append(out, operations[n]...)
	}
	return out
}

// refs are the component schemas the operation refers to.
func (op operation) refs() []string {
	var out []string
	for _, r := range []string{op.request, op.response, op.stream, op.errorSchema()} {
		if r != "" {
			out = append(out, r)
		}
	}
	return out
}

func (op operation) errorSchema() string {
	if op.anthropic {
		return "AnthropicError"
	}
	return "Error"
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// render is the operation object of the document.
func (op operation) render(endpoint string, bearer bool) map[string]any {
	o := map[string]any{"operationId": operationID(op), "summary": op.summary, "tags": []any{endpoint}}
	if op.details != "" {
		o["description"] = op.details
	}
	if len(op.params) > 0 {
		var ps []any
		for _, p := range op.params {
			ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		o["parameters"] = ps
	}
	if op.request != "" {
		o["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": ref(op.request)}}}
	}
	content := map[string]any{"application/json": map[string]any{"schema": ref(op.response)}}
	if op.stream != "" {
		content["text/event-stream"] = map[string]any{"schema": ref(op.stream)}
	}
	okDesc := "OK"
	if op.stream != "" {
		okDesc = "OK. With `stream: true`, server-sent events (`text/event-stream`), each event's `data` one " +
			"object of the stream schema."
	}
	errContent := map[string]any{"application/json": map[string]any{"schema": ref(op.errorSchema())}}
	responses := map[string]any{
		"200":     map[string]any{"description": okDesc, "content": content},
		"default": map[string]any{"description": "An error, in the surface's own shape.", "content": errContent},
	}
	for code, desc := range map[string]string{
		"400": "The request is invalid: the message says which field and why.",
		"404": "Unknown model or path.",
		"429": "A rate limit or budget was reached; Retry-After says when to retry.",
		"502": "The upstream failed or answered something unreadable.",
	} {
		responses[code] = map[string]any{"description": desc, "content": errContent}
	}
	if bearer {
		responses["401"] = map[string]any{"description": "Missing or unknown client key.", "content": errContent}
		if op.anthropic {
			o["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}}
		}
	}
	o["responses"] = responses
	return o
}

// operationID is a stable identifier for client generators, e.g. "post_chat_completions".
func operationID(op operation) string {
	b := []byte(strings.ToLower(op.method))
	for _, c := range []byte(op.path) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '{' || c == '}':
		default:
			if b[len(b)-1] != '_' {
				b = append(b, '_')
			}
		}
	}
	for len(b) > 0 && b[len(b)-1] == '_' {
		b = b[:len(b)-1]
	}
	return string(b)
}
