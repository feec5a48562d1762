package transform

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Anthropic Messages API as a client-facing surface, served by any chat dialect.
//
// MessagesToChat translates a Messages request (POST /v1/messages) into the OpenAI Chat Completions request
// that the provider's dialect then translates as usual:
//   - system (a string or text blocks, joined by blank lines) becomes the first, system, message;
//   - user text and image blocks (base64 and url sources) become content parts, document blocks (base64 PDF,
//     plain text) file and text parts; tool_result blocks become tool messages placed before the rest of their
//     user turn, their text joined, is_error marked by an "Error: " prefix, and their images moved to a user
//     message right after the tool messages;
//   - assistant text blocks become the content, tool_use blocks tool_calls (input as the arguments JSON);
//   - thinking and redacted_thinking blocks are dropped: their signatures are only meaningful to Anthropic,
//     which is served by passthrough instead;
//   - tools (input_schema → parameters, strict kept), tool_choice (auto, any → required, tool → a named
//     function, none; disable_parallel_tool_use → parallel_tool_calls false); server tools (a tool with a
//     type other than custom, e.g. web_search_20250305) have no Chat Completions form and are dropped;
//   - stop_sequences → stop; temperature, top_p and top_k are copied (top_k is non-standard: OpenAI itself
//     refuses it, vLLM, Gemini and Anthropic take it); max_tokens → max_completion_tokens; metadata.user_id
//     → user; output_config.format → response_format json_schema; stream → stream with
//     stream_options.include_usage;
//   - thinking {type: enabled, budget_tokens} → reasoning_effort low (≤ 4096), medium (≤ 16384) or high;
//     output_config.effort wins when set (max → xhigh); adaptive thinking sends no reasoning_effort (the
//     model decides), and neither does thinking {type: disabled}, whatever output_config.effort says;
//   - cache_control, service_tier, container, context_management, mcp_servers and other Anthropic-only fields
//     are dropped.
//
// Unknown content block types are refused with a 400 naming the block, never silently dropped.
func MessagesToChat(body []byte) ([]byte, error) {
	return messagesToChat(body, true)
}

