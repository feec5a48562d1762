package transform

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// OllamaBaseURL is the preset base URL of a local Ollama server; Outgoing.Path ("/api/chat") is relative to it.
const OllamaBaseURL = "http://127.0.0.1:11434"

// OllamaOptions configures the native Ollama dialect.
type OllamaOptions struct {
	// KeepAlive, when set, is sent as keep_alive: how long Ollama keeps the model loaded after the request,
	// a Go duration ("5m", "1h", "0s" to unload at once, a negative one such as "-1m" for ever; Ollama
	// refuses a string without a unit such as "-1"). Empty leaves the server's default.
	KeepAlive string
}

// Ollama is the dialect of Ollama's native chat API (POST /api/chat), whose streams are newline-delimited
// JSON rather than server-sent events. Ollama's OpenAI-compatible /v1 endpoint stays the default for Ollama;
// this dialect is for features only the native API has (keep_alive, format with a schema on old servers,
// thinking text) and for Ollama Cloud.
//
// What does not translate: tool_choice other than "none" (Ollama lets the model decide; "none" sends no
// tools), parallel_tool_calls, logprobs, logit_bias, user and other OpenAI-only fields (dropped); n > 1 and
// image URLs that are not data: URLs (refused with 400: Ollama takes one answer and inline images only).
type Ollama struct {
	opts OllamaOptions
}

var _ FramedDialect = (*Ollama)(nil)

// NewOllama returns the native Ollama dialect.
func NewOllama(opts OllamaOptions) *Ollama {
	return &Ollama{opts: opts}
}

// Authorize sets Authorization: Bearer when a key is configured (Ollama Cloud); a local server needs none.
func (o *Ollama) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	return nil
}

// NewEventReader splits the application/x-ndjson stream into one event per line.
func (o *Ollama) NewEventReader(body io.Reader, maxEvent int) EventReader {
	return newNDJSONReader(body, maxEvent)
}

// BuildRequest translates an OpenAI chat completion request into an Ollama /api/chat request.
func (o *Ollama) BuildRequest(req *Request) (*Outgoing, error) {
	if err := CheckJSON(req.Body); err != nil {
		return nil, BadRequestJSON(err)
	}
	root := gjson.Parse(stringView(req.Body))
	if !root.IsObject() {
		return nil, InvalidRequest("", "the request body must be a JSON object")
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Int() != 1 {
		return nil, InvalidRequest("n", "Ollama returns one answer per request; send n: 1 or leave n out")
	}
	out := make([]byte, 0, len(req.Body)+128)
	out = append(out, `{"model":`...)
	out = AppendJSONString(out, req.Model)
	out = append(out, `,"messages":[`...)
	var err error
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
	h := make(http.Header, 1)
	h.Set("Content-Type", "application/json")
	return &Outgoing{Path: "/api/chat", Body: out, Header: h}, nil
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

// TranslateResponse turns a non-streamed /api/chat answer (one JSON object) into an OpenAI chat.completion.
func (o *Ollama) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("ollama"), err)
	}
	root := gjson.Parse(stringView(body))
	if !root.IsObject() {
		return nil, usage.Usage{}, badUpstream("ollama: the upstream returned a response body that is not a JSON object")
	}
	if e := root.Get("error"); e.Exists() {
		return nil, usage.Usage{}, ollamaStreamError(e)
	}
	msg := root.Get("message")
	c := completion{
		ID:        NewID("chatcmpl-"),
		Created:   time.Now().Unix(),
		Model:     req.ClientModel,
		Content:   msg.Get("content").String(),
		Reasoning: msg.Get("thinking").String(),
		Usage:     ollamaUsage(root),
	}
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		c.ToolCalls = append(c.ToolCalls, toolCall{
			ID:        ollamaCallID(tc),
			Name:      tc.Get("function.name").String(),
			Arguments: ollamaArgs(nil, tc.Get("function.arguments")),
		})
		return true
	})
	c.FinishReason = ollamaFinishReason(root.Get("done_reason").String(), len(c.ToolCalls) > 0)
	return c.AppendJSON(make([]byte, 0, len(body)+256)), c.Usage, nil
}

// ollamaFinishReason maps Ollama's done_reason to OpenAI's finish_reason: length stays length, and any
// other reason is tool_calls when the answer called a tool (Ollama says "stop" for those) and stop otherwise.
func ollamaFinishReason(doneReason string, sawCall bool) string {
	switch {
	case doneReason == "length":
		return finishLength
	case sawCall:
		return finishToolCalls
	}
	return finishStop
}

// ollamaUsage returns the counts of a done object, Reported only when both prompt_eval_count and eval_count
// are present: Ollama omits them at zero and older servers dropped prompt_eval_count on prompt-cache hits,
// so a missing count is unknown, never 0, and the engine counts locally instead.
func ollamaUsage(root gjson.Result) usage.Usage {
	var prompt, eval, cached gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "prompt_eval_count":
			prompt = v
		case "eval_count":
			eval = v
		case "prompt_eval_cached_count":
			cached = v
		}
		return true
	})
	if prompt.Type != gjson.Number || eval.Type != gjson.Number {
		return usage.Usage{}
	}
	var rep usage.Report
	p, e := rep.Count(prompt), rep.Count(eval)
	return rep.Usage(usage.Usage{
		PromptTokens:     p,
		CompletionTokens: e,
		TotalTokens:      p + e,
		CachedTokens:     rep.Count(cached),
		Origin:           usage.Reported,
	})
}

// ollamaCallID returns the tool call's own id (newer servers send one) or a minted call_ id.
func ollamaCallID(tc gjson.Result) string {
	if id := tc.Get("id").String(); id != "" {
		return id
	}
	return NewID("call_")
}

