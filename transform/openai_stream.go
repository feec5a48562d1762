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
	// spans are where the current chunk's top-level members lie (memberModel, …), found while it is
	// validated or from the template of the chunks before it.
	spans    [memberCount]span
	template chunkTemplate
}

// The top-level members of a chunk the relay reads, as indexes of openAIStream.spans.
const (
	memberModel = iota
	memberChoices
	memberUsage
	memberError
	memberObject
	memberCount
)

// span is where a member's value lies in a chunk; end is 0 when the chunk has no such member.
type span struct{ start, end int }

var doneMarker = []byte("[DONE]")

// Translate relays the chunk's bytes with only model replaced. One pass over the chunk validates it and finds
// its top-level model, choices, usage, error and object members (or, for a chunk of the same shape as the
// one before, a comparison with it: chunkTemplate); nothing else is decoded. A chunk that is an
// error ends the stream with that error, and the usage-only chunk is not relayed: its usage goes to the sink.
func (s *openAIStream) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneMarker) {
		return true, nil
	}
	if len(data) == 0 {
		return false, nil
	}
	if !s.template.match(data, s.spans[:]) {
		s.spans = [memberCount]span{}
		if err := scanJSON(data, s.member); err != nil {
			return false, badUpstreamJSON(s.provider, err)
		}
		s.template.store(data, s.spans[:])
	}
	if data[0] != '{' {
		return false, badUpstream("provider '" + s.provider + "' sent a stream event that is not a JSON object")
	}
	view := stringView(data)
	// An "error" that is not null, or vLLM's "object":"error": the chunk may be an error (cloned, as it
	// outlives the reader's buffer when the stream has not begun).
	errAt, objAt := s.spans[memberError], s.spans[memberObject]
	if errAt.end > 0 && data[errAt.start] != 'n' || objAt.end > 0 && string(data[objAt.start:objAt.end]) == `"error"` {
		if e := errorAnswer(bytes.Clone(data)); e != nil {
			return false, e
		}
	}
	var choices gjson.Result
	if c := s.spans[memberChoices]; c.end > 0 && data[c.start] == '[' {
		choices = gjson.Result{Type: gjson.JSON, Raw: view[c.start:c.end], Index: c.start}
	}
	hasChoices := hasElements(choices)
	if u := s.spans[memberUsage]; u.end > 0 && data[u.start] == '{' {
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
	if m := s.spans[memberModel]; m.end > 0 {
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
		s.spans[memberModel] = span{start, end}
	case "choices":
		s.spans[memberChoices] = span{start, end}
	case "usage":
		s.spans[memberUsage] = span{start, end}
	case "error":
		s.spans[memberError] = span{start, end}
	case "object":
		s.spans[memberObject] = span{start, end}
	}
}

// Finish accepts an upstream that closed after its finish_reason without [DONE]; any other early end is an error.
func (s *openAIStream) Finish(_ Sink, eof bool) error {
	if eof && !s.finished {
		return StreamCut("the upstream closed the stream before it was complete")
	}
	return nil
}
