package transform

import (
	"crypto/rand"
	"strconv"
)

// chunkBuilder builds OpenAI chat.completion.chunk payloads for a translated stream. Every chunk carries the
// same id, created and model. Each method returns a payload that is valid until the next call.
type chunkBuilder struct {
	head []byte // {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":
	buf  []byte
}

// newChunkBuilder returns a builder for one stream.
func newChunkBuilder(id string, created int64, model string) *chunkBuilder {
	h := append([]byte(nil), `{"id":`...)
	h = AppendJSONString(h, id)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, created, 10)
	h = append(h, `,"model":`...)
	h = AppendJSONString(h, model)
	h = append(h, `,"choices":[{"index":0,"delta":`...)
	return &chunkBuilder{head: h, buf: make([]byte, 0, 512)}
}

func (b *chunkBuilder) start() []byte { return append(b.buf[:0], b.head...) }

func (b *chunkBuilder) end(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, finish)
	}
	dst = append(dst, "}]}"...)
	b.buf = dst
	return dst
}

// Role returns the first chunk of a stream: the assistant role with empty content.
func (b *chunkBuilder) Role() []byte {
	return b.end(append(b.start(), `{"role":"assistant","content":""}`...), "")
}

// Content returns a text delta. raw is a JSON string literal, quotes included, exactly as the upstream sent
// it: it is copied without being decoded and encoded again.
func (b *chunkBuilder) Content(raw []byte) []byte {
	d := append(b.start(), `{"content":`...)
	d = append(d, raw...)
	return b.end(append(d, '}'), "")
}

// Reasoning returns a reasoning (thinking) delta; raw is a JSON string literal as in Content.
func (b *chunkBuilder) Reasoning(raw []byte) []byte {
	d := append(b.start(), `{"reasoning_content":`...)
	d = append(d, raw...)
	return b.end(append(d, '}'), "")
}

// ToolCallStart returns the first fragment of tool call number index (counting tool calls only): its id,
// type and name, and args as the first arguments fragment (a JSON string literal; "" when none yet).
func (b *chunkBuilder) ToolCallStart(index int, id, name string, args []byte) []byte {
	d := append(b.start(), `{"tool_calls":[{"index":`...)
	d = strconv.AppendInt(d, int64(index), 10)
	d = append(d, `,"id":`...)
	d = AppendJSONString(d, id)
	d = append(d, `,"type":"function","function":{"name":`...)
	d = AppendJSONString(d, name)
	d = append(d, `,"arguments":`...)
	if len(args) == 0 {
		d = append(d, `""`...)
	} else {
		d = append(d, args...)
	}
	return b.end(append(d, "}}]}"...), "")
}

// ToolCallArgs returns an arguments fragment for tool call number index; args is a JSON string literal.
func (b *chunkBuilder) ToolCallArgs(index int, args []byte) []byte {
	d := append(b.start(), `{"tool_calls":[{"index":`...)
	d = strconv.AppendInt(d, int64(index), 10)
	d = append(d, `,"function":{"arguments":`...)
	d = append(d, args...)
	return b.end(append(d, "}}]}"...), "")
}

// Finish returns the final chunk: an empty delta with the finish reason.
func (b *chunkBuilder) Finish(reason string) []byte {
	return b.end(append(b.start(), "{}"...), reason)
}

// NewID returns a fresh identifier with the given prefix ("chatcmpl-", "call_").
func NewID(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	var buf [64]byte // on the stack for the usual short prefix: only the string is allocated
	out := append(buf[:0], prefix...)
	for _, c := range raw {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
