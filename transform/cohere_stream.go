package transform

import (
	"bytes"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// NewStream returns a translator for one Cohere v2 chat stream (message-start .. message-end).
func (c *Cohere) NewStream(req *Request) StreamTranslator {
	return &cohereStream{model: req.ClientModel, provider: req.provider("cohere"), created: time.Now().Unix(), tool: -1}
}

// cohereStream translates one v2 chat stream, keeping only the open tool call's index and the usage.
type cohereStream struct {
	b        *chunkBuilder
	model    string
	provider string
	created  int64

	tool      int  // OpenAI index of the open tool call, -1 when none
	toolArgs  bool // it had a non-empty arguments fragment
	toolCount int
	ended     bool
	usage     usage.Usage
	usageSent bool
}

// Translate handles one event, told apart by its data's type (the SSE event name repeats it).
func (s *cohereStream) Translate(ev Event, sink Sink) (bool, error) {
	if s.ended || len(bytes.TrimSpace(ev.Data)) == 0 {
		return s.ended, nil
	}
	if err := CheckJSON(ev.Data); err != nil {
		return false, s.fail(sink, badUpstreamJSON(s.provider, err))
	}
	e := gjson.Parse(stringView(ev.Data))
	msg := e.Get("delta.message")
	switch e.Get("type").Str {
	case "message-start":
		return false, s.start(sink, e.Get("id").Str)
	case "content-start", "content-delta":
		if err := s.start(sink, ""); err != nil {
			return false, err
		}
		if t := msg.Get("content.text"); isRawString(t) {
			return false, sink.Chunk(s.b.Content(bytesView(t.Raw)))
		}
		if t := msg.Get("content.thinking"); isRawString(t) {
			return false, sink.Chunk(s.b.Reasoning(bytesView(t.Raw)))
		}
	case "tool-plan-delta":
		if err := s.start(sink, ""); err != nil {
			return false, err
		}
		if t := msg.Get("tool_plan"); isRawString(t) {
			return false, sink.Chunk(s.b.Reasoning(bytesView(t.Raw)))
		}
	case "tool-call-start":
		if err := s.start(sink, ""); err != nil {
			return false, err
		}
		if err := s.closeTool(sink); err != nil {
			return false, err
		}
		tc := msg.Get("tool_calls")
		s.tool, s.toolArgs = s.toolCount, false
		s.toolCount++
		var args []byte
		if a := tc.Get("function.arguments"); isRawString(a) {
			args, s.toolArgs = bytesView(a.Raw), true
		}
		return false, sink.Chunk(s.b.ToolCallStart(s.tool, tc.Get("id").String(), tc.Get("function.name").String(), args))
	case "tool-call-delta":
		if a := msg.Get("tool_calls.function.arguments"); s.tool >= 0 && isRawString(a) {
			s.toolArgs = true
			return false, sink.Chunk(s.b.ToolCallArgs(s.tool, bytesView(a.Raw)))
		}
	case "tool-call-end":
		return false, s.closeTool(sink)
	case "message-end":
		if err := s.start(sink, ""); err != nil {
			return false, err
		}
		if err := s.closeTool(sink); err != nil {
			return false, err
		}
		d := e.Get("delta")
		if u := cohereUsage(d.Get("usage")); u.Known() {
			s.usage = u
		}
		s.ended = true
		if d.Get("finish_reason").Str == "ERROR" {
			msg := strings.Clone(d.Get("error").String())
			if msg == "" {
				msg = "the upstream reported an error in the stream"
			}
			return true, s.fail(sink, NewError(502, "server_error", "upstream_error", "cohere: "+msg))
		}
		if err := sink.Chunk(s.b.Finish(cohereFinishReason(d.Get("finish_reason").Str))); err != nil {
			return true, err
		}
		s.reportUsage(sink)
		return true, nil
	}
	return false, nil
}

// Finish reports a stream cut before message-end.
func (s *cohereStream) Finish(sink Sink, eof bool) error {
	if !s.ended {
		return s.fail(sink, StreamCut("cohere: the upstream stream was cut before message-end; the answer is incomplete, retry the request"))
	}
	s.reportUsage(sink)
	return nil
}

func (s *cohereStream) fail(sink Sink, e *Error) error {
	s.reportUsage(sink)
	return e
}

func (s *cohereStream) reportUsage(sink Sink) {
	if s.usageSent || !s.usage.Known() {
		return
	}
	s.usageSent = true
	sink.Usage(s.usage, nil)
}

func (s *cohereStream) start(sink Sink, id string) error {
	if s.b != nil {
		return nil
	}
	cid := "chatcmpl-" + id
	if id == "" {
		cid = NewID("chatcmpl-")
	}
	s.b = newChunkBuilder(cid, s.created, s.model)
	return sink.Chunk(s.b.Role())
}

// closeTool ends the open tool call: one that got no argument fragments gets "{}".
func (s *cohereStream) closeTool(sink Sink) error {
	if s.tool < 0 {
		return nil
	}
	tool := s.tool
	s.tool = -1
	if s.toolArgs {
		return nil
	}
	return sink.Chunk(s.b.ToolCallArgs(tool, []byte(`"{}"`)))
}
