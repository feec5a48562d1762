// Package usage holds token usage as the gateway accounts it: what the upstream reported or what the
// gateway counted itself, with where each number came from.
package usage

import "strconv"

// Origin says where a Usage's numbers came from.
type Origin uint8

const (
	// Unknown means no usage is known yet.
	Unknown Origin = iota
	// Reported numbers come from the upstream provider.
	Reported
	// Counted numbers were computed by the gateway with the model's own encoding.
	Counted
	// Estimated numbers were computed by the gateway with an approximate encoding.
	Estimated
)

// String returns the name used in logs, placeholders and the X-AI-Gateway-Usage header.
func (o Origin) String() string {
	switch o {
	case Reported:
		return "reported"
	case Counted:
		return "counted"
	case Estimated:
		return "estimated"
	}
	return "unknown"
}

// Usage is one exchange's token usage in OpenAI's terms.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	// CachedTokens is the part of PromptTokens served from the provider's prompt cache.
	CachedTokens int
	// CacheWriteTokens is the part of PromptTokens written to the provider's prompt cache (Anthropic).
	CacheWriteTokens int
	// CacheWrite1hTokens is the part of CacheWriteTokens written with a one-hour lifetime (Anthropic's
	// ttl "1h", priced above the default five minutes).
	CacheWrite1hTokens int
	// ReasoningTokens is the part of CompletionTokens spent on reasoning or thinking.
	ReasoningTokens int
	Origin          Origin
	// Media units, for the image and audio endpoints (zero elsewhere). ImagePromptTokens and
	// AudioPromptTokens are the parts of PromptTokens that were images or audio (GPT image models,
	// transcription models), priced at Price.ImageInput and Price.AudioInput.
	ImagePromptTokens int
	AudioPromptTokens int
	// Images is the number of images generated; ImageSize ("1024x1024") and ImageQuality ("high",
	// "standard") pick their price.
	Images       int
	ImageSize    string
	ImageQuality string
	// Characters is the number of characters of a speech request's input.
	Characters int
	// AudioSeconds is the length of the audio transcribed or translated.
	AudioSeconds float64
	// VideoSeconds is the length of the video a job makes, and VideoSize its width x height ("1280x720"),
	// which picks its price.
	VideoSeconds int
	VideoSize    string
}

// Known reports whether u holds any usage.
func (u Usage) Known() bool { return u.Origin != Unknown }

// AppendJSON appends u as an OpenAI usage object. costUSD is added as "cost" when it is not negative.
func (u Usage) AppendJSON(dst []byte, costUSD float64) []byte {
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(total), 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CachedTokens), 10)
	if u.CacheWriteTokens > 0 {
		// the field LiteLLM and OpenRouter clients read the cache write count from
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = strconv.AppendInt(dst, int64(u.CacheWriteTokens), 10)
	}
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.ReasoningTokens), 10)
	dst = append(dst, '}')
	if costUSD >= 0 {
		dst = append(dst, `,"cost":`...)
		dst = strconv.AppendFloat(dst, costUSD, 'f', -1, 64)
	}
	return append(dst, '}')
}
