package transform

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// GeminiBaseURL is the preset base URL of Google's Gemini API; Outgoing.Path is relative to it.
const GeminiBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// geminiSignatureSeparator joins a tool call id and the Gemini thought signature carried inside it.
//
// Gemini 3 attaches an opaque thoughtSignature to functionCall parts and rejects the next turn (400
// INVALID_ARGUMENT) unless the signature comes back on that part. OpenAI's wire format has no slot for it, so
// the dialect keeps it inside the tool call id it gives the client, without server state:
//
//	<call id> "__thought__" <signature bytes, base64url without padding>
//
// <call id> is Gemini's functionCall.id when it sent one, else a minted "call_" + 24 alphanumerics. Clients
// echo the id back in assistant tool_calls and tool messages; BuildRequest splits it, puts <call id> on the
// functionCall and functionResponse parts and the signature, in standard base64, on the functionCall part.
// Ids without the separator (no signature, or ids minted by another provider) pass through as they are.
const geminiSignatureSeparator = "__thought__"

// GeminiOptions configures the Gemini dialect.
type GeminiOptions struct {
	// IncludeThoughts asks thinking models for thought summaries (thinkingConfig.includeThoughts), which the
	// gateway returns as reasoning_content. Off by default: Gemini then sends no thoughts at all.
	IncludeThoughts bool
	// SignatureFallback, when set, is sent as the thoughtSignature of the first function call of an assistant
	// turn that carries none (a history written by another model or client). Google documents
	// "skip_thought_signature_validator" for this; empty (the default) sends no signature, and Gemini 3
	// models then refuse such a history with 400.
	SignatureFallback string
}

// Gemini is the dialect of Google's Gemini API (Generative Language v1beta): generateContent and
// streamGenerateContent?alt=sse, authenticated with the x-goog-api-key header.
//
// reasoning_effort becomes thinkingConfig: thinkingLevel on Gemini 3 models, thinkingBudget on Gemini 2.5
// (see geminiThinking; other models get none). logprobs and top_logprobs are asked for upstream
// (responseLogprobs, logprobs) and Gemini's logprobsResult comes back as choices[].logprobs.content, per
// chunk when streamed (see appendGeminiLogprobs).
//
// What does not translate: parallel_tool_calls (Gemini has no switch; dropped), user, metadata and other
// OpenAI-only fields (dropped), n > 1 with stream (refused with 400: the stream carries one choice).
type Gemini struct {
	opts GeminiOptions
}

var _ Dialect = (*Gemini)(nil)

// NewGemini returns the Gemini dialect.
func NewGemini(opts GeminiOptions) *Gemini {
	return &Gemini{opts: opts}
}

// Authorize sets the x-goog-api-key header; the key never goes into the URL, so it stays out of access logs.
func (g *Gemini) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("x-goog-api-key", apiKey)
	}
	return nil
}

