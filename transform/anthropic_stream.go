package transform

import (
	"bytes"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/usage"
	"github.com/tidwall/gjson"
)

// Kinds of the content block a Messages stream has open.
const (
	anthropicBlockOther = iota
	anthropicBlockText
	anthropicBlockThinking
	anthropicBlockTool
)

// NewStream returns a translator for one Messages stream (message_start .. message_stop).
func (a *Anthropic) NewStream(req *Request) StreamTranslator {
	return &anthropicStream{model: req.ClientModel, provider: req.provider("anthropic"), created: time.Now().Unix(), block: -1}
}

// anthropicStream translates one Messages stream. It keeps the open block's kind and tool index, the number
// of tool calls so far and the usage, never the text.
type anthropicStream struct {
	b        *chunkBuilder
	model    string
	provider string
	created  int64

	block     int64 // Anthropic index of the open content block, -1 when none
	kind      int   // anthropicBlock* of the open block
	tool      int   // OpenAI tool_calls index of the open tool_use block
	toolArgs  bool  // the open tool_use block has had a non-empty arguments fragment
	toolCount int   // tool_use blocks seen, the next tool call's OpenAI index

	finish     string // OpenAI finish_reason once message_delta carried a stop_reason
	finishSent bool
	stopped    bool // message_stop arrived
	usage      usage.Usage
	usageSent  bool
}

// Translate handles one Anthropic event. Events are told apart by their data's type field (the event name
// repeats it); unknown events, ping and events whose data is not an object are ignored. Data that is not
// JSON ends the stream.
func (s *anthropicStream) Translate(ev Event, sink Sink) (bool, error) {
	if s.stopped {
		return true, nil
	}
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return false, nil
	}
	// The event's strings are only read during this call, so they may point into ev.Data.
	e, err := parseAnthropicEvent(ev.Data)
	if err != nil {
		return false, s.fail(sink, badUpstreamJSON(s.provider, err))
	}
	switch e.typ.Str {
	case "message_start":
		s.usage = anthropicUsage(e.message.Get("usage"), s.usage)
		return false, s.start(sink, e.message.Get("id").Str)
	case "content_block_start":
		return false, s.blockStart(sink, e)
	case "content_block_delta":
		return false, s.blockDelta(sink, e)
	case "content_block_stop":
		return false, s.blockStop(sink)
	case "message_delta":
		s.usage = anthropicUsage(e.usage, s.usage)
		if r := e.delta.Get("stop_reason"); r.Type == gjson.String && s.finish == "" {
			s.finish = anthropicFinishReason(r.Str)
			if r.Str == "refusal" {
				if err := s.refuse(sink, e.delta.Get("stop_details")); err != nil {
					return false, err
				}
			}
		}
		return false, s.sendFinish(sink)
	case "message_stop":
		s.stopped = true
		if err := s.sendFinish(sink); err != nil {
			return true, err
		}
		s.reportUsage(sink)
		return true, nil
	case "error":
		msg := strings.Clone(e.err.Get("message").String())
		if msg == "" {
			msg = "upstream stream error"
		}
		return false, s.fail(sink, anthropicError(0, e.err.Get("type").String(), msg, nil))
	}
	return false, nil
}

// anthropicEvent holds the top-level members of one event's data, read in a single pass.
type anthropicEvent struct {
	typ, index, delta, contentBlock, message, usage, err gjson.Result
}

// parseAnthropicEvent validates an event's data and reads its top-level members in the same pass.
func parseAnthropicEvent(data []byte) (anthropicEvent, error) {
	var e anthropicEvent
	view := stringView(data)
	err := scanJSON(data, func(key []byte, start, end int) {
		var dst *gjson.Result
		switch string(key) {
		case "type":
			dst = &e.typ
		case "index":
			dst = &e.index
		case "delta":
			dst = &e.delta
		case "content_block":
			dst = &e.contentBlock
		case "message":
			dst = &e.message
		case "usage":
			dst = &e.usage
		case "error":
			dst = &e.err
		default:
			return
		}
		*dst = rawResult(view[start:end])
	})
	return e, err
}

// rawResult is gjson.Parse for a valid JSON value that skips the work Parse would redo: containers are not
// scanned, and a string without escapes is its own text.
func rawResult(raw string) gjson.Result {
	switch raw[0] {
	case '{', '[':
		return gjson.Result{Type: gjson.JSON, Raw: raw}
	case '"':
		if strings.IndexByte(raw, '\\') < 0 {
			return gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1]}
		}
	}
	return gjson.Parse(raw)
}

// Finish ends the stream: the finish chunk if message_delta did not send it, and usage. A stream that ended
// before message_stop is an error; the usage that arrived is still reported.
func (s *anthropicStream) Finish(sink Sink, eof bool) error {
	if !s.stopped {
		return s.fail(sink, StreamCut("anthropic: the upstream stream was cut before message_stop; the answer is incomplete, retry the request"))
	}
	if err := s.sendFinish(sink); err != nil {
		return err
	}
	s.reportUsage(sink)
	return nil
}

// fail reports the usage that arrived and returns e, for errors that end the stream.
func (s *anthropicStream) fail(sink Sink, e *Error) error {
	s.reportUsage(sink)
	return e
}

