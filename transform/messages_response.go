package transform

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// ChatToMessages turns an OpenAI chat.completion body (as the dialects return it, usage completed by the
// engine) into a Messages API answer with model set to model:
//   - message.reasoning_content (or reasoning) becomes a thinking block (with an empty signature: only
//     Anthropic signs thinking), the content a text block, each tool call a tool_use block whose input is
//     the parsed arguments ({} when they are empty or not a JSON object); a refusal becomes a text block;
//   - finish_reason stop → end_turn (stop_sequence, with the sequence, when the upstream names the stop
//     string that matched, as vLLM does in stop_reason), length → max_tokens, tool_calls → tool_use,
//     content_filter or a refusal → refusal;
//   - usage: input_tokens = prompt_tokens − cached_tokens, cache_read_input_tokens = cached_tokens,
//     output_tokens = completion_tokens;
//   - the id is a fresh msg_… one.
//
// stopSequences are the request's stop_sequences, to recognise the one that matched.
func ChatToMessages(body []byte, model string, stopSequences []string) ([]byte, error) {
	if err := CheckJSON(body); err != nil {
		return nil, badUpstream("the upstream answer is not valid JSON")
	}
	root := gjson.Parse(stringView(body))
	choice := root.Get("choices.0")
	if !choice.IsObject() {
		return nil, badUpstream("the upstream answer has no choices")
	}
	msg := choice.Get("message")
	dst := make([]byte, 0, len(body)+128)
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, NewID("msg_"))
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = AppendJSONString(dst, model)
	dst = append(dst, `,"content":[`...)
	n := 0
	block := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	if r := chatReasoning(msg); r.Type == gjson.String && r.Str != "" {
		block()
		dst = append(dst, `{"type":"thinking","thinking":`...)
		dst = append(dst, r.Raw...)
		dst = append(dst, `,"signature":""}`...)
	}
	if c := msg.Get("content"); c.Type == gjson.String && c.Str != "" {
		block()
		dst = append(dst, `{"type":"text","text":`...)
		dst = append(dst, c.Raw...)
		dst = append(dst, '}')
	} else if c.IsArray() {
		if text := contentText(c); text != "" {
			block()
			dst = append(dst, `{"type":"text","text":`...)
			dst = AppendJSONString(dst, text)
			dst = append(dst, '}')
		}
	}
	refusal := msg.Get("refusal")
	if refusal.Type == gjson.String && refusal.Str != "" {
		block()
		dst = append(dst, `{"type":"text","text":`...)
		dst = append(dst, refusal.Raw...)
		dst = append(dst, '}')
	}
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		block()
		id := tc.Get("id").String()
		if id == "" {
			id = NewID("toolu_")
		}
		dst = append(dst, `{"type":"tool_use","id":`...)
		dst = AppendJSONString(dst, id)
		dst = append(dst, `,"name":`...)
		dst = AppendJSONString(dst, tc.Get("function.name").String())
		dst = append(dst, `,"input":`...)
		dst = appendToolInput(dst, tc.Get("function.arguments").String())
		dst = append(dst, '}')
		return true
	})
	dst = append(dst, `],"stop_reason":`...)
	reason, seq := messagesStopReason(choice.Get("finish_reason").String(), choice.Get("stop_reason"), stopSequences)
	if refusal.Type == gjson.String && refusal.Str != "" {
		reason = "refusal"
	}
	dst = AppendJSONString(dst, reason)
	dst = append(dst, `,"stop_sequence":`...)
	if seq != "" {
		dst = AppendJSONString(dst, seq)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"usage":`...)
	dst = AppendMessagesUsage(dst, ChatUsage(root.Get("usage")), true)
	return append(dst, '}'), nil
}

// chatReasoning returns a chat message's or delta's reasoning text: reasoning_content, or the reasoning field
// some OpenAI-compatible servers (vLLM, Ollama, OpenRouter) use.
func chatReasoning(m gjson.Result) gjson.Result {
	if r := m.Get("reasoning_content"); r.Exists() {
		return r
	}
	return m.Get("reasoning")
}

// appendToolInput appends a tool call's arguments as a tool_use input: the JSON object, or {} when the
// arguments are empty or not an object.
func appendToolInput(dst []byte, args string) []byte {
	obj, err := toolArgumentsObject(args)
	if err != nil {
		return append(dst, "{}"...)
	}
	return append(dst, obj...)
}

// messagesStopReason maps a chat finish_reason to a Messages stop_reason and the stop sequence that matched,
// when the upstream says which (vLLM's non-standard stop_reason holds the matched string).
func messagesStopReason(finish string, upstreamStop gjson.Result, stopSequences []string) (string, string) {
	switch finish {
	case finishLength:
		return "max_tokens", ""
	case finishToolCalls, "function_call":
		return "tool_use", ""
	case finishContentFilter:
		return "refusal", ""
	}
	if upstreamStop.Type == gjson.String {
		for _, s := range stopSequences {
			if s == upstreamStop.Str {
				return "stop_sequence", s
			}
		}
	}
	return "end_turn", ""
}

// ChatUsage reads an OpenAI usage object (Origin Reported when it has any token count, else Unknown).
func ChatUsage(u gjson.Result) usage.Usage {
	if !u.IsObject() {
		return usage.Usage{}
	}
	out := usage.Usage{
		PromptTokens:     int(u.Get("prompt_tokens").Int()),
		CompletionTokens: int(u.Get("completion_tokens").Int()),
		TotalTokens:      int(u.Get("total_tokens").Int()),
		CachedTokens:     int(u.Get("prompt_tokens_details.cached_tokens").Int()),
		ReasoningTokens:  int(u.Get("completion_tokens_details.reasoning_tokens").Int()),
		Origin:           usage.Reported,
	}
	return out
}

// AppendMessagesUsage appends u as a Messages usage object: input_tokens excludes the cached (and
// cache-written) prompt tokens, reported apart. withCache adds cache_creation_input_tokens and
// cache_read_input_tokens even when 0 (Anthropic always sends them in full answers and message_start).
func AppendMessagesUsage(dst []byte, u usage.Usage, withCache bool) []byte {
	input := max(u.PromptTokens-u.CachedTokens-u.CacheWriteTokens, 0)
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(input), 10)
	if withCache || u.CacheWriteTokens > 0 || u.CachedTokens > 0 {
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = strconv.AppendInt(dst, int64(u.CacheWriteTokens), 10)
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = strconv.AppendInt(dst, int64(u.CachedTokens), 10)
	}
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	return append(dst, '}')
}

// MessagesUsage reads a Messages usage object (a whole answer's, or message_start's and message_delta's
// merged by the caller) in OpenAI's terms: prompt tokens include the cached and cache-written ones.
func MessagesUsage(u gjson.Result) usage.Usage {
	read := int(u.Get("cache_read_input_tokens").Int())
	write := int(u.Get("cache_creation_input_tokens").Int())
	out := usage.Usage{
		PromptTokens:     int(u.Get("input_tokens").Int()) + read + write,
		CompletionTokens: int(u.Get("output_tokens").Int()),
		CachedTokens:     read,
		CacheWriteTokens: write,
		// the one-hour writes are priced apart (cache_creation splits the writes by lifetime)
		CacheWrite1hTokens: min(int(u.Get("cache_creation.ephemeral_1h_input_tokens").Int()), write),
		Origin:             usage.Reported,
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	return out
}

// StopSequences returns a Messages request's stop_sequences.
func StopSequences(body []byte) []string {
	if !strings.Contains(stringView(body), `"stop_sequences"`) {
		return nil
	}
	var out []string
	gjson.GetBytes(body, "stop_sequences").ForEach(func(_, s gjson.Result) bool {
		if s.Type == gjson.String {
			out = append(out, s.Str)
		}
		return true
	})
	return out
}
