package transform

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// anthropicJSONObjectInstruction is added to the system prompt for response_format json_object.
const anthropicJSONObjectInstruction = "Respond with a single valid JSON object and nothing else."

// BuildRequest translates an OpenAI chat completion request into an Anthropic Messages request. Fields the
// Messages API cannot express are refused with a 400 naming the field, or dropped as listed on Anthropic.
func (a *Anthropic) BuildRequest(req *Request) (*Outgoing, error) {
	body := req.Body
	root, err := requestObject(req.Body)
	if err != nil {
		return nil, err
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Int() > 1 {
		return nil, InvalidRequest("n", "n > 1 is not supported by Anthropic models: send n separate requests")
	}
	maxTokens, err := a.maxTokens(root)
	if err != nil {
		return nil, err
	}
	budget, err := anthropicThinkingBudget(body, root)
	if err != nil {
		return nil, err
	}
	maxTokens += budget // the budget comes on top of the room the client asked for its answer

	dst := make([]byte, 0, len(body)+128)
	dst = append(dst, `{"model":`...)
	dst = AppendJSONString(dst, req.Model)
	dst = append(dst, `,"max_tokens":`...)
	dst = strconv.AppendInt(dst, maxTokens, 10)

	messages := root.Get("messages")
	if !messages.IsArray() {
		return nil, InvalidRequest("messages", "messages must be an array of chat messages")
	}
	jsonObject := root.Get("response_format.type").String() == "json_object"
	if mentionsKey(body, `cache_control"`) && anthropicSystemCached(messages) {
		dst = appendAnthropicSystemBlocks(dst, messages, jsonObject)
	} else {
		system := anthropicSystem(messages)
		if jsonObject {
			if system != "" {
				system += "\n\n"
			}
			system += anthropicJSONObjectInstruction
		}
		if system != "" {
			dst = append(dst, `,"system":`...)
			dst = AppendJSONString(dst, system)
		}
	}
	dst = append(dst, `,"messages":`...)
	if dst, err = appendAnthropicMessages(dst, messages); err != nil {
		return nil, err
	}
	if dst, err = appendAnthropicTools(dst, root); err != nil {
		return nil, err
	}
	if dst, err = appendAnthropicSampling(dst, root, budget > 0); err != nil {
		return nil, err
	}
	if user := root.Get("user").String(); user != "" {
		dst = append(dst, `,"metadata":{"user_id":`...)
		dst = AppendJSONString(dst, user)
		dst = append(dst, '}')
	}
	if dst, err = appendAnthropicOutputFormat(dst, root); err != nil {
		return nil, err
	}
	if th := root.Get("thinking"); th.IsObject() {
		dst = append(dst, `,"thinking":`...)
		dst = compactJSON(dst, []byte(th.Raw))
	} else if budget > 0 {
		dst = append(dst, `,"thinking":{"type":"enabled","budget_tokens":`...)
		dst = strconv.AppendInt(dst, budget, 10)
		dst = append(dst, '}')
	}
	if req.Stream {
		dst = append(dst, `,"stream":true`...)
	}
	dst = append(dst, '}')

	h := make(http.Header, 2)
	a.setVersionHeaders(h)
	return &Outgoing{Path: "/v1/messages", Body: dst, Header: h}, nil
}

// maxTokens returns max_completion_tokens, else max_tokens, else the configured default.
func (a *Anthropic) maxTokens(root gjson.Result) (int64, error) {
	for _, field := range [...]string{"max_completion_tokens", "max_tokens"} {
		v := root.Get(field)
		if !v.Exists() || v.Type == gjson.Null {
			continue
		}
		if v.Type != gjson.Number || v.Int() <= 0 || float64(v.Int()) != v.Float() {
			return 0, InvalidRequest(field, field+" must be a positive integer")
		}
		return v.Int(), nil
	}
	return int64(a.opts.DefaultMaxTokens), nil
}

// Thinking budgets (thinking.budget_tokens) for reasoning_effort. low is the minimum Anthropic accepts;
// low, medium and high are the budgets Google's OpenAI-compatible endpoint documents for the same efforts on
// Gemini (1K, 8K, 24K), so an effort asks alike of both providers; xhigh stays below the 32K above which
// Anthropic recommends batch processing over long-held connections.
const (
	anthropicThinkingLow    = 1024
	anthropicThinkingMedium = 8192
	anthropicThinkingHigh   = 24576
	anthropicThinkingXHigh  = 32000
)

// anthropicThinkingBudget returns the thinking budget_tokens for the request's reasoning_effort, 0 for no
// thinking. "none" and "minimal" ask for no thinking (Anthropic has no budget below 1024); an unknown effort
// is refused. It is 0 too, whatever the effort, when:
//   - the request carries Anthropic's own thinking object, which is passed through and wins;
//   - tool_choice forces a tool ("required" or a named function): Anthropic refuses thinking with forced
//     tool use;
//   - the last message is a tool result: the assistant turn is mid tool loop, and with thinking on Anthropic
//     wants that turn's signed thinking block back, which OpenAI messages cannot carry.
func anthropicThinkingBudget(body []byte, root gjson.Result) (int64, error) {
	if !mentionsKey(body, `_effort"`) {
		return 0, nil
	}
	effort := root.Get("reasoning_effort")
	if !effort.Exists() || effort.Type == gjson.Null {
		return 0, nil
	}
	var budget int64
	switch effort.Str {
	case "none", "minimal":
	case "low":
		budget = anthropicThinkingLow
	case "medium":
		budget = anthropicThinkingMedium
	case "high":
		budget = anthropicThinkingHigh
	case "xhigh":
		budget = anthropicThinkingXHigh
	default:
		return 0, InvalidRequest("reasoning_effort", `reasoning_effort must be "none", "minimal", "low", "medium", "high" or "xhigh"`)
	}
	if root.Get("thinking").IsObject() {
		return 0, nil
	}
	switch tc := root.Get("tool_choice"); {
	case tc.Type == gjson.String && tc.Str == "required", tc.IsObject():
		return 0, nil
	}
	last := gjson.Result{}
	root.Get("messages").ForEach(func(_, m gjson.Result) bool {
		last = m
		return true
	})
	if last.Get("role").Str == "tool" {
		return 0, nil
	}
	return budget, nil
}

// anthropicSystem joins the text of all system and developer messages.
func anthropicSystem(messages gjson.Result) string {
	var parts []string
	messages.ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").String() {
		case "system", "developer":
			if t := contentText(m.Get("content")); t != "" {
				parts = append(parts, t)
			}
		}
		return true
	})
	return strings.Join(parts, "\n\n")
}

