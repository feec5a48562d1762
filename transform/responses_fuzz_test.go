package transform

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzResponsesToChat feeds arbitrary request bodies, seeded with the golden Responses requests, through the
// Responses→chat translator: it must not panic; it refuses with a 400 *Error, or makes a valid JSON chat request
// whose messages are a non-empty array of objects with a role.
func FuzzResponsesToChat(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "responses", "request", "*.in.json"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"input":[{"type":"function_call","call_id":"c","name":"n"},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]}`))
	f.Add([]byte(`{"input":[{"type":"function_call_output","call_id":"c","output":{"x":1}}],"tools":[{"type":"function"}]}`))
	f.Add([]byte(`{"input":"x","text":{"format":{"type":"json_schema","schema":1}},"tool_choice":{"type":"allowed_tools","mode":"required"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if CheckJSON(body) != nil {
			return // the gateway refuses such bodies before any translator sees them
		}
		out, err := ResponsesToChat(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Fatalf("error %v is not a 400 with a message", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("chat request is not valid JSON: %s\nfrom %s", out, body)
		}
		msgs := gjson.GetBytes(out, "messages")
		if !msgs.IsArray() || len(msgs.Array()) == 0 {
			t.Fatalf("no messages: %s", out)
		}
		for _, m := range msgs.Array() {
			if m.Get("role").Str == "" {
				t.Fatalf("message without a role: %s", out)
			}
		}
	})
}
