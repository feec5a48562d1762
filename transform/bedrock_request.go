package transform

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// bedrockCachePoint is the Converse block that marks the end of a cacheable prefix (cached for five
// minutes); bedrockCachePoint1h caches it for an hour (CachePointBlock's ttl "1h", in AWS's API reference).
const (
	bedrockCachePoint   = `{"cachePoint":{"type":"default"}}`
	bedrockCachePoint1h = `{"cachePoint":{"type":"default","ttl":"1h"}}`
)

// cachePointOf is the cachePoint for a part, message or tool with Anthropic's cache_control: one hour when
// its ttl is "1h".
func cachePointOf(v gjson.Result) string {
	if v.Get("cache_control.ttl").Str == "1h" {
		return bedrockCachePoint1h
	}
	return bedrockCachePoint
}

// cachePointOfAny is cachePointOf for a message whose marker may be on the message or any of its parts.
func cachePointOfAny(m gjson.Result) string {
	p := cachePointOf(m)
	m.Get("content").ForEach(func(_, part gjson.Result) bool {
		if p == bedrockCachePoint {
			p = cachePointOf(part)
		}
		return p == bedrockCachePoint
	})
	return p
}

// BuildRequest translates an OpenAI chat completion request into a Converse (or ConverseStream) request.
func (b *Bedrock) BuildRequest(req *Request) (*Outgoing, error) {
	root, err := requestObject(req.Body)
	if err != nil {
		return nil, err
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Int() > 1 {
		return nil, InvalidRequest("n", "n > 1 is not supported by Bedrock's Converse API: send n separate requests")
	}
	model, err := bedrockModelPath(req.Model)
	if err != nil {
		return nil, err
	}
	messages := root.Get("messages")
	if !messages.IsArray() {
		return nil, InvalidRequest("messages", "messages must be an array of chat messages")
	}
	dst := make([]byte, 0, len(req.Body)+128)
	dst = append(dst, `{"messages":`...)
	if dst, err = appendBedrockMessages(dst, messages); err != nil {
		return nil, err
	}
	if dst, err = appendBedrockSystem(dst, messages, root.Get("response_format")); err != nil {
		return nil, err
	}
	budget, err := bedrockThinkingBudget(req, root)
	if err != nil {
		return nil, err
	}
	o := beginOptionalObject(dst, "inferenceConfig")
	if budget > 0 {
		// the budget comes on top of the room the client asked for its answer, as with Anthropic
		maxTokens, err := NewAnthropic(AnthropicOptions{}).maxTokens(root)
		if err != nil {
			return nil, err
		}
		o.field("maxTokens")
		o.dst = strconv.AppendInt(o.dst, maxTokens+budget, 10)
	} else {
		o.maxTokens(root, "maxTokens")
	}
	o.number(root, "temperature", "temperature", false)
	o.number(root, "top_p", "topP", false)
	o.stop(root, "stopSequences", 0, "Bedrock")
	if dst, err = o.end(); err != nil {
		return nil, err
	}
	if dst, err = appendBedrockTools(dst, root); err != nil {
		return nil, err
	}
	if dst, err = appendBedrockAdditional(dst, req, root, budget); err != nil {
		return nil, err
	}
	dst = append(dst, '}')

	path := "/model/" + model + "/converse"
	h := make(http.Header, 1)
	if req.Stream {
		path += "-stream"
		h.Set("Accept", "application/vnd.amazon.eventstream")
	}
	return &Outgoing{Path: path, Body: dst, Header: h}, nil
}

// hasCacheControl reports whether an OpenAI content part, message or tool carries Anthropic's cache_control.
func hasCacheControl(v gjson.Result) bool {
	return v.Get("cache_control").IsObject()
}

// appendBedrockSystem appends the system blocks: the text of every system and developer message, a
// cachePoint after each part marked with cache_control, and the JSON answer instruction of response_format.
func appendBedrockSystem(dst []byte, messages, rf gjson.Result) ([]byte, error) {
	n := 0
	add := func(block string, text string) {
		if n == 0 {
			dst = append(dst, `,"system":[`...)
		} else {
			dst = append(dst, ',')
		}
		n++
		if block != "" {
			dst = append(dst, block...)
			return
		}
		dst = append(dst, `{"text":`...)
		dst = AppendJSONString(dst, text)
		dst = append(dst, '}')
	}
	messages.ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").String() {
		case "system", "developer":
			c := m.Get("content")
			if c.IsArray() {
				c.ForEach(func(_, part gjson.Result) bool {
					if part.Get("type").String() == "text" && part.Get("text").String() != "" {
						add("", part.Get("text").String())
						if hasCacheControl(part) {
							add(cachePointOf(part), "")
						}
					}
					return true
				})
			} else if t := c.String(); t != "" {
				add("", t)
			}
			if hasCacheControl(m) {
				add(cachePointOf(m), "")
			}
		}
		return true
	})
	switch rf.Get("type").String() {
	case "", "text":
	case "json_object":
		add("", anthropicJSONObjectInstruction)
	case "json_schema":
		schema := rf.Get("json_schema.schema")
		if !schema.IsObject() {
			return nil, InvalidRequest("response_format.json_schema.schema", "response_format json_schema needs a JSON Schema object in json_schema.schema")
		}
		add("", "Respond with a single valid JSON object that conforms to this JSON Schema, and nothing else:\n"+
			string(compactJSON(nil, []byte(schema.Raw))))
	default:
		return nil, InvalidRequest("response_format.type", `response_format type must be "text", "json_object" or "json_schema"`)
	}
	if n > 0 {
		dst = append(dst, ']')
	}
	return dst, nil
}

