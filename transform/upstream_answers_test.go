package transform

import (
	"bytes"
	"errors"
	"net/http"
	"runtime/debug"
	"testing"
)

// Model names that would change the upstream URL's path are refused before any request is built, in every
// dialect that puts the model into the path.
func TestModelInPathIsChecked(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	dialects := map[string]Dialect{
		"azure":  NewOpenAI(OpenAIOptions{Azure: &AzureOptions{APIVersion: "2024-10-21"}}),
		"gemini": NewGemini(GeminiOptions{}),
	}
	bad := []string{"", ".", "..", "../x", "a/b", `a\b`, "a/../../b", "x\x00y", "x\ny", "x\x7fy"}
	for name, d := range dialects {
		for _, model := range bad {
			out, err := d.BuildRequest(&Request{Body: body, Model: model})
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Type != "invalid_request_error" || e.Param != "model" {
				path := ""
				if out != nil {
					path = out.Path
				}
				t.Errorf("%s: model %q: err %v, path %q; want a 400 naming model", name, model, err, path)
			}
		}
		out, err := d.BuildRequest(&Request{Body: body, Model: "gpt 4o:latest?x#y"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := map[string]string{
			"azure":  "/openai/deployments/gpt%204o:latest%3Fx%23y/chat/completions?api-version=2024-10-21",
			"gemini": "/models/gpt%204o:latest%3Fx%23y:generateContent",
		}[name]; out.Path != want {
			t.Errorf("%s: path %q, want %q", name, out.Path, want)
		}
	}
	az := NewOpenAI(OpenAIOptions{Azure: &AzureOptions{Deployments: map[string]string{"gpt-4o": ".."}}})
	if _, err := az.BuildRequest(&Request{Body: body, Model: "gpt-4o"}); err == nil {
		t.Error("azure: a deployment name of '..' was put in the path")
	}
}

// upstreamDialects are the dialects whose answers the hardening tests feed hostile bytes.
func upstreamDialects() map[string]Dialect {
	return map[string]Dialect{
		"openai":    NewOpenAI(OpenAIOptions{}),
		"anthropic": NewAnthropic(AnthropicOptions{}),
		"gemini":    NewGemini(GeminiOptions{}),
		"ollama":    NewOllama(OllamaOptions{}),
		"bedrock":   NewBedrock(BedrockOptions{}),
		"vertex":    NewVertex(VertexOptions{Project: "p", Location: "global"}),
		"cohere":    NewCohere(),
	}
}

// wantUpstreamError fails the test unless err is an *Error with the given status and code.
func wantUpstreamError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Errorf("%s: got %#v, want a %d %s", what, err, status, code)
	}
}

// An upstream that answers 200 with megabytes of '[' gets a 502 bad_upstream_response from every translator,
// whole or as a stream event, and its error bodies are read as plain text: no parser recurses into them.
func TestDeepUpstreamJSONIsABadResponse(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20)) // a recursion over the input would overflow at once
	deep := bytes.Repeat([]byte("["), 8<<20)
	deepObject := append([]byte(`{"choices":`), bytes.Repeat([]byte(`[{"a":`), 1<<20)...)
	req := &Request{Model: "m", ClientModel: "p/m"}
	for name, d := range upstreamDialects() {
		for _, body := range [][]byte{deep, deepObject} {
			_, _, err := d.TranslateResponse(req, body)
			wantUpstreamError(t, name+" response", err, http.StatusBadGateway, "bad_upstream_response")
			_, err = d.NewStream(req).Translate(Event{Data: body}, &recordingSink{})
			wantUpstreamError(t, name+" stream event", err, http.StatusBadGateway, "bad_upstream_response")
			if e := d.TranslateError(http.StatusInternalServerError, nil, body); e == nil || e.Status != 500 || e.Raw != nil {
				t.Errorf("%s error body: %#v", name, e)
			}
		}
	}
}

