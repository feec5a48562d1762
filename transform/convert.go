package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aibackend/caddy-ai-gateway/usage"
	"github.com/tidwall/gjson"
)

// OpenAI finish_reason values that translated dialects map their providers' stop reasons to.
const (
	finishStop          = "stop"
	finishLength        = "length"
	finishToolCalls     = "tool_calls"
	finishContentFilter = "content_filter"
)

// parseDataURL splits an RFC 2397 data URL of the form "data:<media type>;base64,<data>" into its media type
// and base64 payload. ok is false for any other URL, including data URLs that are not base64-encoded.
func parseDataURL(url string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(url, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	mediaType, found = strings.CutSuffix(meta, ";base64")
	if !found {
		return "", "", false
	}
	if i := strings.IndexByte(mediaType, ';'); i >= 0 { // drop parameters such as ;charset=
		mediaType = mediaType[:i]
	}
	return mediaType, data, true
}

// isHTTPURL reports whether url is an absolute http or https URL.
func isHTTPURL(url string) bool {
	return strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")
}

// toolCallName returns the function name of the assistant tool call whose id is id, searching the OpenAI
// request's messages array. Providers that identify tool results by name (Gemini) need it to translate a
// tool message, which carries only tool_call_id.
func toolCallName(messages gjson.Result, id string) (string, bool) {
	var name string
	var found bool
	messages.ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").String() != "assistant" {
			return true
		}
		m.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			if tc.Get("id").String() == id {
				name, found = tc.Get("function.name").String(), true
				return false
			}
			return true
		})
		return !found
	})
	return name, found
}

// contentText returns the text of an OpenAI message content: the string itself, or the text parts of an
// array joined without separator. Non-text parts are skipped.
func contentText(content gjson.Result) string {
	if content.Type == gjson.String {
		return content.String()
	}
	if !content.IsArray() {
		return ""
	}
	var b strings.Builder
	content.ForEach(func(_, part gjson.Result) bool {
		if part.Get("type").String() == "text" {
			b.WriteString(part.Get("text").String())
		}
		return true
	})
	return b.String()
}

// toolArgumentsObject turns an OpenAI tool call's arguments string into compact JSON object text, as
// providers that take arguments as an object (Anthropic input, Gemini args) need. An empty or blank string
// is "{}". Invalid JSON, or JSON that is not an object, is an error.
func toolArgumentsObject(args string) ([]byte, error) {
	trimmed := strings.TrimSpace(args)
	if trimmed == "" {
		return []byte("{}"), nil
	}
	if CheckJSON(bytesView(trimmed)) != nil {
		return nil, errors.New("tool call arguments are not valid JSON")
	}
	if trimmed[0] != '{' {
		return nil, errors.New("tool call arguments must be a JSON object")
	}
	return compactJSON(nil, []byte(trimmed)), nil
}

// compactJSON appends src (valid JSON) to dst without insignificant whitespace. If src is not valid JSON it
// is appended unchanged.
func compactJSON(dst, src []byte) []byte {
	if !bytes.ContainsAny(src, " \t\r\n") {
		return append(dst, src...)
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, src); err != nil {
		return append(dst, src...)
	}
	return buf.Bytes()
}

// mentionsKey reports whether body contains tail, the end of a member name with its closing quote, anywhere:
// a test far cheaper than a JSON lookup of a missing member, which scans the whole body, so a dialect can
// skip looking up an optional field most requests lack. tail should start with a byte that is rare in
// requests ('_' for `_effort"`: bytes.Contains skips from one first byte to the next). A false positive
// (the text inside a string, another name) costs the lookup; a name spelt with escapes
// ("reasoning\u005feffort") is not seen, and the field is then ignored.
func mentionsKey(body []byte, tail string) bool {
	return bytes.Contains(body, []byte(tail))
}

// toolCall is one tool call in a translated, non-streamed answer.
type toolCall struct {
	// ID is the call id the client echoes back as tool_call_id.
	ID string
	// Name is the function name.
	Name string
	// Arguments is the compact JSON text of the arguments (an object, not a string literal).
	Arguments []byte
}

