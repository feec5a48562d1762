package usage

import (
	"fmt"
	"path"
	"strings"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	// Input is the price of prompt tokens that were not served from or written to a prompt cache.
	Input float64
	// Output is the price of completion tokens, reasoning tokens included.
	Output float64
	// CachedInput is the price of prompt tokens read from the provider's prompt cache; 0 means Input.
	CachedInput float64
	// CacheWrite is the price of prompt tokens written to the provider's prompt cache (Anthropic charges
	// 1.25× Input for 5-minute cache writes); 0 means Input.
	CacheWrite float64
	// CacheWrite1h is the price of prompt tokens written to the cache for one hour (Anthropic: 2× Input);
	// 0 means CacheWrite.
	CacheWrite1h float64
	// LongContext, when set, prices a whole exchange whose prompt (PromptTokens) exceeds its threshold at
	// its own prices instead, as Gemini 2.5 Pro does above 200k prompt tokens and Claude Sonnet does with
	// the 1M-token context window.
	LongContext *LongContextPrice

	// Media prices, for image and audio models (see mediaPrices). A model is priced per token, per unit or
	// both; the costs add up.
	//
	// ImageInput and AudioInput are the prices of image and audio prompt tokens (Usage.ImagePromptTokens,
	// AudioPromptTokens) per million; 0 means Input.
	ImageInput float64
	AudioInput float64
	// Images prices each generated image by its size and quality, the first matching entry; PerImage prices
	// an image none matches. (A pointer keeps Price comparable.)
	Images   *ImagePriceList
	PerImage float64
	// PerMillionCharacters prices a speech request's input characters (Usage.Characters).
	PerMillionCharacters float64
	// PerMinute prices transcribed or translated audio (Usage.AudioSeconds), by the second.
	PerMinute float64
	// Videos prices each second of generated video by its size, the first matching entry; PerVideoSecond
	// prices a second of a size none matches (see videoPrices).
	Videos         *VideoPriceList
	PerVideoSecond float64
}

// LongContextPrice is a price tier for prompts above a size.
type LongContextPrice struct {
	// Above is the prompt size, in tokens, above which the tier applies.
	Above int
	// Input, Output, CachedInput, CacheWrite and CacheWrite1h are as in Price (0 means the same fallbacks).
	Input, Output, CachedInput, CacheWrite, CacheWrite1h float64
}

// VideoPriceList is a video model's prices per second.
type VideoPriceList []VideoPrice

// VideoPrice is the USD price of one second of video of a size (width x height).
type VideoPrice struct {
	Size string
	USD  float64
}

// ImagePriceList is a model's per-image prices.
type ImagePriceList []ImagePrice

// ImagePrice is the USD price of one image of a size and quality; an empty Size or Quality matches any.
type ImagePrice struct {
	Size, Quality string
	USD           float64
}

// PriceRule prices the models whose "provider/model" name matches Pattern, a glob with path.Match semantics:
// "openai/gpt-4o*", "*/llama*" ("*" does not cross a "/").
type PriceRule struct {
	Pattern string
	Price   Price
}

// PriceTable finds the price of a "provider/model" name: the operator's rules first, in order, then the
// embedded default table for OpenAI, Anthropic and Gemini chat models (see defaultPrices). It is immutable
// after NewPriceTable and safe for concurrent use; lookups do not allocate.
type PriceTable struct {
	rules []compiledRule
}

// compiledRule is a PriceRule with what a lookup needs to skip it cheaply.
type compiledRule struct {
	PriceRule
	slashes int    // a name can only match with as many "/" as the pattern
	literal string // the pattern's last segment up to its first wildcard: a prefix of every matching model
}

// NewPriceTable builds a table from the operator's rules layered over the defaults. It fails on a malformed
// glob or a negative price.
func NewPriceTable(rules []PriceRule) (*PriceTable, error) {
	t := &PriceTable{rules: make([]compiledRule, 0, len(rules)+len(defaultPrices))}
	for _, r := range rules {
		if _, err := path.Match(r.Pattern, ""); err != nil {
			return nil, fmt.Errorf("price pattern %q is not a valid glob (%v): use * ? [] as in path.Match, e.g. openai/gpt-4o*", r.Pattern, err)
		}
		p := r.Price
		if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 || p.CacheWrite < 0 || p.CacheWrite1h < 0 || p.ImageInput < 0 ||
			p.AudioInput < 0 || p.PerImage < 0 || p.PerMillionCharacters < 0 || p.PerMinute < 0 || p.PerVideoSecond < 0 {
			return nil, fmt.Errorf("price for %q is negative: prices are USD per million tokens, 0 or more", r.Pattern)
		}
		t.rules = append(t.rules, compile(r))
	}
	for _, r := range mediaPrices {
		t.rules = append(t.rules, compile(r))
	}
	for _, r := range videoPrices {
		t.rules = append(t.rules, compile(r))
	}
	for _, r := range defaultPrices {
		t.rules = append(t.rules, compile(r))
	}
	return t, nil
}

