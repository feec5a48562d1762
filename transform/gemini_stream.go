package transform

import (
	"bytes"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// NewStream returns a translator for a streamGenerateContent?alt=sse response.
func (g *Gemini) NewStream(req *Request) StreamTranslator {
	return &geminiStream{model: req.ClientModel, provider: req.provider("gemini"), created: time.Now().Unix()}
}

// geminiStream translates Gemini SSE events, each a whole GenerateContentResponse, into OpenAI chunks.
type geminiStream struct {
	model    string
	provider string
	created  int64
	cb       *chunkBuilder
	calls    int  // tool calls emitted, the index of the next one
	finished bool // the finish chunk was sent
	usage    usage.Usage
	reported bool // usage went to the sink
	args     []byte
	lit      []byte
	// logprobs holds the current event's logprobs object while lpPending says it still has to go out, on the
	// event's first text chunk or, without one, on a chunk of its own.
	logprobs  []byte
	lpPending bool
	tops      []gjson.Result // scratch for appendGeminiLogprobs
}

// Translate handles one event. Gemini has no end-of-stream event: done is always false, and Finish decides
// whether the stream was complete.
func (s *geminiStream) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return false, nil
	}
	if err := CheckJSON(data); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	root := gjson.Parse(stringView(data))
	if !root.IsObject() {
		return false, badUpstream("gemini: the upstream sent a stream event that is not a JSON object")
	}
	var cands, meta, respID, blocked gjson.Result
	var rpcErr *Error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "candidates":
			cands = v
		case "usageMetadata":
			meta = v
		case "responseId":
			respID = v
		case "promptFeedback":
			blocked = v.Get("blockReason")
		case "error":
			rpcErr = geminiRPCError(http.StatusBadGateway, nil, v)
			return false
		}
		return true
	})
	if rpcErr != nil {
		s.reportUsage(sink)
		return false, rpcErr
	}
	if meta.IsObject() {
		s.usage = geminiUsage(meta)
	}
	if s.cb == nil {
		id := "chatcmpl-" + respID.String()
		if respID.Str == "" {
			id = NewID("chatcmpl-")
		}
		s.cb = newChunkBuilder(id, s.created, s.model)
		if err := sink.Chunk(s.cb.Role()); err != nil {
			return false, err
		}
	}
	if s.finished {
		return false, nil
	}
	var cand gjson.Result
	cands.ForEach(func(_, c gjson.Result) bool {
		cand = c
		return false
	})
	parts, finish, logprobs := geminiCandidateFields(cand)
	if logprobs.Exists() {
		s.logprobs = appendGeminiLogprobs(s.logprobs[:0], &s.tops, logprobs)
		s.lpPending = len(s.logprobs) > 0
	}
	var err error
	parts.ForEach(func(_, p gjson.Result) bool {
		err = s.part(p, sink)
		return err == nil
	})
	if err != nil {
		return false, err
	}
	if s.lpPending {
		s.lpPending = false
		if err := sink.Chunk(s.cb.ContentLogprobs(nil, s.logprobs)); err != nil {
			return false, err
		}
	}
	reason := finish.String()
	if reason == "" && cands.Raw == "" && blocked.String() != "" {
		reason = "SAFETY"
	}
	if reason != "" {
		s.finished = true
		if err := sink.Chunk(s.cb.Finish(geminiFinishReason(reason, s.calls > 0))); err != nil {
			return false, err
		}
	}
	return false, nil
}

// part emits the chunk for one content part: text, a thought, or a whole function call.
func (s *geminiStream) part(p gjson.Result, sink Sink) error {
	var text, fc, sig gjson.Result
	thought := false
	p.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "text":
			text = v
		case "thought":
			thought = v.Bool()
		case "functionCall":
			fc = v
		case "thoughtSignature":
			sig = v
		}
		return true
	})
	if fc.IsObject() {
		id := geminiMintCallID(fc.Get("id").String(), sig.String())
		s.args = geminiArgs(s.args[:0], fc.Get("args"))
		s.lit = AppendJSONString(s.lit[:0], stringView(s.args))
		err := sink.Chunk(s.cb.ToolCallStart(s.calls, id, fc.Get("name").String(), s.lit))
		s.calls++
		return err
	}
	if text.Type != gjson.String || text.Str == "" {
		return nil
	}
	if thought {
		return sink.Chunk(s.cb.Reasoning(bytesView(text.Raw)))
	}
	if s.lpPending {
		s.lpPending = false
		return sink.Chunk(s.cb.ContentLogprobs(bytesView(text.Raw), s.logprobs))
	}
	return sink.Chunk(s.cb.Content(bytesView(text.Raw)))
}

// Finish reports the last usage Gemini sent (it is cumulative) and returns an error when the stream ended
// before a finishReason, i.e. the connection was cut mid-answer.
func (s *geminiStream) Finish(sink Sink, eof bool) error {
	s.reportUsage(sink)
	if !s.finished {
		return StreamCut("gemini: the upstream stream ended before a finishReason; the answer is incomplete, retry the request")
	}
	return nil
}

func (s *geminiStream) reportUsage(sink Sink) {
	if s.reported || !s.usage.Known() {
		return
	}
	s.reported = true
	sink.Usage(s.usage, nil)
}
