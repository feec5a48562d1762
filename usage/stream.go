package usage

import "github.com/tidwall/gjson"

// Hidden completion tokens, measured on the recorded OpenAI exchanges in testdata/fixtures/openai: a message
// that ends by itself costs one end-of-message token ("The capital of the UK is London." is 8 tokens, billed
// 9), and a tool call costs 6 tokens beyond its name and arguments (get_capital + {"country":"UK"} is 8
// tokens, billed 15 with the end token; getCurrentWeather + {"location":"Boston"} is 7, billed 14).
const (
	endOfMessageTokens = 1
	toolCallTokens     = 6
)

// toolKeyStride separates the tool calls of different choices in textStream keys.
const toolKeyStride = 1 << 16

// StreamCounter counts the completion tokens of one streamed chat completion from its OpenAI
// chat.completion.chunk payloads. It keeps at most deferSize bytes of chunks and deferTextSize of text per
// kind of output, so its memory is constant whatever the stream's length, and it counts lazily: chunks are
// queued as they are, and read and tokenized only when a buffer is full or Completion is called. A stream that
// fits (about 400 chunks) and whose upstream reports its own usage, so that Completion is never called, costs
// a copy of its choices and nothing more. A StreamCounter is not safe for concurrent use.
type StreamCounter struct {
	owner     *Tokenizer
	enc       *encoder
	content   textStream
	reasoning textStream
	toolArgs  textStream
	extra     int // tool names, hidden per-call and end-of-message tokens
	// deferred queues the choices arrays not counted yet, each after its length in 4 bytes (AddChoices).
	deferred []byte
}

// NewStreamCounter returns a counter for a completion from model (with or without a provider prefix).
func (t *Tokenizer) NewStreamCounter(model string) *StreamCounter {
	enc, _ := t.encoderFor(model)
	c, _ := t.counters.Get().(*StreamCounter)
	if c == nil {
		c = &StreamCounter{}
	}
	c.owner, c.enc = t, enc
	c.content.reset()
	c.reasoning.reset()
	c.toolArgs.reset()
	c.extra = 0
	c.deferred = c.deferred[:0]
	return c
}

// Release gives the counter back for reuse by a later NewStreamCounter. The counter must not be used after.
func (c *StreamCounter) Release() {
	if c == nil {
		return
	}
	t := c.owner
	c.owner, c.enc = nil, nil
	t.counters.Put(c)
}

// AddChunk counts one chat.completion.chunk payload (the data of one SSE event, without "data: "): the
// choices' delta.content, delta.refusal, delta.reasoning_content or delta.reasoning, and the tool calls' names
// and arguments. Chunks without choices (usage chunks, Azure's prompt_filter_results) and bytes that are not
// JSON are ignored. In steady state AddChunk does not allocate.
func (c *StreamCounter) AddChunk(chunk []byte) {
	choices := gjson.Get(unsafeString(chunk), "choices")
	if !choices.IsArray() {
		return
	}
	c.AddChoices(choices)
}

// AddChoices counts the choices array of a chunk that the caller has already parsed, sparing AddChunk's
// lookup. choices must stay valid for the duration of the call only.
//
// Counting is deferred: the array's bytes are queued, and only read when the queue is full (deferSize bytes,
// about 400 chunks of one choice) or when Completion asks for the count.
func (c *StreamCounter) AddChoices(choices gjson.Result) {
	raw := choices.Raw
	if len(c.deferred)+4+len(raw) > deferSize {
		c.countDeferred()
		if 4+len(raw) > deferSize {
			c.countChoices(raw)
			return
		}
	}
	n := len(raw)
	c.deferred = append(c.deferred, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	c.deferred = append(c.deferred, raw...)
}

// countDeferred counts the queued choices arrays, in the order they arrived, and empties the queue.
func (c *StreamCounter) countDeferred() {
	q := c.deferred
	for len(q) >= 4 {
		n := int(q[0])<<24 | int(q[1])<<16 | int(q[2])<<8 | int(q[3])
		c.countChoices(unsafeString(q[4 : 4+n]))
		q = q[4+n:]
	}
	c.deferred = c.deferred[:0]
}

// countChoices counts one choices array.
func (c *StreamCounter) countChoices(raw string) {
	if c.addSingleTextChoice(raw) {
		return
	}
	c.addParsedChoices(gjson.Parse(raw))
}

// addParsedChoices counts a choices array element by element.
func (c *StreamCounter) addParsedChoices(choices gjson.Result) {
	choices.ForEach(func(_, choice gjson.Result) bool {
		c.addChoice(choice)
		return true
	})
}

// addSingleTextChoice counts the commonest chunk in one pass over its bytes, without parsing it: one choice,
// no tool calls, text fields in its delta. It reports false, having counted nothing, for any other shape (the
// caller then parses the chunk).
func (c *StreamCounter) addSingleTextChoice(raw string) bool {
	var content, reasoning, finish string
	idx, indexKeys := 0, 0
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		end := stringEnd(raw, i)
		if end < 0 {
			return false
		}
		if end+1 >= len(raw) || raw[end+1] != ':' {
			if end+1 < len(raw) && raw[end+1] == ' ' {
				return false // `"key" :` — not a layout this scan reads
			}
			i = end
			continue
		}
		v := end + 2
		for v < len(raw) && raw[v] == ' ' {
			v++
		}
		var target *string
		switch raw[i+1 : end] {
		case "index":
			if indexKeys++; indexKeys > 1 {
				return false // several choices, or tool calls
			}
			digits := 0
			for ; v < len(raw) && raw[v] >= '0' && raw[v] <= '9' && digits < 6; v++ {
				idx = idx*10 + int(raw[v]-'0')
				digits++
			}
			if digits == 0 {
				return false
			}
		case "tool_calls", "function_call":
			return false
		case "content", "refusal", "text": // text: legacy text completion chunks
			target = &content
		case "reasoning_content", "reasoning":
			target = &reasoning
		case "finish_reason":
			target = &finish
		}
		i = end
		if target != nil && v < len(raw) && raw[v] == '"' {
			vend := stringEnd(raw, v)
			if vend < 0 || *target != "" {
				return false
			}
			*target = raw[v : vend+1]
			i = vend
		}
	}
	if content != "" {
		c.content.switchTo(c.enc, idx)
		c.content.writeJSONString(c.enc, content)
	}
	if reasoning != "" {
		c.reasoning.switchTo(c.enc, idx)
		c.reasoning.writeJSONString(c.enc, reasoning)
	}
	if finish != "" {
		c.extra += finishTokens(finish[1 : len(finish)-1])
	}
	return true
}

