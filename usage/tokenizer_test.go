package usage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestOriginByModel(t *testing.T) {
	tk := NewTokenizer()
	for model, want := range map[string]Origin{
		"openai/gpt-4o-mini":            Counted,
		"gpt-4o-mini-2024-07-18":        Counted,
		"azure/gpt-4.1-mini":            Counted,
		"openai/gpt-5-nano":             Counted,
		"openai/o3-mini":                Counted,
		"ft:gpt-4o-mini:acme::abc":      Counted,
		"gpt-3.5-turbo-0125":            Counted,
		"openai/text-embedding-3-small": Counted,
		"anthropic/claude-sonnet-4-5":   Estimated,
		"gemini/gemini-2.5-flash":       Estimated,
		"ollama/llama3.2":               Estimated,
		"o1x":                           Estimated,
		"":                              Estimated,
	} {
		if got := tk.Origin(model); got != want {
			t.Errorf("Origin(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestEncodingByModel(t *testing.T) {
	tk := NewTokenizer()
	// "getCurrentWeather" is 3 tokens in o200k_base and 2 in cl100k_base.
	for model, want := range map[string]int{
		"openai/gpt-4o":       3,
		"openai/gpt-4":        2,
		"gpt-3.5-turbo":       2,
		"openai/gpt-4.1-mini": 3,
		"vllm/qwen3":          3, // estimate with o200k_base
	} {
		if got := tk.Count(model, "getCurrentWeather"); got != want {
			t.Errorf("Count(%q) = %d, want %d", model, got, want)
		}
	}
}

// TestCountTextMatchesEncoding: cutting text at the boundaries isCut finds must not change the count.
func TestCountTextMatchesEncoding(t *testing.T) {
	tk := NewTokenizer()
	text := corpus(t)
	for _, enc := range []*encoder{&tk.o200k, &tk.cl100k} {
		want := enc.countRaw(text)
		if got := enc.countText(text); got != want {
			t.Errorf("%s: countText = %d, whole-text count = %d", enc.encoding, got, want)
		}
		// Line by line as well, so that a wrong cut cannot hide behind a compensating one.
		for _, line := range strings.SplitAfter(text, "\n") {
			if got, want := enc.countText(line), enc.countRaw(line); got != want {
				t.Fatalf("%s: countText(%q) = %d, want %d", enc.encoding, line, got, want)
			}
		}
	}
}

func TestCountTextEdgeCases(t *testing.T) {
	tk := NewTokenizer()
	for _, s := range []string{"", " ", "a", "  a", "a  ", "\n\nb", "x'", "it's", "a\tb", "\xff\xfe a", "é é", "1 2 3"} {
		if got, want := tk.o200k.countText(s), tk.o200k.countRaw(s); got != want {
			t.Errorf("countText(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTokenizerConcurrentUse(t *testing.T) {
	tk := NewTokenizer() // not warmed: the first calls race to load the encodings
	text := corpus(t)[:20000]
	want := NewTokenizer().Count("gpt-4o", text)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := []string{"openai/gpt-4o", "gpt-4"}[g%2]
			for range 3 {
				c := tk.NewStreamCounter(model)
				for _, part := range strings.SplitAfter(text[:4000], " ") {
					c.AddChunk(contentChunk(part))
				}
				c.Completion()
				if g%2 == 0 {
					if got := tk.Count(model, text); got != want {
						errs <- fmt.Errorf("concurrent Count = %d, want %d", got, want)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// randomFragments cuts s into fragments of 1 to 12 bytes, at character boundaries as JSON strings in
// streams are.
func randomFragments(s string, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []string
	for len(s) > 0 {
		n := min(1+r.IntN(12), len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}