func compile(r PriceRule) compiledRule {
	last := r.Pattern[strings.LastIndexByte(r.Pattern, '/')+1:]
	if i := strings.IndexAny(last, `*?[\`); i >= 0 {
		last = last[:i]
	}
	return compiledRule{PriceRule: r, slashes: strings.Count(r.Pattern, "/"), literal: last}
}

// Lookup returns the price of providerModel ("openai/gpt-4o-mini"), and false when no rule matches: a
// self-hosted or unknown model, which costs 0.
func (t *PriceTable) Lookup(providerModel string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	slashes := strings.Count(providerModel, "/")
	model := providerModel[strings.LastIndexByte(providerModel, '/')+1:]
	for i := range t.rules {
		r := &t.rules[i]
		if r.slashes != slashes || !strings.HasPrefix(model, r.literal) {
			continue
		}
		if ok, _ := path.Match(r.Pattern, providerModel); ok {
			return r.Price, true
		}
	}
	return Price{}, false
}

// Cost returns what u cost on providerModel in USD, and false (with cost 0) when the model has no price.
// Cached prompt tokens are billed at CachedInput and cache writes at CacheWrite when those are set.
func (t *PriceTable) Cost(providerModel string, u Usage) (usd float64, found bool) {
	p, ok := t.Lookup(providerModel)
	if !ok {
		return 0, false
	}
	return p.cost(u), true
}

// cost applies p to u: the long-context tier's token prices when the prompt is above it; cache reads at
// CachedInput, cache writes at CacheWrite (the one-hour ones at CacheWrite1h), image and audio prompt tokens at
// their prices, the rest of the prompt at Input; then the media units.
func (p Price) cost(u Usage) float64 {
	if lc := p.LongContext; lc != nil && u.PromptTokens > lc.Above {
		p.Input, p.Output, p.CachedInput, p.CacheWrite, p.CacheWrite1h = lc.Input, lc.Output, lc.CachedInput, lc.CacheWrite, lc.CacheWrite1h
	}
	cachedPrice, writePrice, write1hPrice := p.CachedInput, p.CacheWrite, p.CacheWrite1h
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	if writePrice == 0 {
		writePrice = p.Input
	}
	if write1hPrice == 0 {
		write1hPrice = writePrice
	}
	cached, written := max(u.CachedTokens, 0), max(u.CacheWriteTokens, 0)
	written1h := min(max(u.CacheWrite1hTokens, 0), written)
	plain := max(u.PromptTokens-cached-written, 0)
	image := min(max(u.ImagePromptTokens, 0), plain)
	audio := min(max(u.AudioPromptTokens, 0), plain-image)
	plain -= image + audio
	imagePrice, audioPrice := p.ImageInput, p.AudioInput
	if imagePrice == 0 {
		imagePrice = p.Input
	}
	if audioPrice == 0 {
		audioPrice = p.Input
	}
	micro := float64(plain)*p.Input + float64(cached)*cachedPrice + float64(written-written1h)*writePrice +
		float64(written1h)*write1hPrice +
		float64(image)*imagePrice + float64(audio)*audioPrice + float64(max(u.CompletionTokens, 0))*p.Output +
		float64(max(u.Characters, 0))*p.PerMillionCharacters
	usd := micro / 1e6
	if u.Images > 0 {
		usd += float64(u.Images) * p.imagePrice(u.ImageSize, u.ImageQuality)
	}
	if u.AudioSeconds > 0 {
		usd += u.AudioSeconds / 60 * p.PerMinute
	}
	if u.VideoSeconds > 0 {
		usd += float64(u.VideoSeconds) * p.videoSecondPrice(u.VideoSize)
	}
	return usd
}

// videoSecondPrice is the price of one second of video of size.
func (p Price) videoSecondPrice(size string) float64 {
	if p.Videos != nil {
		for _, vp := range *p.Videos {
			if vp.Size == size {
				return vp.USD
			}
		}
	}
	return p.PerVideoSecond
}

// imagePrice is the price of one image of size and quality.
func (p Price) imagePrice(size, quality string) float64 {
	if p.Images == nil {
		return p.PerImage
	}
	for _, ip := range *p.Images {
		if (ip.Size == "" || ip.Size == size) && (ip.Quality == "" || ip.Quality == quality) {
			return ip.USD
		}
	}
	return p.PerImage
}
