package transform

import (
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// BuildRequest translates an OpenAI chat completion request into a Gemini generateContent request.
func (g *Gemini) BuildRequest(req *Request) (*Outgoing, error) {
	root, err := requestObject(req.Body)
	if err != nil {
		return nil, err
	}
	b := geminiRequestBuilder{opts: &g.opts, stream: req.Stream, model: req.Model}
	if mentionsKey(req.Body, `_effort"`) {
		b.effort = root.Get("reasoning_effort")
	}
	if err := b.messages(root.Get("messages")); err != nil {
		return nil, err
	}
	if len(b.contents) == 0 {
		return nil, InvalidRequest("messages", "Gemini needs at least one user or assistant message besides the system and developer messages")
	}
	out := make([]byte, 0, len(req.Body)+256)
	out = append(out, `{"contents":[`...)
	out = append(out, b.contents...)
	out = append(out, ']')
	if len(b.system) > 0 {
		out = append(out, `,"systemInstruction":{"parts":[`...)
		out = append(out, b.system...)
		out = append(out, "]}"...)
	}
	if out, err = geminiTools(out, root.Get("tools")); err != nil {
		return nil, err
	}
	if out, err = geminiToolChoice(out, root.Get("tool_choice")); err != nil {
		return nil, err
	}
	if out, err = b.generationConfig(out, root); err != nil {
		return nil, err
	}
	if out, err = geminiCachedContent(out, req.Body, root); err != nil {
		return nil, err
	}
	out = append(out, '}')

	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	p := "/models/" + seg
	if req.Stream {
		p += ":streamGenerateContent?alt=sse"
	} else {
		p += ":generateContent"
	}
	return &Outgoing{Path: p, Body: out}, nil
}

// geminiRequestBuilder accumulates the translated contents and systemInstruction of one request.
type geminiRequestBuilder struct {
	opts     *GeminiOptions
	stream   bool
	model    string       // the upstream model name, which decides how reasoning_effort is sent
	effort   gjson.Result // reasoning_effort
	system   []byte       // systemInstruction parts, comma-separated
	contents []byte       // Content objects, comma-separated
	toolTurn bool         // the last Content is a user turn of functionResponse parts still open to more
	msgs     gjson.Result
	part     []byte // scratch for one message's parts
}

func (b *geminiRequestBuilder) messages(msgs gjson.Result) error {
	if !msgs.IsArray() {
		return InvalidRequest("messages", "messages must be an array of message objects")
	}
	b.msgs = msgs
	var err error
	i := -1
	msgs.ForEach(func(_, m gjson.Result) bool {
		i++
		param := "messages[" + strconv.Itoa(i) + "]"
		switch role := m.Get("role").String(); role {
		case "system", "developer":
			b.system, err = geminiTextParts(b.system, m.Get("content"), param)
		case "user":
			b.part, err = geminiUserParts(b.part[:0], m.Get("content"), param)
			b.addTurn("user")
		case "assistant":
			err = b.assistant(m, param)
		case "tool":
			err = b.toolResult(m.Get("tool_call_id").String(), m.Get("name").String(), m.Get("content"), param)
		case "function":
			err = b.toolResult("", m.Get("name").String(), m.Get("content"), param)
		default:
			err = InvalidRequest(param+".role", "role "+strconv.Quote(role)+" is not supported; use system, developer, user, assistant or tool")
		}
		return err == nil
	})
	return err
}

// addTurn closes the message in b.part as one Content; a message without parts is left out, because Gemini
// refuses empty contents.
func (b *geminiRequestBuilder) addTurn(role string) {
	if len(b.part) == 0 {
		return
	}
	if len(b.contents) > 0 {
		b.contents = append(b.contents, ',')
	}
	b.contents = append(b.contents, `{"role":"`...)
	b.contents = append(b.contents, role...)
	b.contents = append(b.contents, `","parts":[`...)
	b.contents = append(b.contents, b.part...)
	b.contents = append(b.contents, "]}"...)
	b.toolTurn = false
}

func (b *geminiRequestBuilder) assistant(m gjson.Result, param string) error {
	var err error
	b.part, err = geminiTextParts(b.part[:0], m.Get("content"), param)
	if err != nil {
		return err
	}
	signed := false
	firstCall := -1
	i := -1
	m.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		i++
		p := param + ".tool_calls[" + strconv.Itoa(i) + "]"
		if t := tc.Get("type").String(); t != "" && t != "function" {
			err = InvalidRequest(p+".type", "tool call type "+strconv.Quote(t)+" is not supported by Gemini; only function tool calls are")
			return false
		}
		name := tc.Get("function.name").String()
		if name == "" {
			err = InvalidRequest(p+".function.name", "a tool call needs a function name")
			return false
		}
		id := tc.Get("id").String()
		base, sig := splitGeminiToolCallID(id)
		args, aerr := toolArgumentsObject(tc.Get("function.arguments").String())
		if aerr != nil {
			err = InvalidRequest(p+".function.arguments", aerr.Error()+"; send the arguments as a JSON object encoded in a string, e.g. \"{}\"")
			return false
		}
		if len(b.part) > 0 {
			b.part = append(b.part, ',')
		}
		b.part = append(b.part, `{"functionCall":{"name":`...)
		b.part = AppendJSONString(b.part, name)
		b.part = append(b.part, `,"args":`...)
		b.part = append(b.part, args...)
		if base != "" {
			b.part = append(b.part, `,"id":`...)
			b.part = AppendJSONString(b.part, base)
		}
		b.part = append(b.part, '}')
		if firstCall < 0 {
			firstCall = len(b.part) // where the first call's thoughtSignature goes
		}
		if sig != "" {
			signed = true
			b.part = append(b.part, `,"thoughtSignature":`...)
			b.part = AppendJSONString(b.part, sig)
		}
		b.part = append(b.part, '}')
		return true
	})
	if err != nil {
		return err
	}
	if !signed && firstCall >= 0 && b.opts.SignatureFallback != "" {
		tail := append([]byte(nil), b.part[firstCall:]...)
		b.part = append(b.part[:firstCall], `,"thoughtSignature":`...)
		b.part = AppendJSONString(b.part, b.opts.SignatureFallback)
		b.part = append(b.part, tail...)
	}
	b.addTurn("model")
	return nil
}

