package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOllamaStream feeds arbitrary NDJSON bodies, seeded with the recorded Ollama stream, through the
// dialect's reader and stream translator: it must not panic, every chunk must be valid JSON, and a stream
// either ends with a finish chunk or with an error.
func FuzzOllamaStream(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(ollamaFixtures, "api_chat_stream.ndjson"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"message":{"content":"x"},"done":false}` + "\n" + `{"error":"model runner crashed"}` + "\n"))
	f.Add([]byte(`{"message":{"thinking":"\u2028\ud800","tool_calls":[{"function":{"name":1,"arguments":"[1"}},{"id":7,"function":{"arguments":{"a":[1, 2]}}}]},"done":true,"done_reason":5,"prompt_eval_count":"x","eval_count":-1}`))
	f.Add([]byte("{\"done\":true}\r\n{\"message\":{\"content\":\"late\"}}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		o := NewOllama(OllamaOptions{})
		tr := o.NewStream(&Request{ClientModel: "ollama/m", Stream: true})
		sink := fuzzRelay(t, tr, newNDJSONReader(bytes.NewReader(body), 1<<20))
		for _, u := range sink.usages {
			if !u.Known() {
				t.Fatalf("usage reported with an unknown origin: %+v", u)
			}
		}
	})
}

// FuzzOllamaRequest feeds arbitrary client bodies to BuildRequest: it must not panic, and what it accepts
// must become a valid JSON Ollama request.
func FuzzOllamaRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/ollama/*.in.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte(`{"messages":[{"role":"tool","tool_call_id":"x","content":null},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":\"\\u0000\"}"}}]}],"stop":[],"tools":[]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		out, err := NewOllama(OllamaOptions{KeepAlive: "5m"}).BuildRequest(&Request{Body: body, Model: "m", Stream: stream})
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
