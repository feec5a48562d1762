package usage

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// BenchmarkCount measures Tokenizer.Count (cut at pre-token boundaries, cached segments) on the mixed corpus,
// against the encoding's own Count on the same text.
func BenchmarkCount(b *testing.B) {
	tk := NewTokenizer()
	tk.Warm()
	text := corpus(b)
	tokens := tk.Count("gpt-4o", text)
	b.Run("o200k", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			tk.Count("gpt-4o", text)
		}
		b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("o200k-uncached", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			tk.o200k.countRaw(text)
		}
		b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// BenchmarkStreamCounterAddChunk measures one AddChunk on real OpenAI chunks (the recorded text stream),
// reporting the exact allocations per chunk next to the rounded allocs/op.
func BenchmarkStreamCounterAddChunk(b *testing.B) {
	tk := NewTokenizer()
	tk.Warm()
	chunks := sseData(b, readFixture(b, "openai/chat_stream_text_after_tool.sse"))
	c := tk.NewStreamCounter("openai/gpt-4o-mini")
	for _, ch := range chunks {
		c.AddChunk(ch)
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	i := 0
	for b.Loop() {
		c.AddChunk(chunks[i])
		i++
		if i == len(chunks) {
			i = 0
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/chunk")
}

// BenchmarkStreamCounterStream measures what counting costs a whole stream of 200 one-word chunks, handed over
// as the passthrough relay does (AddChoices, the chunk already parsed): when the upstream reports usage (the
// count is never asked for) and when it does not (Completion at the end).
func BenchmarkStreamCounterStream(b *testing.B) {
	tk := NewTokenizer()
	tk.Warm()
	words := strings.Fields(corpus(b)[:4000])
	chunks := make([]gjson.Result, 200)
	for i := range chunks {
		chunks[i] = gjson.GetBytes(contentChunk(" "+words[i%len(words)]), "choices")
	}
	for _, reported := range []bool{true, false} {
		b.Run("usage_reported="+strconv.FormatBool(reported), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := tk.NewStreamCounter("openai/gpt-4o-mini")
				for _, ch := range chunks {
					c.AddChoices(ch)
				}
				if !reported {
					c.Completion()
				}
				c.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(chunks)), "ns/chunk")
		})
	}
}

func BenchmarkPriceTableCost(b *testing.B) {
	p, _ := NewPriceTable([]PriceRule{{"ollama/*", Price{}}, {"*/llama*", Price{Input: 1}}})
	u := Usage{PromptTokens: 1000, CompletionTokens: 100}
	b.ReportAllocs()
	for b.Loop() {
		p.Cost("gemini/gemini-2.0-flash-001", u) // near the end of the defaults
	}
}
