package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// A model name that is not valid UTF-8, is longer than 256 bytes or holds a control character is refused at
// validation with a 400 naming the field, before any upstream is called, whether it comes as model or as an
// entry of models (issue #10, item 5).
func TestMalformedModelNamesAre400(t *testing.T) {
	var calls int
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		calls++
		w.WriteHeader(http.StatusNotFound) // not retried: one call per request
	})
	g := newGateway(t, base)
	const msgs = `,"messages":[{"role":"user","content":"hi"}]}`
	long := "openai/" + strings.Repeat("m", maxModelName)
	for _, c := range []struct{ body, param, reason string }{
		{`{"model":"openai/gpt-4o` + "\xff\xfe" + `"` + msgs, "model", "UTF-8"},
		{`{"model":"openai/\ud800"` + msgs, "model", "UTF-8"},
		{`{"model":"` + long + `"` + msgs, "model", "256"},
		{`{"model":"openai/gpt\u0000x"` + msgs, "model", "control"},
		{`{"model":"openai/gpt\nx"` + msgs, "model", "control"},
		{`{"model":"openai/gpt` + "\u0085" + `x"` + msgs, "model", "control"},
		{`{"model":"openai/gpt-4o","models":["openai/a","openai/` + "\x80" + `"]` + msgs, "models", "models[1]"},
		{`{"models":["` + long + `"]` + msgs, "models", "256"},
		{`{"models":["openai/a\tb"]` + msgs, "models", "control"},
	} {
		rec := post(t, g, c.body)
		b := rec.Body.String()
		if rec.Code != http.StatusBadRequest || gjson.Get(b, "error.type").Str != "invalid_request_error" ||
			gjson.Get(b, "error.param").Str != c.param || gjson.Get(b, "error.code").Str != "invalid_model_name" ||
			!strings.Contains(gjson.Get(b, "error.message").Str, c.reason) {
			t.Errorf("%q: %d %s, want 400 invalid_model_name for %s mentioning %q", c.body, rec.Code, b, c.param, c.reason)
		}
	}
	if calls != 0 {
		t.Errorf("the upstream was called %d times for malformed model names", calls)
	}
	// The longest allowed name and non-ASCII names pass validation (and reach the upstream).
	for _, m := range []string{long[:maxModelName], "openai/modèle-日本"} {
		if rec := post(t, g, `{"model":"`+m+`"`+msgs); rec.Code == http.StatusBadRequest {
			t.Errorf("%q refused: %s", m, rec.Body)
		}
	}
}
