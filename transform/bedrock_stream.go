package transform

import (
	"bytes"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// NewStream returns a translator for one ConverseStream answer (messageStart .. messageStop, metadata).
func (b *Bedrock) NewStream(req *Request) StreamTranslator {
	return &bedrockStream{model: req.ClientModel, provider: req.provider("bedrock"), created: time.Now().Unix(), block: -1}
}

// bedrockStream translates one ConverseStream. It keeps the open tool block, the tool count and the usage,
// never the text.
type bedrockStream struct {
	b        *chunkBuilder
	model    string
	provider string
	created  int64

	block     int64 // contentBlockIndex of the open toolUse block, -1 when none
	tool      int   // its OpenAI tool_calls index
	toolArgs  bool  // it had a non-empty input fragment
	toolCount int

	stopped   bool // messageStop arrived (and its finish chunk went out)
	usage     usage.Usage
	usageSent bool
}

// Translate handles one event-stream message. The stream is done at metadata (which follows messageStop
// and carries the usage); an exception message is the upstream's error.
func (s *bedrockStream) Translate(ev Event, sink Sink) (bool, error) {
	name := string(ev.Name)
	if exc, ok := strings.CutPrefix(name, "exception:"); ok {
		msg := ""
		if CheckJSON(ev.Data) == nil {
			msg = gjson.GetBytes(ev.Data, "message").String()
		}
		if msg == "" {
			msg = "upstream stream error"
		}
		return false, s.fail(sink, bedrockError(0, exc, msg))
	}
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return false, nil
	}
	if err := CheckJSON(ev.Data); err != nil {
		return false, s.fail(sink, badUpstreamJSON(s.provider, err))
	}
	data := gjson.Parse(stringView(ev.Data))
	switch name {
	case "messageStart":
		return false, s.start(sink)
	case "contentBlockStart":
		if err := s.start(sink); err != nil {
			return false, err
		}
		if err := s.closeTool(sink); err != nil {
			return false, err
		}
		tu := data.Get("start.toolUse")
		if !tu.IsObject() {
			return false, nil
		}
		s.block, s.tool, s.toolArgs = data.Get("contentBlockIndex").Int(), s.toolCount, false
		s.toolCount++
		return false, sink.Chunk(s.b.ToolCallStart(s.tool, tu.Get("toolUseId").String(), tu.Get("name").String(), nil))
	case "contentBlockDelta":
		if err := s.start(sink); err != nil {
			return false, err
		}
		d := data.Get("delta")
		if t := d.Get("text"); isRawString(t) {
			return false, sink.Chunk(s.b.Content(bytesView(t.Raw)))
		}
		if r := d.Get("reasoningContent.text"); isRawString(r) {
			return false, sink.Chunk(s.b.Reasoning(bytesView(r.Raw)))
		}
		if in := d.Get("toolUse.input"); isRawString(in) && s.block == data.Get("contentBlockIndex").Int() {
			s.toolArgs = true
			return false, sink.Chunk(s.b.ToolCallArgs(s.tool, bytesView(in.Raw)))
		}
		return false, nil
	case "contentBlockStop":
		return false, s.closeTool(sink)
	case "messageStop":
		if err := s.start(sink); err != nil {
			return false, err
		}
		if err := s.closeTool(sink); err != nil {
			return false, err
		}
		if s.stopped {
			return false, nil
		}
		s.stopped = true
		return false, sink.Chunk(s.b.Finish(bedrockFinishReason(data.Get("stopReason").String())))
	case "metadata":
		if u := bedrockUsage(data.Get("usage")); u.Known() {
			s.usage = u
		}
		if s.stopped {
			s.reportUsage(sink)
			return true, nil
		}
	}
	return false, nil
}

// Finish ends the stream: a stream without messageStop is cut; one that stopped without metadata has no
// reported usage (the gateway counts it).
func (s *bedrockStream) Finish(sink Sink, eof bool) error {
	if !s.stopped {
		return s.fail(sink, StreamCut("bedrock: the upstream stream was cut before messageStop; the answer is incomplete, retry the request"))
	}
	s.reportUsage(sink)
	return nil
}

func (s *bedrockStream) fail(sink Sink, e *Error) error {
	s.reportUsage(sink)
	return e
}

func (s *bedrockStream) reportUsage(sink Sink) {
	if s.usageSent || !s.usage.Known() {
		return
	}
	s.usageSent = true
	sink.Usage(s.usage, nil)
}

// start emits the role chunk once.
func (s *bedrockStream) start(sink Sink) error {
	if s.b != nil {
		return nil
	}
	s.b = newChunkBuilder(NewID("chatcmpl-"), s.created, s.model)
	return sink.Chunk(s.b.Role())
}

// closeTool ends an open toolUse block: a call that got no input fragments gets "{}".
func (s *bedrockStream) closeTool(sink Sink) error {
	if s.block < 0 {
		return nil
	}
	s.block = -1
	if s.toolArgs {
		return nil
	}
	return sink.Chunk(s.b.ToolCallArgs(s.tool, []byte(`"{}"`)))
}