// A stream event whose data is not JSON ends the stream with bad_upstream_response in every dialect: it is
// never relayed, nor silently skipped.
func TestInvalidStreamEventEndsTheStream(t *testing.T) {
	req := &Request{Model: "m", ClientModel: "p/m"}
	for name, d := range upstreamDialects() {
		for _, data := range []string{`{not json at all}`, `{"choices":[}`, `{"a":1}}`, `{"a":"\x01"}`, `[1,2`} {
			sink := &recordingSink{}
			_, err := d.NewStream(req).Translate(Event{Data: []byte(data)}, sink)
			wantUpstreamError(t, name+" "+data, err, http.StatusBadGateway, "bad_upstream_response")
			if len(sink.chunks) != 0 {
				t.Errorf("%s %s: relayed %q", name, data, sink.chunks)
			}
		}
	}
}

// A 200 whose body is an error is that error, with the status its type stands for, never a completion:
// whole, and as the first event of a stream.
func TestErrorBodyWithStatus200(t *testing.T) {
	req := &Request{Model: "m", ClientModel: "p/m"}
	cases := []struct {
		dialect, body string
		status        int
	}{
		{"openai", `{"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`, 429},
		{"openai", `{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}`, 400},
		{"openai", `{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, 429},
		{"openai", `{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}`, 401},
		{"openai", `{"error":{"message":"overloaded","type":"server_error","code":null}}`, 500},
		{"openai", `{"error":{"message":"busy","code":503}}`, 503},
		{"openai", `{"error":"something broke"}`, 502},
		{"openai", `{"object":"error","message":"bad request","type":"BadRequestError","param":null,"code":400}`, 400},
		{"anthropic", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 503},
		{"anthropic", `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, 429},
		{"anthropic", `{"type":"error","error":{"type":"new_error","message":"who knows"}}`, 502},
		{"gemini", `{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`, 429},
		{"gemini", `{"error":{"message":"Internal","status":"INTERNAL"}}`, 502},
		{"ollama", `{"error":"model 'x' not found"}`, 502},
	}
	for _, c := range cases {
		d := upstreamDialects()[c.dialect]
		out, _, err := d.TranslateResponse(req, []byte(c.body))
		var e *Error
		if !errors.As(err, &e) || e.Status != c.status {
			t.Errorf("%s %s: response %s, error %#v; want a %d", c.dialect, c.body, out, err, c.status)
		}
		sink := &recordingSink{}
		_, err = d.NewStream(req).Translate(Event{Data: []byte(c.body)}, sink)
		if !errors.As(err, &e) || e.Status != c.status || len(sink.chunks) != 0 {
			t.Errorf("%s %s: stream chunks %q, error %#v; want a %d", c.dialect, c.body, sink.chunks, err, c.status)
		}
	}
	// A completion that carries "error": null is still a completion.
	ok := `{"id":"x","object":"chat.completion","created":1,"model":"m","error":null,"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`
	if _, _, err := upstreamDialects()["openai"].TranslateResponse(req, []byte(ok)); err != nil {
		t.Errorf("completion with error null: %v", err)
	}
}

// A chunk with "error": null is relayed like any other; the single-pass reading of the chunk still finds its
// model, usage and choices wherever they are and whatever white space surrounds them.
func TestOpenAIStreamReadsMembersInOnePass(t *testing.T) {
	sink, err := runOpenAIStream(t, "data: {\"choices\" : [ {\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"} ] , \"error\":null, "+
		"\"usage\" :\t{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}, \"model\" : \"upstream-name\" }\n\ndata: [DONE]\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.chunks) != 1 || !bytes.Contains(sink.chunks[0], []byte(`"model" : "openai/gpt-4o-mini" }`)) ||
		len(sink.usages) != 1 || sink.usages[0].TotalTokens != 4 || string(sink.raw) != `{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}` {
		t.Fatalf("chunks %q usages %+v raw %s", sink.chunks, sink.usages, sink.raw)
	}
}