// toolResult adds a functionResponse part; consecutive tool messages share one user turn, as Gemini expects
// all results of one step together.
func (b *geminiRequestBuilder) toolResult(callID, name string, content gjson.Result, param string) error {
	if callID != "" {
		if n, found := toolCallName(b.msgs, callID); found {
			name = n
		} else if name == "" {
			return InvalidRequest(param+".tool_call_id", "tool_call_id "+strconv.Quote(callID)+" matches no tool call of an earlier assistant message; Gemini needs the function name, so send the assistant message with its tool_calls before the tool result")
		}
	}
	if name == "" {
		return InvalidRequest(param+".name", "a function message needs the function name")
	}
	text, err := geminiPlainText(content, param)
	if err != nil {
		return err
	}
	base, _ := splitGeminiToolCallID(callID)
	if b.toolTurn {
		b.contents = b.contents[:len(b.contents)-2] // reopen the previous turn: drop "]}"
		b.contents = append(b.contents, ',')
	} else {
		if len(b.contents) > 0 {
			b.contents = append(b.contents, ',')
		}
		b.contents = append(b.contents, `{"role":"user","parts":[`...)
	}
	b.contents = append(b.contents, `{"functionResponse":{"name":`...)
	b.contents = AppendJSONString(b.contents, name)
	b.contents = append(b.contents, `,"response":`...)
	if t := strings.TrimSpace(text); len(t) > 0 && t[0] == '{' && CheckJSON(bytesView(t)) == nil {
		b.contents = append(b.contents, t...)
	} else {
		b.contents = append(b.contents, `{"result":`...)
		b.contents = AppendJSONString(b.contents, text)
		b.contents = append(b.contents, '}')
	}
	if base != "" {
		b.contents = append(b.contents, `,"id":`...)
		b.contents = AppendJSONString(b.contents, base)
	}
	b.contents = append(b.contents, "}}]}"...)
	b.toolTurn = true
	return nil
}

