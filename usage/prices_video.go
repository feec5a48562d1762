package usage

// videoPrices prices the video models per second of video, by size, matched before defaultPrices. List
// prices in USD, standard tier:
//   - sora-2 $0.10 and sora-2-pro $0.30 per second at 720x1280 or 1280x720: OpenAI's model pages
//     https://developers.openai.com/api/docs/models/sora-2 and sora-2-pro, as collected in
//     /work/shared/reference/api-surfaces.md §9 (mid/late 2026; both models were shut down 2026-09-24 with
//     the Videos API, and are kept for OpenAI-compatible servers that serve them under these names);
//   - sora-2-pro $0.50 per second at 1024x1792 or 1792x1024: OpenAI's price as listed by lumenfall.ai
//     (https://lumenfall.ai/models/openai/sora-2-pro, "as of Jan 21, 2026"), a third party's copy;
//   - Veo 3.1 (standard, with audio) $0.40 per second at 720p and 1080p, $0.60 at 4k:
//     https://ai.google.dev/gemini-api/docs/pricing as transcribed 2026-09-20 and 2026-10-07
//     (api-evangelist/gemini plans/gemini-plans-pricing.yml, api-evangelist/deepmind plans/deepmind-plans-pricing.yml);
//   - Veo 3.1 Fast $0.15 per second at 720p and 1080p: a third party's report of Google's price
//     (https://www.aifreeapi.com/es/posts/veo-3-1-api-rate-limit, March 2026), not on the transcriptions above.
//
// Operators price other models, or correct these, with their own rules.
var videoPrices = [...]PriceRule{
	{"*/sora-2-pro*", Price{PerVideoSecond: 0.30, Videos: &VideoPriceList{{"1024x1792", 0.50}, {"1792x1024", 0.50}}}},
	{"*/sora-2*", Price{PerVideoSecond: 0.10}},
	{"*/veo-3.1-fast-generate*", Price{PerVideoSecond: 0.15}},
	{"*/veo-3.1-generate*", Price{PerVideoSecond: 0.40, Videos: &VideoPriceList{{"3840x2160", 0.60}, {"2160x3840", 0.60}}}},
}
