package transform

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// BuildRequest translates an OpenAI chat completion request into a Cohere v2 chat request.
func (c *Cohere) BuildRequest(req *Request) (*Outgoing, error) {
	root, err := requestObject(req.Body)
	if err != nil {
		return nil, err
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Int() > 1 {
		return nil, InvalidRequest("n", "n > 1 is not supported by Cohere: send n separate requests")
	}
	dst := make([]byte, 0, len(req.Body)+64)
	dst = append(dst, `{"model":`...)
	dst = AppendJSONString(dst, req.Model)
	dst = append(dst, `,"messages":`...)
	if dst, err = appendCohereMessages(dst, root.Get("messages")); err != nil {
		return nil, err
	}
	if dst, err = appendCohereTools(dst, root); err != nil {
		return nil, err
	}
	// the sampling fields go on the request itself: gathered in a scratch object, then copied
	o := beginOptionalObject(nil, "sampling")
	o.maxTokens(root, "max_tokens")
	o.number(root, "temperature", "temperature", false)
	o.number(root, "top_p", "p", false)
	o.number(root, "top_k", "k", true)
	o.number(root, "seed", "seed", true)
	o.number(root, "frequency_penalty", "frequency_penalty", false)
	o.number(root, "presence_penalty", "presence_penalty", false)
	o.stop(root, "stop_sequences", 0, "Cohere")
	if o.err != nil {
		return nil, o.err
	}
	if fields := o.dst[o.open:]; len(fields) > 0 {
		dst = append(append(dst, ','), fields...)
	}
	if dst, err = appendCohereResponseFormat(dst, root.Get("response_format")); err != nil {
		return nil, err
	}
	if req.Stream {
		dst = append(dst, `,"stream":true`...)
	}
	dst = append(dst, '}')
	return &Outgoing{Path: "/v2/chat", Body: dst}, nil
}

// appendCohereMessages appends the messages: OpenAI's shape with developer as system, content parts limited
// to text and image_url, and only the fields Cohere knows.
func appendCohereMessages(dst []byte, messages gjson.Result) ([]byte, error) {
	if !messages.IsArray() {
		return nil, InvalidRequest("messages", "messages must be an array of chat messages")
	}
	dst = append(dst, '[')
	var err error
	i := -1
	messages.ForEach(func(_, m gjson.Result) bool {
		i++
		param := "messages[" + strconv.Itoa(i) + "]"
		role := m.Get("role").String()
		switch role {
		case "developer":
			role = "system"
		case "system", "user", "assistant", "tool":
		default:
			err = InvalidRequest(param+".role", "unsupported message role "+strconv.Quote(role)+" for Cohere: use system, developer, user, assistant or tool")
			return false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"role":"`...)
		dst = append(dst, role...)
		dst = append(dst, '"')
		content := m.Get("content")
		switch {
		case content.Type == gjson.String:
			dst = append(dst, `,"content":`...)
			dst = append(dst, content.Raw...)
		case content.IsArray():
			if role != "user" {
				// Cohere takes text blocks for the other roles: send their text
				dst = append(dst, `,"content":`...)
				dst = AppendJSONString(dst, contentText(content))
				break
			}
			dst = append(dst, `,"content":[`...)
			j := 0
			content.ForEach(func(_, part gjson.Result) bool {
				switch typ := part.Get("type").String(); typ {
				case "text":
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, `{"type":"text","text":`...)
					dst = AppendJSONString(dst, part.Get("text").String())
					dst = append(dst, '}')
				case "image_url":
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
					dst = AppendJSONString(dst, part.Get("image_url.url").String())
					dst = append(dst, "}}"...)
				default:
					err = InvalidRequest(param+".content["+strconv.Itoa(j)+"].type", "content part type "+strconv.Quote(typ)+" is not supported by Cohere: use text or image_url")
					return false
				}
				j++
				return true
			})
			dst = append(dst, ']')
		}
		if err != nil {
			return false
		}
		if role == "tool" {
			dst = append(dst, `,"tool_call_id":`...)
			dst = AppendJSONString(dst, m.Get("tool_call_id").String())
		}
		if tcs := m.Get("tool_calls"); role == "assistant" && tcs.IsArray() && len(tcs.Array()) > 0 {
			dst = append(dst, `,"tool_calls":[`...)
			k := 0
			tcs.ForEach(func(_, tc gjson.Result) bool {
				if k > 0 {
					dst = append(dst, ',')
				}
				k++
				dst = append(dst, `{"id":`...)
				dst = AppendJSONString(dst, tc.Get("id").String())
				dst = append(dst, `,"type":"function","function":{"name":`...)
				dst = AppendJSONString(dst, tc.Get("function.name").String())
				dst = append(dst, `,"arguments":`...)
				dst = AppendJSONString(dst, tc.Get("function.arguments").String())
				dst = append(dst, "}}"...)
				return true
			})
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
		return true
	})
	if err != nil {
		return nil, err
	}
	return append(dst, ']'), nil
}

// appendCohereTools appends tools and tool_choice: REQUIRED, NONE, or a named function sent alone with
// REQUIRED.
func appendCohereTools(dst []byte, root gjson.Result) ([]byte, error) {
	choice := root.Get("tool_choice")
	only, mode := "", ""
	switch {
	case !choice.Exists() || choice.Type == gjson.Null || choice.Type == gjson.String && choice.Str == "auto":
	case choice.Type == gjson.String && choice.Str == "required":
		mode = "REQUIRED"
	case choice.Type == gjson.String && choice.Str == "none":
		mode = "NONE"
	case choice.IsObject() && choice.Get("function.name").String() != "":
		mode, only = "REQUIRED", choice.Get("function.name").String()
	default:
		return nil, InvalidRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
	}
	start := len(dst)
	dst = append(dst, `,"tools":[`...)
	n := 0
	_, err := eachFunctionTool(root.Get("tools"), "Cohere", func(_ int, name, description, parameters gjson.Result) {
		if only != "" && name.Str != only {
			return
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"function","function":{"name":`...)
		dst = AppendJSONString(dst, name.Str)
		if description.String() != "" {
			dst = append(dst, `,"description":`...)
			dst = AppendJSONString(dst, description.String())
		}
		dst = append(dst, `,"parameters":`...)
		if parameters.IsObject() {
			dst = compactJSON(dst, []byte(parameters.Raw))
		} else {
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		dst = append(dst, "}}"...)
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		if only != "" {
			return nil, InvalidRequest("tool_choice", "tool_choice names function "+strconv.Quote(only)+", which is not among the tools")
		}
		return dst[:start], nil
	}
	dst = append(dst, ']')
	if mode != "" {
		dst = append(dst, `,"tool_choice":"`...)
		dst = append(dst, mode...)
		dst = append(dst, '"')
	}
	return dst, nil
}

// appendCohereResponseFormat appends response_format: json_object, or json_object with the json_schema.
func appendCohereResponseFormat(dst []byte, rf gjson.Result) ([]byte, error) {
	switch rf.Get("type").String() {
	case "", "text":
		return dst, nil
	case "json_object":
		return append(dst, `,"response_format":{"type":"json_object"}`...), nil
	case "json_schema":
		schema := rf.Get("json_schema.schema")
		if !schema.IsObject() {
			return nil, InvalidRequest("response_format.json_schema.schema", "response_format json_schema needs a JSON Schema object in json_schema.schema")
		}
		dst = append(dst, `,"response_format":{"type":"json_object","json_schema":`...)
		dst = compactJSON(dst, []byte(schema.Raw))
		return append(dst, '}'), nil
	}
	return nil, InvalidRequest("response_format.type", `response_format type must be "text", "json_object" or "json_schema"`)
}
