package transform

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkGeminiBuildRequest measures translating a tool round-trip request (the non-streamed request
// path's share in the dialect).
func BenchmarkGeminiBuildRequest(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata/gemini", "tools_round_trip.in.json"))
	if err != nil {
		b.Fatal(err)
	}
	g := NewGemini(GeminiOptions{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.BuildRequest(&Request{Body: body, Model: "gemini-2.5-flash", ClientModel: "google/gemini-2.5-flash"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGeminiResponse measures translating a non-streamed answer with a thought and text.
func BenchmarkGeminiResponse(b *testing.B) {
	body := []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me think.","thought":true},{"text":"Hello"},{"text":" world"}]},"finishReason":"STOP","index":0}],
		"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":10,"thoughtsTokenCount":20,"totalTokenCount":130},"responseId":"r1"}`)
	g := NewGemini(GeminiOptions{})
	req := &Request{ClientModel: "google/gemini-2.5-flash"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := g.TranslateResponse(req, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGeminiStreamLogprobs is BenchmarkGeminiStream for an event that carries a logprobsResult of
// three tokens with two top candidates each.
func BenchmarkGeminiStreamLogprobs(b *testing.B) {
	data := []byte(`{"candidates": [{"content": {"parts": [{"text": " capital of France"}],"role": "model"},"logprobsResult":{"topCandidates":[{"candidates":[{"token":" capital","tokenId":1,"logProbability":-0.01},{"token":" city","tokenId":2,"logProbability":-4.2}]},{"candidates":[{"token":" of","tokenId":3,"logProbability":-0.001},{"token":" in","tokenId":4,"logProbability":-7.5}]},{"candidates":[{"token":" France","tokenId":5,"logProbability":-0.02},{"token":" Paris","tokenId":6,"logProbability":-3.9}]}],"chosenCandidates":[{"token":" capital","tokenId":1,"logProbability":-0.01},{"token":" of","tokenId":3,"logProbability":-0.001},{"token":" France","tokenId":5,"logProbability":-0.02}]}}],"usageMetadata": {"promptTokenCount": 15,"totalTokenCount": 15},"modelVersion": "gemini-2.5-flash","responseId": "w1peaMz6INOvnvgPgYfPiQY"}`)
	tr := NewGemini(GeminiOptions{}).NewStream(&Request{ClientModel: "google/gemini"})
	sink := &countingSink{}
	ev := Event{Data: data}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Translate(ev, sink); err != nil {
			b.Fatal(err)
		}
	}
}
