package transform

import (
	"time"

	"github.com/tidwall/gjson"
)

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
