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
	// params are path parameters, each a string; query the optional query parameters, each a string.
	params, query []string
	// multipart: the request body is multipart/form-data (request is its schema), streamed upstream.
	multipart bool
	// alsoJSON: a multipart operation that also takes the same fields as JSON.
	alsoJSON bool
	// binary is the media type of a successful answer that is not JSON (audio, video), e.g. "audio/*".
	binary string
	// anthropic marks the Messages surface: Anthropic's error shape, x-api-key accepted.
	anthropic bool
	// status is the success status when it is not 200.
	status string
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
	"responses": {{path: "/responses", method: "POST", summary: "Create a response (OpenAI Responses API)",
		details: "Passed through to OpenAI and Azure (and providers set to `responses native`); translated " +
			"through Chat Completions for every other provider, streamed events included. The id names the " +
			"provider that holds the response.",
		request: "ResponseCreateRequest", response: "Response", stream: "ResponseStreamEvent"}},
	"response": {
		{path: "/responses/{response_id}", method: "GET", summary: "Retrieve a stored response",
			params: []string{"response_id"}, response: "Response"},
		{path: "/responses/{response_id}", method: "DELETE", summary: "Delete a stored response",
			params: []string{"response_id"}, response: "ResponseDeleted"},
		{path: "/responses/{response_id}/input_items", method: "GET", summary: "List a response's input items",
			params: []string{"response_id"}, query: []string{"after", "limit", "order"}, response: "ResponseItemList"},
		{path: "/responses/{response_id}/cancel", method: "POST", summary: "Cancel a background response",
			params: []string{"response_id"}, response: "Response"},
	},
	"messages": {{path: "/messages", method: "POST", summary: "Create a message (Anthropic Messages API)",
		details: "Anthropic's Messages API, as Claude Code and the Anthropic SDKs call it: passed through to " +
			"Anthropic (anthropic-version and anthropic-beta forwarded), translated for every other provider.",
		query: []string{"beta"}, anthropic: true, request: "MessagesRequest", response: "Message", stream: "MessageStreamEvent"}},
	"messages_count_tokens": {{path: "/messages/count_tokens", method: "POST", summary: "Count a message's input tokens",
		details: "Anthropic's own count when the provider is Anthropic, the gateway's local count otherwise.",
		query:   []string{"beta"}, anthropic: true, request: "MessagesCountTokensRequest", response: "MessagesTokenCount"}},
	"images_generations": {{path: "/images/generations", method: "POST", summary: "Generate images",
		request: "ImageGenerationRequest", response: "ImagesResponse", stream: "ImageStreamEvent"}},
	"images_edits": {{path: "/images/edits", method: "POST", summary: "Edit images", multipart: true,
		request: "ImageEditRequest", response: "ImagesResponse", stream: "ImageStreamEvent"}},
	"audio_speech": {{path: "/audio/speech", method: "POST", summary: "Generate speech",
		details: "The audio bytes are streamed to the client as they arrive.",
		request: "SpeechRequest", binary: "audio/*", stream: "SpeechStreamEvent"}},
	"audio_transcriptions": {{path: "/audio/transcriptions", method: "POST", summary: "Transcribe audio",
		multipart: true, request: "TranscriptionRequest", response: "Transcription", stream: "TranscriptionStreamEvent"}},
	"audio_translations": {{path: "/audio/translations", method: "POST", summary: "Translate audio into English text",
		multipart: true, request: "TranscriptionRequest", response: "Transcription"}},
	"videos": {
		{path: "/videos", method: "POST", summary: "Create a video job", multipart: true, alsoJSON: true,
			request: "VideoCreateRequest", response: "Video"},
		{path: "/videos", method: "GET", summary: "List video jobs", query: []string{"after", "limit", "order"},
			response: "VideoList"},
	},
	"video": {
		{path: "/videos/{video_id}", method: "GET", summary: "Retrieve a video job", params: []string{"video_id"},
			response: "Video"},
		{path: "/videos/{video_id}", method: "DELETE", summary: "Delete a video job", params: []string{"video_id"},
			response: "VideoDeleted"},
	},
	"video_content": {{path: "/videos/{video_id}/content", method: "GET", summary: "Download a finished video",
		details: "Streamed through from the provider.", params: []string{"video_id"}, query: []string{"variant"},
		binary: "video/mp4"}},
	"keys": {
		{path: "/keys", method: "POST", summary: "Create a virtual key (admin key)", request: "KeyWrite",
			response: "KeyEnvelope", status: "201"},
		{path: "/keys", method: "GET", summary: "List the virtual keys (admin key)", query: []string{"offset", "limit"},
			response: "KeyList"},
		{path: "/keys/{key_id}", method: "GET", summary: "Describe a virtual key with its usage (admin key)",
			params: []string{"key_id"}, response: "KeyEnvelope"},
		{path: "/keys/{key_id}", method: "PATCH", summary: "Change a virtual key (admin key)",
			params: []string{"key_id"}, request: "KeyWrite", response: "KeyEnvelope"},
		{path: "/keys/{key_id}", method: "DELETE", summary: "Revoke a virtual key (admin key)",
			params: []string{"key_id"}, response: "KeyDeleted"},
		{path: "/keys/{key_id}/rotate", method: "POST", summary: "Give a virtual key a new secret (admin key)",
			params: []string{"key_id"}, response: "KeyEnvelope"},
		{path: "/key", method: "GET", summary: "The calling virtual key's own limits, usage and spend",
			response: "KeyEnvelope"},
	},
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
	var ps []any
	for _, p := range op.params {
		ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, p := range op.query {
		ps = append(ps, map[string]any{"name": p, "in": "query", "schema": map[string]any{"type": "string"}})
	}
	if len(ps) > 0 {
		o["parameters"] = ps
	}
	if op.request != "" {
		body := map[string]any{}
		if op.multipart {
			body["multipart/form-data"] = map[string]any{"schema": ref(op.request)}
		}
		if !op.multipart || op.alsoJSON {
			body["application/json"] = map[string]any{"schema": ref(op.request)}
		}
		o["requestBody"] = map[string]any{"required": true, "content": body}
	}
	content := map[string]any{}
	if op.response != "" {
		content["application/json"] = map[string]any{"schema": ref(op.response)}
	}
	if op.binary != "" {
		content[op.binary] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
	}
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
		op.success(): map[string]any{"description": okDesc, "content": content},
		"default":    map[string]any{"description": "An error, in the surface's own shape.", "content": errContent},
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

func (op operation) success() string {
	if op.status != "" {
		return op.status
	}
	return "200"
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
