package transform

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// BuildRequest translates an OpenAI chat completion request into an Ollama /api/chat request.
func (o *Ollama) BuildRequest(req *Request) (*Outgoing, error) {
	root, err := requestObject(req.Body)
	if err != nil {
		return nil, err
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Int() != 1 {
		return nil, InvalidRequest("n", "Ollama returns one answer per request; send n: 1 or leave n out")
	}
	out := make([]byte, 0, len(req.Body)+128)
	out = append(out, `{"model":`...)
	out = AppendJSONString(out, req.Model)
	out = append(out, `,"messages":[`...)
	if out, err = ollamaMessages(out, root.Get("messages")); err != nil {
		return nil, err
	}
	out = append(out, `],"stream":`...)
	out = strconv.AppendBool(out, req.Stream)
	if root.Get("tool_choice").String() != "none" {
		if out, err = ollamaTools(out, root.Get("tools")); err != nil {
			return nil, err
		}
	}
	if out, err = ollamaFormat(out, root.Get("response_format")); err != nil {
		return nil, err
	}
	if out, err = ollamaOptions(out, root); err != nil {
		return nil, err
	}
	if o.opts.KeepAlive != "" {
		out = append(out, `,"keep_alive":`...)
		out = AppendJSONString(out, o.opts.KeepAlive)
	}
	out = append(out, '}')
	return &Outgoing{Path: "/api/chat", Body: out}, nil
}

// ollamaMessages appends the translated messages, comma-separated.
func ollamaMessages(dst []byte, msgs gjson.Result) ([]byte, error) {
	if !msgs.IsArray() {
		return dst, InvalidRequest("messages", "messages must be an array of message objects")
	}
	var err error
	i := -1
	msgs.ForEach(func(_, m gjson.Result) bool {
		i++
		param := "messages[" + strconv.Itoa(i) + "]"
		if i > 0 {
			dst = append(dst, ',')
		}
		switch role := m.Get("role").String(); role {
		case "system", "developer":
			dst = append(dst, `{"role":"system","content":`...)
			dst, err = ollamaText(dst, m.Get("content"), param)
			dst = append(dst, '}')
		case "user":
			dst, err = ollamaUser(dst, m.Get("content"), param)
		case "assistant":
			dst, err = ollamaAssistant(dst, m, param)
		case "tool", "function":
			dst, err = ollamaToolResult(dst, msgs, m, param)
		default:
			err = InvalidRequest(param+".role", "role "+strconv.Quote(role)+" is not supported; use system, developer, user, assistant or tool")
		}
		return err == nil
	})
	return dst, err
}

// ollamaText appends a message content as one JSON string: the string itself, or its text (and refusal)
// parts concatenated. Other part types are refused.
func ollamaText(dst []byte, content gjson.Result, param string) ([]byte, error) {
	switch {
	case content.Type == gjson.String:
		return append(dst, content.Raw...), nil
	case !content.Exists() || content.Type == gjson.Null:
		return append(dst, `""`...), nil
	case !content.IsArray():
		return dst, InvalidRequest(param+".content", "content must be a string or an array of content parts")
	}
	var sb strings.Builder
	var err error
	i := -1
	content.ForEach(func(_, p gjson.Result) bool {
		i++
		switch t := p.Get("type").String(); t {
		case "text":
			sb.WriteString(p.Get("text").String())
		case "refusal":
			sb.WriteString(p.Get("refusal").String())
		default:
			err = InvalidRequest(param+".content["+strconv.Itoa(i)+"].type", "content part type "+strconv.Quote(t)+" is not allowed here; use text")
		}
		return err == nil
	})
	return AppendJSONString(dst, sb.String()), err
}

// ollamaUser appends a user message: its text parts concatenated as content, its data: URL images as
// base64 in images.
func ollamaUser(dst []byte, content gjson.Result, param string) ([]byte, error) {
	dst = append(dst, `{"role":"user","content":`...)
	if !content.IsArray() {
		dst, err := ollamaText(dst, content, param)
		return append(dst, '}'), err
	}
	var text strings.Builder
	var images []byte
	var err error
	i := -1
	content.ForEach(func(_, p gjson.Result) bool {
		i++
		pp := param + ".content[" + strconv.Itoa(i) + "]"
		switch t := p.Get("type").String(); t {
		case "text":
			text.WriteString(p.Get("text").String())
		case "image_url":
			u := p.Get("image_url.url")
			if !u.Exists() {
				u = p.Get("image_url")
			}
			_, data, ok := parseDataURL(u.String())
			if !ok {
				msg := "Ollama takes images inline only: send the image as a data: URL (data:image/png;base64,...)"
				if isHTTPURL(u.String()) {
					msg = "Ollama cannot fetch image URLs: download the image and send it as a data: URL (data:image/png;base64,...)"
				}
				err = InvalidRequest(pp+".image_url.url", msg)
				return false
			}
			if len(images) > 0 {
				images = append(images, ',')
			}
			images = AppendJSONString(images, data)
		default:
			err = InvalidRequest(pp+".type", "content part type "+strconv.Quote(t)+" is not supported by Ollama; use text or image_url")
		}
		return err == nil
	})
	dst = AppendJSONString(dst, text.String())
	if len(images) > 0 {
		dst = append(dst, `,"images":[`...)
		dst = append(dst, images...)
		dst = append(dst, ']')
	}
	return append(dst, '}'), err
}

// ollamaAssistant appends an assistant message; tool call arguments become JSON objects.
func ollamaAssistant(dst []byte, m gjson.Result, param string) ([]byte, error) {
	dst = append(dst, `{"role":"assistant","content":`...)
	dst, err := ollamaText(dst, m.Get("content"), param)
	if err != nil {
		return dst, err
	}
	if r := m.Get("reasoning_content"); r.Type == gjson.String && r.Str != "" {
		dst = append(dst, `,"thinking":`...)
		dst = append(dst, r.Raw...)
	}
	calls := m.Get("tool_calls")
	if !hasElements(calls) {
		return append(dst, '}'), nil
	}
	dst = append(dst, `,"tool_calls":[`...)
	i := -1
	calls.ForEach(func(_, tc gjson.Result) bool {
		i++
		p := param + ".tool_calls[" + strconv.Itoa(i) + "]"
		if t := tc.Get("type").String(); t != "" && t != "function" {
			err = InvalidRequest(p+".type", "tool call type "+strconv.Quote(t)+" is not supported by Ollama; only function tool calls are")
			return false
		}
		name := tc.Get("function.name").String()
		if name == "" {
			err = InvalidRequest(p+".function.name", "a tool call needs a function name")
			return false
		}
		args, aerr := toolArgumentsObject(tc.Get("function.arguments").String())
		if aerr != nil {
			err = InvalidRequest(p+".function.arguments", aerr.Error()+"; send the arguments as a JSON object encoded in a string, e.g. \"{}\"")
			return false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if id := tc.Get("id").String(); id != "" {
			dst = append(dst, `"id":`...)
			dst = AppendJSONString(dst, id)
			dst = append(dst, ',')
		}
		dst = append(dst, `"function":{"name":`...)
		dst = AppendJSONString(dst, name)
		dst = append(dst, `,"arguments":`...)
		dst = append(dst, args...)
		dst = append(dst, "}}"...)
		return true
	})
	return append(dst, "]}"...), err
}

// ollamaToolResult appends a tool result as role tool, with tool_name recovered from the assistant tool
// call it answers (older Ollama servers match results by name) and tool_call_id (newer ones match by id).
func ollamaToolResult(dst []byte, msgs, m gjson.Result, param string) ([]byte, error) {
	id := m.Get("tool_call_id").String()
	name := m.Get("name").String()
	if id != "" {
		if n, found := toolCallName(msgs, id); found {
			name = n
		}
	}
	dst = append(dst, `{"role":"tool","content":`...)
	dst, err := ollamaText(dst, m.Get("content"), param)
	if name != "" {
		dst = append(dst, `,"tool_name":`...)
		dst = AppendJSONString(dst, name)
	}
	if id != "" {
		dst = append(dst, `,"tool_call_id":`...)
		dst = AppendJSONString(dst, id)
	}
	return append(dst, '}'), err
}

// ollamaTools appends the function tools in the OpenAI shape Ollama also uses, without OpenAI-only fields
// such as strict.
func ollamaTools(dst []byte, tools gjson.Result) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `,"tools":[`...)
	n, err := eachFunctionTool(tools, "Ollama", func(i int, name, description, parameters gjson.Result) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"function","function":{"name":`...)
		dst = append(dst, name.Raw...)
		if description.Type == gjson.String {
			dst = append(dst, `,"description":`...)
			dst = append(dst, description.Raw...)
		}
		if parameters.IsObject() {
			dst = append(dst, `,"parameters":`...)
			dst = append(dst, parameters.Raw...)
		}
		dst = append(dst, "}}"...)
	})
	if err != nil {
		return dst, err
	}
	if n == 0 {
		return dst[:start], nil
	}
	return append(dst, ']'), nil
}

// ollamaFormat appends format: "json" for json_object, the schema itself for json_schema.
func ollamaFormat(dst []byte, rf gjson.Result) ([]byte, error) {
	if !rf.Exists() || rf.Type == gjson.Null {
		return dst, nil
	}
	switch rf.Get("type").String() {
	case "text":
		return dst, nil
	case "json_object":
		return append(dst, `,"format":"json"`...), nil
	case "json_schema":
		s := rf.Get("json_schema.schema")
		if !s.IsObject() {
			return dst, InvalidRequest("response_format.json_schema.schema", "json_schema needs a schema object")
		}
		dst = append(dst, `,"format":`...)
		return append(dst, s.Raw...), nil
	}
	return dst, InvalidRequest("response_format.type", `response_format.type must be "text", "json_object" or "json_schema"`)
}

// ollamaOptions appends options when the request sets any sampling or length field.
func ollamaOptions(dst []byte, root gjson.Result) ([]byte, error) {
	o := beginOptionalObject(dst, "options")
	o.maxTokens(root, "num_predict")
	o.number(root, "temperature", "temperature", false)
	o.number(root, "top_p", "top_p", false)
	o.number(root, "seed", "seed", true)
	o.number(root, "presence_penalty", "presence_penalty", false)
	o.number(root, "frequency_penalty", "frequency_penalty", false)
	o.stop(root, "stop", 0, "Ollama")
	return o.end()
}