// messagesToChat translates a Messages request; a count_tokens request (needMax false) has no max_tokens.
func messagesToChat(body []byte, needMax bool) ([]byte, error) {
	root, err := requestObject(body)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, 0, len(body)+256)
	dst = append(dst, '{')
	if m := root.Get("model"); m.Type == gjson.String {
		dst = append(dst, `"model":`...)
		dst = AppendJSONString(dst, m.Str)
		dst = append(dst, ',')
	}
	dst = append(dst, `"messages":[`...)
	n := 0 // messages appended
	system, err := messagesSystem(root.Get("system"))
	if err != nil {
		return nil, err
	}
	if system != "" {
		dst = nextMessage(dst, &n)
		dst = append(dst, `{"role":"system","content":`...)
		dst = AppendJSONString(dst, system)
		dst = append(dst, '}')
	}
	messages := root.Get("messages")
	if !messages.IsArray() {
		return nil, InvalidRequest("messages", "messages must be an array of {role, content} objects")
	}
	var merr error
	i := 0
	messages.ForEach(func(_, m gjson.Result) bool {
		param := "messages." + strconv.Itoa(i)
		i++
		if !m.IsObject() {
			merr = InvalidRequest(param, param+" must be an object with role and content")
			return false
		}
		switch role := m.Get("role").String(); role {
		case "user":
			dst, merr = appendMessagesUser(dst, m.Get("content"), param, &n)
		case "assistant":
			dst = nextMessage(dst, &n)
			dst, merr = appendMessagesAssistant(dst, m.Get("content"), param)
		default:
			merr = InvalidRequest(param+".role", param+".role must be \"user\" or \"assistant\", not "+strconv.Quote(role)+
				": put system instructions in the top-level system field")
		}
		return merr == nil
	})
	if merr != nil {
		return nil, merr
	}
	if n == 0 {
		return nil, InvalidRequest("messages", "messages must hold at least one message")
	}
	dst = append(dst, ']')

	mt := root.Get("max_tokens")
	switch {
	case mt.Exists() && mt.Type != gjson.Null:
		if mt.Type != gjson.Number || mt.Int() < 1 || float64(mt.Int()) != mt.Float() {
			return nil, InvalidRequest("max_tokens", "max_tokens must be a positive integer")
		}
		dst = append(dst, `,"max_completion_tokens":`...)
		dst = strconv.AppendInt(dst, mt.Int(), 10)
	case needMax:
		return nil, InvalidRequest("max_tokens", "max_tokens is required: the most tokens the answer may have")
	}
	for _, f := range [...]string{"temperature", "top_p", "top_k"} {
		if v := root.Get(f); v.Exists() && v.Type != gjson.Null {
			if v.Type != gjson.Number {
				return nil, InvalidRequest(f, f+" must be a number")
			}
			dst = append(dst, `,"`...)
			dst = append(dst, f...)
			dst = append(dst, `":`...)
			dst = append(dst, v.Raw...)
		}
	}
	if stop := root.Get("stop_sequences"); stop.Exists() && stop.Type != gjson.Null {
		if !stop.IsArray() {
			return nil, InvalidRequest("stop_sequences", "stop_sequences must be an array of strings")
		}
		if n := len(stop.Array()); n > 0 {
			dst = append(dst, `,"stop":[`...)
			for j, s := range stop.Array() {
				if s.Type != gjson.String {
					return nil, InvalidRequest("stop_sequences", "stop_sequences must be an array of strings")
				}
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = AppendJSONString(dst, s.Str)
			}
			dst = append(dst, ']')
		}
	}
	if dst, err = appendMessagesTools(dst, root); err != nil {
		return nil, err
	}
	if effort := messagesEffort(root); effort != "" {
		dst = append(dst, `,"reasoning_effort":`...)
		dst = AppendJSONString(dst, effort)
	}
	if user := root.Get("metadata.user_id"); user.Type == gjson.String && user.Str != "" {
		dst = append(dst, `,"user":`...)
		dst = AppendJSONString(dst, user.Str)
	}
	if f := root.Get("output_config.format"); f.IsObject() {
		if f.Get("type").String() != "json_schema" || !f.Get("schema").IsObject() {
			return nil, InvalidRequest("output_config.format", "output_config.format must be {type: \"json_schema\", schema: {...}}")
		}
		dst = append(dst, `,"response_format":{"type":"json_schema","json_schema":{"name":"output","schema":`...)
		dst = compactJSON(dst, []byte(f.Get("schema").Raw))
		dst = append(dst, `}}`...)
	}
	if root.Get("stream").Bool() {
		dst = append(dst, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}'), nil
}

// nextMessage appends the comma before a message when it is not the first, and counts it.
func nextMessage(dst []byte, n *int) []byte {
	if *n > 0 {
		dst = append(dst, ',')
	}
	*n++
	return dst
}

// messagesSystem returns the system prompt: a string, or the text of text blocks joined by blank lines.
func messagesSystem(v gjson.Result) (string, error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return "", nil
	case v.Type == gjson.String:
		return v.Str, nil
	case v.IsArray():
		var b strings.Builder
		var err error
		v.ForEach(func(_, block gjson.Result) bool {
			if block.Get("type").String() != "text" {
				err = InvalidRequest("system", "system blocks must be text blocks")
				return false
			}
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(block.Get("text").String())
			return true
		})
		return b.String(), err
	}
	return "", InvalidRequest("system", "system must be a string or an array of text blocks")
}

