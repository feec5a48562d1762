package transform

import (
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// responseHead is what a translated Response object repeats of its request, and its ids.
type responseHead struct {
	id        string
	model     string
	createdAt int64
	// req is the Responses request body, whose settings the object echoes.
	req gjson.Result
	// custom names the request's custom tools: a call to one is a custom_tool_call item.
	custom map[string]bool
}

func newResponseHead(req *Request, createdAt int64) *responseHead {
	id := NewID("resp_")
	if req.ResourceID != nil {
		id = req.ResourceID(id)
	}
	h := &responseHead{id: id, model: req.ClientModel, createdAt: createdAt, req: gjson.ParseBytes(req.Body)}
	h.req.Get("tools").ForEach(func(_, t gjson.Result) bool {
		if t.Get("type").Str == "custom" {
			if h.custom == nil {
				h.custom = map[string]bool{}
			}
			h.custom[t.Get("name").Str] = true
		}
		return true
	})
	return h
}

// appendResponse appends a Response object. status is completed, incomplete, in_progress or failed; output
// the output items (a JSON array); usageJSON the usage object or null; incomplete the incomplete reason;
// errJSON the error object or null.
func (h *responseHead) appendResponse(dst []byte, status string, output []byte, usageJSON []byte, incomplete string, errJSON []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, h.id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, h.createdAt, 10)
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, status)
	if status == "completed" || status == "incomplete" {
		dst = append(dst, `,"completed_at":`...)
		dst = strconv.AppendInt(dst, time.Now().Unix(), 10)
	}
	dst = append(dst, `,"error":`...)
	dst = appendOrNull(dst, errJSON)
	dst = append(dst, `,"incomplete_details":`...)
	if incomplete == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"reason":`...)
		dst = AppendJSONString(dst, incomplete)
		dst = append(dst, '}')
	}
	r := h.req
	dst = append(dst, `,"instructions":`...)
	dst = appendRawOr(dst, r.Get("instructions"), "null")
	dst = append(dst, `,"max_output_tokens":`...)
	dst = appendRawOr(dst, r.Get("max_output_tokens"), "null")
	dst = append(dst, `,"model":`...)
	dst = AppendJSONString(dst, h.model)
	dst = append(dst, `,"output":`...)
	dst = append(dst, output...)
	dst = append(dst, `,"parallel_tool_calls":`...)
	dst = appendRawOr(dst, r.Get("parallel_tool_calls"), "true")
	dst = append(dst, `,"previous_response_id":`...)
	dst = appendRawOr(dst, r.Get("previous_response_id"), "null")
	dst = append(dst, `,"reasoning":{"effort":`...)
	dst = appendRawOr(dst, r.Get("reasoning.effort"), "null")
	dst = append(dst, `,"summary":`...)
	dst = appendRawOr(dst, r.Get("reasoning.summary"), "null")
	dst = append(dst, `},"store":`...)
	dst = appendRawOr(dst, r.Get("store"), "true")
	dst = append(dst, `,"temperature":`...)
	dst = appendRawOr(dst, r.Get("temperature"), "1")
	dst = append(dst, `,"text":`...)
	if t := r.Get("text"); t.IsObject() && t.Get("format").IsObject() {
		dst = append(dst, t.Raw...)
	} else {
		dst = append(dst, `{"format":{"type":"text"}}`...)
	}
	dst = append(dst, `,"tool_choice":`...)
	dst = appendRawOr(dst, r.Get("tool_choice"), `"auto"`)
	dst = append(dst, `,"tools":`...)
	dst = appendRawOr(dst, r.Get("tools"), "[]")
	dst = append(dst, `,"top_p":`...)
	dst = appendRawOr(dst, r.Get("top_p"), "1")
	dst = append(dst, `,"truncation":"disabled","usage":`...)
	dst = appendOrNull(dst, usageJSON)
	dst = append(dst, `,"metadata":`...)
	if m := r.Get("metadata"); m.IsObject() {
		dst = append(dst, m.Raw...)
	} else {
		dst = append(dst, "{}"...)
	}
	return append(dst, '}')
}

func appendOrNull(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

// AppendResponsesUsage appends a Responses usage object; cost, when not negative, is added as usage.cost.
func AppendResponsesUsage(dst []byte, u usage.Usage, cost float64) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CachedTokens), 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.ReasoningTokens), 10)
	dst = append(dst, `},"total_tokens":`...)
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = strconv.AppendInt(dst, int64(total), 10)
	if cost >= 0 {
		dst = append(dst, `,"cost":`...)
		dst = strconv.AppendFloat(dst, cost, 'f', -1, 64)
	}
	return append(dst, '}')
}

// ChatToResponses turns a chat.completion answer (already translated by a dialect, model set) into a
// Response object for the Responses request in req.Body: the first choice's reasoning becomes a reasoning
// item with a summary, its content (or refusal) a message item, its tool calls function_call items (a call
// to one of the request's custom tools a custom_tool_call item); finish_reason length and content_filter
// make the response incomplete. usage is written when u is known, else left null for the gateway to count.
func ChatToResponses(req *Request, chat []byte, u usage.Usage) ([]byte, error) {
	root := gjson.ParseBytes(chat)
	created := root.Get("created").Int()
	if created == 0 {
		created = time.Now().Unix()
	}
	h := newResponseHead(req, created)
	choice := root.Get("choices.0")
	msg := choice.Get("message")
	out := make([]byte, 0, len(chat)+256)
	out = append(out, '[')
	n := 0
	item := func() {
		if n > 0 {
			out = append(out, ',')
		}
		n++
	}
	for _, f := range [...]string{"reasoning_content", "reasoning"} {
		if r := msg.Get(f); r.Type == gjson.String && r.Str != "" {
			item()
			out = appendReasoningItem(out, NewID("rs_"), r.Raw)
			break
		}
	}
	content, refusal := msg.Get("content"), msg.Get("refusal")
	if (content.Type == gjson.String && content.Str != "") || (refusal.Type == gjson.String && refusal.Str != "") {
		item()
		part := "output_text"
		text := content.Raw
		if content.Type != gjson.String || content.Str == "" {
			part, text = "refusal", refusal.Raw
		}
		out = appendMessageItem(out, NewID("msg_"), "completed", part, text)
	}
	msg.Get("tool_calls").ForEach(func(_, c gjson.Result) bool {
		item()
		fn := c.Get("function")
		out = h.appendCallItem(out, "completed", c.Get("id").String(), fn.Get("name").String(), fn.Get("arguments").Raw)
		return true
	})
	out = append(out, ']')
	status, incomplete := responseStatus(choice.Get("finish_reason").Str)
	var usageJSON []byte
	if u.Known() {
		usageJSON = AppendResponsesUsage(nil, u, -1)
	}
	return h.appendResponse(make([]byte, 0, len(out)+1024), status, out, usageJSON, incomplete, nil), nil
}

// responseStatus maps a chat finish_reason to a Response status and incomplete reason.
func responseStatus(finish string) (status, incomplete string) {
	switch finish {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// appendReasoningItem appends a reasoning item whose summary is text (a JSON string literal).
func appendReasoningItem(dst []byte, id, text string) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, id)
	dst = append(dst, `,"type":"reasoning","summary":[{"type":"summary_text","text":`...)
	dst = append(dst, text...)
	return append(dst, "}]}"...)
}

// appendMessageItem appends an assistant message item of one part (output_text or refusal) whose text is a
// JSON string literal.
func appendMessageItem(dst []byte, id, status, part, text string) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, id)
	dst = append(dst, `,"type":"message","status":`...)
	dst = AppendJSONString(dst, status)
	dst = append(dst, `,"role":"assistant","content":[`...)
	dst = appendPart(dst, part, text)
	return append(dst, "]}"...)
}

// appendPart appends an output_text part (with its empty annotations) or a refusal part.
func appendPart(dst []byte, part, text string) []byte {
	if part == "refusal" {
		dst = append(dst, `{"type":"refusal","refusal":`...)
		dst = append(dst, text...)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"output_text","text":`...)
	dst = append(dst, text...)
	return append(dst, `,"annotations":[],"logprobs":[]}`...)
}

// appendCallItem appends a function_call item, or a custom_tool_call item for a call to a custom tool, whose
// arguments are a JSON string literal (empty: none).
func (h *responseHead) appendCallItem(dst []byte, status, callID, name, args string) []byte {
	if args == "" {
		args = `""`
	}
	if h.custom[name] {
		input := gjson.Get(gjson.Parse(args).Str, "input").String()
		dst = append(dst, `{"id":`...)
		dst = AppendJSONString(dst, "ctc_"+callID)
		dst = append(dst, `,"type":"custom_tool_call","status":`...)
		dst = AppendJSONString(dst, status)
		dst = append(dst, `,"call_id":`...)
		dst = AppendJSONString(dst, callID)
		dst = append(dst, `,"name":`...)
		dst = AppendJSONString(dst, name)
		dst = append(dst, `,"input":`...)
		dst = AppendJSONString(dst, input)
		return append(dst, '}')
	}
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, "fc_"+callID)
	dst = append(dst, `,"type":"function_call","status":`...)
	dst = AppendJSONString(dst, status)
	dst = append(dst, `,"arguments":`...)
	dst = append(dst, args...)
	dst = append(dst, `,"call_id":`...)
	dst = AppendJSONString(dst, callID)
	dst = append(dst, `,"name":`...)
	dst = AppendJSONString(dst, name)
	return append(dst, '}')
}