// geminiPlainText returns a message content as one string: the string itself, or its text parts joined.
func geminiPlainText(content gjson.Result, param string) (string, error) {
	switch {
	case content.Type == gjson.String:
		return content.Str, nil
	case content.IsArray():
		var sb strings.Builder
		var err error
		i := -1
		content.ForEach(func(_, p gjson.Result) bool {
			i++
			if t := p.Get("type").String(); t != "text" {
				err = InvalidRequest(param+".content["+strconv.Itoa(i)+"].type", "a tool result content part must be text, not "+strconv.Quote(t))
				return false
			}
			sb.WriteString(p.Get("text").String())
			return true
		})
		return sb.String(), err
	case !content.Exists() || content.Type == gjson.Null:
		return "", nil
	}
	return "", InvalidRequest(param+".content", "content must be a string or an array of content parts")
}

// geminiTextParts appends text parts for a system, developer or assistant content.
func geminiTextParts(dst []byte, content gjson.Result, param string) ([]byte, error) {
	switch {
	case content.Type == gjson.String:
		return geminiAppendText(dst, content), nil
	case content.IsArray():
		var err error
		i := -1
		content.ForEach(func(_, p gjson.Result) bool {
			i++
			switch t := p.Get("type").String(); t {
			case "text":
				dst = geminiAppendText(dst, p.Get("text"))
			case "refusal":
				dst = geminiAppendText(dst, p.Get("refusal"))
			default:
				err = InvalidRequest(param+".content["+strconv.Itoa(i)+"].type", "content part type "+strconv.Quote(t)+" is not allowed here; use text")
			}
			return err == nil
		})
		return dst, err
	case !content.Exists() || content.Type == gjson.Null:
		return dst, nil
	}
	return dst, InvalidRequest(param+".content", "content must be a string or an array of content parts")
}

// geminiUserParts appends the parts of a user message: text, images, audio and files.
func geminiUserParts(dst []byte, content gjson.Result, param string) ([]byte, error) {
	if !content.IsArray() {
		return geminiTextParts(dst, content, param)
	}
	var err error
	i := -1
	content.ForEach(func(_, p gjson.Result) bool {
		i++
		pp := param + ".content[" + strconv.Itoa(i) + "]"
		switch t := p.Get("type").String(); t {
		case "text":
			dst = geminiAppendText(dst, p.Get("text"))
		case "image_url":
			u := p.Get("image_url.url")
			if !u.Exists() {
				u = p.Get("image_url")
			}
			dst, err = geminiAppendMedia(dst, u.String(), pp+".image_url.url")
		case "input_audio":
			format := p.Get("input_audio.format").String()
			data := p.Get("input_audio.data").String()
			if format == "" || data == "" {
				err = InvalidRequest(pp+".input_audio", "input_audio needs data (base64) and format (wav or mp3)")
				return false
			}
			dst = geminiAppendInline(dst, "audio/"+format, data)
		case "file":
			fd := p.Get("file.file_data").String()
			if fd == "" {
				err = InvalidRequest(pp+".file", "Gemini needs the file inline as file_data (a data: URL); file_id is not supported")
				return false
			}
			dst, err = geminiAppendMedia(dst, fd, pp+".file.file_data")
		default:
			err = InvalidRequest(pp+".type", "content part type "+strconv.Quote(t)+" is not supported by Gemini; use text, image_url, input_audio or file")
		}
		return err == nil
	})
	return dst, err
}

