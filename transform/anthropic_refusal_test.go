package transform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestAnthropicRefusalResponse checks that a non-streamed refusal carries stop_details: finish_reason
// content_filter, the explanation as message.refusal and the category as message.refusal_category.
func TestAnthropicRefusalResponse(t *testing.T) {
	a := NewAnthropic(AnthropicOptions{})
	for _, tc := range []struct {
		name, details, refusal, category string
	}{
		{"explained", `,"stop_details":{"type":"refusal","category":"cyber","explanation":"This request asks for malware."}`,
			"This request asks for malware.", "cyber"},
		{"category only", `,"stop_details":{"type":"refusal","category":"bio","explanation":null}`,
			"The model declined to answer (refusal category: bio).", "bio"},
		{"no details", ``, "The model declined to answer.", ""},
		{"null details", `,"stop_details":null`, "The model declined to answer.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"id":"msg_r","type":"message","role":"assistant","content":[{"type":"text","text":"Here is"}],` +
				`"stop_reason":"refusal","stop_sequence":null` + tc.details + `,"usage":{"input_tokens":12,"output_tokens":3}}`
			out, _, err := a.TranslateResponse(&Request{ClientModel: "anthropic/claude-sonnet-4-5"}, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			ch := gjson.GetBytes(out, "choices.0")
			if got := ch.Get("finish_reason").String(); got != "content_filter" {
				t.Errorf("finish_reason %q", got)
			}
			if got := ch.Get("message.content").String(); got != "Here is" {
				t.Errorf("content %q, want the text that came before the refusal", got)
			}
			if got := ch.Get("message.refusal"); got.Type != gjson.String || got.Str != tc.refusal {
				t.Errorf("refusal %s, want %q", got.Raw, tc.refusal)
			}
			cat := ch.Get("message.refusal_category")
			if tc.category == "" && cat.Exists() || tc.category != "" && cat.Str != tc.category {
				t.Errorf("refusal_category %s, want %q", cat.Raw, tc.category)
			}
		})
	}

	// A refusal before any text has content null, as OpenAI sends refusals.
	out, _, err := a.TranslateResponse(&Request{}, []byte(`{"id":"m","content":[],"stop_reason":"refusal","stop_details":{"type":"refusal","category":null,"explanation":"No."}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(out, "choices.0.message"); m.Get("content").Type != gjson.Null || m.Get("refusal").Str != "No." || m.Get("refusal_category").Exists() {
		t.Errorf("refusal without text: %s", m.Raw)
	}

	// An answer that was not refused keeps refusal null and has no category.
	out, _, err = a.TranslateResponse(&Request{}, []byte(`{"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","stop_details":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := gjson.GetBytes(out, "choices.0.message.refusal"); r.Type != gjson.Null || gjson.GetBytes(out, "choices.0.message.refusal_category").Exists() {
		t.Errorf("refusal on a normal answer: %s", out)
	}
}

// TestAnthropicRefusalStream checks that a streamed refusal (stop_details in message_delta) becomes a
// delta.refusal chunk with the category, before the content_filter finish chunk.
func TestAnthropicRefusalStream(t *testing.T) {
	body := anthropicStreamHead +
		"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n" +
		"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null,"stop_details":{"type":"refusal","category":"cyber","explanation":"I can't help with \"that\"."}},"usage":{"output_tokens":4}}` + "\n\n" +
		"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"
	sink, err := anthropicReplay(t, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	acc := anthropicAccumulate(t, sink.chunks)
	if acc.content != "Hel" || acc.finish != "content_filter" {
		t.Errorf("content %q finish %q", acc.content, acc.finish)
	}
	var refusals []gjson.Result
	for _, c := range sink.chunks {
		if d := gjson.GetBytes(c, "choices.0.delta"); d.Get("refusal").Exists() {
			refusals = append(refusals, d)
		}
	}
	if len(refusals) != 1 {
		t.Fatalf("%d refusal chunks, want 1:\n%s", len(refusals), joinChunks(sink.chunks))
	}
	if d := refusals[0]; d.Get("refusal").String() != `I can't help with "that".` || d.Get("refusal_category").String() != "cyber" ||
		d.Get("content").Exists() {
		t.Errorf("refusal delta %s", d.Raw)
	}
	last := sink.chunks[len(sink.chunks)-1]
	if prev := sink.chunks[len(sink.chunks)-2]; !strings.Contains(string(prev), `"refusal":`) {
		t.Errorf("the refusal chunk is not right before the finish chunk %s:\n%s", last, joinChunks(sink.chunks))
	}
	if len(sink.usages) != 1 || sink.usages[0].CompletionTokens != 4 {
		t.Errorf("usage %+v", sink.usages)
	}

	// Without stop_details the refusal still gets a message, and no category.
	body = strings.Replace(body, `,"stop_details":{"type":"refusal","category":"cyber","explanation":"I can't help with \"that\"."}`, "", 1)
	sink, err = anthropicReplay(t, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, c := range sink.chunks {
		if d := gjson.GetBytes(c, "choices.0.delta"); d.Get("refusal").Exists() {
			got += d.Raw
		}
	}
	if got != `{"refusal":"The model declined to answer."}` {
		t.Errorf("refusal delta without stop_details: %s", got)
	}
}

func joinChunks(chunks [][]byte) string {
	var b strings.Builder
	for _, c := range chunks {
		b.Write(c)
		b.WriteByte('\n')
	}
	return b.String()
}