// cacheControl copies the cache_control object of v (an OpenAI message or content part, as OpenRouter and
// LiteLLM clients mark prompt cache breakpoints) onto the last content block written, where Anthropic
// expects the breakpoint. Each marker is written once: a block that already has one keeps it.
func (t *anthropicTurns) cacheControl(v gjson.Result) {
	cc := v.Get("cache_control")
	if !cc.IsObject() || t.role == "" || t.blocks == 0 || len(t.dst) == 0 || t.dst[len(t.dst)-1] != '}' {
		return
	}
	if i := bytes.LastIndex(t.dst, []byte(`"cache_control":`)); i >= 0 && i > t.lastBlock {
		return
	}
	t.dst = append(t.dst[:len(t.dst)-1], `,"cache_control":`...)
	t.dst = compactJSON(t.dst, []byte(cc.Raw))
	t.dst = append(t.dst, '}')
}

// anthropicSystemCached reports whether a system or developer message, or one of its parts, carries
// cache_control: the system prompt then goes as text blocks that keep the markers.
func anthropicSystemCached(messages gjson.Result) bool {
	found := false
	messages.ForEach(func(_, m gjson.Result) bool {
		if r := m.Get("role").String(); r == "system" || r == "developer" {
			found = m.Get("cache_control").IsObject()
			m.Get("content").ForEach(func(_, part gjson.Result) bool {
				found = found || part.Get("cache_control").IsObject()
				return !found
			})
		}
		return !found
	})
	return found
}

