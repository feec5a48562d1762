package transform

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenAIStream feeds arbitrary upstream bodies, seeded with the recorded OpenAI and Azure streams, through
// the passthrough's stream scanner: it must not panic; every chunk it relays must be a JSON object whose model
// (as a client's JSON parser reads it) is the client's name; and a stream ends with [DONE], a finish chunk or
// an error.
func FuzzOpenAIStream(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "fixtures", "openai", "*.sse"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"id\":\"a\",\"model\":\"m\",\"model\":\"n\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n"))
	f.Add([]byte("data: {\"object\":\"error\",\"message\":\"bad\",\"code\":400}\n\n"))
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1e12}}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {not json at all}\n\n"))
	f.Add([]byte("data: {\"mod\\u0065l\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n"))
	f.Add([]byte("data: [1,2]\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		const client = "openai/gpt-4o-mini"
		tr := NewOpenAI(OpenAIOptions{}).NewStream(&Request{ClientModel: client, Stream: true})
		sink := &recordingSink{}
		r := NewSSEReader(bytes.NewReader(body), 1<<20)
		var streamErr error
		done := false
		for streamErr == nil && !done {
			ev, err := r.Next()
			if err == io.EOF {
				streamErr = tr.Finish(sink, true)
				break
			}
			if err != nil {
				return
			}
			done, streamErr = tr.Translate(ev, sink)
		}
		for _, c := range sink.chunks {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(c, &members); err != nil {
				t.Fatalf("relayed chunk is not a JSON object: %v: %q", err, c)
			}
			if m, ok := members["model"]; ok {
				var name string
				if json.Unmarshal(m, &name) != nil || name != client {
					t.Fatalf("relayed chunk's model is %s, want %q: %q", m, client, c)
				}
			}
		}
		if streamErr != nil {
			if _, ok := streamErr.(*Error); !ok {
				t.Fatalf("stream error %v is not an *Error", streamErr)
			}
		}
	})
}