// completion is a translated, non-streamed answer that AppendJSON renders as an OpenAI chat.completion.
type completion struct {
	// ID is the response id, "chatcmpl-…".
	ID string
	// Created is the Unix time of the answer.
	Created int64
	// Model is the client-facing model name.
	Model string
	// Content is the answer text; rendered as null when empty and the answer has tool calls or a refusal.
	Content string
	// Reasoning is the thinking text, rendered as message.reasoning_content when not empty.
	Reasoning string
	// ToolCalls are the function calls in the answer, in order.
	ToolCalls []toolCall
	// FinishReason is one of the Finish* constants.
	FinishReason string
	// Refusal, when not empty, is rendered as message.refusal (the model declined to answer), and
	// RefusalCategory, when not empty, as the non-standard message.refusal_category next to it.
	Refusal, RefusalCategory string
	// Logprobs, when set, is the choice's logprobs object (compact JSON, {"content":[…],"refusal":null});
	// nil renders null.
	Logprobs []byte
	// Usage is rendered as the usage object when known (without cost: the engine adds it).
	Usage usage.Usage
}

// AppendJSON appends c as an OpenAI chat.completion object.
func (c *completion) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, c.ID)
	dst = append(dst, `,"object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, c.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = AppendJSONString(dst, c.Model)
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if c.Content == "" && (len(c.ToolCalls) > 0 || c.Refusal != "") {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, c.Content)
	}
	if c.Reasoning != "" {
		dst = append(dst, `,"reasoning_content":`...)
		dst = AppendJSONString(dst, c.Reasoning)
	}
	if len(c.ToolCalls) > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		for i, tc := range c.ToolCalls {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = AppendJSONString(dst, tc.ID)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = AppendJSONString(dst, tc.Name)
			dst = append(dst, `,"arguments":`...)
			args := tc.Arguments
			if len(args) == 0 {
				args = []byte("{}")
			}
			dst = AppendJSONString(dst, string(args))
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"refusal":`...)
	dst = appendNullable(dst, c.Refusal)
	if c.RefusalCategory != "" {
		dst = append(dst, `,"refusal_category":`...)
		dst = AppendJSONString(dst, c.RefusalCategory)
	}
	dst = append(dst, `},"logprobs":`...)
	if len(c.Logprobs) > 0 {
		dst = append(dst, c.Logprobs...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"finish_reason":`...)
	dst = appendNullable(dst, c.FinishReason)
	dst = append(dst, "}]"...)
	if c.Usage.Known() {
		dst = append(dst, `,"usage":`...)
		dst = c.Usage.AppendJSON(dst, -1)
	}
	return append(dst, '}')
}

// optionalObject appends `,"name":{…}` to a request body one field at a time, and nothing at all when no field
// was added. It copies the client's numeric and stop fields with their types checked, as both Gemini's
// generationConfig and Ollama's options need.
type optionalObject struct {
	dst   []byte
	start int // len(dst) before the object: where end cuts back to when it stayed empty
	open  int // len(dst) just after the opening brace
	err   error
}

func beginOptionalObject(dst []byte, name string) optionalObject {
	o := optionalObject{start: len(dst)}
	o.dst = append(dst, `,"`...)
	o.dst = append(o.dst, name...)
	o.dst = append(o.dst, `":{`...)
	o.open = len(o.dst)
	return o
}

// field appends the next field's name, with the comma before it when needed; the caller appends its value.
func (o *optionalObject) field(name string) {
	if len(o.dst) > o.open {
		o.dst = append(o.dst, ',')
	}
	o.dst = append(o.dst, '"')
	o.dst = append(o.dst, name...)
	o.dst = append(o.dst, `":`...)
}

// number copies root's field from as field to, refusing a value that is not a number (or not an integer).
func (o *optionalObject) number(root gjson.Result, from, to string, integer bool) {
	v := root.Get(from)
	if o.err != nil || !v.Exists() || v.Type == gjson.Null {
		return
	}
	if v.Type != gjson.Number || (integer && strings.ContainsAny(v.Raw, ".eE")) {
		kind := "a number"
		if integer {
			kind = "an integer"
		}
		o.err = InvalidRequest(from, from+" must be "+kind)
		return
	}
	o.field(to)
	o.dst = append(o.dst, v.Raw...)
}

// maxTokens copies max_completion_tokens, or else max_tokens, as field to.
func (o *optionalObject) maxTokens(root gjson.Result, to string) {
	if root.Get("max_completion_tokens").Type == gjson.Number {
		o.number(root, "max_completion_tokens", to, true)
	} else {
		o.number(root, "max_tokens", to, true)
	}
}

// stop copies stop (a string or an array of strings) as the array field to. most, when positive, is how many
// sequences provider accepts.
func (o *optionalObject) stop(root gjson.Result, to string, most int, provider string) {
	if o.err != nil {
		return
	}
	stop := root.Get("stop")
	switch {
	case stop.Type == gjson.String:
		o.field(to)
		o.dst = append(o.dst, '[')
		o.dst = append(o.dst, stop.Raw...)
		o.dst = append(o.dst, ']')
	case stop.IsArray():
		count := 0
		stop.ForEach(func(_, s gjson.Result) bool {
			count++
			if s.Type != gjson.String {
				o.err = InvalidRequest("stop", "stop must be a string or an array of strings")
			}
			return o.err == nil
		})
		switch {
		case o.err != nil:
		case most > 0 && count > most:
			o.err = InvalidRequest("stop", provider+" accepts at most "+strconv.Itoa(most)+" stop sequences")
		case count > 0:
			o.field(to)
			o.dst = append(o.dst, stop.Raw...)
		}
	case stop.Exists() && stop.Type != gjson.Null:
		o.err = InvalidRequest("stop", "stop must be a string or an array of strings")
	}
}

// end closes the object, or removes it when it stayed empty.
func (o *optionalObject) end() ([]byte, error) {
	if o.err != nil {
		return o.dst, o.err
	}
	if len(o.dst) == o.open {
		return o.dst[:o.start], nil
	}
	return append(o.dst, '}'), nil
}

// eachFunctionTool checks the request's tools (function tools, each with a name, parameters a JSON Schema
// object when set) and calls add for each one in order. provider names the upstream in error messages. It
// returns how many tools it passed to add.
func eachFunctionTool(tools gjson.Result, provider string, add func(i int, name, description, parameters gjson.Result)) (int, error) {
	if !tools.Exists() || tools.Type == gjson.Null {
		return 0, nil
	}
	if !tools.IsArray() {
		return 0, InvalidRequest("tools", "tools must be an array of function tools")
	}
	n := 0
	var err error
	tools.ForEach(func(_, t gjson.Result) bool {
		param := "tools[" + strconv.Itoa(n) + "]"
		if typ := t.Get("type").String(); typ != "function" {
			err = InvalidRequest(param+".type", "tool type "+strconv.Quote(typ)+" is not supported by "+provider+"; use function tools")
			return false
		}
		f := t.Get("function")
		name := f.Get("name")
		if name.Type != gjson.String || name.Str == "" {
			err = InvalidRequest(param+".function.name", "a function tool needs a name")
			return false
		}
		params := f.Get("parameters")
		if !params.IsObject() && params.Exists() && params.Type != gjson.Null {
			err = InvalidRequest(param+".function.parameters", "parameters must be a JSON Schema object")
			return false
		}
		add(n, name, f.Get("description"), params)
		n++
		return true
	})
	return n, err
}

// Refusal returns a delta carrying the model's refusal message and, when not empty, its category as the
// non-standard refusal_category (see completion.Refusal).
func (b *chunkBuilder) Refusal(text, category string) []byte {
	d := append(b.start(), `{"refusal":`...)
	d = AppendJSONString(d, text)
	if category != "" {
		d = append(d, `,"refusal_category":`...)
		d = AppendJSONString(d, category)
	}
	return b.end(append(d, '}'), "")
}

// ContentLogprobs returns a text delta (raw as in Content; nil for an empty delta) whose choice carries
// logprobs, an OpenAI logprobs object as compact JSON ({"content":[…],"refusal":null}).
func (b *chunkBuilder) ContentLogprobs(raw, logprobs []byte) []byte {
	d := b.start()
	if len(raw) == 0 {
		d = append(d, "{}"...)
	} else {
		d = append(d, `{"content":`...)
		d = append(d, raw...)
		d = append(d, '}')
	}
	d = append(d, `,"logprobs":`...)
	d = append(d, logprobs...)
	d = append(d, `,"finish_reason":null}]}`...)
	b.buf = d
	return d
}
