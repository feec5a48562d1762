package transform

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// FuzzMessagesToChat checks that no Messages request makes the translator panic or produce a chat request
// that is not valid JSON, that every refusal is a 400 *Error, and that the local count never fails where the
// translation succeeded.
func FuzzMessagesToChat(f *testing.F) {
	ins, _ := filepath.Glob("testdata/messages/request/*.in.json")
	for _, p := range ins {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"http://x"}}]}]}]}`))
	f.Add([]byte(`{"max_tokens":1,"system":[{"type":"text","text":"\u2028\ud800"}],"messages":[{"role":"assistant","content":[]}]}`))
	tok := usage.NewTokenizer()
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := MessagesToChat(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("refusal %v is not a 400 *Error", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid chat request %s from %s", out, body)
		}
		if !gjson.GetBytes(out, "messages").IsArray() {
			t.Fatalf("no messages in %s", out)
		}
		if _, err := CountMessagesTokens(tok, "m", body); err != nil {
			t.Fatalf("count refused what translation accepted: %v", err)
		}
	})
}
