package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/router"
)

// answerTransport answers every upstream request with one fixed status and body, without a network.
type answerTransport struct {
	status      int
	contentType string
	body        []byte
}

func (a *answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_ = r.Body.Close()
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {a.contentType}},
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: -1, Request: r}, nil
}

// FuzzUpstreamAnswer feeds arbitrary upstream answers (status, body, stream events) through the whole engine
// for every dialect, and checks that the client always gets a status in the documented range and a body it
// can read: one JSON value, or server-sent events whose data are JSON or [DONE].
func FuzzUpstreamAnswer(f *testing.F) {
	f.Add(uint8(0), false, uint16(200), []byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	f.Add(uint8(0), true, uint16(200), []byte("data: {\"id\":\"s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	f.Add(uint8(2), true, uint16(200), []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n"))
	f.Add(uint8(3), true, uint16(200), []byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n"))
	f.Add(uint8(4), true, uint16(200), []byte("{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"done\":true,\"prompt_eval_count\":1,\"eval_count\":1}\n"))
	f.Add(uint8(1), false, uint16(429), []byte(`{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}`))
	f.Add(uint8(3), false, uint16(200), []byte(`{"error":{"code":503,"message":"busy"}}`))
	f.Add(uint8(0), false, uint16(200), []byte(strings.Repeat("[", 10000)))
	f.Add(uint8(0), true, uint16(200), []byte("data: {not json}\n\n"))
	f.Add(uint8(4), false, uint16(401), []byte(`{"error":"Invalid API key provided: Bearer fuzz-secret-key-123"}`))
	f.Add(uint8(0), true, uint16(200), []byte(`data: {"error":{"message":"key fuzz-secret-key-123","type":"x","param":null,"code":null}}`+"\n\n"))
	f.Fuzz(func(t *testing.T, which uint8, stream bool, status uint16, body []byte) {
		d := hostileDialects[int(which)%len(hostileDialects)]
		tr := &answerTransport{status: 200 + int(status)%400, contentType: "application/json", body: body}
		if stream {
			tr.contentType = "text/event-stream"
		}
		g, err := New(Config{Providers: []Provider{{Name: "up", BaseURL: "http://upstream.invalid/v1", APIKeys: []string{"fuzz-secret-key-123"},
			Dialect: d.dialect(), Transport: tr}}, MaxResponseBody: 1 << 20, MaxEventSize: 64 << 10,
			Retry: router.RetryPolicy{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		req := `{"model":"up/m","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			req = `{"model":"up/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		rec := httptest.NewRecorder()
		res := g.Serve(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(req)))
		if rec.Code < 200 || rec.Code > 599 || rec.Code >= 300 && rec.Code < 400 || rec.Code != res.Status {
			t.Fatalf("status %d (result %d)", rec.Code, res.Status)
		}
		out := rec.Body.Bytes()
		if bytes.Contains(out, []byte("fuzz-secret-key-123")) && (rec.Code != http.StatusOK || bytes.Contains(out, []byte(`"error"`))) {
			t.Fatalf("an error relayed the provider key: %s", out)
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/event-stream" {
			if !json.Valid(bytes.TrimSpace(out)) {
				t.Fatalf("%d: body is not JSON: %q", rec.Code, out)
			}
			return
		}
		for _, ev := range sseEvents(rec.Body.String()) {
			if ev != "[DONE]" && !json.Valid([]byte(ev)) {
				t.Fatalf("stream event is not JSON: %q", ev)
			}
		}
	})
}