// appendMessagesUser appends one user turn: its tool results first, as tool messages, then the images those
// carried and the turn's other blocks as one user message.
func appendMessagesUser(dst []byte, content gjson.Result, param string, n *int) ([]byte, error) {
	if content.Type == gjson.String {
		dst = nextMessage(dst, n)
		dst = append(dst, `{"role":"user","content":`...)
		dst = AppendJSONString(dst, content.Str)
		return append(dst, '}'), nil
	}
	if !content.IsArray() {
		return dst, InvalidRequest(param+".content", param+".content must be a string or an array of content blocks")
	}
	blocks := content.Array()
	var resultImages []gjson.Result
	for j, b := range blocks {
		if b.Get("type").String() != "tool_result" {
			continue
		}
		bp := param + ".content." + strconv.Itoa(j)
		id := b.Get("tool_use_id")
		if id.Type != gjson.String || id.Str == "" {
			return dst, InvalidRequest(bp+".tool_use_id", "a tool_result block needs the tool_use_id of its tool_use")
		}
		text, images, err := toolResultContent(b.Get("content"), bp)
		if err != nil {
			return dst, err
		}
		resultImages = append(resultImages, images...)
		if b.Get("is_error").Bool() {
			text = "Error: " + text
		}
		dst = nextMessage(dst, n)
		dst = append(dst, `{"role":"tool","tool_call_id":`...)
		dst = AppendJSONString(dst, id.Str)
		dst = append(dst, `,"content":`...)
		dst = AppendJSONString(dst, text)
		dst = append(dst, '}')
	}
	user := make([]byte, 0, 64)
	parts := 0
	var err error
	for _, img := range resultImages {
		if user, err = appendMessagesPart(user, img, param, &parts); err != nil {
			return dst, err
		}
	}
	for j, b := range blocks {
		if b.Get("type").String() == "tool_result" {
			continue
		}
		if user, err = appendMessagesPart(user, b, param+".content."+strconv.Itoa(j), &parts); err != nil {
			return dst, err
		}
	}
	if parts == 0 {
		if !hasToolResult(blocks) {
			return dst, InvalidRequest(param+".content", param+".content has no text, image, document or tool_result block")
		}
		return dst, nil
	}
	dst = nextMessage(dst, n)
	dst = append(dst, `{"role":"user","content":[`...)
	dst = append(dst, user...)
	return append(dst, "]}"...), nil
}

func hasToolResult(blocks []gjson.Result) bool {
	for _, b := range blocks {
		if b.Get("type").String() == "tool_result" {
			return true
		}
	}
	return false
}

// toolResultContent returns a tool_result's text (a string, or its text blocks joined by newlines) and its
// image blocks.
func toolResultContent(c gjson.Result, param string) (string, []gjson.Result, error) {
	switch {
	case !c.Exists() || c.Type == gjson.Null:
		return "", nil, nil
	case c.Type == gjson.String:
		return c.Str, nil, nil
	case !c.IsArray():
		return "", nil, InvalidRequest(param+".content", "tool_result content must be a string or an array of blocks")
	}
	var b strings.Builder
	var images []gjson.Result
	var err error
	c.ForEach(func(_, block gjson.Result) bool {
		switch t := block.Get("type").String(); t {
		case "text":
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(block.Get("text").String())
		case "image":
			images = append(images, block)
		default:
			err = InvalidRequest(param+".content", "tool_result content block type "+strconv.Quote(t)+
				" cannot be sent to this provider: use text or image blocks")
		}
		return err == nil
	})
	return b.String(), images, err
}