func (s *anthropicStream) reportUsage(sink Sink) {
	if s.usageSent || !s.usage.Known() {
		return
	}
	s.usageSent = true
	sink.Usage(s.usage, nil)
}

// start emits the role chunk once, creating the chunk builder with the message id.
func (s *anthropicStream) start(sink Sink, msgID string) error {
	if s.b != nil {
		return nil
	}
	id := "chatcmpl-" + msgID
	if msgID == "" {
		id = NewID("chatcmpl-")
	}
	s.b = newChunkBuilder(id, s.created, s.model)
	return sink.Chunk(s.b.Role())
}

// sendFinish emits the final chunk once a stop reason or message_stop arrived.
func (s *anthropicStream) sendFinish(sink Sink) error {
	if s.finishSent || (s.finish == "" && !s.stopped) {
		return nil
	}
	if err := s.start(sink, ""); err != nil {
		return err
	}
	if err := s.closeTool(sink); err != nil {
		return err
	}
	s.finishSent = true
	reason := s.finish
	if reason == "" {
		reason = finishStop
	}
	return sink.Chunk(s.b.Finish(reason))
}

// refuse emits the refusal delta (see anthropicRefusal) of a stream that stopped with stop_reason refusal,
// before its finish chunk.
func (s *anthropicStream) refuse(sink Sink, details gjson.Result) error {
	if err := s.start(sink, ""); err != nil {
		return err
	}
	if err := s.closeTool(sink); err != nil {
		return err
	}
	text, category := anthropicRefusal(details)
	return sink.Chunk(s.b.Refusal(text, category))
}

func (s *anthropicStream) blockStart(sink Sink, e anthropicEvent) error {
	if err := s.start(sink, ""); err != nil {
		return err
	}
	if err := s.closeTool(sink); err != nil {
		return err
	}
	s.block, s.kind = e.index.Int(), anthropicBlockOther
	cb := e.contentBlock
	switch cb.Get("type").Str {
	case "text":
		s.kind = anthropicBlockText
		return s.text(sink, cb.Get("text"))
	case "thinking":
		s.kind = anthropicBlockThinking
		return s.reasoning(sink, cb.Get("thinking"))
	case "tool_use":
		s.kind, s.tool, s.toolArgs = anthropicBlockTool, s.toolCount, false
		s.toolCount++
		var args []byte
		if in := cb.Get("input"); in.IsObject() && hasMembers(in) {
			args = AppendJSONString(nil, string(compactJSON(nil, []byte(in.Raw))))
			s.toolArgs = true
		}
		return sink.Chunk(s.b.ToolCallStart(s.tool, cb.Get("id").String(), cb.Get("name").String(), args))
	}
	return nil
}

func (s *anthropicStream) blockDelta(sink Sink, e anthropicEvent) error {
	if s.b == nil || e.index.Int() != s.block {
		return nil // a delta for a block that was never started
	}
	var typ, val gjson.Result
	e.delta.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "type":
			typ = v
		case "text", "thinking", "partial_json":
			val = v
		}
		return true
	})
	switch typ.Str {
	case "text_delta":
		if s.kind == anthropicBlockText {
			return s.text(sink, val)
		}
	case "thinking_delta":
		if s.kind == anthropicBlockThinking {
			return s.reasoning(sink, val)
		}
	case "input_json_delta":
		if s.kind != anthropicBlockTool || !isRawString(val) {
			return nil
		}
		s.toolArgs = true
		return sink.Chunk(s.b.ToolCallArgs(s.tool, bytesView(val.Raw)))
	}
	return nil
}

func (s *anthropicStream) blockStop(sink Sink) error {
	err := s.closeTool(sink)
	s.block, s.kind = -1, anthropicBlockOther
	return err
}

// closeTool ends an open tool_use block: a call that got no argument fragments gets "{}".
func (s *anthropicStream) closeTool(sink Sink) error {
	if s.kind != anthropicBlockTool {
		return nil
	}
	s.kind = anthropicBlockOther
	if s.toolArgs {
		return nil
	}
	return sink.Chunk(s.b.ToolCallArgs(s.tool, []byte(`"{}"`)))
}

func (s *anthropicStream) text(sink Sink, v gjson.Result) error {
	if !isRawString(v) {
		return nil
	}
	return sink.Chunk(s.b.Content(bytesView(v.Raw)))
}

func (s *anthropicStream) reasoning(sink Sink, v gjson.Result) error {
	if !isRawString(v) {
		return nil
	}
	return sink.Chunk(s.b.Reasoning(bytesView(v.Raw)))
}

// isRawString reports whether v is a non-empty JSON string whose raw literal can be copied into a chunk as
// is (the event was validated whole).
func isRawString(v gjson.Result) bool {
	return v.Type == gjson.String && len(v.Raw) > 2 && v.Raw[0] == '"'
}

// hasMembers reports whether the JSON object obj has at least one member.
func hasMembers(obj gjson.Result) bool {
	found := false
	obj.ForEach(func(_, _ gjson.Result) bool {
		found = true
		return false
	})
	return found
}