// ollamaArgs appends a tool call's arguments as compact JSON text: the object Ollama sends, a string's
// contents as they are, and "{}" when there are none.
func ollamaArgs(dst []byte, args gjson.Result) []byte {
	switch {
	case args.IsObject():
		return compactJSON(dst, bytesView(args.Raw))
	case args.Type == gjson.String && strings.TrimSpace(args.Str) != "":
		return append(dst, args.Str...)
	}
	return append(dst, "{}"...)
}

// NewStream returns a translator for a streamed /api/chat response.
func (o *Ollama) NewStream(req *Request) StreamTranslator {
	return &ollamaStream{model: req.ClientModel, provider: req.provider("ollama"), created: time.Now().Unix()}
}

// ollamaStream translates Ollama's NDJSON lines, each one message fragment, into OpenAI chunks.
type ollamaStream struct {
	model    string
	provider string
	created  int64
	cb       *chunkBuilder
	calls    int  // tool calls emitted, the index of the next one
	finished bool // the done line was translated
	args     []byte
	lit      []byte
}

// Translate handles one line; done is true on the line with "done": true.
func (s *ollamaStream) Translate(ev Event, sink Sink) (bool, error) {
	if s.finished {
		return true, nil
	}
	if len(ev.Data) == 0 {
		return false, nil
	}
	if err := CheckJSON(ev.Data); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	root := gjson.Parse(stringView(ev.Data))
	if !root.IsObject() {
		return false, badUpstream("ollama: the upstream sent a stream line that is not a JSON object")
	}
	var msg, reason gjson.Result
	done := false
	var streamErr *Error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "message":
			msg = v
		case "done":
			done = v.Bool()
		case "done_reason":
			reason = v
		case "error":
			streamErr = ollamaStreamError(v)
			return false
		}
		return true
	})
	if streamErr != nil {
		return false, streamErr
	}
	if s.cb == nil {
		s.cb = newChunkBuilder(NewID("chatcmpl-"), s.created, s.model)
		if err := sink.Chunk(s.cb.Role()); err != nil {
			return false, err
		}
	}
	if err := s.message(msg, sink); err != nil {
		return false, err
	}
	if !done {
		return false, nil
	}
	s.finished = true
	if err := sink.Chunk(s.cb.Finish(ollamaFinishReason(reason.String(), s.calls > 0))); err != nil {
		return true, err
	}
	if u := ollamaUsage(root); u.Known() {
		sink.Usage(u, nil)
	}
	return true, nil
}

// message emits the chunks of one message fragment: thinking, content, then whole tool calls.
func (s *ollamaStream) message(msg gjson.Result, sink Sink) error {
	var content, thinking, calls gjson.Result
	msg.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			content = v
		case "thinking":
			thinking = v
		case "tool_calls":
			calls = v
		}
		return true
	})
	if thinking.Type == gjson.String && thinking.Str != "" {
		if err := sink.Chunk(s.cb.Reasoning(bytesView(thinking.Raw))); err != nil {
			return err
		}
	}
	if content.Type == gjson.String && content.Str != "" {
		if err := sink.Chunk(s.cb.Content(bytesView(content.Raw))); err != nil {
			return err
		}
	}
	var err error
	calls.ForEach(func(_, tc gjson.Result) bool {
		s.args = ollamaArgs(s.args[:0], tc.Get("function.arguments"))
		s.lit = AppendJSONString(s.lit[:0], stringView(s.args))
		err = sink.Chunk(s.cb.ToolCallStart(s.calls, ollamaCallID(tc), tc.Get("function.name").String(), s.lit))
		s.calls++
		return err == nil
	})
	return err
}

// Finish returns an error when the stream ended before its done line: the connection was cut mid-answer.
func (s *ollamaStream) Finish(_ Sink, _ bool) error {
	if !s.finished {
		return StreamCut("ollama: the upstream stream ended before its done line; the answer is incomplete, retry the request")
	}
	return nil
}

// TranslateError turns Ollama's {"error":"..."} (or the OpenAI-layer {"error":{"message":...}}) or any
// other error body into an OpenAI-shaped error.
func (o *Ollama) TranslateError(status int, h http.Header, body []byte) *Error {
	msg, fromJSON := "", false
	if CheckJSON(body) == nil {
		e := gjson.Get(stringView(body), "error")
		if e.IsObject() {
			e = e.Get("message")
		}
		if e.Type == gjson.String && e.Str != "" {
			msg, fromJSON = e.Str, true
		}
	}
	if msg == "" {
		msg = bodySnippet(body)
		if msg == "" {
			msg = http.StatusText(status)
		}
		msg = "HTTP " + strconv.Itoa(status) + ": " + msg
	}
	code := ""
	switch {
	case status == http.StatusNotFound && fromJSON:
		code = "model_not_found"
		msg += " (check the model name, or pull the model on the Ollama server: ollama pull <model>)"
	case status == http.StatusNotFound:
		msg += " (is the base URL the Ollama server root, e.g. http://127.0.0.1:11434, without /v1?)"
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
		msg += " (check the API key configured for this Ollama provider)"
	case status == http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	}
	e := NewError(status, TypeForStatus(status), code, "ollama: "+msg)
	e.RetryAfter = parseRetryAfter(h, time.Now())
	return e
}

// ollamaStreamError maps an error that arrived after a 200: an NDJSON line {"error":"..."}.
func ollamaStreamError(e gjson.Result) *Error {
	msg := e.String()
	if e.IsObject() {
		msg = e.Get("message").String()
	}
	if msg == "" {
		msg = "the upstream reported an error without a message"
	}
	return NewError(http.StatusBadGateway, "server_error", "upstream_error", "ollama: "+msg)
}
