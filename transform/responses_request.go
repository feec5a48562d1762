package transform

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// The Responses API served through Chat Completions, for dialects that do not serve it themselves:
// ResponsesToChat maps the request (this file), ChatToResponses the answer (responses_response.go) and
// NewResponsesSurfaceStream the stream (responses_stream.go). Mappings follow OpenAI's own types on both
// sides; what cannot be said in a chat request is refused with a 400 naming the field, never dropped, except
// the tools only OpenAI runs (web_search, file_search, ...), which a chat model cannot call and which are left
// out.

// ResponsesToChat turns a Responses API request body (already checked with CheckJSON) into an OpenAI chat
// completion request body: instructions become a system message, input items become messages (function_call
// items the assistant's tool_calls, function_call_output items tool messages), function and custom tools
// become chat function tools, text.format becomes response_format, reasoning.effort reasoning_effort and
// max_output_tokens max_tokens.
func ResponsesToChat(body []byte) ([]byte, error) {
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, InvalidRequest("", "the request body must be a JSON object")
	}
	if root.Get("background").Bool() {
		return nil, InvalidRequest("background", "background responses need a provider that serves the Responses API "+
			"natively (responses native): this one is served through chat completions")
	}
	if v := root.Get("conversation"); v.Exists() && v.Type != gjson.Null {
		return nil, InvalidRequest("conversation", "conversation objects need a provider that serves the Responses "+
			"API natively: use previous_response_id, or send the whole input")
	}
	out := make([]byte, 0, len(body)+256)
	out = append(out, `{"model":`...)
	out = appendRawOr(out, root.Get("model"), `""`)
	out = append(out, `,"messages":[`...)
	m := &chatMessages{dst: out}
	if ins := root.Get("instructions"); ins.Type == gjson.String && ins.Str != "" {
		m.open("system")
		m.dst = append(m.dst, `,"content":`...)
		m.dst = append(m.dst, ins.Raw...)
		m.close()
	}
	input := root.Get("input")
	instructions := m.n
	switch {
	case input.Type == gjson.String:
		m.open("user")
		m.dst = append(m.dst, `,"content":`...)
		m.dst = append(m.dst, input.Raw...)
		m.close()
	case input.IsArray():
		i := 0
		var err error
		input.ForEach(func(_, item gjson.Result) bool {
			err = m.item(item, "input["+strconv.Itoa(i)+"]")
			i++
			return err == nil
		})
		if err != nil {
			return nil, err
		}
	case input.Exists() && input.Type != gjson.Null:
		return nil, InvalidRequest("input", "input must be a string or an array of input items")
	}
	m.flushCalls()
	if m.n == instructions {
		return nil, InvalidRequest("input", "input is required: a string, or an array of input items")
	}
	out = append(m.dst, ']')
	var err error
	if out, err = appendChatTools(out, root); err != nil {
		return nil, err
	}
	if v := root.Get("parallel_tool_calls"); v.Type == gjson.True || v.Type == gjson.False {
		out = append(append(out, `,"parallel_tool_calls":`...), v.Raw...)
	}
	for _, f := range [...]string{"temperature", "top_p", "user"} {
		if v := root.Get(f); v.Exists() && v.Type != gjson.Null {
			out = append(append(append(out, `,"`...), f...), `":`...)
			out = append(out, v.Raw...)
		}
	}
	if v := root.Get("max_output_tokens"); v.Type == gjson.Number {
		out = append(append(out, `,"max_tokens":`...), v.Raw...)
	}
	if v := root.Get("top_logprobs"); v.Type == gjson.Number && v.Int() > 0 {
		out = append(append(out, `,"logprobs":true,"top_logprobs":`...), v.Raw...)
	}
	if v := root.Get("reasoning.effort"); v.Type == gjson.String && v.Str != "" {
		out = append(append(out, `,"reasoning_effort":`...), v.Raw...)
	}
	if out, err = appendResponseFormat(out, root.Get("text.format")); err != nil {
		return nil, err
	}
	if root.Get("stream").Bool() {
		out = append(out, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(out, '}'), nil
}

// chatMessages builds the messages array. Consecutive function_call items gather in one assistant message.
type chatMessages struct {
	dst []byte
	n   int
	// calls holds the tool_calls of the assistant message being gathered (without brackets); callsText the
	// text of an assistant message they follow, as a JSON string literal.
	calls     []byte
	pending   bool
	callsText string
}

func (m *chatMessages) open(role string) {
	m.flushCalls()
	if m.n > 0 {
		m.dst = append(m.dst, ',')
	}
	m.n++
	m.dst = append(m.dst, `{"role":`...)
	m.dst = AppendJSONString(m.dst, role)
}

func (m *chatMessages) close() { m.dst = append(m.dst, '}') }

// flushCalls writes the gathered assistant message with its tool calls.
func (m *chatMessages) flushCalls() {
	if !m.pending {
		return
	}
	m.pending = false
	if m.n > 0 {
		m.dst = append(m.dst, ',')
	}
	m.n++
	m.dst = append(m.dst, `{"role":"assistant","content":`...)
	if m.callsText == "" {
		m.dst = append(m.dst, "null"...)
	} else {
		m.dst = append(m.dst, m.callsText...)
	}
	if len(m.calls) > 0 {
		m.dst = append(m.dst, `,"tool_calls":[`...)
		m.dst = append(m.dst, m.calls...)
		m.dst = append(m.dst, ']')
	}
	m.dst = append(m.dst, '}')
	m.calls, m.callsText = m.calls[:0], ""
}

// item appends one input item.
func (m *chatMessages) item(item gjson.Result, param string) error {
	if !item.IsObject() {
		return InvalidRequest(param, param+" must be an input item object")
	}
	typ := item.Get("type").Str
	if typ == "" && item.Get("role").Exists() {
		typ = "message"
	}
	switch typ {
	case "message":
		return m.message(item, param)
	case "function_call", "custom_tool_call":
		callID := item.Get("call_id")
		name := item.Get("name")
		if callID.Type != gjson.String || name.Type != gjson.String {
			return InvalidRequest(param, param+" ("+typ+") needs call_id and name strings")
		}
		if !m.pending {
			m.pending = true
		}
		if len(m.calls) > 0 {
			m.calls = append(m.calls, ',')
		}
		m.calls = append(m.calls, `{"id":`...)
		m.calls = append(m.calls, callID.Raw...)
		m.calls = append(m.calls, `,"type":"function","function":{"name":`...)
		m.calls = append(m.calls, name.Raw...)
		m.calls = append(m.calls, `,"arguments":`...)
		if typ == "custom_tool_call" {
			args := AppendJSONString([]byte(`{"input":`), item.Get("input").String())
			m.calls = AppendJSONString(m.calls, string(append(args, '}')))
		} else {
			m.calls = appendStringOr(m.calls, item.Get("arguments"), `"{}"`)
		}
		m.calls = append(m.calls, "}}"...)
	case "function_call_output", "custom_tool_call_output":
		callID := item.Get("call_id")
		if callID.Type != gjson.String {
			return InvalidRequest(param+".call_id", param+".call_id must be the call_id of the function_call it answers")
		}
		m.open("tool")
		m.dst = append(m.dst, `,"tool_call_id":`...)
		m.dst = append(m.dst, callID.Raw...)
		m.dst = append(m.dst, `,"content":`...)
		out := item.Get("output")
		var images []gjson.Result
		switch {
		case out.Type == gjson.String:
			m.dst = append(m.dst, out.Raw...)
		case out.IsArray():
			text := ""
			out.ForEach(func(_, p gjson.Result) bool {
				switch p.Get("type").Str {
				case "input_text", "output_text", "text":
					text += p.Get("text").String()
				case "input_image", "input_file":
					images = append(images, p)
				}
				return true
			})
			m.dst = AppendJSONString(m.dst, text)
		default:
			m.dst = AppendJSONString(m.dst, out.Raw)
		}
		m.close()
		if len(images) > 0 { // chat tool messages are text only: images follow in a user message
			m.open("user")
			m.dst = append(m.dst, `,"content":[`...)
			for i, p := range images {
				if i > 0 {
					m.dst = append(m.dst, ',')
				}
				var err error
				if m.dst, err = appendChatPart(m.dst, p, param+".output"); err != nil {
					return err
				}
			}
			m.dst = append(m.dst, "]}"...)
		}
	case "reasoning":
		// A reasoning item replays the model's earlier thinking for the provider that made it; chat requests
		// have no place for it, and the answer that followed it is in the next items.
	case "item_reference":
		return InvalidRequest(param, param+" is an item_reference: items are only kept by providers that serve "+
			"the Responses API natively; send the item itself")
	default:
		return InvalidRequest(param+".type", param+" is a "+strconv.Quote(typ)+" item, which cannot be sent to a "+
			"provider served through chat completions")
	}
	return nil
}

// message appends a message item.
func (m *chatMessages) message(item gjson.Result, param string) error {
	role := item.Get("role").Str
	switch role {
	case "user", "assistant", "system":
	case "developer":
		role = "system"
	default:
		return InvalidRequest(param+".role", param+".role must be user, assistant, system or developer")
	}
	content := item.Get("content")
	if role == "assistant" {
		// An assistant message's text: parts joined; a function_call that follows joins the same message.
		text := content.Raw
		if content.IsArray() {
			s := ""
			content.ForEach(func(_, p gjson.Result) bool {
				if p.Get("type").Str == "refusal" {
					s += p.Get("refusal").String()
				} else {
					s += p.Get("text").String()
				}
				return true
			})
			text = string(AppendJSONString(nil, s))
		} else if content.Type != gjson.String {
			return InvalidRequest(param+".content", param+".content must be a string or an array of content parts")
		}
		m.flushCalls()
		m.pending, m.callsText = true, text
		return nil
	}
	m.open(role)
	m.dst = append(m.dst, `,"content":`...)
	switch {
	case content.Type == gjson.String:
		m.dst = append(m.dst, content.Raw...)
	case content.IsArray():
		m.dst = append(m.dst, '[')
		i := 0
		var err error
		content.ForEach(func(_, p gjson.Result) bool {
			if i > 0 {
				m.dst = append(m.dst, ',')
			}
			m.dst, err = appendChatPart(m.dst, p, param+".content["+strconv.Itoa(i)+"]")
			i++
			return err == nil
		})
		if err != nil {
			return err
		}
		m.dst = append(m.dst, ']')
	default:
		return InvalidRequest(param+".content", param+".content must be a string or an array of content parts")
	}
	m.close()
	return nil
}

// appendChatPart appends the chat content part of a Responses input part.
func appendChatPart(dst []byte, p gjson.Result, param string) ([]byte, error) {
	switch p.Get("type").Str {
	case "input_text", "output_text", "text":
		dst = append(dst, `{"type":"text","text":`...)
		dst = appendStringOr(dst, p.Get("text"), `""`)
		return append(dst, '}'), nil
	case "input_image":
		url := p.Get("image_url")
		if url.Type != gjson.String {
			return dst, InvalidRequest(param, param+" (input_image) needs an image_url: file_id images are only "+
				"served by providers with the Responses API natively")
		}
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		dst = append(dst, url.Raw...)
		if d := p.Get("detail"); d.Type == gjson.String {
			dst = append(append(dst, `,"detail":`...), d.Raw...)
		}
		return append(dst, "}}"...), nil
	case "input_file":
		dst = append(dst, `{"type":"file","file":{`...)
		first := true
		for _, f := range [...]string{"file_data", "file_id", "filename"} {
			if v := p.Get(f); v.Type == gjson.String {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(append(append(dst, '"'), f...), `":`...)
				dst = append(dst, v.Raw...)
			}
		}
		return append(dst, "}}"...), nil
	}
	return dst, InvalidRequest(param+".type", param+" must be an input_text, input_image or input_file part")
}

// appendChatTools appends tools and tool_choice. Function tools are nested under "function"; custom tools
// (free-form text input, as Codex's apply_patch) become function tools taking one string, input; tools that
// only OpenAI runs are left out.
func appendChatTools(out []byte, root gjson.Result) ([]byte, error) {
	tools := root.Get("tools")
	n := 0
	var bad error
	tools.ForEach(func(_, t gjson.Result) bool {
		typ := t.Get("type").Str
		if typ != "function" && typ != "custom" {
			return true
		}
		name := t.Get("name")
		if name.Type != gjson.String || name.Str == "" {
			bad = InvalidRequest("tools", "every function tool needs a name")
			return false
		}
		if n == 0 {
			out = append(out, `,"tools":[`...)
		} else {
			out = append(out, ',')
		}
		n++
		out = append(out, `{"type":"function","function":{"name":`...)
		out = append(out, name.Raw...)
		if d := t.Get("description"); d.Type == gjson.String {
			out = append(append(out, `,"description":`...), d.Raw...)
		}
		if typ == "custom" {
			out = append(out, `,"parameters":{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}`...)
		} else {
			if p := t.Get("parameters"); p.IsObject() {
				out = append(append(out, `,"parameters":`...), p.Raw...)
			}
			// Strict only when the tool says so: the Responses API's default strictness rewrites the schema
			// (every property required, no others), which a chat server asked for strict mode would refuse.
			if s := t.Get("strict"); s.Type == gjson.True || s.Type == gjson.False {
				out = append(append(out, `,"strict":`...), s.Raw...)
			}
		}
		out = append(out, "}}"...)
		return true
	})
	if bad != nil {
		return nil, bad
	}
	if n > 0 {
		out = append(out, ']')
	}
	tc := root.Get("tool_choice")
	switch {
	case tc.Type == gjson.String && n > 0:
		out = append(append(out, `,"tool_choice":`...), tc.Raw...)
	case tc.IsObject() && n > 0:
		switch tc.Get("type").Str {
		case "function", "custom":
			out = append(out, `,"tool_choice":{"type":"function","function":{"name":`...)
			out = appendStringOr(out, tc.Get("name"), `""`)
			out = append(out, "}}"...)
		case "allowed_tools":
			if tc.Get("mode").Str == "required" {
				out = append(out, `,"tool_choice":"required"`...)
			}
		}
	}
	return out, nil
}

// appendResponseFormat appends the response_format of a text.format.
func appendResponseFormat(out []byte, f gjson.Result) ([]byte, error) {
	switch f.Get("type").Str {
	case "", "text":
		return out, nil
	case "json_object":
		return append(out, `,"response_format":{"type":"json_object"}`...), nil
	case "json_schema":
		schema := f.Get("schema")
		if !schema.IsObject() {
			return nil, InvalidRequest("text.format.schema", "text.format.schema must be a JSON Schema object")
		}
		out = append(out, `,"response_format":{"type":"json_schema","json_schema":{"name":`...)
		out = appendStringOr(out, f.Get("name"), `"response"`)
		out = append(append(out, `,"schema":`...), schema.Raw...)
		if s := f.Get("strict"); s.Type == gjson.True || s.Type == gjson.False {
			out = append(append(out, `,"strict":`...), s.Raw...)
		}
		if d := f.Get("description"); d.Type == gjson.String {
			out = append(append(out, `,"description":`...), d.Raw...)
		}
		return append(out, "}}"...), nil
	}
	return nil, InvalidRequest("text.format.type", "text.format.type must be text, json_object or json_schema")
}

// appendStringOr appends v when it is a JSON string, else fallback (raw JSON).
func appendStringOr(dst []byte, v gjson.Result, fallback string) []byte {
	if v.Type == gjson.String {
		return append(dst, v.Raw...)
	}
	return append(dst, fallback...)
}

// appendRawOr appends v's raw JSON when it exists, else fallback.
func appendRawOr(dst []byte, v gjson.Result, fallback string) []byte {
	if v.Exists() {
		return append(dst, v.Raw...)
	}
	return append(dst, fallback...)
}