// appendAnthropicSystemBlocks appends the system prompt as text blocks: one per text part of each system
// and developer message, with its cache_control (a message's own on its last block), and the json_object
// instruction last.
func appendAnthropicSystemBlocks(dst []byte, messages gjson.Result, jsonObject bool) []byte {
	dst = append(dst, `,"system":[`...)
	n := 0
	block := func(text string, cc gjson.Result) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"text","text":`...)
		dst = AppendJSONString(dst, text)
		if cc.IsObject() {
			dst = append(dst, `,"cache_control":`...)
			dst = compactJSON(dst, []byte(cc.Raw))
		}
		dst = append(dst, '}')
	}
	messages.ForEach(func(_, m gjson.Result) bool {
		if r := m.Get("role").String(); r != "system" && r != "developer" {
			return true
		}
		msgCC := m.Get("cache_control")
		c := m.Get("content")
		if c.Type == gjson.String {
			if c.Str != "" {
				block(c.Str, msgCC)
			}
			return true
		}
		var texts []gjson.Result
		c.ForEach(func(_, part gjson.Result) bool {
			if part.Get("type").String() == "text" && part.Get("text").String() != "" {
				texts = append(texts, part)
			}
			return true
		})
		for i, part := range texts {
			cc := part.Get("cache_control")
			if i == len(texts)-1 && !cc.IsObject() {
				cc = msgCC
			}
			block(part.Get("text").String(), cc)
		}
		return true
	})
	if jsonObject {
		block(anthropicJSONObjectInstruction, gjson.Result{})
	}
	return append(dst, ']')
}

// anthropicTurns writes Anthropic messages, merging consecutive OpenAI messages that map to the same
// Anthropic role, and dropping messages that end up without content blocks.
type anthropicTurns struct {
	dst    []byte
	role   string // role of the open message, "" when none is open
	start  int    // offset of the open message in dst, to drop it if it stays empty
	blocks int    // content blocks written to the open message
	// toolOnly is true while the open message holds nothing but tool_result blocks.
	toolOnly bool
	count    int // messages written
	// lastBlock is the offset in dst where the last content block starts.
	lastBlock int
}

func (t *anthropicTurns) open(role string) {
	if t.role == role {
		return
	}
	t.close()
	t.start = len(t.dst)
	if t.count > 0 {
		t.dst = append(t.dst, ',')
	}
	t.dst = append(t.dst, `{"role":"`...)
	t.dst = append(t.dst, role...)
	t.dst = append(t.dst, `","content":[`...)
	t.role, t.blocks, t.toolOnly = role, 0, true
}

// block starts a new content block in the open message.
func (t *anthropicTurns) block() {
	t.toolOnly = false
	if t.blocks > 0 {
		t.dst = append(t.dst, ',')
	}
	t.blocks++
	t.lastBlock = len(t.dst)
}

func (t *anthropicTurns) close() {
	if t.role == "" {
		return
	}
	if t.blocks == 0 {
		t.dst = t.dst[:t.start]
	} else {
		t.dst = append(t.dst, "]}"...)
		t.count++
	}
	t.role = ""
}

func (t *anthropicTurns) text(s string) {
	if s == "" {
		return // Anthropic refuses empty text blocks
	}
	t.block()
	t.dst = append(t.dst, `{"type":"text","text":`...)
	t.dst = AppendJSONString(t.dst, s)
	t.dst = append(t.dst, '}')
}

// appendAnthropicMessages appends the messages array translated from OpenAI messages.
func appendAnthropicMessages(dst []byte, messages gjson.Result) ([]byte, error) {
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
			err = t.userContent(m.Get("content"), param+".content")
			t.cacheControl(m)
		case "assistant":
			t.open("assistant")
			err = t.assistant(m, param)
			t.cacheControl(m)
		case "tool":
			if t.role == "user" && !t.toolOnly {
				t.close() // tool results go first in their user message
			}
			t.open("user")
			t.block()
			t.toolOnly = true
			t.dst = append(t.dst, `{"type":"tool_result","tool_use_id":`...)
			t.dst = AppendJSONString(t.dst, m.Get("tool_call_id").String())
			if text := contentText(m.Get("content")); text != "" {
				t.dst = append(t.dst, `,"content":`...)
				t.dst = AppendJSONString(t.dst, text)
			}
			t.dst = append(t.dst, '}')
			t.cacheControl(m)
			m.Get("content").ForEach(func(_, part gjson.Result) bool {
				t.cacheControl(part)
				return true
			})
		default:
			err = InvalidRequest(param+".role", "unsupported message role "+strconv.Quote(role)+
				" for an Anthropic model: use system, developer, user, assistant or tool")
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

// userContent appends the blocks of a user message's content (string or array of parts).
func (t *anthropicTurns) userContent(content gjson.Result, param string) *Error {
	if content.Type == gjson.String {
		t.text(content.String())
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
		defer func() {
			if t.blocks > before {
				t.cacheControl(part)
			}
		}()
		switch typ := part.Get("type").String(); typ {
		case "text":
			t.text(part.Get("text").String())
		case "image_url":
			err = t.image(part.Get("image_url.url").String(), pparam+".image_url.url")
		case "file":
			err = t.file(part.Get("file"), pparam+".file")
		default:
			err = InvalidRequest(pparam+".type", "content part type "+strconv.Quote(typ)+
				" is not supported for Anthropic models: use text, image_url or file (PDF data URL)")
		}
		return err == nil
	})
	return err
}

func (t *anthropicTurns) image(url, param string) *Error {
	if mediaType, data, ok := parseDataURL(url); ok {
		t.block()
		t.dst = append(t.dst, `{"type":"image","source":{"type":"base64","media_type":`...)
		t.dst = AppendJSONString(t.dst, mediaType)
		t.dst = append(t.dst, `,"data":`...)
		t.dst = AppendJSONString(t.dst, data)
		t.dst = append(t.dst, "}}"...)
		return nil
	}
	if isHTTPURL(url) {
		t.block()
		t.dst = append(t.dst, `{"type":"image","source":{"type":"url","url":`...)
		t.dst = AppendJSONString(t.dst, url)
		t.dst = append(t.dst, "}}"...)
		return nil
	}
	return InvalidRequest(param, "image URL must be a base64 data URL or an http(s) URL")
}

func (t *anthropicTurns) file(f gjson.Result, param string) *Error {
	mediaType, data, ok := parseDataURL(f.Get("file_data").String())
	if !ok || mediaType != "application/pdf" {
		return InvalidRequest(param+".file_data",
			"Anthropic models accept files only as file_data with a base64 PDF data URL (data:application/pdf;base64,…)")
	}
	t.block()
	t.dst = append(t.dst, `{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":`...)
	t.dst = AppendJSONString(t.dst, data)
	t.dst = append(t.dst, "}}"...)
	return nil
}

// assistant appends an assistant message's text and its tool calls as tool_use blocks.
func (t *anthropicTurns) assistant(m gjson.Result, param string) *Error {
	before := t.blocks
	t.text(contentText(m.Get("content")))
	if t.blocks > before {
		m.Get("content").ForEach(func(_, part gjson.Result) bool {
			t.cacheControl(part)
			return true
		})
	}
	var err *Error
	j := -1
	m.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		j++
		pparam := param + ".tool_calls[" + strconv.Itoa(j) + "]"
		input, aerr := toolArgumentsObject(tc.Get("function.arguments").String())
		if aerr != nil {
			err = InvalidRequest(pparam+".function.arguments", aerr.Error()+": send the arguments the model produced, a JSON object encoded as a string")
			return false
		}
		t.block()
		t.dst = append(t.dst, `{"type":"tool_use","id":`...)
		t.dst = AppendJSONString(t.dst, tc.Get("id").String())
		t.dst = append(t.dst, `,"name":`...)
		t.dst = AppendJSONString(t.dst, tc.Get("function.name").String())
		t.dst = append(t.dst, `,"input":`...)
		t.dst = append(t.dst, input...)
		t.dst = append(t.dst, '}')
		return true
	})
	return err
}

