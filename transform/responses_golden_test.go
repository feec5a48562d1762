package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestResponsesRequestGolden maps every Responses request of testdata/responses/request (<name>.in.json) to
// the chat request the dialects get (<name>.out.json); a case named error_* must be refused with a 400.
func TestResponsesRequestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/responses/request/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if CheckJSON(body) != nil {
				t.Fatalf("%s is not valid JSON", in)
			}
			chat, err := ResponsesToChat(body)
			if wantErr := strings.HasPrefix(name, "error_"); wantErr != (err != nil) {
				t.Fatalf("ResponsesToChat: %v; a case named error_* must be refused and no other", err)
			}
			var out *Outgoing
			if err == nil {
				if CheckJSON(chat) != nil {
					t.Fatalf("the chat request is not valid JSON: %s", chat)
				}
				out = &Outgoing{Body: chat}
			}
			golden(t, filepath.Join("testdata/responses/request", name+".out.json"), goldenRequest(t, out, err))
		})
	}
}

// generated matches what changes from run to run in a translated Response: minted ids and completed_at.
var generated = regexp.MustCompile(`"((?:resp|msg|rs)_[A-Za-z0-9]{24})"|"completed_at":\d+`)

// TestResponsesAnswerGolden turns every chat answer of testdata/responses/response (<name>.chat.json, for the
// Responses request <name>.request.json) into the Response the client gets (<name>.out.json; minted ids and
// completed_at are replaced by placeholders).
func TestResponsesAnswerGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/responses/response/*.chat.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".chat.json")
		t.Run(name, func(t *testing.T) {
			chat, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			reqBody, err := os.ReadFile(filepath.Join("testdata/responses/response", name+".request.json"))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := parseOpenAIUsage(gjson.GetBytes(chat, "usage"))
			req := &Request{Body: reqBody, ClientModel: gjson.GetBytes(reqBody, "model").Str}
			got, err := ChatToResponses(req, chat, u)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			got = generated.ReplaceAllFunc(got, func(m []byte) []byte {
				if bytes.HasPrefix(m, []byte(`"completed_at"`)) {
					return []byte(`"completed_at":"<now>"`)
				}
				return append(append([]byte(`"`), m[1:bytes.IndexByte(m, '_')+1]...), `<id>"`...)
			})
			var b bytes.Buffer
			if err := json.Indent(&b, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			b.WriteByte('\n')
			golden(t, filepath.Join("testdata/responses/response", name+".out.json"), b.Bytes())
		})
	}
}
