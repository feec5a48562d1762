package transform

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TranslateResponse turns a non-streamed /api/chat answer (one JSON object) into an OpenAI chat.completion.
func (o *Ollama) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("ollama"), err)
	}
	root := gjson.Parse(stringView(body))
	if !root.IsObject() {
		return nil, usage.Usage{}, badUpstream("ollama: the upstream returned a response body that is not a JSON object")
	}
	if e := root.Get("error"); e.Exists() {
		return nil, usage.Usage{}, ollamaStreamError(e)
	}
	msg := root.Get("message")
	c := completion{
		ID:        NewID("chatcmpl-"),
		Created:   time.Now().Unix(),
		Model:     req.ClientModel,
		Content:   msg.Get("content").String(),
		Reasoning: msg.Get("thinking").String(),
		Usage:     ollamaUsage(root),
	}
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		c.ToolCalls = append(c.ToolCalls, toolCall{
			ID:        ollamaCallID(tc),
			Name:      tc.Get("function.name").String(),
			Arguments: ollamaArgs(nil, tc.Get("function.arguments")),
		})
		return true
	})
	c.FinishReason = ollamaFinishReason(root.Get("done_reason").String(), len(c.ToolCalls) > 0)
	return c.AppendJSON(make([]byte, 0, len(body)+256)), c.Usage, nil
}

// ollamaFinishReason maps Ollama's done_reason to OpenAI's finish_reason: length stays length, and any
// other reason is tool_calls when the answer called a tool (Ollama says "stop" for those) and stop otherwise.
func ollamaFinishReason(doneReason string, sawCall bool) string {
	switch {
	case doneReason == "length":
		return finishLength
	case sawCall:
		return finishToolCalls
	}
	return finishStop
}

// ollamaUsage returns the counts of a done object, Reported only when both prompt_eval_count and eval_count
// are present: Ollama omits them at zero and older servers dropped prompt_eval_count on prompt-cache hits,
// so a missing count is unknown, never 0, and the engine counts locally instead.
func ollamaUsage(root gjson.Result) usage.Usage {
	var prompt, eval, cached gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "prompt_eval_count":
			prompt = v
		case "eval_count":
			eval = v
		case "prompt_eval_cached_count":
			cached = v
		}
		return true
	})
	if prompt.Type != gjson.Number || eval.Type != gjson.Number {
		return usage.Usage{}
	}
	var rep usage.Report
	p, e := rep.Count(prompt), rep.Count(eval)
	return rep.Usage(usage.Usage{
		PromptTokens:     p,
		CompletionTokens: e,
		TotalTokens:      p + e,
		CachedTokens:     rep.Count(cached),
		Origin:           usage.Reported,
	})
}

// ollamaCallID returns the tool call's own id (newer servers send one) or a minted call_ id.
func ollamaCallID(tc gjson.Result) string {
	if id := tc.Get("id").String(); id != "" {
		return id
	}
	return NewID("call_")
}

// ollamaArgs appends a tool call's arguments as compact JSON text: the object Ollama sends, a string's
// contents as they are, and "{}" when there are none.
func ollamaArgs(dst []byte, args gjson.Result) []byte {
	switch {
	case args.IsObject():
		return compactJSON(dst, bytesView(args.Raw))
	case args.Type == gjson.String && strings.TrimSpace(args.Str) != "":
		return append(dst, args.Str...)
	}
	return append(dst, "{}"...)
}