// BuildRequest translates an OpenAI chat completion request into a Gemini generateContent request.
func (g *Gemini) BuildRequest(req *Request) (*Outgoing, error) {
	if err := CheckJSON(req.Body); err != nil {
		return nil, BadRequestJSON(err)
	}
	root := gjson.Parse(stringView(req.Body))
	if !root.IsObject() {
		return nil, InvalidRequest("", "the request body must be a JSON object")
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
	var err error
	if out, err = geminiTools(out, root.Get("tools")); err != nil {
		return nil, err
	}
	if out, err = geminiToolChoice(out, root.Get("tool_choice")); err != nil {
		return nil, err
	}
	if out, err = b.generationConfig(out, root); err != nil {
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
	h := make(http.Header, 1)
	h.Set("Content-Type", "application/json")
	return &Outgoing{Path: p, Body: out, Header: h}, nil
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

// TranslateResponse turns a GenerateContentResponse into an OpenAI chat.completion: one choice per
// candidate (n > 1 asks Gemini for several), thoughts as reasoning_content.
func (g *Gemini) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("gemini"), err)
	}
	root := gjson.Parse(stringView(body))
	if e := root.Get("error"); e.IsObject() {
		return nil, usage.Usage{}, geminiRPCError(http.StatusBadGateway, nil, e)
	}
	c := completion{
		ID:      "chatcmpl-" + root.Get("responseId").String(),
		Created: time.Now().Unix(),
		Model:   req.ClientModel,
		Usage:   geminiUsage(root.Get("usageMetadata")),
	}
	if c.ID == "chatcmpl-" {
		c.ID = NewID("chatcmpl-")
	}
	var out, extra []byte
	n := 0
	root.Get("candidates").ForEach(func(_, cand gjson.Result) bool {
		geminiCandidate(&c, cand)
		if n == 0 {
			out = c.AppendJSON(make([]byte, 0, len(body)+256))
		} else {
			// Further candidates (n > 1): render each the same way and keep its choice, renumbered.
			index := int64(n)
			if ix := cand.Get("index"); ix.Type == gjson.Number {
				index = ix.Int()
			}
			choice := gjson.Get(stringView(c.AppendJSON(nil)), "choices.0").Raw
			extra = append(extra, `,{"index":`...)
			extra = strconv.AppendInt(extra, index, 10)
			extra = append(extra, strings.TrimPrefix(choice, `{"index":0`)...)
		}
		n++
		return true
	})
	if n == 0 {
		c.FinishReason = finishStop
		if root.Get("promptFeedback.blockReason").String() != "" {
			c.FinishReason = finishContentFilter
		}
		out = c.AppendJSON(nil)
	}
	if len(extra) > 0 {
		choices := gjson.Get(stringView(out), "choices")
		end := choices.Index + len(choices.Raw) - 1 // the closing ']'
		out = append(out[:end], append(extra, out[end:]...)...)
	}
	return out, c.Usage, nil
}

// geminiCandidate fills c's content, reasoning, tool calls, finish reason and logprobs from a Gemini
// candidate, read in one pass.
func geminiCandidate(c *completion, cand gjson.Result) {
	var text, thoughts strings.Builder
	c.ToolCalls = c.ToolCalls[:0]
	var parts, finish, logprobs gjson.Result
	cand.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			parts = v.Get("parts")
		case "finishReason":
			finish = v
		case "logprobsResult":
			logprobs = v
		}
		return true
	})
	parts.ForEach(func(_, p gjson.Result) bool {
		if fc := p.Get("functionCall"); fc.IsObject() {
			c.ToolCalls = append(c.ToolCalls, toolCall{
				ID:        geminiMintCallID(fc.Get("id").String(), p.Get("thoughtSignature").String()),
				Name:      fc.Get("name").String(),
				Arguments: geminiArgs(nil, fc.Get("args")),
			})
			return true
		}
		if t := p.Get("text"); t.Type == gjson.String {
			if p.Get("thought").Bool() {
				thoughts.WriteString(t.Str)
			} else {
				text.WriteString(t.Str)
			}
		}
		return true
	})
	c.Content, c.Reasoning = text.String(), thoughts.String()
	c.FinishReason = geminiFinishReason(finish.String(), len(c.ToolCalls) > 0)
	c.Logprobs = appendGeminiLogprobs(c.Logprobs[:0], nil, logprobs)
}

// appendGeminiLogprobs appends OpenAI's logprobs object for a candidate's logprobsResult,
// {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}…]}…],"refusal":null}:
// one entry per chosenCandidates token, with the topCandidates of the same decoding step as its
// top_logprobs ([] when Gemini sent none). bytes are the token's UTF-8 bytes. A logProbability Gemini left
// out is 0 (proto3 JSON omits zero values); one that is not a number (-Infinity is sent as a string) is
// -9999.0, the value OpenAI gives tokens too unlikely to represent. Nothing is appended when there are no
// chosen tokens, so the caller renders null. tops, when not nil, is scratch space for the steps'
// topCandidates, kept between calls so that a stream does not allocate per event.
func appendGeminiLogprobs(dst []byte, tops *[]gjson.Result, lr gjson.Result) []byte {
	chosen := lr.Get("chosenCandidates")
	if !chosen.IsArray() {
		return dst
	}
	start := len(dst)
	if tops == nil {
		tops = new([]gjson.Result)
	}
	steps := (*tops)[:0]
	lr.Get("topCandidates").ForEach(func(_, t gjson.Result) bool {
		steps = append(steps, t)
		return true
	})
	*tops = steps
	dst = append(dst, `{"content":[`...)
	n := 0
	chosen.ForEach(func(_, c gjson.Result) bool {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendGeminiTokenLogprob(dst, c)
		dst = append(dst[:len(dst)-1], `,"top_logprobs":[`...) // reopen the entry
		if n < len(steps) {
			k := 0
			steps[n].Get("candidates").ForEach(func(_, tc gjson.Result) bool {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = appendGeminiTokenLogprob(dst, tc)
				k++
				return true
			})
		}
		dst = append(dst, "]}"...)
		n++
		return true
	})
	clear(steps) // keep no pointers into the event past the call
	if n == 0 {
		return dst[:start]
	}
	return append(dst, `],"refusal":null}`...)
}

