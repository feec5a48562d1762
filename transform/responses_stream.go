package transform

import (
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// NewResponsesSurfaceStream returns the writer of one Responses API stream. Served through chat, it turns
// the dialect's chat.completion.chunk payloads into the Responses events, in the order OpenAI sends them:
// response.created and response.in_progress first; for each output item output_item.added, its deltas
// (reasoning_summary_text, output_text, function_call_arguments), their .done events and output_item.done;
// then response.completed (or response.incomplete) with the whole response and its usage. Every event
// carries its type and a sequence_number. native says the upstream's own events are relayed instead: only
// Fail is used then.
//
// The text of each output item is kept until the item is done, since the .done events and the final
// response carry it whole (as does a non-streamed answer); nothing else of the stream is kept.
func NewResponsesSurfaceStream(req *Request, native bool) SurfaceStream {
	return &responsesStream{req: req, native: native, buf: make([]byte, 0, 512)}
}

type responsesStream struct {
	req    *Request
	native bool
	head   *responseHead
	seq    int
	buf    []byte
	// output holds the done items, comma-separated (without brackets).
	output []byte
	items  int
	// open is the item being streamed: a reasoning or message item, or none (tool calls are in calls).
	open     itemKind
	openID   string
	openIdx  int
	openText []byte // the open item's text, JSON-escaped, without quotes
	part     string // output_text or refusal
	calls    []*streamCall
	finish   string
	result   []byte
	failed   bool
}

type itemKind uint8

const (
	noItem itemKind = iota
	reasoningItem
	messageItem
)

// streamCall is a function call being streamed.
type streamCall struct {
	index          int // the chat tool_calls index
	itemID, callID string
	name           string
	outputIndex    int
	args           []byte // JSON-escaped, without quotes
	done           bool
}

// event starts an event payload: {"type":name,"sequence_number":n
func (s *responsesStream) event(name string) []byte {
	b := append(s.buf[:0], `{"type":`...)
	b = AppendJSONString(b, name)
	b = append(b, `,"sequence_number":`...)
	b = strconv.AppendInt(b, int64(s.seq), 10)
	s.seq++
	return b
}

func (s *responsesStream) emit(out EventSink, name string, b []byte) error {
	b = append(b, '}')
	s.buf = b
	return out.Event(name, b)
}

// start writes response.created and response.in_progress.
func (s *responsesStream) start(out EventSink, created int64) error {
	if s.head != nil {
		return nil
	}
	if created == 0 {
		created = time.Now().Unix()
	}
	s.head = newResponseHead(s.req, created)
	for _, name := range [...]string{"response.created", "response.in_progress"} {
		b := append(s.event(name), `,"response":`...)
		b = s.head.appendResponse(b, "in_progress", []byte("[]"), nil, "", nil)
		if err := s.emit(out, name, b); err != nil {
			return err
		}
	}
	return nil
}

// Chunk implements SurfaceStream.
func (s *responsesStream) Chunk(chunk []byte, out EventSink) error {
	root := gjson.ParseBytes(chunk)
	if err := s.start(out, root.Get("created").Int()); err != nil {
		return err
	}
	choice := root.Get("choices.0")
	if !choice.Exists() {
		return nil
	}
	delta := choice.Get("delta")
	var err error
	delta.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "reasoning_content", "reasoning":
			if v.Type == gjson.String && v.Str != "" {
				err = s.text(out, reasoningItem, "", v.Raw)
			}
		case "content":
			if v.Type == gjson.String && v.Str != "" {
				err = s.text(out, messageItem, "output_text", v.Raw)
			}
		case "refusal":
			if v.Type == gjson.String && v.Str != "" {
				err = s.text(out, messageItem, "refusal", v.Raw)
			}
		case "tool_calls":
			v.ForEach(func(_, c gjson.Result) bool {
				err = s.toolCall(out, c)
				return err == nil
			})
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if f := choice.Get("finish_reason"); f.Type == gjson.String && f.Str != "" {
		s.finish = f.Str
	}
	return nil
}

// text streams a reasoning or message text delta (raw is a JSON string literal), opening the item first.
func (s *responsesStream) text(out EventSink, kind itemKind, part, raw string) error {
	if s.open != kind || (kind == messageItem && s.part != part) {
		if err := s.closeOpen(out); err != nil {
			return err
		}
		if err := s.closeCalls(out); err != nil {
			return err
		}
		if err := s.openItem(out, kind, part); err != nil {
			return err
		}
	}
	s.openText = append(s.openText, raw[1:len(raw)-1]...)
	var b []byte
	var name string
	switch {
	case kind == reasoningItem:
		name = "response.reasoning_summary_text.delta"
		b = s.itemRef(s.event(name), s.openID, s.openIdx)
		b = append(b, `,"summary_index":0,"delta":`...)
		b = append(b, raw...)
	case part == "refusal":
		name = "response.refusal.delta"
		b = s.itemRef(s.event(name), s.openID, s.openIdx)
		b = append(b, `,"content_index":0,"delta":`...)
		b = append(b, raw...)
	default:
		name = "response.output_text.delta"
		b = s.itemRef(s.event(name), s.openID, s.openIdx)
		b = append(b, `,"content_index":0,"delta":`...)
		b = append(b, raw...)
		b = append(b, `,"logprobs":[]`...)
	}
	return s.emit(out, name, b)
}

func (s *responsesStream) itemRef(b []byte, id string, idx int) []byte {
	b = append(b, `,"item_id":`...)
	b = AppendJSONString(b, id)
	b = append(b, `,"output_index":`...)
	return strconv.AppendInt(b, int64(idx), 10)
}

// openItem writes output_item.added and the added event of its first part.
func (s *responsesStream) openItem(out EventSink, kind itemKind, part string) error {
	s.open, s.part, s.openIdx, s.openText = kind, part, s.items, s.openText[:0]
	s.items++
	b := s.event("response.output_item.added")
	b = append(b, `,"output_index":`...)
	b = strconv.AppendInt(b, int64(s.openIdx), 10)
	if kind == reasoningItem {
		s.openID = NewID("rs_")
		b = append(b, `,"item":{"id":`...)
		b = AppendJSONString(b, s.openID)
		b = append(b, `,"type":"reasoning","summary":[]}`...)
		if err := s.emit(out, "response.output_item.added", b); err != nil {
			return err
		}
		b = s.itemRef(s.event("response.reasoning_summary_part.added"), s.openID, s.openIdx)
		b = append(b, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		return s.emit(out, "response.reasoning_summary_part.added", b)
	}
	s.openID = NewID("msg_")
	b = append(b, `,"item":{"id":`...)
	b = AppendJSONString(b, s.openID)
	b = append(b, `,"type":"message","status":"in_progress","role":"assistant","content":[]}`...)
	if err := s.emit(out, "response.output_item.added", b); err != nil {
		return err
	}
	b = s.itemRef(s.event("response.content_part.added"), s.openID, s.openIdx)
	b = append(b, `,"content_index":0,"part":`...)
	b = appendPart(b, part, `""`)
	return s.emit(out, "response.content_part.added", b)
}

// closeOpen writes the done events of the open reasoning or message item and keeps the item for the final
// response.
func (s *responsesStream) closeOpen(out EventSink) error {
	if s.open == noItem {
		return nil
	}
	kind := s.open
	s.open = noItem
	text := make([]byte, 0, len(s.openText)+2)
	text = append(append(append(text, '"'), s.openText...), '"')
	var item []byte
	if kind == reasoningItem {
		b := s.itemRef(s.event("response.reasoning_summary_text.done"), s.openID, s.openIdx)
		b = append(append(b, `,"summary_index":0,"text":`...), text...)
		if err := s.emit(out, "response.reasoning_summary_text.done", b); err != nil {
			return err
		}
		b = s.itemRef(s.event("response.reasoning_summary_part.done"), s.openID, s.openIdx)
		b = append(append(b, `,"summary_index":0,"part":{"type":"summary_text","text":`...), text...)
		if err := s.emit(out, "response.reasoning_summary_part.done", append(b, '}')); err != nil {
			return err
		}
		item = appendReasoningItem(nil, s.openID, string(text))
	} else {
		name, field := "response.output_text.done", "text"
		if s.part == "refusal" {
			name, field = "response.refusal.done", "refusal"
		}
		b := s.itemRef(s.event(name), s.openID, s.openIdx)
		b = append(b, `,"content_index":0,"`...)
		b = append(append(append(b, field...), `":`...), text...)
		if s.part != "refusal" {
			b = append(b, `,"logprobs":[]`...)
		}
		if err := s.emit(out, name, b); err != nil {
			return err
		}
		b = s.itemRef(s.event("response.content_part.done"), s.openID, s.openIdx)
		b = append(b, `,"content_index":0,"part":`...)
		b = appendPart(b, s.part, string(text))
		if err := s.emit(out, "response.content_part.done", b); err != nil {
			return err
		}
		status := "completed"
		if st, _ := responseStatus(s.finish); st == "incomplete" {
			status = "incomplete"
		}
		item = appendMessageItem(nil, s.openID, status, s.part, string(text))
	}
	return s.itemDone(out, s.openIdx, item)
}

// itemDone writes output_item.done and keeps the item.
func (s *responsesStream) itemDone(out EventSink, idx int, item []byte) error {
	if len(s.output) > 0 {
		s.output = append(s.output, ',')
	}
	s.output = append(s.output, item...)
	b := s.event("response.output_item.done")
	b = append(b, `,"output_index":`...)
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(append(b, `,"item":`...), item...)
	return s.emit(out, "response.output_item.done", b)
}

// toolCall streams one tool_calls delta: the first fragment of a call (with its id and name) opens a
// function_call item, later ones are argument deltas.
func (s *responsesStream) toolCall(out EventSink, c gjson.Result) error {
	index := int(c.Get("index").Int())
	fn := c.Get("function")
	var call *streamCall
	for _, sc := range s.calls {
		if sc.index == index && !sc.done {
			call = sc
		}
	}
	if call == nil {
		if err := s.closeOpen(out); err != nil {
			return err
		}
		id := c.Get("id").Str
		if id == "" {
			id = NewID("call_")
		}
		call = &streamCall{index: index, callID: id, name: fn.Get("name").Str, itemID: "fc_" + id, outputIndex: s.items}
		if s.head.custom[call.name] {
			call.itemID = "ctc_" + id
		}
		s.items++
		s.calls = append(s.calls, call)
		b := s.event("response.output_item.added")
		b = append(b, `,"output_index":`...)
		b = strconv.AppendInt(b, int64(call.outputIndex), 10)
		b = append(b, `,"item":`...)
		b = s.head.appendCallItem(b, "in_progress", call.callID, call.name, `""`)
		if err := s.emit(out, "response.output_item.added", b); err != nil {
			return err
		}
	}
	args := fn.Get("arguments")
	if args.Type != gjson.String || args.Str == "" || s.head.custom[call.name] {
		if args.Type == gjson.String {
			call.args = append(call.args, args.Raw[1:len(args.Raw)-1]...)
		}
		return nil
	}
	call.args = append(call.args, args.Raw[1:len(args.Raw)-1]...)
	b := s.itemRef(s.event("response.function_call_arguments.delta"), call.itemID, call.outputIndex)
	b = append(append(b, `,"delta":`...), args.Raw...)
	return s.emit(out, "response.function_call_arguments.delta", b)
}

// closeCalls writes the done events of the open function calls.
func (s *responsesStream) closeCalls(out EventSink) error {
	for _, call := range s.calls {
		if call.done {
			continue
		}
		call.done = true
		args := make([]byte, 0, len(call.args)+2)
		args = append(append(append(args, '"'), call.args...), '"')
		if s.head.custom[call.name] {
			input := gjson.Get(gjson.ParseBytes(args).Str, "input").String()
			b := s.itemRef(s.event("response.custom_tool_call_input.done"), call.itemID, call.outputIndex)
			b = AppendJSONString(append(b, `,"input":`...), input)
			if err := s.emit(out, "response.custom_tool_call_input.done", b); err != nil {
				return err
			}
		} else {
			b := s.itemRef(s.event("response.function_call_arguments.done"), call.itemID, call.outputIndex)
			b = append(append(b, `,"arguments":`...), args...)
			if err := s.emit(out, "response.function_call_arguments.done", b); err != nil {
				return err
			}
		}
		item := s.head.appendCallItem(nil, "completed", call.callID, call.name, string(args))
		if err := s.itemDone(out, call.outputIndex, item); err != nil {
			return err
		}
	}
	s.calls = s.calls[:0]
	return nil
}

// Finish implements SurfaceStream: the open items are done, then response.completed (or
// response.incomplete) carries the whole response with its usage.
func (s *responsesStream) Finish(u usage.Usage, cost float64, out EventSink) error {
	if err := s.start(out, 0); err != nil {
		return err
	}
	if err := s.closeOpen(out); err != nil {
		return err
	}
	if err := s.closeCalls(out); err != nil {
		return err
	}
	status, incomplete := responseStatus(s.finish)
	name := "response.completed"
	if status == "incomplete" {
		name = "response.incomplete"
	}
	output := make([]byte, 0, len(s.output)+2)
	output = append(append(append(output, '['), s.output...), ']')
	s.result = s.head.appendResponse(nil, status, output, AppendResponsesUsage(nil, u, cost), incomplete, nil)
	b := append(s.event(name), `,"response":`...)
	b = append(b, s.result...)
	return s.emit(out, name, b)
}

// Fail implements SurfaceStream: an error event (its fields both at the top level, as the API reference
// has them, and in an error object, as OpenAI sends them), then response.failed.
func (s *responsesStream) Fail(e *Error, out EventSink) {
	if s.failed {
		return
	}
	s.failed = true
	if s.head == nil {
		s.head = newResponseHead(s.req, time.Now().Unix())
	}
	code, msg, typ, param := e.Code, e.Error(), e.Type, e.Param
	if e.Raw != nil {
		obj := gjson.GetBytes(e.Raw, "error")
		code, typ, param = obj.Get("code").String(), obj.Get("type").String(), obj.Get("param").String()
	}
	if code == "" {
		code = typ
	}
	b := s.event("error")
	b = append(b, `,"code":`...)
	b = appendNullable(b, code)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, msg)
	b = append(b, `,"param":`...)
	b = appendNullable(b, param)
	b = append(b, `,"error":{"type":`...)
	b = appendNullable(b, typ)
	b = append(b, `,"code":`...)
	b = appendNullable(b, code)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, msg)
	b = append(b, `,"param":`...)
	b = appendNullable(b, param)
	b = append(b, '}')
	if out.Event("error", append(b, '}')) != nil {
		return
	}
	errObj := append([]byte(`{"code":`), appendNullable(nil, code)...)
	errObj = AppendJSONString(append(errObj, `,"message":`...), msg)
	errObj = append(errObj, '}')
	output := make([]byte, 0, len(s.output)+2)
	output = append(append(append(output, '['), s.output...), ']')
	b = append(s.event("response.failed"), `,"response":`...)
	b = s.head.appendResponse(b, "failed", output, nil, "", errObj)
	_ = s.emit(out, "response.failed", b)
}

// Result implements SurfaceStream: the completed response.
func (s *responsesStream) Result() []byte { return s.result }
