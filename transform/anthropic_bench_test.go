package transform

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAnthropicBuildRequest measures translating a tool round-trip request (the non-streamed request
// path's share in the dialect).
func BenchmarkAnthropicBuildRequest(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata/anthropic/request", "tool_round_trip.in.json"))
	if err != nil {
		b.Fatal(err)
	}
	a := NewAnthropic(AnthropicOptions{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.BuildRequest(&Request{Body: body, Model: "claude-sonnet-4-5", ClientModel: "anthropic/claude-sonnet-4-5"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnthropicResponse measures translating a non-streamed answer with thinking, text and two tool
// calls.
func BenchmarkAnthropicResponse(b *testing.B) {
	body := []byte(`{"id":"msg_01X","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
 "content":[{"type":"thinking","thinking":"Need the tool.","signature":"sig"},{"type":"text","text":"I'll calculate the tip..."},
            {"type":"tool_use","id":"toolu_01A","name":"calculateTip","input":{"billAmount": 50, "tipPercentage": 15}},
            {"type":"tool_use","id":"toolu_01B","name":"getWaiterName","input":{}}],
 "stop_reason":"tool_use","stop_sequence":null,
 "usage":{"input_tokens":679,"output_tokens":111,"cache_creation_input_tokens":3,"cache_read_input_tokens":100}}`)
	a := NewAnthropic(AnthropicOptions{})
	req := &Request{ClientModel: "anthropic/claude-sonnet-4-5"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.TranslateResponse(req, body); err != nil {
			b.Fatal(err)
		}
	}
}
