package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzGeminiStream feeds arbitrary upstream bodies, seeded with the recorded Gemini streams, through the
// stream translator: it must not panic, every chunk must be valid JSON, and a stream either ends with a
// finish chunk or with an error.
func FuzzGeminiStream(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(geminiFixtures, "*.sse"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"retryDelay\":\"1s\"}]}}\r\n\r\n"))
	f.Add([]byte("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n"))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\\u2028\\ud800\",\"thought\":true},{\"functionCall\":{\"name\":1,\"args\":[1]},\"thoughtSignature\":\"!!\"}]},\"finishReason\":7}]}\n\n"))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"logprobsResult\":{\"topCandidates\":[{\"candidates\":[{\"token\":\"a\",\"logProbability\":-1e-3}]},7],\"chosenCandidates\":[{\"token\":\"\\u00e9\\ud800\",\"logProbability\":\"-Infinity\"},5,{\"token\":1}]}}]}\r\n\r\ndata: {\"candidates\":[{\"finishReason\":\"STOP\",\"logprobsResult\":{\"chosenCandidates\":[{}]}}]}\r\n\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr := NewGemini(GeminiOptions{}).NewStream(&Request{ClientModel: "google/gemini", Stream: true})
		fuzzRelay(t, tr, NewSSEReader(bytes.NewReader(body), 1<<20))
	})
}

// FuzzGeminiRequest feeds arbitrary client bodies to BuildRequest: it must not panic, and what it accepts
// must become a valid JSON Gemini request.
func FuzzGeminiRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/gemini/*.in.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte(`{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"call_a__thought__AAAA","function":{"name":"f","arguments":"{\"a\":\"\\u0000\"}"}}]},{"role":"tool","tool_call_id":"call_a__thought__AAAA","content":"{\"k\":1}"}]}`), true)
	f.Add([]byte(`{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","logprobs":true,"top_logprobs":2}`), true)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		g := NewGemini(GeminiOptions{SignatureFallback: "skip_thought_signature_validator", IncludeThoughts: stream})
		out, err := g.BuildRequest(&Request{Body: body, Model: "gemini-2.5-flash", Stream: stream})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if !json.Valid(out.Body) {
			t.Fatalf("request body is not valid JSON:\n in %s\nout %s", body, out.Body)
		}
	})
}
