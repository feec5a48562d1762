package transform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzBedrockStream feeds arbitrary bytes, seeded with the recorded ConverseStream bodies, through the AWS
// event-stream reader and the Bedrock stream translator: no panic, every chunk valid JSON, and a stream ends
// with a finish chunk or an error.
func FuzzBedrockStream(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/fixtures/bedrock/*.eventstream")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(bedrockStreamBody(3))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr := NewBedrock(BedrockOptions{}).NewStream(&Request{ClientModel: "bedrock/m", Stream: true})
		fuzzRelay(t, tr, NewEventStreamReader(bytes.NewReader(body), 1<<20))
	})
}

// FuzzBedrockRequest feeds arbitrary client bodies to BuildRequest: no panic, and what it accepts is a valid
// JSON Converse request.
func FuzzBedrockRequest(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"system","content":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"},"cache_control":{}}],"tool_choice":"required","reasoning_effort":"low"}`), false)
	f.Add(cachedRequest, true)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		out, err := NewBedrock(BedrockOptions{}).BuildRequest(&Request{Body: body, Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Stream: stream})
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

// FuzzBedrockMessagesStream feeds arbitrary chunk payloads (as they are, and as the Anthropic event a
// chunk's base64 carries) and exception messages to the relay of InvokeModelWithResponseStream: no panic,
// every event relayed is valid JSON, a failure is an *Error.
func FuzzBedrockMessagesStream(f *testing.F) {
	f.Add([]byte(`{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}`), "chunk")
	f.Add([]byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1,"outputTokenCount":2}}`), "chunk")
	f.Add([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s=="}}`), "chunk")
	f.Add([]byte(`{"message":"slow down"}`), "exception:throttlingException")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		for _, payload := range [][]byte{data, []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString(data) + `"}`)} {
			tr := NewBedrock(BedrockOptions{}).NewMessagesStream(&Request{ClientModel: "bedrock/c", Stream: true})
			rec := &eventRecorder{}
			for range 2 {
				done, err := tr.Translate(Event{Name: []byte(name), Data: payload}, rec)
				if err != nil {
					if _, ok := err.(*Error); !ok {
						t.Fatalf("error %v is not an *Error", err)
					}
					break
				}
				if done {
					break
				}
			}
			_ = tr.Finish(rec, true)
		}
	})
}
