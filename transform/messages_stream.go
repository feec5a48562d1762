package transform

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// MessagesStream turns the OpenAI chat.completion.chunk payloads of one translated stream into the Messages
// API's events, chunk by chunk, keeping only per-stream state (block indexes, tool call ids):
//   - message_start before anything else, with the gateway's local count of the prompt as input_tokens,
//     since the upstream reports usage only at the end;
//   - reasoning_content (or reasoning) deltas become a thinking block (thinking_delta), content and refusal
//     deltas a text block (text_delta), each tool call a tool_use block whose arguments fragments are
//     input_json_delta events. Block indexes count every block. A text or thinking block is closed when any
//     other block starts; tool_use blocks stay open until a text or thinking block starts or the message
//     ends, so that arguments of several tool calls may interleave (each fragment goes to its own block's
//     index; the SDKs accumulate by index). A fragment for a tool call whose block was already closed, which
//     no known upstream sends, is dropped;
//   - at the end, content_block_stop for each open block, message_delta with the stop_reason (see
//     ChatToMessages) and the final usage, and message_stop. Fail sends an error event instead.
type MessagesStream struct {
	model       string
	inputTokens int
	stops       []string
	started     bool
	// next is the index of the next block; text and thinking are those of the open text or thinking block
	// (-1: none).
	next, text, thinking int
	tools                []messagesToolBlock
	finish, stopSeq      string
	refused              bool
	buf                  []byte
}

// messagesToolBlock is one tool call's block.
type messagesToolBlock struct {
	chatIndex, block int
	open             bool
}

// NewMessagesSurfaceStream returns the translator for one stream; model is the client-facing model name,
// inputTokens the prompt's local count for message_start and stopSequences the request's stop_sequences.
func NewMessagesSurfaceStream(model string, inputTokens int, stopSequences []string) *MessagesStream {
	return &MessagesStream{model: model, inputTokens: inputTokens, stops: stopSequences, text: -1, thinking: -1,
		buf: make([]byte, 0, 256)}
}

// Start sends message_start, once; Chunk and Finish call it.
func (s *MessagesStream) Start(sink EventSink) error {
	if s.started {
		return nil
	}
	s.started = true
	b := append(s.buf[:0], `{"type":"message_start","message":{"id":`...)
	b = AppendJSONString(b, NewID("msg_"))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = AppendJSONString(b, s.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	b = AppendMessagesUsage(b, usage.Usage{PromptTokens: s.inputTokens}, true)
	b = append(b, "}}"...)
	s.buf = b
	return sink.Event("message_start", b)
}

// Chunk translates one chat.completion.chunk payload (already checked by CheckJSON).
func (s *MessagesStream) Chunk(chunk []byte, sink EventSink) error {
	if err := s.Start(sink); err != nil {
		return err
	}
	choice := gjson.GetBytes(chunk, "choices.0")
	if !choice.Exists() {
		return nil // the usage chunk; usage comes to Finish
	}
	delta := choice.Get("delta")
	if r := chatReasoning(delta); r.Type == gjson.String && r.Str != "" {
		if err := s.thinkingDelta(r.Raw, sink); err != nil {
			return err
		}
	}
	for _, field := range [...]string{"content", "refusal"} {
		if c := delta.Get(field); c.Type == gjson.String && c.Str != "" {
			s.refused = s.refused || field == "refusal"
			if err := s.textDelta(c.Raw, sink); err != nil {
				return err
			}
		}
	}
	var err error
	pos := 0
	delta.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		err = s.toolDelta(pos, tc, sink)
		pos++
		return err == nil
	})
	if err != nil {
		return err
	}
	if f := choice.Get("finish_reason"); f.Type == gjson.String && f.Str != "" {
		s.finish = f.Str
		if st := choice.Get("stop_reason"); st.Type == gjson.String {
			s.stopSeq = st.Str
		}
	}
	return nil
}

// Finished reports whether the upstream finished the message (a chunk had a finish_reason).
func (s *MessagesStream) Finished() bool { return s.finish != "" }

func (s *MessagesStream) thinkingDelta(raw string, sink EventSink) error {
	if s.thinking < 0 {
		if err := s.closeAll(sink); err != nil {
			return err
		}
		s.thinking = s.next
		if err := s.blockStart(s.thinking, `{"type":"thinking","thinking":"","signature":""}`, sink); err != nil {
			return err
		}
	}
	return s.delta(s.thinking, `{"type":"thinking_delta","thinking":`, raw, sink)
}

func (s *MessagesStream) textDelta(raw string, sink EventSink) error {
	if s.text < 0 {
		if err := s.closeAll(sink); err != nil {
			return err
		}
		s.text = s.next
		if err := s.blockStart(s.text, `{"type":"text","text":""}`, sink); err != nil {
			return err
		}
	}
	return s.delta(s.text, `{"type":"text_delta","text":`, raw, sink)
}