// appendMessagesPart appends one user content block as an OpenAI content part. thinking blocks are skipped.
func appendMessagesPart(dst []byte, b gjson.Result, param string, parts *int) ([]byte, error) {
	open := func() {
		if *parts > 0 {
			dst = append(dst, ',')
		}
		*parts++
	}
	switch t := b.Get("type").String(); t {
	case "text":
		open()
		dst = append(dst, `{"type":"text","text":`...)
		dst = AppendJSONString(dst, b.Get("text").String())
		return append(dst, '}'), nil
	case "image":
		url, err := messagesSourceURL(b.Get("source"), param, "image")
		if err != nil {
			return dst, err
		}
		open()
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		dst = AppendJSONString(dst, url)
		return append(dst, "}}"...), nil
	case "document":
		src := b.Get("source")
		if src.Get("type").String() == "text" {
			open()
			dst = append(dst, `{"type":"text","text":`...)
			dst = AppendJSONString(dst, src.Get("data").String())
			return append(dst, '}'), nil
		}
		if src.Get("type").String() != "base64" {
			return dst, InvalidRequest(param+".source", "document blocks can be sent to this provider as base64 or text sources only")
		}
		url, err := messagesSourceURL(src, param, "document")
		if err != nil {
			return dst, err
		}
		open()
		dst = append(dst, `{"type":"file","file":{"file_data":`...)
		dst = AppendJSONString(dst, url)
		name := b.Get("title").String()
		if name == "" {
			name = "document.pdf"
		}
		dst = append(dst, `,"filename":`...)
		dst = AppendJSONString(dst, name)
		return append(dst, "}}"...), nil
	case "thinking", "redacted_thinking":
		return dst, nil
	default:
		return dst, InvalidRequest(param+".type", "content block type "+strconv.Quote(t)+
			" cannot be sent to this provider: use text, image, document, tool_use or tool_result blocks")
	}
}

// messagesSourceURL returns a data URL for a base64 source, or the URL of a url source.
func messagesSourceURL(src gjson.Result, param, what string) (string, error) {
	switch src.Get("type").String() {
	case "base64":
		mt, data := src.Get("media_type").String(), src.Get("data").String()
		if mt == "" || data == "" {
			return "", InvalidRequest(param+".source", "a base64 "+what+" source needs media_type and data")
		}
		return "data:" + mt + ";base64," + data, nil
	case "url":
		u := src.Get("url").String()
		if !isHTTPURL(u) {
			return "", InvalidRequest(param+".source.url", "an "+what+" url source needs an http(s) URL")
		}
		return u, nil
	}
	return "", InvalidRequest(param+".source", what+" source must be {type: \"base64\", media_type, data} or {type: \"url\", url}")
}