func geminiAppendText(dst []byte, text gjson.Result) []byte {
	if text.Type != gjson.String || text.Str == "" {
		return dst
	}
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"text":`...)
	dst = append(dst, text.Raw...)
	return append(dst, '}')
}

func geminiAppendInline(dst []byte, mimeType, data string) []byte {
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"inlineData":{"mimeType":`...)
	dst = AppendJSONString(dst, mimeType)
	dst = append(dst, `,"data":`...)
	dst = AppendJSONString(dst, data)
	return append(dst, "}}"...)
}

// geminiAppendMedia appends an inlineData part for a base64 data: URL, or a fileData part for an http(s)
// URL (a Files API URI or a public file) or gs:// URI; the latter's mimeType is guessed from the URL path's
// extension (see geminiMIMEByExt), and is image/jpeg when the extension is unknown, since image_url names an
// image.
func geminiAppendMedia(dst []byte, u, param string) ([]byte, error) {
	switch {
	case strings.HasPrefix(u, "data:"):
		mimeType, data, ok := parseDataURL(u)
		if !ok {
			return dst, InvalidRequest(param, "the data URL is malformed or not base64; expected data:<mime type>;base64,<data>")
		}
		if mimeType == "" {
			return dst, InvalidRequest(param, "the data URL needs a media type, e.g. data:image/png;base64,...")
		}
		return geminiAppendInline(dst, mimeType, data), nil
	case isHTTPURL(u), strings.HasPrefix(u, "gs://"):
		if len(dst) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"fileData":{"mimeType":`...)
		dst = AppendJSONString(dst, geminiMIMEFromURL(u))
		dst = append(dst, `,"fileUri":`...)
		dst = AppendJSONString(dst, u)
		return append(dst, "}}"...), nil
	}
	return dst, InvalidRequest(param, "the URL must be a data: URL or an http(s) URL")
}

// geminiMIMEByExt is the media type of a fileData URL by its extension: the formats Gemini accepts.
func geminiMIMEByExt(ext string) string {
	switch strings.ToLower(ext) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".pdf":
		return "application/pdf"
	case ".txt":
		return "text/plain"
	case ".mp3":
		return "audio/mp3"
	case ".wav":
		return "audio/wav"
	case ".ogg":
		return "audio/ogg"
	case ".flac":
		return "audio/flac"
	case ".mp4":
		return "video/mp4"
	case ".webm":
		return "video/webm"
	case ".mov":
		return "video/quicktime"
	}
	return ""
}

func geminiMIMEFromURL(u string) string {
	if pu, err := url.Parse(u); err == nil {
		if m := geminiMIMEByExt(path.Ext(pu.Path)); m != "" {
			return m
		}
	}
	return "image/jpeg"
}

// geminiTools appends tools as functionDeclarations whose parametersJsonSchema takes OpenAI's JSON Schema
// unchanged (the older "parameters" field rejects additionalProperties, $schema and the like).
func geminiTools(dst []byte, tools gjson.Result) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `,"tools":[{"functionDeclarations":[`...)
	n, err := eachFunctionTool(tools, "Gemini", func(i int, name, description, parameters gjson.Result) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = append(dst, name.Raw...)
		if description.Type == gjson.String {
			dst = append(dst, `,"description":`...)
			dst = append(dst, description.Raw...)
		}
		if parameters.IsObject() {
			dst = append(dst, `,"parametersJsonSchema":`...)
			dst = append(dst, parameters.Raw...)
		}
		dst = append(dst, '}')
	})
	if err != nil {
		return dst, err
	}
	if n == 0 {
		return dst[:start], nil
	}
	return append(dst, "]}]"...), nil
}

// geminiToolChoice appends toolConfig.functionCallingConfig: auto AUTO, none NONE, required ANY, a named
// function ANY with allowedFunctionNames, allowed_tools AUTO or ANY with allowedFunctionNames.
func geminiToolChoice(dst []byte, tc gjson.Result) ([]byte, error) {
	const param = "tool_choice"
	mode := ""
	var names []string
	switch {
	case !tc.Exists() || tc.Type == gjson.Null:
		return dst, nil
	case tc.Type == gjson.String:
		switch tc.Str {
		case "auto":
			mode = "AUTO"
		case "none":
			mode = "NONE"
		case "required":
			mode = "ANY"
		}
	case tc.IsObject():
		switch tc.Get("type").String() {
		case "function":
			if n := tc.Get("function.name").String(); n != "" {
				mode, names = "ANY", []string{n}
			}
		case "allowed_tools":
			switch tc.Get("allowed_tools.mode").String() {
			case "auto":
				mode = "AUTO"
			case "required":
				mode = "ANY"
			}
			tc.Get("allowed_tools.tools").ForEach(func(_, t gjson.Result) bool {
				if n := t.Get("function.name").String(); n != "" {
					names = append(names, n)
				}
				return true
			})
		}
	}
	if mode == "" {
		return dst, InvalidRequest(param, `tool_choice must be "auto", "none", "required", {"type":"function","function":{"name":...}} or {"type":"allowed_tools",...}`)
	}
	dst = append(dst, `,"toolConfig":{"functionCallingConfig":{"mode":"`...)
	dst = append(dst, mode...)
	dst = append(dst, '"')
	if len(names) > 0 {
		dst = append(dst, `,"allowedFunctionNames":[`...)
		for i, n := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, n)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...), nil
}

// generationConfig appends generationConfig when the request sets any of its fields.
func (b *geminiRequestBuilder) generationConfig(dst []byte, root gjson.Result) ([]byte, error) {
	o := beginOptionalObject(dst, "generationConfig")
	o.maxTokens(root, "maxOutputTokens")
	o.number(root, "temperature", "temperature", false)
	o.number(root, "top_p", "topP", false)
	o.number(root, "seed", "seed", true)
	o.number(root, "presence_penalty", "presencePenalty", false)
	o.number(root, "frequency_penalty", "frequencyPenalty", false)
	o.number(root, "n", "candidateCount", true)
	o.number(root, "top_logprobs", "logprobs", true)
	if o.err != nil {
		return o.dst, o.err
	}
	if n := root.Get("n").Int(); n > 1 && b.stream {
		return o.dst, InvalidRequest("n", "n > 1 cannot be streamed from Gemini; send stream: false or n: 1")
	}
	if lp := root.Get("logprobs"); lp.IsBool() && lp.Bool() {
		o.field("responseLogprobs")
		o.dst = append(o.dst, "true"...)
	}
	o.stop(root, "stopSequences", 5, "Gemini")
	if o.err != nil {
		return o.dst, o.err
	}
	if rf := root.Get("response_format"); rf.Exists() && rf.Type != gjson.Null {
		switch rf.Get("type").String() {
		case "text":
		case "json_object":
			o.field("responseMimeType")
			o.dst = append(o.dst, `"application/json"`...)
		case "json_schema":
			o.field("responseMimeType")
			o.dst = append(o.dst, `"application/json"`...)
			if s := rf.Get("json_schema.schema"); s.IsObject() {
				o.field("responseJsonSchema")
				o.dst = append(o.dst, s.Raw...)
			}
		default:
			return o.dst, InvalidRequest("response_format.type", `response_format.type must be "text", "json_object" or "json_schema"`)
		}
	}
	level, budget, ok, err := geminiThinking(b.model, b.effort)
	if err != nil {
		return o.dst, err
	}
	if b.opts.IncludeThoughts || ok {
		o.field("thinkingConfig")
		o.dst = append(o.dst, '{')
		if b.opts.IncludeThoughts {
			o.dst = append(o.dst, `"includeThoughts":true`...)
			if ok {
				o.dst = append(o.dst, ',')
			}
		}
		switch {
		case ok && level != "":
			o.dst = append(o.dst, `"thinkingLevel":"`...)
			o.dst = append(o.dst, level...)
			o.dst = append(o.dst, '"')
		case ok:
			o.dst = append(o.dst, `"thinkingBudget":`...)
			o.dst = strconv.AppendInt(o.dst, budget, 10)
		}
		o.dst = append(o.dst, '}')
	}
	return o.end()
}

// Thinking budgets (thinkingConfig.thinkingBudget) for reasoning_effort on Gemini 2.5 models: the budgets
// Google's OpenAI-compatible endpoint documents for low, medium and high. xhigh is the largest budget the
// model takes (24576 on Flash and Flash-Lite, 32768 on Pro). none and minimal switch thinking off (0), except
// on 2.5 Pro, which cannot think less than 128 tokens.
const (
	geminiThinkingLow    = 1024
	geminiThinkingMedium = 8192
	geminiThinkingHigh   = 24576
)

// geminiThinking maps reasoning_effort for model (the upstream name) to thinkingConfig: a thinkingLevel for
// Gemini 3 models ("low" for none, minimal and low, "high" for medium, high and xhigh: "low" and "high" are
// the levels every Gemini 3 model takes, and none can switch thinking off), a thinkingBudget for Gemini 2.5
// models (see geminiThinkingLow). The family is told by the name's prefix. ok is false when the request has
// no reasoning_effort or the model is of neither family (Gemini 2.0, 1.5, Gemma and aliases such as
// gemini-flash-latest: no thinking to set, or none the name tells), and err is set for an effort OpenAI does
// not define.
func geminiThinking(model string, effort gjson.Result) (level string, budget int64, ok bool, err error) {
	if !effort.Exists() || effort.Type == gjson.Null {
		return "", 0, false, nil
	}
	high := false
	switch effort.Str {
	case "none", "minimal":
	case "low":
		budget = geminiThinkingLow
	case "medium":
		budget, high = geminiThinkingMedium, true
	case "high":
		budget, high = geminiThinkingHigh, true
	case "xhigh":
		budget, high = geminiThinkingHigh, true
	default:
		return "", 0, false, InvalidRequest("reasoning_effort", `reasoning_effort must be "none", "minimal", "low", "medium", "high" or "xhigh"`)
	}
	model = strings.TrimPrefix(model, "models/")
	switch {
	case strings.HasPrefix(model, "gemini-3"):
		if high {
			return "high", 0, true, nil
		}
		return "low", 0, true, nil
	case strings.HasPrefix(model, "gemini-2.5-pro"):
		switch {
		case budget == 0:
			budget = 128
		case effort.Str == "xhigh":
			budget = 32768
		}
		return "", budget, true, nil
	case strings.HasPrefix(model, "gemini-2.5"):
		return "", budget, true, nil
	}
	return "", 0, false, nil
}

// geminiCachedContent passes an explicit context cache reference through: the request's cachedContent (or
// cached_content, as the OpenAI-compatible endpoint's extra_body spells it), a cachedContents/… resource
// name created with Gemini's caching API.
func geminiCachedContent(dst, body []byte, root gjson.Result) ([]byte, error) {
	if !mentionsKey(body, `dContent"`) && !mentionsKey(body, `d_content"`) {
		return dst, nil
	}
	for _, field := range [...]string{"cachedContent", "cached_content"} {
		v := root.Get(field)
		if !v.Exists() || v.Type == gjson.Null {
			continue
		}
		if v.Type != gjson.String || v.Str == "" {
			return nil, InvalidRequest(field, field+` must be the name of a cached content resource, e.g. "cachedContents/abc123"`)
		}
		dst = append(dst, `,"cachedContent":`...)
		return AppendJSONString(dst, v.Str), nil
	}
	return dst, nil
}
