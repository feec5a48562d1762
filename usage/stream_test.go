package usage

import (
	"github.com/tidwall/gjson"

	"encoding/json"
	"strings"
	"testing"
)

// contentChunk builds a chat.completion.chunk carrying text as delta.content.
func contentChunk(text string) []byte {
	b := []byte(`{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":`)
	q, _ := json.Marshal(text)
	b = append(b, q...)
	return append(b, `},"finish_reason":null}]}`...)
}

func countStream(tk *Tokenizer, model string, chunks [][]byte) (int, int) {
	c := tk.NewStreamCounter(model)
	for _, ch := range chunks {
		c.AddChunk(ch)
	}
	return c.Completion()
}

// The recorded streams' completion_tokens, reproduced exactly: text plus the end-of-message token, and a tool
// call's name and arguments plus its hidden tokens.
func TestStreamCounterEqualsReportedUsage(t *testing.T) {
	tk := NewTokenizer()
	for file, want := range map[string]int{
		"openai/chat_stream_text_after_tool.sse": 9,
		"openai/chat_stream_tool_call.sse":       15,
	} {
		got, reasoning := countStream(tk, "openai/gpt-4o-mini", sseData(t, readFixture(t, file)))
		if got != want || reasoning != 0 {
			t.Errorf("%s: counted (%d, reasoning %d), upstream reported %d", file, got, reasoning, want)
		}
	}
}

func TestCountResponseEqualsReportedUsage(t *testing.T) {
	tk := NewTokenizer()
	// gpt-3.5-turbo-0125 tool call, reported completion_tokens 14.
	if got, _ := tk.CountResponse("openai/gpt-3.5-turbo", readFixture(t, "openai/chat_tool_call.json")); got != 14 {
		t.Errorf("CountResponse = %d, upstream reported 14", got)
	}
	body := []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"The capital of the UK is London.",` +
		`"reasoning_content":"Think: UK capital."},"finish_reason":"stop"}]}`)
	completion, reasoning := tk.CountResponse("openai/gpt-4o-mini", body)
	if want := tk.Count("gpt-4o", "Think: UK capital."); reasoning != want {
		t.Errorf("reasoning = %d, want %d", reasoning, want)
	}
	if completion != 8+reasoning+1 {
		t.Errorf("completion = %d, want text 8 + reasoning %d + end 1", completion, reasoning)
	}
}

// Fragments split words anywhere; the streamed count must equal counting the whole text at once, except for
// at most one token per forced cut (the corpus has base64 runs longer than pendingSize).
func TestStreamCounterExactAcrossFragments(t *testing.T) {
	tk := NewTokenizer()
	text := corpus(t)
	for _, model := range []string{"gpt-4o", "gpt-4"} {
		want := tk.Count(model, text)
		c := tk.NewStreamCounter(model)
		for _, f := range randomFragments(text, 7) {
			c.AddChunk(contentChunk(f))
		}
		got, _ := c.Completion()
		if diff := got - want; diff < 0 || diff > c.content.forced {
			t.Errorf("%s: streamed count %d, whole-text count %d, %d forced cuts", model, got, want, c.content.forced)
		}
		t.Logf("%s: %d tokens, streamed %d, %d forced cuts in %d bytes", model, want, got, c.content.forced, len(text))
	}
}

// Ordinary prose and code always has a cut point within pendingSize bytes: the streamed count is exact.
func TestStreamCounterExactOnProse(t *testing.T) {
	tk := NewTokenizer()
	text := string(readFixture(t, "README.md")) + strings.Repeat("Ça coûte 3,50 €. Привет, мир. it's   fine\n", 50)
	for seed := range uint64(5) {
		c := tk.NewStreamCounter("gpt-4o")
		for _, f := range randomFragments(text, seed) {
			c.AddChunk(contentChunk(f))
		}
		if got, want := firstOf(c.Completion()), tk.Count("gpt-4o", text); got != want || c.content.forced != 0 {
			t.Errorf("seed %d: streamed %d, whole text %d (%d forced cuts)", seed, got, want, c.content.forced)
		}
	}
}

// Without any cut point for pendingSize bytes (CJK without spaces) the counter cuts anyway; the error stays
// within one token per cut.
func TestStreamCounterForcedCutBound(t *testing.T) {
	tk := NewTokenizer()
	text := strings.Repeat("東京都の天気は晴れです。明日は雨が降るでしょう。", 200)
	want := tk.Count("gpt-4o", text)
	c := tk.NewStreamCounter("gpt-4o")
	for _, f := range randomFragments(text, 3) {
		c.AddChunk(contentChunk(f))
	}
	got, _ := c.Completion()
	cuts := len(text) / (pendingSize / 2)
	if diff := got - want; diff < -cuts || diff > cuts {
		t.Errorf("streamed %d, whole text %d: off by %d, bound %d", got, want, diff, cuts)
	}
}

func TestStreamCounterUnescapesJSON(t *testing.T) {
	tk := NewTokenizer()
	text := "line one\nline \"two\"\ttab é 😀 \\ / done"
	c := tk.NewStreamCounter("gpt-4o")
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"content":"line one\nline \"two\"\ttab \u00e9 \ud83d\ude00 \\ \/ done"}}]}`))
	if got, want := firstOf(c.Completion()), tk.Count("gpt-4o", text); got != want {
		t.Errorf("counted %d, want %d for %q", got, want, text)
	}
}