// appendBedrockMessages appends the Converse messages array (the anthropicTurns merging applies: Converse
// wants alternating roles with tool results in user messages too).
func appendBedrockMessages(dst []byte, messages gjson.Result) ([]byte, error) {
	t := anthropicTurns{dst: append(dst, '[')}
	var err *Error
	i := -1
	messages.ForEach(func(_, m gjson.Result) bool {
		i++
		param := "messages[" + strconv.Itoa(i) + "]"
		switch role := m.Get("role").String(); role {
		case "system", "developer":
		case "user":
			t.open("user")
			err = bedrockUserContent(&t, m.Get("content"), param+".content")
			if err == nil && hasCacheControl(m) && t.blocks > 0 {
				t.raw(cachePointOf(m))
			}
		case "assistant":
			t.open("assistant")
			err = bedrockAssistant(&t, m, param)
			if err == nil && hasCacheControl(m) && t.blocks > 0 {
				t.raw(cachePointOf(m))
			}
		case "tool":
			if t.role == "user" && !t.toolOnly {
				t.close()
			}
			t.open("user")
			t.block()
			t.toolOnly = true
			t.dst = append(t.dst, `{"toolResult":{"toolUseId":`...)
			t.dst = AppendJSONString(t.dst, m.Get("tool_call_id").String())
			t.dst = append(t.dst, `,"content":[{"text":`...)
			text := contentText(m.Get("content"))
			if text == "" {
				text = " " // Converse refuses an empty text block
			}
			t.dst = AppendJSONString(t.dst, text)
			t.dst = append(t.dst, "}]}}"...)
			if hasCacheControl(m) || anyCacheControl(m.Get("content")) {
				t.raw(cachePointOfAny(m))
				t.toolOnly = true // a marker after tool results keeps the message open to the next ones
			}
		default:
			err = InvalidRequest(param+".role", "unsupported message role "+strconv.Quote(role)+
				" for a Bedrock model: use system, developer, user, assistant or tool")
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	t.close()
	if t.count == 0 {
		return nil, InvalidRequest("messages", "messages must contain at least one user or assistant message with content")
	}
	return append(t.dst, ']'), nil
}

// raw appends a complete content block.
func (t *anthropicTurns) raw(block string) {
	t.block()
	t.dst = append(t.dst, block...)
}

// bedrockText appends a text block (none for empty text: Converse refuses them).
func bedrockText(t *anthropicTurns, s string) {
	if s == "" {
		return
	}
	t.block()
	t.dst = append(t.dst, `{"text":`...)
	t.dst = AppendJSONString(t.dst, s)
	t.dst = append(t.dst, '}')
}

// bedrockUserContent appends a user message's content blocks, a cachePoint after each part with
// cache_control.
func bedrockUserContent(t *anthropicTurns, content gjson.Result, param string) *Error {
	if content.Type == gjson.String {
		bedrockText(t, content.Str)
		return nil
	}
	if content.Type == gjson.Null || !content.Exists() {
		return nil
	}
	if !content.IsArray() {
		return InvalidRequest(param, "content must be a string or an array of content parts")
	}
	var err *Error
	j := -1
	content.ForEach(func(_, part gjson.Result) bool {
		j++
		pparam := param + "[" + strconv.Itoa(j) + "]"
		before := t.blocks
		switch typ := part.Get("type").String(); typ {
		case "text":
			bedrockText(t, part.Get("text").String())
		case "image_url":
			mediaType, data, ok := parseDataURL(part.Get("image_url.url").String())
			format := strings.TrimPrefix(mediaType, "image/")
			if !ok || format == mediaType || !strings.Contains("png jpeg gif webp", format) {
				err = InvalidRequest(pparam+".image_url.url", "Bedrock's Converse API takes images only as base64 data URLs of PNG, JPEG, GIF or WebP")
				return false
			}
			t.block()
			t.dst = append(t.dst, `{"image":{"format":`...)
			t.dst = AppendJSONString(t.dst, format)
			t.dst = append(t.dst, `,"source":{"bytes":`...)
			t.dst = AppendJSONString(t.dst, data)
			t.dst = append(t.dst, "}}}"...)
		case "file":
			mediaType, data, ok := parseDataURL(part.Get("file.file_data").String())
			if !ok || mediaType != "application/pdf" {
				err = InvalidRequest(pparam+".file.file_data", "Bedrock models accept files only as file_data with a base64 PDF data URL (data:application/pdf;base64,…)")
				return false
			}
			name := part.Get("file.filename").String()
			name = strings.TrimSuffix(name, ".pdf")
			if name == "" {
				name = "document" + strconv.Itoa(j)
			}
			t.block()
			t.dst = append(t.dst, `{"document":{"format":"pdf","name":`...)
			t.dst = AppendJSONString(t.dst, name)
			t.dst = append(t.dst, `,"source":{"bytes":`...)
			t.dst = AppendJSONString(t.dst, data)
			t.dst = append(t.dst, "}}}"...)
		default:
			err = InvalidRequest(pparam+".type", "content part type "+strconv.Quote(typ)+
				" is not supported for Bedrock models: use text, image_url or file (PDF data URL)")
			return false
		}
		if hasCacheControl(part) && t.blocks > before {
			t.raw(cachePointOf(part))
		}
		return true
	})
	return err
}

// bedrockAssistant appends an assistant message's text and its tool calls as toolUse blocks.
func bedrockAssistant(t *anthropicTurns, m gjson.Result, param string) *Error {
	before := t.blocks
	bedrockText(t, contentText(m.Get("content")))
	if t.blocks > before && anyCacheControl(m.Get("content")) {
		t.raw(cachePointOfAny(m))
	}
	var err *Error
	j := -1
	m.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		j++
		input, aerr := toolArgumentsObject(tc.Get("function.arguments").String())
		if aerr != nil {
			err = InvalidRequest(param+".tool_calls["+strconv.Itoa(j)+"].function.arguments", aerr.Error()+": send the arguments the model produced, a JSON object encoded as a string")
			return false
		}
		t.block()
		t.dst = append(t.dst, `{"toolUse":{"toolUseId":`...)
		t.dst = AppendJSONString(t.dst, tc.Get("id").String())
		t.dst = append(t.dst, `,"name":`...)
		t.dst = AppendJSONString(t.dst, tc.Get("function.name").String())
		t.dst = append(t.dst, `,"input":`...)
		t.dst = append(t.dst, input...)
		t.dst = append(t.dst, "}}"...)
		return true
	})
	return err
}

// appendBedrockTools appends toolConfig: the function tools (a cachePoint after each one with
// cache_control) and toolChoice. tool_choice "none" sends no tools at all.
func appendBedrockTools(dst []byte, root gjson.Result) ([]byte, error) {
	choice := root.Get("tool_choice")
	if choice.Type == gjson.String && choice.Str == "none" {
		return dst, nil
	}
	tools := root.Get("tools")
	start := len(dst)
	dst = append(dst, `,"toolConfig":{"tools":[`...)
	var raw []gjson.Result
	tools.ForEach(func(_, t gjson.Result) bool {
		raw = append(raw, t)
		return true
	})
	n, err := eachFunctionTool(tools, "Bedrock", func(i int, name, description, parameters gjson.Result) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"toolSpec":{"name":`...)
		dst = AppendJSONString(dst, name.Str)
		if description.String() != "" {
			dst = append(dst, `,"description":`...)
			dst = AppendJSONString(dst, description.String())
		}
		dst = append(dst, `,"inputSchema":{"json":`...)
		if parameters.IsObject() {
			dst = compactJSON(dst, []byte(parameters.Raw))
		} else {
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		dst = append(dst, "}}}"...)
		if i < len(raw) && hasCacheControl(raw[i]) {
			dst = append(dst, ","+cachePointOf(raw[i])...)
		}
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return dst[:start], nil
	}
	dst = append(dst, ']')
	switch {
	case !choice.Exists() || choice.Type == gjson.Null || choice.Type == gjson.String && choice.Str == "auto":
	case choice.Type == gjson.String && choice.Str == "required":
		dst = append(dst, `,"toolChoice":{"any":{}}`...)
	case choice.IsObject() && choice.Get("function.name").String() != "":
		dst = append(dst, `,"toolChoice":{"tool":{"name":`...)
		dst = AppendJSONString(dst, choice.Get("function.name").String())
		dst = append(dst, "}}"...)
	default:
		return nil, InvalidRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
	}
	return append(dst, '}'), nil
}

// appendBedrockAdditional appends additionalModelRequestFields: the client's own object when it sent one,
// else Anthropic thinking for reasoning_effort and top_k on Claude models.
func appendBedrockAdditional(dst []byte, req *Request, root gjson.Result, budget int64) ([]byte, error) {
	if extra := root.Get("additionalModelRequestFields"); extra.Exists() && extra.Type != gjson.Null {
		if !extra.IsObject() {
			return nil, InvalidRequest("additionalModelRequestFields", "additionalModelRequestFields must be an object")
		}
		dst = append(dst, `,"additionalModelRequestFields":`...)
		return compactJSON(dst, []byte(extra.Raw)), nil
	}
	if !strings.Contains(req.Model, "anthropic.") {
		return dst, nil
	}
	o := beginOptionalObject(dst, "additionalModelRequestFields")
	if budget > 0 {
		o.field("thinking")
		o.dst = append(o.dst, `{"type":"enabled","budget_tokens":`...)
		o.dst = strconv.AppendInt(o.dst, budget, 10)
		o.dst = append(o.dst, '}')
	}
	o.number(root, "top_k", "top_k", true)
	return o.end()
}

// bedrockThinkingBudget is the Anthropic thinking budget for a Claude model's reasoning_effort (0 for other
// models, and when the client sends its own additionalModelRequestFields).
func bedrockThinkingBudget(req *Request, root gjson.Result) (int64, error) {
	if !strings.Contains(req.Model, "anthropic.") || root.Get("additionalModelRequestFields").Exists() {
		return 0, nil
	}
	return anthropicThinkingBudget(req.Body, root)
}

// anyCacheControl reports whether a content array has a part with cache_control.
func anyCacheControl(content gjson.Result) bool {
	found := false
	content.ForEach(func(_, part gjson.Result) bool {
		found = hasCacheControl(part)
		return !found
	})
	return found
}
