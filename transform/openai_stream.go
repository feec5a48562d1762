package transform

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// NewStream returns a translator that relays OpenAI chunks with model rewritten.
func (o *OpenAI) NewStream(req *Request) StreamTranslator {
	return &openAIStream{model: AppendJSONString(nil, req.ClientModel), provider: req.provider(o.name()),
		buf: make([]byte, 0, 1024)}
}

type openAIStream struct {
	// model is the client's model name as a JSON string, quoted once for every chunk.
	model    []byte
	provider string
	buf      []byte
	finished bool
	// The spans of the current chunk's top-level members, found while it is validated.
	modelAt, choicesAt, usageAt, errorAt, objectAt span
}

// span is where a member's value lies in a chunk; end is 0 when the chunk has no such member.
type span struct{ start, end int }

var doneMarker = []byte("[DONE]")

// Translate relays the chunk's bytes with only model replaced. One pass over the chunk validates it and finds
// its top-level model, choices, usage, error and object members; nothing else is decoded. A chunk that is an
// error ends the stream with that error, and the usage-only chunk is not relayed: its usage goes to the sink.
func (s *openAIStream) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneMarker) {
		return true, nil
	}
	if len(data) == 0 {
		return false, nil
	}
	s.modelAt, s.choicesAt, s.usageAt, s.errorAt, s.objectAt = span{}, span{}, span{}, span{}, span{}
	if err := scanJSON(data, s.member); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	if data[0] != '{' {
		return false, badUpstream("provider '" + s.provider + "' sent a stream event that is not a JSON object")
	}
	view := stringView(data)
	// An "error" that is not null, or vLLM's "object":"error": the chunk may be an error (cloned, as it
	// outlives the reader's buffer when the stream has not begun).
	errAt, objAt := s.errorAt, s.objectAt
	if errAt.end > 0 && data[errAt.start] != 'n' || objAt.end > 0 && string(data[objAt.start:objAt.end]) == `"error"` {
		if e := errorAnswer(bytes.Clone(data)); e != nil {
			return false, e
		}
	}
	var choices gjson.Result
	if c := s.choicesAt; c.end > 0 && data[c.start] == '[' {
		choices = gjson.Result{Type: gjson.JSON, Raw: view[c.start:c.end], Index: c.start}
	}
	hasChoices := hasElements(choices)
	if u := s.usageAt; u.end > 0 && data[u.start] == '{' {
		parsed, _ := parseOpenAIUsage(gjson.Result{Type: gjson.JSON, Raw: view[u.start:u.end], Index: u.start})
		sink.Usage(parsed, data[u.start:u.end])
		if !hasChoices {
			if uc, ok := sink.(UsageChunkSink); ok {
				uc.UsageChunk(data)
			}
			return false, nil
		}
	}
	if !s.finished && hasFinishReason(choices.Raw) {
		s.finished = true
	}
	out := data
	if m := s.modelAt; m.end > 0 {
		s.buf = append(s.buf[:0], data[:m.start]...)
		s.buf = append(s.buf, s.model...)
		out = append(s.buf, data[m.end:]...)
		s.buf = out
	}
	if cs, ok := sink.(ChoicesSink); ok && hasChoices {
		return false, cs.ChunkChoices(out, choices)
	}
	return false, sink.Chunk(out)
}

// hasFinishReason reports whether a choices array holds a finish_reason that is a string. A JSON string
// cannot hold the sequence `"finish_reason":"` unescaped, so only a real one matches; the search starts from
// the rare '_' rather than the quote that starts every key.
func hasFinishReason(choices string) bool {
	const tail = `_reason":"`
	for i := 0; ; {
		j := strings.Index(choices[i:], tail)
		if j < 0 {
			return false
		}
		if j += i; j >= len(`"finish`) && choices[j-len(`"finish`):j] == `"finish` {
			return true
		}
		i = j + len(tail)
	}
}

// member records where the chunk's members of interest lie.
func (s *openAIStream) member(key []byte, start, end int) {
	switch string(key) {
	case "model":
		s.modelAt = span{start, end}
	case "choices":
		s.choicesAt = span{start, end}
	case "usage":
		s.usageAt = span{start, end}
	case "error":
		s.errorAt = span{start, end}
	case "object":
		s.objectAt = span{start, end}
	}
}

// Finish accepts an upstream that closed after its finish_reason without [DONE]; any other early end is an error.
func (s *openAIStream) Finish(_ Sink, eof bool) error {
	if eof && !s.finished {
		return StreamCut("the upstream closed the stream before it was complete")
	}
	return nil
}