// toolDelta handles one tool_calls element; pos is its position in the array, the index when it has none.
func (s *MessagesStream) toolDelta(pos int, tc gjson.Result, sink EventSink) error {
	idx := pos
	if i := tc.Get("index"); i.Type == gjson.Number {
		idx = int(i.Int())
	}
	var tb *messagesToolBlock
	for i := range s.tools {
		if s.tools[i].chatIndex == idx {
			tb = &s.tools[i]
			break
		}
	}
	if tb == nil {
		if err := s.closeText(sink); err != nil {
			return err
		}
		id := tc.Get("id").String()
		if id == "" {
			id = NewID("toolu_")
		}
		s.tools = append(s.tools, messagesToolBlock{chatIndex: idx, block: s.next, open: true})
		tb = &s.tools[len(s.tools)-1]
		b := append([]byte(nil), `{"type":"tool_use","id":`...)
		b = AppendJSONString(b, id)
		b = append(b, `,"name":`...)
		b = AppendJSONString(b, tc.Get("function.name").String())
		b = append(b, `,"input":{}}`...)
		if err := s.blockStart(tb.block, string(b), sink); err != nil {
			return err
		}
	}
	args := tc.Get("function.arguments")
	if !tb.open || args.Type != gjson.String || args.Str == "" {
		return nil
	}
	return s.delta(tb.block, `{"type":"input_json_delta","partial_json":`, args.Raw, sink)
}

func (s *MessagesStream) blockStart(index int, block string, sink EventSink) error {
	s.next = index + 1
	b := append(s.buf[:0], `{"type":"content_block_start","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"content_block":`...)
	b = append(b, block...)
	b = append(b, '}')
	s.buf = b
	return sink.Event("content_block_start", b)
}

// delta sends a content_block_delta whose delta is head, the JSON string literal raw, and a closing brace.
func (s *MessagesStream) delta(index int, head, raw string, sink EventSink) error {
	b := append(s.buf[:0], `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"delta":`...)
	b = append(b, head...)
	b = append(b, raw...)
	b = append(b, "}}"...)
	s.buf = b
	return sink.Event("content_block_delta", b)
}

func (s *MessagesStream) blockStop(index int, sink EventSink) error {
	b := append(s.buf[:0], `{"type":"content_block_stop","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, '}')
	s.buf = b
	return sink.Event("content_block_stop", b)
}

// closeText closes the open text or thinking block.
func (s *MessagesStream) closeText(sink EventSink) error {
	for _, i := range [...]*int{&s.thinking, &s.text} {
		if *i >= 0 {
			if err := s.blockStop(*i, sink); err != nil {
				return err
			}
			*i = -1
		}
	}
	return nil
}

// closeAll closes every open block, in index order.
func (s *MessagesStream) closeAll(sink EventSink) error {
	if err := s.closeText(sink); err != nil {
		return err
	}
	for i := range s.tools {
		if s.tools[i].open {
			s.tools[i].open = false
			if err := s.blockStop(s.tools[i].block, sink); err != nil {
				return err
			}
		}
	}
	return nil
}

// Finish ends the message: closes the open blocks, sends message_delta with the stop reason and u (the
// final usage; input_tokens from the local count when u has no prompt tokens) and message_stop. The
// Messages API has no cost field: cost is not sent.
func (s *MessagesStream) Finish(u usage.Usage, _ float64, sink EventSink) error {
	if err := s.Start(sink); err != nil {
		return err
	}
	if err := s.closeAll(sink); err != nil {
		return err
	}
	if u.PromptTokens == 0 {
		u.PromptTokens = s.inputTokens
	}
	var matched gjson.Result
	if s.stopSeq != "" {
		matched = gjson.Result{Type: gjson.String, Str: s.stopSeq}
	}
	reason, seq := messagesStopReason(s.finish, matched, s.stops)
	if s.refused {
		reason = "refusal"
	}
	b := append(s.buf[:0], `{"type":"message_delta","delta":{"stop_reason":`...)
	b = AppendJSONString(b, reason)
	b = append(b, `,"stop_sequence":`...)
	if seq != "" {
		b = AppendJSONString(b, seq)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `},"usage":`...)
	b = AppendMessagesUsage(b, u, true)
	b = append(b, '}')
	s.buf = b
	if err := sink.Event("message_delta", b); err != nil {
		return err
	}
	return sink.Event("message_stop", []byte(`{"type":"message_stop"}`))
}

// Fail ends the stream with an error event ({"type":"error","error":{…}}) and no message_stop, so a client
// sees a failure rather than a truncated answer that looks complete.
func (s *MessagesStream) Fail(e *Error, sink EventSink) {
	s.buf = AppendMessagesError(s.buf[:0], e)
	_ = sink.Event("error", s.buf)
}

// Result implements SurfaceStream: the gateway keeps no Messages answers.
func (s *MessagesStream) Result() []byte { return nil }
