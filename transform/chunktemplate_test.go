package transform

import (
	"strings"
	"testing"
)

// scanSpans is what a full scan finds: validity and the openAIStream member spans.
func scanSpans(b []byte) ([memberCount]span, error) {
	s := &openAIStream{}
	err := scanJSON(b, s.member)
	return s.spans, err
}

// templateSpans is what the template finds for cur, after prev was scanned and stored.
func templateSpans(t *testing.T, prev, cur string) ([memberCount]span, bool) {
	t.Helper()
	spans, err := scanSpans([]byte(prev))
	if err != nil {
		t.Fatalf("template %s: %v", prev, err)
	}
	var tmpl chunkTemplate
	tmpl.store([]byte(prev), spans[:])
	var got [memberCount]span
	ok := tmpl.match([]byte(cur), got[:])
	return got, ok
}

func TestChunkTemplate(t *testing.T) {
	const head = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"`
	chunk := func(content, tail string) string {
		return head + content + `"},"finish_reason":null}]` + tail + `}`
	}
	prev := chunk(" word", `,"obfuscation":"ab"`)
	for _, c := range []struct {
		name, cur string
		match     bool
	}{
		{"same", prev, true},
		{"longer text", chunk(" a much longer piece of text", `,"obfuscation":"ab"`), true},
		{"empty text", chunk("", `,"obfuscation":"ab"`), true},
		{"text and pad both differ", chunk(" other", `,"obfuscation":"xyz123"`), true},
		{"escapes in the new text", chunk(`line\nbreak \"quoted\" \u00e9`, `,"obfuscation":"ab"`), true},
		{"bad escape", chunk(`\x`, `,"obfuscation":"ab"`), false},
		{"control character", chunk("a\tb", `,"obfuscation":"ab"`), false},
		{"unterminated", head + " word", false},
		{"a member more", chunk(" word", `,"obfuscation":"ab","usage":null`), false},
		{"key differs", strings.Replace(prev, `"obfuscation"`, `"obfuscatiox"`, 1), false},
		{"top-level key differs", strings.Replace(prev, `"model"`, `"mode1"`, 1), false},
		{"string becomes a number", strings.Replace(prev, `"obfuscation":"ab"`, `"obfuscation":12`, 1), false},
		{"object value differs", strings.Replace(prev, `"chat.completion.chunk"`, `"error"`, 1), true},
		{"whitespace differs", strings.Replace(prev, `"id":`, `"id" :`, 1), false},
		{"trailing garbage", prev + "x", false},
		{"truncated", prev[:len(prev)-1], false},
	} {
		got, ok := templateSpans(t, prev, c.cur)
		if ok != c.match {
			t.Errorf("%s: match %v, want %v", c.name, ok, c.match)
			continue
		}
		want, err := scanSpans([]byte(c.cur))
		if ok && (err != nil || got != want) {
			t.Errorf("%s: template spans %v (scan: %v, %v)", c.name, got, want, err)
		}
	}
	// A template is never an event with a backslash (its quotes would not all be real), nor a large one.
	var tmpl chunkTemplate
	tmpl.store([]byte(chunk(`\"`, "")), make([]span, memberCount))
	if tmpl.event != nil {
		t.Error("an event with an escape became the template")
	}
	tmpl.store([]byte(chunk(strings.Repeat("x", maxTemplateSize), "")), make([]span, memberCount))
	if tmpl.event != nil {
		t.Error("an event above maxTemplateSize became the template")
	}
}

// FuzzChunkTemplate checks that the template accepts only what the full scan accepts, with the same spans.
func FuzzChunkTemplate(f *testing.F) {
	const a = `{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}`
	f.Add([]byte(a), []byte(strings.Replace(a, `"hi"`, `"hello there"`, 1)))
	f.Add([]byte(a), []byte(strings.Replace(a, `"hi"`, `"a\"b\\"`, 1)))
	f.Add([]byte(a), []byte(strings.Replace(a, `"m"`, `"model-name"`, 1)))
	f.Add([]byte(a), []byte(strings.Replace(a, `"hi"`, `null`, 1)))
	f.Add([]byte(`{"a":"x","b":["y",{"c":"z"}]}`), []byte(`{"a":"xx","b":["","c":"z"}]}`))
	f.Fuzz(func(t *testing.T, prev, cur []byte) {
		spans, err := scanSpans(prev)
		if err != nil {
			return
		}
		var tmpl chunkTemplate
		tmpl.store(prev, spans[:])
		var got [memberCount]span
		if !tmpl.match(cur, got[:]) {
			return
		}
		want, err := scanSpans(cur)
		if err != nil {
			t.Fatalf("the template accepted %q (template %q), which the scan refuses: %v", cur, prev, err)
		}
		if got != want {
			t.Fatalf("spans %v, scan's %v, for %q after %q", got, want, cur, prev)
		}
	})
}
