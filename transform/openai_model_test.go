package transform

import (
	"testing"

	"github.com/tidwall/sjson"
)

// TestOptimisticModelSetIsTheFullRewrite pins what OpenAI.build relies on: sjson's optimistic set of model
// writes the same bytes as its full rewrite, duplicate and escaped keys included.
func TestOptimisticModelSetIsTheFullRewrite(t *testing.T) {
	for _, b := range []string{`{"model":"a","x":1,"model":"b"}`, `{"x":{"model":1},"model":"a"}`, `{"x":1}`,
		`{ "model" : "a" }`, `{"mo\u0064el":"a","model":"b"}`, `{"model":null}`} {
		for _, m := range []string{"gpt-4o", "a<b&c", "é\"\\", ""} {
			full, _ := sjson.SetBytes([]byte(b), "model", m)
			opt, _ := sjson.SetBytesOptions([]byte(b), "model", m, &sjson.Options{Optimistic: true})
			if string(full) != string(opt) {
				t.Errorf("%s with %q: full %s, optimistic %s", b, m, full, opt)
			}
		}
	}
}
