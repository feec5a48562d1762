package gateway

import (
	"net/http"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// messagesSurface is Anthropic's Messages API (POST …/messages, with or without ?beta=true): natively for
// dialects that implement transform.MessagesDialect (Anthropic, and Claude models on Bedrock and Vertex AI,
// which say so with transform.MessagesModelFilter), whose client bodies, answers, stream events and error
// bodies pass through with only the model rewritten; through chat completions for every other provider and model (transform.MessagesToChat, ChatToMessages and MessagesStream). Errors are Anthropic-shaped. A
// max_tokens above max_output_tokens (Claude Code asks for 32000) is lowered to it rather than refused, and
// to the target model's own limit where known (clampOutputTokens).
var messagesSurface = &surface{
	native: func(d transform.Dialect) *dialectOps {
		md, ok := d.(transform.MessagesDialect)
		if !ok {
			return nil
		}
		return &dialectOps{build: clampedToModel("max_tokens", md.BuildMessages), translate: md.TranslateMessages,
			stream: md.NewMessagesStream, translateError: md.TranslateMessagesError}
	},
	nativeModels: messagesModels,
	toChat: func(req *transform.Request) ([]byte, error) {
		return transform.MessagesToChat(clampOutputTokens(req.Body, "max_tokens", modelOutputLimit(req.Model)))
	},
	fromChat: func(req *transform.Request, chat []byte, _ usage.Usage) ([]byte, error) {
		return transform.ChatToMessages(chat, req.ClientModel, transform.StopSequences(req.Body))
	},
	newStream: func(req *transform.Request, _ bool) transform.SurfaceStream {
		return transform.NewMessagesSurfaceStream(req.ClientModel, req.InputTokens, transform.StopSequences(req.Body))
	},
	setUsage: func(body []byte, u usage.Usage) []byte {
		body, _ = sjson.SetRawBytes(body, "usage", transform.AppendMessagesUsage(nil, u, true))
		return body
	},
	appendError: transform.AppendMessagesError,
	prepare:     prepareMessages,
	inputTokens: true,
}

// countTokensSurface is POST …/messages/count_tokens: the upstream's own count through a native dialect
// that implements transform.CountTokensDialect (Anthropic; Claude on Bedrock and Vertex AI), otherwise the
// gateway's local count of the request (transform.CountMessagesTokens), with no upstream call.
var countTokensSurface = &surface{
	native: func(d transform.Dialect) *dialectOps {
		md, ok := d.(transform.MessagesDialect)
		cd, ok2 := d.(transform.CountTokensDialect)
		if !ok || !ok2 {
			return nil
		}
		return &dialectOps{build: cd.BuildCountTokens, translate: cd.TranslateCountTokens,
			translateError: md.TranslateMessagesError}
	},
	nativeModels: messagesModels,
	local: func(req *transform.Request) ([]byte, error) {
		if err := transform.ValidateMessages(req.Body); err != nil {
			return nil, err
		}
		return transform.AppendCountTokens(nil, req.InputTokens), nil
	},
	appendError: transform.AppendMessagesError,
	inputTokens: true,
}

// messagesModels returns the models a dialect serves the Messages API for natively, nil for all.
func messagesModels(d transform.Dialect) func(model string) bool {
	if f, ok := d.(transform.MessagesModelFilter); ok {
		return f.NativeMessages
	}
	return nil
}

// clampedToModel lowers the output-token field (max_tokens, max_output_tokens) to the target model's known
// output limit before build.
func clampedToModel(field string, build func(*transform.Request) (*transform.Outgoing, error)) func(*transform.Request) (*transform.Outgoing, error) {
	return func(req *transform.Request) (*transform.Outgoing, error) {
		if limit := modelOutputLimit(req.Model); limit > 0 {
			if body := clampOutputTokens(req.Body, field, limit); len(body) != len(req.Body) {
				r := *req
				r.Body = body
				return build(&r)
			}
		}
		return build(req)
	}
}

// prepareMessages lowers max_tokens to max_output_tokens, recording the clamp in the request log.
func prepareMessages(g *Gateway, _ *http.Request, x *exchange) *transform.Error {
	g.clampOutput(x, "max_tokens")
	return nil
}

// messagesField validates a Messages API request's own fields. max_tokens may exceed max_output_tokens:
// prepareMessages lowers it.
func messagesField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "messages":
		req.required++
		if !v.IsArray() {
			return transform.InvalidRequest("messages", "messages must be an array of {role, content} messages")
		}
		if len(v.Array()) == 0 {
			return transform.InvalidRequest("messages", "messages must hold at least one message")
		}
	case "max_tokens":
		req.required++
		n, ok := intValue(v)
		if !ok || n < 1 {
			return transform.InvalidRequest("max_tokens", "max_tokens must be a positive integer")
		}
		req.maxTokens = min(n, g.cfg.MaxOutputTokens)
	case "temperature":
		return numberIn(v, key, 0, 1)
	case "top_p":
		return numberIn(v, key, 0, 1)
	case "top_k":
		if n, ok := intValue(v); v.Type != gjson.Null && (!ok || n < 0) {
			return transform.InvalidRequest("top_k", "top_k must be a non-negative integer")
		}
	case "system":
		if v.Type != gjson.String && !v.IsArray() && v.Type != gjson.Null {
			return transform.InvalidRequest("system", "system must be a string or an array of text blocks")
		}
	case "tools", "stop_sequences":
		if !v.IsArray() && v.Type != gjson.Null {
			return transform.InvalidRequest(key, key+" must be an array")
		}
	case "metadata", "tool_choice", "thinking":
		if !v.IsObject() && v.Type != gjson.Null {
			return transform.InvalidRequest(key, key+" must be an object")
		}
	}
	return nil
}

// countTokensField validates a count_tokens request: a Messages request whose max_tokens and stream, if
// sent, are ignored.
func countTokensField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	if key == "max_tokens" || key == "stream" {
		return nil
	}
	return messagesField(g, req, key, v)
}

// countMessagesPrompt counts a Messages request's input locally; 0 for a request the count cannot read.
func countMessagesPrompt(t *usage.Tokenizer, model string, body []byte) int {
	n, _ := transform.CountMessagesTokens(t, model, body)
	return n
}

// countMessagesOutput counts a Messages answer's output locally: its text, thinking and tool inputs.
func countMessagesOutput(t *usage.Tokenizer, model string, body []byte) (completion, reasoning int) {
	gjson.GetBytes(body, "content").ForEach(func(_, b gjson.Result) bool {
		switch b.Get("type").String() {
		case "text":
			completion += t.Count(model, b.Get("text").String())
		case "thinking":
			n := t.Count(model, b.Get("thinking").String())
			completion += n
			reasoning += n
		case "tool_use":
			completion += t.Count(model, b.Get("name").String()) + t.Count(model, b.Get("input").Raw)
		}
		return true
	})
	return completion, reasoning
}