// appendGeminiTokenLogprob appends {"token","logprob","bytes"} for a Gemini token candidate.
func appendGeminiTokenLogprob(dst []byte, c gjson.Result) []byte {
	var tok string
	lp := "0"
	c.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "token":
			tok = v.String()
		case "logProbability":
			if v.Type == gjson.Number {
				lp = v.Raw
			} else {
				lp = "-9999.0"
			}
		}
		return true
	})
	dst = append(dst, `{"token":`...)
	dst = AppendJSONString(dst, tok)
	dst = append(dst, `,"logprob":`...)
	dst = append(dst, lp...)
	dst = append(dst, `,"bytes":[`...)
	for i := 0; i < len(tok); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(tok[i]), 10)
	}
	return append(dst, "]}"...)
}

// geminiArgs appends a function call's args as compact JSON object text ("{}" when absent).
func geminiArgs(dst []byte, args gjson.Result) []byte {
	if !args.IsObject() {
		return append(dst, "{}"...)
	}
	return compactJSON(dst, bytesView(args.Raw))
}

// geminiFinishReason maps a Gemini finishReason to OpenAI's finish_reason. STOP (and an unspecified reason)
// becomes tool_calls when the candidate produced a function call, as Gemini reports STOP for those.
func geminiFinishReason(reason string, sawCall bool) string {
	switch reason {
	case "STOP", "", "FINISH_REASON_UNSPECIFIED":
		if sawCall {
			return finishToolCalls
		}
		return finishStop
	case "MAX_TOKENS":
		return finishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER":
		return finishContentFilter
	}
	return finishStop
}

// geminiUsage maps usageMetadata: prompt = prompt + toolUsePrompt, completion = candidates + thoughts,
// reasoning = thoughts, cached = cachedContent.
func geminiUsage(m gjson.Result) usage.Usage {
	if !m.IsObject() {
		return usage.Usage{}
	}
	var prompt, candidates, thoughts, toolUse, cached, total int
	var rep usage.Report
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "promptTokenCount":
			prompt = rep.Count(v)
		case "candidatesTokenCount":
			candidates = rep.Count(v)
		case "thoughtsTokenCount":
			thoughts = rep.Count(v)
		case "toolUsePromptTokenCount":
			toolUse = rep.Count(v)
		case "cachedContentTokenCount":
			cached = rep.Count(v)
		case "totalTokenCount":
			total = rep.Count(v)
		}
		return true
	})
	u := usage.Usage{
		PromptTokens:     prompt + toolUse,
		CompletionTokens: candidates + thoughts,
		CachedTokens:     cached,
		ReasoningTokens:  thoughts,
		TotalTokens:      total,
		Origin:           usage.Reported,
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u)
}

// geminiMintCallID returns the OpenAI tool call id for a Gemini function call: Gemini's own id or a minted
// one, with the thought signature appended as described at geminiSignatureSeparator.
func geminiMintCallID(geminiID, signature string) string {
	if geminiID == "" {
		geminiID = NewID("call_")
	}
	if signature == "" {
		return geminiID
	}
	raw, ok := geminiDecodeBase64(signature)
	if !ok {
		return geminiID // not protobuf bytes: Gemini would not accept it back either
	}
	return geminiID + geminiSignatureSeparator + base64.RawURLEncoding.EncodeToString(raw)
}