func TestStreamCounterReasoningAndFinish(t *testing.T) {
	tk := NewTokenizer()
	c := tk.NewStreamCounter("vllm/deepseek-r1")
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me think"}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"reasoning":" about it."}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Yes."}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`))
	c.AddChunk([]byte(`{"choices":[],"usage":{"prompt_tokens":5}}`))
	c.AddChunk([]byte(`not json`))
	total, reasoning := c.Completion()
	wantReasoning := tk.Count("gpt-4o", "Let me think about it.")
	if reasoning != wantReasoning || total != wantReasoning+tk.Count("gpt-4o", "Yes.") {
		t.Errorf("got (%d, %d), want reasoning %d and no end token after finish_reason length", total, reasoning, wantReasoning)
	}
}

// A stream cut short is accounted with what was produced up to the cut, and counting can continue.
func TestStreamCounterCutShort(t *testing.T) {
	tk := NewTokenizer()
	chunks := sseData(t, readFixture(t, "openai/chat_stream_text_after_tool.sse"))
	c := tk.NewStreamCounter("gpt-4o-mini")
	for _, ch := range chunks[:5] { // role, "The", " capital", " of", " the"
		c.AddChunk(ch)
	}
	if got, _ := c.Completion(); got != 4 {
		t.Errorf("after 4 words: %d, want 4", got)
	}
	for _, ch := range chunks[5:] {
		c.AddChunk(ch)
	}
	if got, _ := c.Completion(); got != 9 {
		t.Errorf("after the rest: %d, want 9", got)
	}
}

func TestStreamCounterParallelToolCalls(t *testing.T) {
	tk := NewTokenizer()
	c := tk.NewStreamCounter("gpt-4o")
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"get_capital","arguments":""}}]}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"country\":"}}]}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"UK\"}"}}]}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"get_capital","arguments":"{\"country\":\"FR\"}"}}]}}]}`))
	c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`))
	got, _ := c.Completion()
	want := 2*(3+toolCallTokens) + tk.Count("gpt-4o", `{"country":"UK"}`) + tk.Count("gpt-4o", `{"country":"FR"}`) + 1
	if got != want {
		t.Errorf("counted %d, want %d (two calls, one after the other)", got, want)
	}
}

func TestStreamCounterSteadyStateDoesNotAllocate(t *testing.T) {
	tk := NewTokenizer()
	chunks := sseData(t, readFixture(t, "openai/chat_stream_text_after_tool.sse"))
	c := tk.NewStreamCounter("gpt-4o-mini")
	for _, ch := range chunks {
		c.AddChunk(ch) // fills the segment cache
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, ch := range chunks {
			c.AddChunk(ch)
		}
	})
	if allocs != 0 {
		t.Errorf("AddChunk allocated %.1f times per stream of %d chunks, want 0", allocs, len(chunks))
	}
}

func firstOf(a, _ int) int { return a }

// The unparsed fast path for single-choice text chunks must count exactly what parsing the chunk counts.
func TestStreamCounterFastPathMatchesParsedPath(t *testing.T) {
	tk := NewTokenizer()
	streams := map[string][][]byte{}
	for _, name := range []string{"openai/chat_stream_tool_call.sse", "openai/chat_stream_text_after_tool.sse",
		"openai/azure_chat_stream_content_filter.sse"} {
		streams[name] = sseData(t, readFixture(t, name))
	}
	streams["synthetic"] = [][]byte{
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"content":"He said \"index\":\"x\" and \\u00e9\n"},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"reasoning_content":"Let me think: \"content\":\"no\""},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"reasoning":"more thinking"},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"refusal":"I can't help with that."},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index": 0, "delta": {"content": " spaced JSON"}, "finish_reason": null}]}`),
		[]byte(`{"id":"a","choices":[{"index":1,"delta":{"content":" second choice"},"finish_reason":null},{"index":0,"delta":{"content":" first"},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":"}}]},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{"content":" 東京は日本の首都です。"},"finish_reason":null}]}`),
		[]byte(`{"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	}
	for name, chunks := range streams {
		fast, parsed := tk.NewStreamCounter("gpt-4o"), tk.NewStreamCounter("gpt-4o")
		fastHits := 0
		for _, chunk := range chunks {
			choices := gjson.GetBytes(chunk, "choices")
			if !choices.IsArray() {
				continue
			}
			probe := tk.NewStreamCounter("gpt-4o")
			if probe.addSingleTextChoice(choices.Raw) {
				fastHits++
			}
			fast.AddChoices(choices)
			parsed.addParsedChoices(choices)
		}
		ft, fr := fast.Completion()
		pt, pr := parsed.Completion()
		if ft != pt || fr != pr {
			t.Errorf("%s: fast path counted %d (%d reasoning), parsing counted %d (%d)", name, ft, fr, pt, pr)
		}
		if fastHits == 0 && !strings.HasSuffix(name, "tool_call.sse") { // tool-call chunks always take the parsed path
			t.Errorf("%s: the fast path never applied", name)
		}
	}
}

// A released counter comes back empty: what one stream counted never leaks into the next one's count, even
// when the first never asked for its count (its upstream reported usage) and left text pending.
func TestStreamCounterReuseStartsEmpty(t *testing.T) {
	tk := NewTokenizer()
	for range 3 {
		c := tk.NewStreamCounter("gpt-4o")
		c.AddChunk(contentChunk("Some text that is never counted, left pending."))
		c.AddChunk([]byte(`{"choices":[{"index":0,"delta":{"reasoning_content":"hidden"},"finish_reason":"stop"}]}`))
		c.Release()
	}
	c := tk.NewStreamCounter("gpt-4")
	c.AddChunk(contentChunk("Hello there"))
	total, reasoning := c.Completion()
	if want := tk.Count("gpt-4", "Hello there"); total != want || reasoning != 0 {
		t.Errorf("reused counter: (%d, reasoning %d), want (%d, 0)", total, reasoning, want)
	}
	c.Release()
}

// A chunk larger than the counter's queue is counted on arrival, after the chunks queued before it: the count
// is the whole text's, in order.
func TestStreamCounterChunkLargerThanQueue(t *testing.T) {
	tk := NewTokenizer()
	big := strings.Repeat("A long tool-free answer, sent in one piece. ", deferSize/40)
	parts := []string{"Before it: a few words.", " " + big, " And after it, the end."}
	c := tk.NewStreamCounter("gpt-4o")
	for _, p := range parts {
		c.AddChunk(contentChunk(p))
	}
	if got, want := firstOf(c.Completion()), tk.Count("gpt-4o", strings.Join(parts, "")); got != want {
		t.Errorf("counted %d, whole text %d", got, want)
	}
	c.Release()
}
