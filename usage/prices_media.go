package usage

// mediaPrices prices the image and audio models, matched before defaultPrices (whose Gemini globs would
// catch the TTS and image models). Sources, all list prices in USD, standard tier, as collected in
// /work/shared/reference/api-surfaces.md §9 (snapshots of mid/late 2026):
//   - OpenAI model pages https://developers.openai.com/api/docs/models/<model> (gpt-image-1, gpt-image-1-mini,
//     tts-1, gpt-4o-mini-tts, whisper-1), and pydantic/genai-prices @ 47df840 (2026-08-21)
//     prices/providers/openai.yml (gpt-image-1.5, gpt-image-2, gpt-4o(-mini)-transcribe);
//   - DALL·E: OpenAI's 2023 pricing as copied in github.com/kevinhermawan/Canvas model-info.json;
//   - Gemini: https://ai.google.dev/gemini-api/docs/pricing (image output and TTS models, as published in
//     2025 and transcribed 2026-09-20) and pydantic/genai-prices prices/providers/google.yml.
//
// GPT image models report token usage: they are priced per token (their per-image prices are OpenAI's
// estimates of those tokens), except gpt-image-1-mini, listed per image. Images priced per image use the
// request's (or answer's) size and quality; an unknown combination costs the model's dearest listed image,
// so that budgets are never under-charged.
var mediaPrices = [...]PriceRule{
	// Images.
	{"*/gpt-image-1", Price{Input: 5, ImageInput: 10, Output: 40}},
	{"*/gpt-image-1.5*", Price{Input: 5, ImageInput: 8, Output: 32}},
	{"*/gpt-image-2*", Price{Input: 5, ImageInput: 8, Output: 30}},
	{"*/gpt-image-1-mini*", Price{Images: &ImagePriceList{
		{"1024x1024", "low", 0.005}, {"1024x1024", "medium", 0.011}, {"1024x1024", "high", 0.036},
		{"1024x1536", "low", 0.006}, {"1024x1536", "medium", 0.015}, {"1024x1536", "high", 0.052},
		{"1536x1024", "low", 0.006}, {"1536x1024", "medium", 0.015}, {"1536x1024", "high", 0.052},
	}, PerImage: 0.052}},
	{"*/dall-e-3", Price{Images: &ImagePriceList{
		{"1024x1024", "hd", 0.08}, {"1024x1024", "", 0.04},
		{"1792x1024", "hd", 0.12}, {"1024x1792", "hd", 0.12}, {"1792x1024", "", 0.08}, {"1024x1792", "", 0.08},
	}, PerImage: 0.12}},
	{"*/dall-e-2", Price{Images: &ImagePriceList{
		{"256x256", "", 0.016}, {"512x512", "", 0.018}, {"1024x1024", "", 0.020},
	}, PerImage: 0.020}},
	// Gemini image output: $30 (2.5 Flash Image) and $120 (3 Pro Image) per million output tokens, an image
	// being 1290 (1K) to 2000 (4K) tokens; text input at the models' text price.
	{"*/gemini-2.5-flash-image*", Price{Input: 0.30, Output: 30}},
	{"*/gemini-3-pro-image*", Price{Input: 2, Output: 120}},
	// Speech.
	{"*/tts-1", Price{PerMillionCharacters: 15}},
	{"*/tts-1-hd", Price{PerMillionCharacters: 30}},
	{"*/gpt-4o-mini-tts*", Price{Input: 0.60, Output: 12}},
	{"*/gemini-2.5-flash-preview-tts", Price{Input: 0.50, Output: 10}},
	{"*/gemini-2.5-pro-preview-tts", Price{Input: 1, Output: 20}},
	// Transcription and translation.
	{"*/whisper-1", Price{PerMinute: 0.006}},
	{"*/gpt-4o-transcribe*", Price{Input: 2.50, AudioInput: 6, Output: 10}},
	{"*/gpt-4o-mini-transcribe*", Price{Input: 1.25, AudioInput: 3, Output: 5}},
}