// appendAnthropicTools appends tools and tool_choice (with parallel_tool_calls folded in).
func appendAnthropicTools(dst []byte, root gjson.Result) ([]byte, error) {
	tools := root.Get("tools")
	if !tools.IsArray() || len(tools.Array()) == 0 {
		return dst, nil
	}
	dst = append(dst, `,"tools":[`...)
	var err *Error
	i := -1
	tools.ForEach(func(_, tool gjson.Result) bool {
		i++
		param := "tools[" + strconv.Itoa(i) + "]"
		if typ := tool.Get("type").String(); typ != "function" {
			err = InvalidRequest(param+".type", "tool type "+strconv.Quote(typ)+" is not supported for Anthropic models: use function tools")
			return false
		}
		fn := tool.Get("function")
		name := fn.Get("name").String()
		if name == "" {
			err = InvalidRequest(param+".function.name", "every tool needs a function name")
			return false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = AppendJSONString(dst, name)
		if d := fn.Get("description").String(); d != "" {
			dst = append(dst, `,"description":`...)
			dst = AppendJSONString(dst, d)
		}
		dst = append(dst, `,"input_schema":`...)
		if p := fn.Get("parameters"); p.IsObject() {
			dst = compactJSON(dst, []byte(p.Raw))
		} else {
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		for _, cc := range [...]gjson.Result{tool.Get("cache_control"), fn.Get("cache_control")} {
			if cc.IsObject() {
				dst = append(dst, `,"cache_control":`...)
				dst = compactJSON(dst, []byte(cc.Raw))
				break
			}
		}
		dst = append(dst, '}')
		return true
	})
	if err != nil {
		return nil, err
	}
	dst = append(dst, ']')

	noParallel := root.Get("parallel_tool_calls").Type == gjson.False
	choice := root.Get("tool_choice")
	var kind, name string
	switch {
	case !choice.Exists() || choice.Type == gjson.Null:
		if !noParallel {
			return dst, nil
		}
		kind = "auto"
	case choice.Type == gjson.String:
		switch choice.String() {
		case "auto":
			kind = "auto"
		case "none":
			kind = "none"
		case "required":
			kind = "any"
		default:
			return nil, InvalidRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
		}
	case choice.IsObject() && choice.Get("function.name").String() != "":
		kind, name = "tool", choice.Get("function.name").String()
	default:
		return nil, InvalidRequest("tool_choice", `tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
	}
	dst = append(dst, `,"tool_choice":{"type":"`...)
	dst = append(dst, kind...)
	dst = append(dst, '"')
	if name != "" {
		dst = append(dst, `,"name":`...)
		dst = AppendJSONString(dst, name)
	}
	if noParallel && kind != "none" {
		dst = append(dst, `,"disable_parallel_tool_use":true`...)
	}
	return append(dst, '}'), nil
}

// appendAnthropicSampling appends stop_sequences, temperature (clamped to 0..1), top_p (only without
// temperature) and top_k. With thinking, Anthropic refuses temperature and top_k and accepts top_p only from
// 0.95 to 1: temperature and top_k are dropped, and top_p unless it is in that range.
func appendAnthropicSampling(dst []byte, root gjson.Result, thinking bool) ([]byte, error) {
	switch stop := root.Get("stop"); {
	case stop.Type == gjson.String:
		if stop.String() != "" {
			dst = append(dst, `,"stop_sequences":[`...)
			dst = AppendJSONString(dst, stop.String())
			dst = append(dst, ']')
		}
	case stop.IsArray():
		n := 0
		var err *Error
		stop.ForEach(func(_, s gjson.Result) bool {
			if s.Type != gjson.String {
				err = InvalidRequest("stop", "stop must be a string or an array of strings")
				return false
			}
			if s.String() == "" {
				return true
			}
			if n == 0 {
				dst = append(dst, `,"stop_sequences":[`...)
			} else {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, s.String())
			n++
			return true
		})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			dst = append(dst, ']')
		}
	case stop.Exists() && stop.Type != gjson.Null:
		return nil, InvalidRequest("stop", "stop must be a string or an array of strings")
	}

	temp := root.Get("temperature")
	hasTemp := temp.Exists() && temp.Type != gjson.Null
	if hasTemp {
		if temp.Type != gjson.Number {
			return nil, InvalidRequest("temperature", "temperature must be a number")
		}
		if thinking {
			hasTemp = false
		} else {
			dst = append(dst, `,"temperature":`...)
			dst = strconv.AppendFloat(dst, min(max(temp.Float(), 0), 1), 'f', -1, 64)
		}
	}
	for _, field := range [...]string{"top_p", "top_k"} {
		v := root.Get(field)
		if !v.Exists() || v.Type == gjson.Null || (field == "top_p" && hasTemp) {
			continue
		}
		if v.Type != gjson.Number {
			return nil, InvalidRequest(field, field+" must be a number")
		}
		if thinking && (field == "top_k" || v.Float() < 0.95 || v.Float() > 1) {
			continue
		}
		dst = append(dst, `,"`...)
		dst = append(dst, field...)
		dst = append(dst, `":`...)
		dst = append(dst, v.Raw...)
	}
	return dst, nil
}

// appendAnthropicOutputFormat appends output_config.format for response_format json_schema.
func appendAnthropicOutputFormat(dst []byte, root gjson.Result) ([]byte, error) {
	rf := root.Get("response_format")
	switch rf.Get("type").String() {
	case "", "text", "json_object":
		return dst, nil
	case "json_schema":
		schema := rf.Get("json_schema.schema")
		if !schema.IsObject() {
			return nil, InvalidRequest("response_format.json_schema.schema", "response_format json_schema needs a JSON Schema object in json_schema.schema")
		}
		dst = append(dst, `,"output_config":{"format":{"type":"json_schema","schema":`...)
		dst = compactJSON(dst, []byte(schema.Raw))
		return append(dst, "}}"...), nil
	}
	return nil, InvalidRequest("response_format.type", `response_format type must be "text", "json_object" or "json_schema"`)
}