// appendMessagesAssistant appends one assistant turn: text blocks as its content, tool_use blocks as its
// tool_calls; thinking blocks are dropped.
func appendMessagesAssistant(dst []byte, content gjson.Result, param string) ([]byte, error) {
	dst = append(dst, `{"role":"assistant","content":`...)
	if content.Type == gjson.String {
		dst = AppendJSONString(dst, content.Str)
		return append(dst, '}'), nil
	}
	if !content.IsArray() {
		return dst, InvalidRequest(param+".content", param+".content must be a string or an array of content blocks")
	}
	var text strings.Builder
	calls := make([]byte, 0, 64)
	n := 0
	var err error
	j := 0
	content.ForEach(func(_, b gjson.Result) bool {
		bp := param + ".content." + strconv.Itoa(j)
		j++
		switch t := b.Get("type").String(); t {
		case "text":
			text.WriteString(b.Get("text").String())
		case "tool_use":
			id, name := b.Get("id"), b.Get("name")
			if id.Type != gjson.String || id.Str == "" || name.Type != gjson.String || name.Str == "" {
				err = InvalidRequest(bp, "a tool_use block needs an id and a name")
				return false
			}
			input := b.Get("input")
			if input.Exists() && !input.IsObject() {
				err = InvalidRequest(bp+".input", "a tool_use block's input must be an object")
				return false
			}
			if n > 0 {
				calls = append(calls, ',')
			}
			n++
			calls = append(calls, `{"id":`...)
			calls = AppendJSONString(calls, id.Str)
			calls = append(calls, `,"type":"function","function":{"name":`...)
			calls = AppendJSONString(calls, name.Str)
			calls = append(calls, `,"arguments":`...)
			args := "{}"
			if input.Exists() {
				args = string(compactJSON(nil, []byte(input.Raw)))
			}
			calls = AppendJSONString(calls, args)
			calls = append(calls, "}}"...)
		case "thinking", "redacted_thinking":
		default:
			err = InvalidRequest(bp+".type", "assistant content block type "+strconv.Quote(t)+
				" cannot be sent to this provider: use text, tool_use or thinking blocks")
			return false
		}
		return true
	})
	if err != nil {
		return dst, err
	}
	if text.Len() == 0 && n > 0 {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, text.String())
	}
	if n > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		dst = append(dst, calls...)
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendMessagesTools appends tools, tool_choice and parallel_tool_calls.
func appendMessagesTools(dst []byte, root gjson.Result) ([]byte, error) {
	tools := root.Get("tools")
	n := 0
	if tools.Exists() && tools.Type != gjson.Null {
		if !tools.IsArray() {
			return dst, InvalidRequest("tools", "tools must be an array of {name, description, input_schema}")
		}
		var err error
		j := -1
		tools.ForEach(func(_, t gjson.Result) bool {
			j++
			if typ := t.Get("type").String(); typ != "" && typ != "custom" {
				return true // a server tool: no Chat Completions form
			}
			name := t.Get("name")
			if name.Type != gjson.String || name.Str == "" {
				err = InvalidRequest("tools."+strconv.Itoa(j)+".name", "every tool needs a name")
				return false
			}
			if n == 0 {
				dst = append(dst, `,"tools":[`...)
			} else {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, `{"type":"function","function":{"name":`...)
			dst = AppendJSONString(dst, name.Str)
			if d := t.Get("description"); d.Type == gjson.String {
				dst = append(dst, `,"description":`...)
				dst = AppendJSONString(dst, d.Str)
			}
			dst = append(dst, `,"parameters":`...)
			if s := t.Get("input_schema"); s.IsObject() {
				dst = compactJSON(dst, []byte(s.Raw))
			} else {
				dst = append(dst, `{"type":"object","properties":{}}`...)
			}
			if s := t.Get("strict"); s.Type == gjson.True {
				dst = append(dst, `,"strict":true`...)
			}
			dst = append(dst, "}}"...)
			return true
		})
		if err != nil {
			return dst, err
		}
		if n > 0 {
			dst = append(dst, ']')
		}
	}
	tc := root.Get("tool_choice")
	if !tc.IsObject() {
		return dst, nil
	}
	switch typ := tc.Get("type").String(); typ {
	case "auto":
		if n > 0 {
			dst = append(dst, `,"tool_choice":"auto"`...)
		}
	case "any":
		if n > 0 {
			dst = append(dst, `,"tool_choice":"required"`...)
		}
	case "none":
		if n > 0 {
			dst = append(dst, `,"tool_choice":"none"`...)
		}
	case "tool":
		name := tc.Get("name").String()
		if name == "" {
			return dst, InvalidRequest("tool_choice.name", "tool_choice {type: \"tool\"} needs the tool's name")
		}
		dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
		dst = AppendJSONString(dst, name)
		dst = append(dst, "}}"...)
	default:
		return dst, InvalidRequest("tool_choice.type", "tool_choice.type must be auto, any, tool or none")
	}
	if n > 0 && tc.Get("disable_parallel_tool_use").Bool() {
		dst = append(dst, `,"parallel_tool_calls":false`...)
	}
	return dst, nil
}

// Thinking budgets at or below which budget_tokens maps to reasoning_effort low and medium: halfway (on a
// log scale) between the Anthropic dialect's budgets for low, medium and high, so a round trip keeps the effort.
const (
	messagesEffortLowMax    = 4096
	messagesEffortMediumMax = 16384
)

// messagesEffort returns the reasoning_effort for the request's thinking and output_config.effort; empty
// for none.
func messagesEffort(root gjson.Result) string {
	th := root.Get("thinking")
	if th.Get("type").String() == "disabled" {
		return ""
	}
	if e := root.Get("output_config.effort"); e.Type == gjson.String {
		switch e.Str {
		case "low", "medium", "high", "xhigh":
			return e.Str
		case "max":
			return "xhigh"
		}
	}
	if th.Get("type").String() != "enabled" {
		return ""
	}
	switch b := th.Get("budget_tokens").Int(); {
	case b <= 0:
		return ""
	case b <= messagesEffortLowMax:
		return "low"
	case b <= messagesEffortMediumMax:
		return "medium"
	}
	return "high"
}