// splitGeminiToolCallID splits a tool call id minted by the Gemini dialect into the call id and the thought
// signature (standard base64, as Gemini sent it). An id without a signature is returned unchanged with an
// empty signature.
func splitGeminiToolCallID(id string) (callID, signature string) {
	base, enc, found := strings.Cut(id, geminiSignatureSeparator)
	if !found {
		return id, ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) == 0 {
		return id, ""
	}
	return base, base64.StdEncoding.EncodeToString(raw)
}

// geminiDecodeBase64 decodes standard or URL-safe base64, padded or not, as protobuf JSON bytes allow.
func geminiDecodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		return raw, err == nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	return raw, err == nil
}

// NewStream returns a translator for a streamGenerateContent?alt=sse response.
func (g *Gemini) NewStream(req *Request) StreamTranslator {
	return &geminiStream{model: req.ClientModel, provider: req.provider("gemini"), created: time.Now().Unix()}
}

// geminiStream translates Gemini SSE events, each a whole GenerateContentResponse, into OpenAI chunks.
type geminiStream struct {
	model    string
	provider string
	created  int64
	cb       *chunkBuilder
	calls    int  // tool calls emitted, the index of the next one
	finished bool // the finish chunk was sent
	usage    usage.Usage
	reported bool // usage went to the sink
	args     []byte
	lit      []byte
	// logprobs holds the current event's logprobs object while lpPending says it still has to go out, on the
	// event's first text chunk or, without one, on a chunk of its own.
	logprobs  []byte
	lpPending bool
	tops      []gjson.Result // scratch for appendGeminiLogprobs
}

// Translate handles one event. Gemini has no end-of-stream event: done is always false, and Finish decides
// whether the stream was complete.
func (s *geminiStream) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return false, nil
	}
	if err := CheckJSON(data); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	root := gjson.Parse(stringView(data))
	if !root.IsObject() {
		return false, badUpstream("gemini: the upstream sent a stream event that is not a JSON object")
	}
	var cands, meta, respID, blocked gjson.Result
	var rpcErr *Error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "candidates":
			cands = v
		case "usageMetadata":
			meta = v
		case "responseId":
			respID = v
		case "promptFeedback":
			blocked = v.Get("blockReason")
		case "error":
			rpcErr = geminiRPCError(http.StatusBadGateway, nil, v)
			return false
		}
		return true
	})
	if rpcErr != nil {
		s.reportUsage(sink)
		return false, rpcErr
	}
	if meta.IsObject() {
		s.usage = geminiUsage(meta)
	}
	if s.cb == nil {
		id := "chatcmpl-" + respID.String()
		if respID.Str == "" {
			id = NewID("chatcmpl-")
		}
		s.cb = newChunkBuilder(id, s.created, s.model)
		if err := sink.Chunk(s.cb.Role()); err != nil {
			return false, err
		}
	}
	if s.finished {
		return false, nil
	}
	var cand gjson.Result
	cands.ForEach(func(_, c gjson.Result) bool {
		cand = c
		return false
	})
	var parts, finish, logprobs gjson.Result
	cand.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			parts = v.Get("parts")
		case "finishReason":
			finish = v
		case "logprobsResult":
			logprobs = v
		}
		return true
	})
	if logprobs.Exists() {
		s.logprobs = appendGeminiLogprobs(s.logprobs[:0], &s.tops, logprobs)
		s.lpPending = len(s.logprobs) > 0
	}
	var err error
	parts.ForEach(func(_, p gjson.Result) bool {
		err = s.part(p, sink)
		return err == nil
	})
	if err != nil {
		return false, err
	}
	if s.lpPending {
		s.lpPending = false
		if err := sink.Chunk(s.cb.ContentLogprobs(nil, s.logprobs)); err != nil {
			return false, err
		}
	}
	reason := finish.String()
	if reason == "" && cands.Raw == "" && blocked.String() != "" {
		reason = "SAFETY"
	}
	if reason != "" {
		s.finished = true
		if err := sink.Chunk(s.cb.Finish(geminiFinishReason(reason, s.calls > 0))); err != nil {
			return false, err
		}
	}
	return false, nil
}

