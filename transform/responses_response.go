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
	// settings and tail are the request's settings the object echoes, rendered once: settings the members
	// between incomplete_details and model, tail those between output and usage (without the comma).
	settings, tail, metadata []byte
	// custom names the request's custom tools: a call to one is a custom_tool_call item.
	custom map[string]bool
}

func newResponseHead(req *Request, createdAt int64) *responseHead {
	id := NewID("resp_")
	if req.ResourceID != nil {
		id = req.ResourceID(id)
	}
	h := &responseHead{id: id, model: req.ClientModel, createdAt: createdAt}
	r := gjson.ParseBytes(req.Body)
	var f [12]gjson.Result
	r.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "instructions":
			f[0] = v
		case "max_output_tokens":
			f[1] = v
		case "parallel_tool_calls":
			f[2] = v
		case "previous_response_id":
			f[3] = v
		case "reasoning":
			f[4] = v
		case "store":
			f[5] = v
		case "temperature":
			f[6] = v
		case "text":
			f[7] = v
		case "tool_choice":
			f[8] = v
		case "tools":
			f[9] = v
		case "top_p":
			f[10] = v
		case "metadata":
			f[11] = v
		}
		return true
	})
	s := append([]byte(nil), `,"instructions":`...)
	s = appendRawOr(s, f[0], "null")
	s = append(s, `,"max_output_tokens":`...)
	h.settings = appendRawOr(s, f[1], "null")
	t := append([]byte(nil), `"parallel_tool_calls":`...)
	t = appendRawOr(t, f[2], "true")
	t = append(t, `,"previous_response_id":`...)
	t = appendRawOr(t, f[3], "null")
	t = append(t, `,"reasoning":{"effort":`...)
	t = appendRawOr(t, f[4].Get("effort"), "null")
	t = append(t, `,"summary":`...)
	t = appendRawOr(t, f[4].Get("summary"), "null")
	t = append(t, `},"store":`...)
	t = appendRawOr(t, f[5], "true")
	t = append(t, `,"temperature":`...)
	t = appendRawOr(t, f[6], "1")
	t = append(t, `,"text":`...)
	if f[7].IsObject() && f[7].Get("format").IsObject() {
		t = append(t, f[7].Raw...)
	} else {
		t = append(t, `{"format":{"type":"text"}}`...)
	}
	t = append(t, `,"tool_choice":`...)
	t = appendRawOr(t, f[8], `"auto"`)
	t = append(t, `,"tools":`...)
	t = appendRawOr(t, f[9], "[]")
	t = append(t, `,"top_p":`...)
	h.tail = append(appendRawOr(t, f[10], "1"), `,"truncation":"disabled"`...)
	h.metadata = []byte("{}")
	if f[11].IsObject() {
		h.metadata = []byte(f[11].Raw)
	}
	f[9].ForEach(func(_, t gjson.Result) bool {
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
	dst = append(dst, h.settings...)
	dst = append(dst, `,"model":`...)
	dst = AppendJSONString(dst, h.model)
	dst = append(dst, `,"output":`...)
	dst = append(dst, output...)
	dst = append(append(dst, ','), h.tail...)
	dst = append(dst, `,"usage":`...)
	dst = appendOrNull(dst, usageJSON)
	dst = append(dst, `,"metadata":`...)
	dst = append(dst, h.metadata...)
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
	status, incomplete := responseStatus(choice.Get("finish_reason").Str)
	itemStatus := "completed"
	if status == "incomplete" {
		itemStatus = "incomplete"
	}
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
		out = appendMessageItem(out, NewID("msg_"), itemStatus, part, text)
	}
	msg.Get("tool_calls").ForEach(func(_, c gjson.Result) bool {
		item()
		fn := c.Get("function")
		out = h.appendCallItem(out, "completed", c.Get("id").String(), fn.Get("name").String(), fn.Get("arguments").Raw)
		return true
	})
	out = append(out, ']')
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