// stringEnd returns the index of the quote that closes the JSON string opening at raw[start], or -1.
func stringEnd(raw string, start int) int {
	for j := start + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// addChoice counts one element of choices, reading each object in a single pass.
func (c *StreamCounter) addChoice(choice gjson.Result) {
	var idx int
	var delta, reason, text gjson.Result
	choice.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "index":
			idx = int(value.Int())
		case "delta":
			delta = value
		case "text": // legacy text completion chunks
			text = value
		case "finish_reason":
			reason = value
		}
		return true
	})
	if delta.IsObject() {
		delta.ForEach(func(key, value gjson.Result) bool {
			c.addDeltaField(idx, key.Str, value)
			return true
		})
	}
	if text.Type == gjson.String {
		c.addDeltaField(idx, "content", text)
	}
	if reason.Type == gjson.String {
		c.extra += finishTokens(reason.Str)
	}
}

// addDeltaField counts one field of a choice's delta.
func (c *StreamCounter) addDeltaField(idx int, key string, value gjson.Result) {
	switch key {
	case "content", "refusal":
		if value.Type == gjson.String {
			c.content.switchTo(c.enc, idx)
			c.content.writeJSONString(c.enc, value.Raw)
		}
	case "reasoning_content", "reasoning":
		if value.Type == gjson.String {
			c.reasoning.switchTo(c.enc, idx)
			c.reasoning.writeJSONString(c.enc, value.Raw)
		}
	case "tool_calls":
		value.ForEach(func(_, call gjson.Result) bool {
			c.addToolCall(idx, call)
			return true
		})
	}
}

func (c *StreamCounter) addToolCall(choice int, call gjson.Result) {
	fn := call.Get("function")
	if name := fn.Get("name"); name.Type == gjson.String && name.Str != "" {
		c.extra += c.enc.countText(name.Str) + toolCallTokens
	}
	if args := fn.Get("arguments"); args.Type == gjson.String {
		c.toolArgs.switchTo(c.enc, choice*toolKeyStride+int(call.Get("index").Int()))
		c.toolArgs.writeJSONString(c.enc, args.Raw)
	}
}

// finishTokens returns the hidden tokens a finish_reason implies: the end-of-message token, which a model cut
// off by max_tokens or by a content filter never produced.
func finishTokens(reason string) int {
	switch reason {
	case "", "length", "content_filter":
		return 0
	}
	return endOfMessageTokens
}

// Completion returns the completion tokens counted so far, reasoning included, and the reasoning part alone.
// It may be called at any point, for example when a stream is cut short, and again after more chunks.
func (c *StreamCounter) Completion() (tokens, reasoningTokens int) {
	c.countDeferred()
	c.content.flush(c.enc)
	c.reasoning.flush(c.enc)
	c.toolArgs.flush(c.enc)
	reasoningTokens = c.reasoning.tokens
	return c.content.tokens + reasoningTokens + c.toolArgs.tokens + c.extra, reasoningTokens
}

// CountResponse counts the completion tokens of a non-streaming chat.completion body the way a StreamCounter
// counts a stream: message content, refusal, reasoning, tool-call names and arguments, plus the hidden tokens.
func (t *Tokenizer) CountResponse(model string, body []byte) (completion, reasoning int) {
	enc, _ := t.encoderFor(model)
	gjson.Get(unsafeString(body), "choices").ForEach(func(_, choice gjson.Result) bool {
		msg := choice.Get("message")
		completion += countContent(enc, msg.Get("content")) + countContent(enc, msg.Get("refusal"))
		for _, field := range [...]string{"reasoning_content", "reasoning"} {
			n := countContent(enc, msg.Get(field))
			completion += n
			reasoning += n
		}
		msg.Get("tool_calls").ForEach(func(_, call gjson.Result) bool {
			fn := call.Get("function")
			completion += enc.countText(fn.Get("name").String()) + enc.countText(fn.Get("arguments").String()) +
				toolCallTokens
			return true
		})
		completion += finishTokens(choice.Get("finish_reason").String())
		return true
	})
	return completion, reasoning
}

// countContent counts a message content: a string, or an array of parts whose text parts are concatenated.
func countContent(enc *encoder, content gjson.Result) int {
	switch {
	case content.Type == gjson.String:
		return enc.countText(content.Str)
	case content.IsArray():
		var text []byte
		content.ForEach(func(_, part gjson.Result) bool {
			if t := part.Get("text"); t.Type == gjson.String {
				text = append(text, t.Str...)
			}
			return true
		})
		return enc.countText(unsafeString(text))
	}
	return 0
}