// part emits the chunk for one content part: text, a thought, or a whole function call.
func (s *geminiStream) part(p gjson.Result, sink Sink) error {
	var text, fc, sig gjson.Result
	thought := false
	p.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "text":
			text = v
		case "thought":
			thought = v.Bool()
		case "functionCall":
			fc = v
		case "thoughtSignature":
			sig = v
		}
		return true
	})
	if fc.IsObject() {
		id := geminiMintCallID(fc.Get("id").String(), sig.String())
		s.args = geminiArgs(s.args[:0], fc.Get("args"))
		s.lit = AppendJSONString(s.lit[:0], stringView(s.args))
		err := sink.Chunk(s.cb.ToolCallStart(s.calls, id, fc.Get("name").String(), s.lit))
		s.calls++
		return err
	}
	if text.Type != gjson.String || text.Str == "" {
		return nil
	}
	if thought {
		return sink.Chunk(s.cb.Reasoning(bytesView(text.Raw)))
	}
	if s.lpPending {
		s.lpPending = false
		return sink.Chunk(s.cb.ContentLogprobs(bytesView(text.Raw), s.logprobs))
	}
	return sink.Chunk(s.cb.Content(bytesView(text.Raw)))
}

// Finish reports the last usage Gemini sent (it is cumulative) and returns an error when the stream ended
// before a finishReason, i.e. the connection was cut mid-answer.
func (s *geminiStream) Finish(sink Sink, eof bool) error {
	s.reportUsage(sink)
	if !s.finished {
		return NewError(http.StatusBadGateway, "server_error", "upstream_stream_cut",
			"gemini: the upstream stream ended before a finishReason; the answer is incomplete, retry the request")
	}
	return nil
}

func (s *geminiStream) reportUsage(sink Sink) {
	if s.reported || !s.usage.Known() {
		return
	}
	s.reported = true
	sink.Usage(s.usage, nil)
}

// TranslateError turns a Google RPC error ({"error":{"code","message","status","details"}}) or any other
// error body into an OpenAI-shaped error.
func (g *Gemini) TranslateError(status int, h http.Header, body []byte) *Error {
	if CheckJSON(body) == nil {
		root := gjson.Parse(stringView(body))
		if root.IsArray() {
			root = root.Get("0")
		}
		if e := root.Get("error"); e.IsObject() {
			return geminiRPCError(status, h, e)
		}
	}
	msg := bodySnippet(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := NewError(status, TypeForStatus(status), "", "gemini: HTTP "+strconv.Itoa(status)+": "+msg)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// geminiRPCError maps a Google RPC error object. status is the HTTP status when error.code has none.
func geminiRPCError(status int, h http.Header, e gjson.Result) *Error {
	if c := e.Get("code").Int(); c >= 400 && c <= 599 {
		status = int(c)
	}
	rpcStatus := e.Get("status").String()
	msg := e.Get("message").String()
	if msg == "" {
		msg = rpcStatus + " without a message"
	}
	var reason string
	var retry time.Duration
	e.Get("details").ForEach(func(_, d gjson.Result) bool {
		if r := d.Get("reason").String(); r != "" && reason == "" {
			reason = r
		}
		if rd := d.Get("retryDelay").String(); rd != "" {
			if dur, err := time.ParseDuration(rd); err == nil && dur > 0 {
				retry = dur
			}
		}
		return true
	})
	if retry == 0 && h != nil {
		retry = parseRetryAfter(h, time.Now())
	}
	code := ""
	switch {
	case reason == "API_KEY_INVALID" || rpcStatus == "UNAUTHENTICATED":
		status, code = http.StatusUnauthorized, "invalid_api_key"
		msg += " (check the API key configured for this Gemini provider)"
	case status == http.StatusNotFound:
		code = "model_not_found"
	case status == http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	}
	err := NewError(status, TypeForStatus(status), code, "gemini: "+msg)
	err.RetryAfter = retry
	return err
}
