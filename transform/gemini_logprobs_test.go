package transform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// geminiLogprobsResult is a logprobsResult of two decoding steps: " Par" (with two top candidates) and "é"
// (whose logProbability of 0 proto3 JSON leaves out, and no top candidates).
const geminiLogprobsResult = `"logprobsResult":{
	"topCandidates":[{"candidates":[{"token":" Par","tokenId":4,"logProbability":-0.25},{"token":" Ly","tokenId":5,"logProbability":-1.5}]},{"candidates":[]}],
	"chosenCandidates":[{"token":" Par","tokenId":4,"logProbability":-0.25},{"token":"é","tokenId":6}]}`

// geminiLogprobsWant is the OpenAI logprobs object for geminiLogprobsResult.
const geminiLogprobsWant = `{"content":[` +
	`{"token":" Par","logprob":-0.25,"bytes":[32,80,97,114],"top_logprobs":[{"token":" Par","logprob":-0.25,"bytes":[32,80,97,114]},{"token":" Ly","logprob":-1.5,"bytes":[32,76,121]}]},` +
	`{"token":"é","logprob":0,"bytes":[195,169],"top_logprobs":[]}],"refusal":null}`

// TestGeminiLogprobsResponse checks that a non-streamed candidate's logprobsResult becomes the choice's
// logprobs.content, for each candidate, and that an answer without one keeps logprobs null.
func TestGeminiLogprobsResponse(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	body := `{"candidates":[
		{"content":{"role":"model","parts":[{"text":" Paré"}]},"finishReason":"STOP","index":0,` + geminiLogprobsResult + `},
		{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":"STOP","index":1,
		 "logprobsResult":{"chosenCandidates":[{"token":"x","logProbability":"-Infinity"}],"topCandidates":[{"candidates":[{"token":"x","logProbability":-3}]}]}}],
		"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}`
	out, _, err := g.TranslateResponse(&Request{ClientModel: "google/gemini-2.5-flash"}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	if got := gjson.GetBytes(out, "choices.0.logprobs").Raw; got != geminiLogprobsWant {
		t.Errorf("choices.0.logprobs\n got %s\nwant %s", got, geminiLogprobsWant)
	}
	const want1 = `{"content":[{"token":"x","logprob":-9999.0,"bytes":[120],"top_logprobs":[{"token":"x","logprob":-3,"bytes":[120]}]}],"refusal":null}`
	if got := gjson.GetBytes(out, "choices.1.logprobs").Raw; got != want1 {
		t.Errorf("choices.1.logprobs\n got %s\nwant %s", got, want1)
	}
	if got := gjson.GetBytes(out, "choices.0.message.content").String(); got != " Paré" {
		t.Errorf("content %q", got)
	}

	for _, lr := range []string{``, `,"logprobsResult":{}`, `,"logprobsResult":{"chosenCandidates":[]}`} {
		out, _, err := g.TranslateResponse(&Request{}, []byte(`{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"`+lr+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(out, "choices.0.logprobs"); got.Type != gjson.Null {
			t.Errorf("logprobsResult %q: logprobs %s, want null", lr, got.Raw)
		}
	}
}

// TestGeminiLogprobsStream checks that each event's logprobsResult rides on the event's first text chunk,
// or on an empty-delta chunk of its own when the event has no text, never on a thought chunk or the finish
// chunk.
func TestGeminiLogprobsStream(t *testing.T) {
	ev := func(s string) string {
		return "data: " + strings.NewReplacer("\n", "", "\t", "").Replace(s) + "\r\n\r\n"
	}
	body := ev(`{"candidates":[{"content":{"role":"model","parts":[{"text":"hm","thought":true},{"text":" Par"},{"text":"é"}]},"index":0,`+geminiLogprobsResult+`}],"responseId":"r1"}`) +
		ev(`{"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"index":0,"logprobsResult":{"topCandidates":[],"chosenCandidates":[{"token":"!","logProbability":-0.5}]}}],"responseId":"r1"}`) +
		ev(`{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0,"logprobsResult":{"chosenCandidates":[{"token":"<eos>","logProbability":-0.01}]}}],"responseId":"r1","usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}}`)
	sink, err := geminiReplay(t, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ delta, logprobs, finish string }
	var got []row
	for _, c := range sink.chunks {
		if !json.Valid(c) {
			t.Fatalf("invalid chunk %s", c)
		}
		ch := gjson.GetBytes(c, "choices.0")
		got = append(got, row{ch.Get("delta").Raw, ch.Get("logprobs").Raw, ch.Get("finish_reason").Raw})
	}
	want := []row{
		{`{"role":"assistant","content":""}`, "null", "null"},
		{`{"reasoning_content":"hm"}`, "null", "null"},
		{`{"content":" Par"}`, geminiLogprobsWant, "null"},
		{`{"content":"é"}`, "null", "null"},
		{`{"content":"!"}`, `{"content":[{"token":"!","logprob":-0.5,"bytes":[33],"top_logprobs":[]}],"refusal":null}`, "null"},
		{`{}`, `{"content":[{"token":"<eos>","logprob":-0.01,"bytes":[60,101,111,115,62],"top_logprobs":[]}],"refusal":null}`, "null"},
		{`{}`, "null", `"stop"`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d:\n%s", len(got), len(want), joinChunks(sink.chunks))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(string(sink.chunks[2]), geminiChunkHead("r1")) {
		t.Errorf("chunk head %s", sink.chunks[2])
	}
}
