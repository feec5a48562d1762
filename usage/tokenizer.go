package usage

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/tiktoken-go/tokenizer"
)

// Tokenizer counts tokens the way OpenAI models do, offline. The zero value is not usable; create one with
// NewTokenizer. A Tokenizer is safe for concurrent use and is meant to be shared by the whole process.
type Tokenizer struct {
	o200k  encoder
	cl100k encoder
	// counters recycles StreamCounters with their text buffers (StreamCounter.Release).
	counters sync.Pool
}

// NewTokenizer returns a Tokenizer whose encodings load on first use. Call Warm at provision time to load them
// before the first request.
func NewTokenizer() *Tokenizer {
	return &Tokenizer{
		o200k:  encoder{encoding: tokenizer.O200kBase},
		cl100k: encoder{encoding: tokenizer.Cl100kBase},
	}
}

// Warm loads both encodings (about 40 ms and 50 MB of heap) so that no request pays for it.
func (t *Tokenizer) Warm() {
	t.o200k.load()
	t.cl100k.load()
}

// Origin returns Counted when model is an OpenAI model whose own encoding the Tokenizer has, and Estimated
// otherwise (other providers' models are counted with o200k_base as an approximation).
func (t *Tokenizer) Origin(model string) Origin {
	_, origin := t.encoderFor(model)
	return origin
}

// Count returns the number of tokens in text with model's encoding, without any chat-format overhead.
func (t *Tokenizer) Count(model, text string) int {
	enc, _ := t.encoderFor(model)
	return enc.countText(text)
}

// encodingRule maps a model-name prefix to an encoding.
type encodingRule struct {
	prefix string
	cl100k bool
}

// encodingRules lists the OpenAI model families in match order: longer prefixes first, so "gpt-4o" is not
// taken for "gpt-4".
var encodingRules = [...]encodingRule{
	{"gpt-4o", false},
	{"chatgpt-4o", false},
	{"gpt-4.1", false},
	{"gpt-4.5", false},
	{"gpt-5", false},
	{"o1", false},
	{"o3", false},
	{"o4", false},
	{"gpt-4", true},
	{"gpt-3.5", true},
	{"gpt-35", true},
	{"text-embedding-3", true},
	{"text-embedding-ada-002", true},
}

// reasoningPrefixes are the model families whose chat format primes the reply with 2 tokens instead of 3.
var reasoningPrefixes = [...]string{"o1", "o3", "o4", "gpt-5"}

// encoderFor picks the encoding for model, which may carry a provider prefix ("openai/gpt-4o-mini") or a
// fine-tune prefix ("ft:gpt-4o-mini:org::id").
func (t *Tokenizer) encoderFor(model string) (*encoder, Origin) {
	name := baseModel(model)
	for _, r := range encodingRules {
		if hasFamilyPrefix(name, r.prefix) {
			if r.cl100k {
				return &t.cl100k, Counted
			}
			return &t.o200k, Counted
		}
	}
	return &t.o200k, Estimated
}

// isReasoningModel reports whether model uses the reasoning models' 2-token reply primer.
func isReasoningModel(model string) bool {
	name := baseModel(model)
	for _, p := range reasoningPrefixes {
		if hasFamilyPrefix(name, p) {
			return true
		}
	}
	return false
}

// baseModel strips the provider and fine-tune prefixes from a model name.
func baseModel(model string) string {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	model = strings.TrimPrefix(model, "ft:")
	return model
}

// hasFamilyPrefix reports whether name starts with prefix, ignoring ASCII case, and the prefix ends at a
// name boundary when it is as short as "o1" (so "o1-mini" matches and "o1x" does not).
func hasFamilyPrefix(name, prefix string) bool {
	if len(name) < len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return false
	}
	if len(prefix) > 2 || len(name) == len(prefix) {
		return true
	}
	c := name[len(prefix)]
	return c == '-' || c == '.' || c == ':' || c == '_'
}

// Segment cache bounds: segments up to maxCachedSegment bytes are cached, at most maxCacheEntries per encoding
// (a few MB), so memory stays bounded whatever the traffic.
const (
	maxCachedSegment = 32
	maxCacheEntries  = 1 << 16
)

// encoder is one BPE encoding, loaded once, with a bounded cache of segment counts so that steady-state
// counting neither runs the split regexp nor allocates.
type encoder struct {
	encoding tokenizer.Encoding
	once     sync.Once
	codec    tokenizer.Codec

	mu    sync.RWMutex
	cache map[string]int
}

func (e *encoder) load() tokenizer.Codec {
	e.once.Do(func() {
		c, err := tokenizer.Get(e.encoding)
		if err != nil {
			return // unreachable for the two encodings used here; counts then stay 0
		}
		c.Count("warm") // builds the vocabulary map
		e.codec = c
		e.cache = make(map[string]int, 1024)
	})
	return e.codec
}

// countRaw counts s with the encoding itself.
func (e *encoder) countRaw(s string) int {
	c := e.load()
	if c == nil {
		return 0
	}
	n, _ := c.Count(s) // errors only in strict UTF-8 mode, which is not used
	return n
}

// countSegment counts a segment that starts and ends on pre-token boundaries.
func (e *encoder) countSegment(seg []byte) int {
	if len(seg) == 0 {
		return 0
	}
	if len(seg) > maxCachedSegment {
		return e.countRaw(unsafe.String(&seg[0], len(seg)))
	}
	e.load()
	e.mu.RLock()
	n, ok := e.cache[string(seg)]
	e.mu.RUnlock()
	if ok {
		return n
	}
	key := string(seg)
	n = e.countRaw(key)
	e.mu.Lock()
	if len(e.cache) < maxCacheEntries {
		e.cache[key] = n
	}
	e.mu.Unlock()
	return n
}

// countText counts a complete text exactly: it cuts the text at pre-token boundaries and counts each segment.
func (e *encoder) countText(s string) int {
	if s == "" {
		return 0
	}
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	total, start := 0, 0
	for i := 1; i < len(b); i++ {
		if isCut(b, i) {
			total += e.countSegment(b[start:i])
			start = i
		}
	}
	return total + e.countSegment(b[start:])
}
