package simulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tidwall/gjson"
)

func TestReportUsageOff(t *testing.T) {
	off := false
	srv := startServer(t, Config{ReportUsage: &off, CompletionTokens: 3})
	whole := []struct{ path, body string }{
		{"/v1/chat/completions", chatBody},
		{"/v1/messages", anthropicBody},
		{"/v1beta/models/gemini-2.5-flash:generateContent", geminiBody},
	}
	for _, tt := range whole {
		got := jsonBody(t, post(t, srv, tt.path, tt.body), 200)
		if strings.Contains(got.Raw, "usage") || strings.Contains(got.Raw, "Token") {
			t.Errorf("%s: usage reported although report_usage is off: %s", tt.path, got.Raw)
		}
	}
	streams := []struct{ path, body string }{
		{"/v1/chat/completions", chatStream},
		{"/v1/messages", strings.Replace(anthropicBody, `{"model"`, `{"stream":true,"model"`, 1)},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody},
	}
	for _, tt := range streams {
		events := mustEvents(t, post(t, srv, tt.path, tt.body))
		for _, ev := range events {
			if strings.Contains(ev.data, "usage") || strings.Contains(ev.data, "Token") {
				t.Errorf("%s: usage streamed although report_usage is off: %s", tt.path, ev.data)
			}
		}
	}
	// The per-request override turns it back on.
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody, FaultHeader, "report_usage=on"), 200)
	if got.Get("usage.completion_tokens").Int() != 3+1 { // OpenAI counts the token that ends the message
		t.Errorf("report_usage=on in the header: %s", got.Raw)
	}
}

func TestFailures(t *testing.T) {
	srv := startServer(t, Config{FailRate: 1, FailStatus: 429, RetryAfter: caddy.Duration(1500 * time.Millisecond)})
	tests := []struct {
		path, body string
		check      func(gjson.Result) bool
	}{
		{"/v1/chat/completions", chatBody, func(e gjson.Result) bool {
			return e.Get("error.type").String() == "rate_limit_error" && e.Get("error.code").String() == "rate_limit_exceeded"
		}},
		{"/v1/messages", anthropicBody, func(e gjson.Result) bool {
			return e.Get("type").String() == "error" && e.Get("error.type").String() == "rate_limit_error" &&
				strings.HasPrefix(e.Get("request_id").String(), "req_")
		}},
		{"/v1beta/models/g:streamGenerateContent?alt=sse", geminiBody, func(e gjson.Result) bool {
			return e.Get("error.code").Int() == 429 && e.Get("error.status").String() == "RESOURCE_EXHAUSTED" &&
				e.Get("error.details.0.retryDelay").String() == "1.5s"
		}},
	}
	for _, tt := range tests {
		resp := post(t, srv, tt.path, tt.body)
		got := jsonBody(t, resp, 429)
		if !tt.check(got) {
			t.Errorf("%s: error body %s", tt.path, got.Raw)
		}
		if resp.Header.Get("Retry-After") != "2" {
			t.Errorf("%s: Retry-After %q, want 2 (1.5s rounded up)", tt.path, resp.Header.Get("Retry-After"))
		}
	}
}

func TestFailRateIsARate(t *testing.T) {
	srv := startServer(t, Config{FailRate: 0.5, CompletionTokens: 1})
	failed := 0
	const n = 400
	for range n {
		resp := post(t, srv, "/v1/chat/completions", chatBody)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == DefaultFailStatus {
			failed++
		}
	}
	if failed < n*35/100 || failed > n*65/100 { // 7 standard deviations either side
		t.Errorf("%d of %d requests failed at fail_rate 0.5", failed, n)
	}
}

func TestFaultHeader(t *testing.T) {
	srv := startServer(t, Config{})
	resp := post(t, srv, "/v1/chat/completions", chatBody, FaultHeader, "status=503; retry_after=3s")
	got := jsonBody(t, resp, 503)
	if got.Get("error.type").String() != "service_unavailable_error" || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("error %s, Retry-After %q", got.Raw, resp.Header.Get("Retry-After"))
	}
	got = jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody, FaultHeader, "completion_tokens=4"), 200)
	if got.Get("choices.0.message.content").String() != storyWords(4) || got.Get("usage.completion_tokens").Int() != 4+1 {
		t.Errorf("completion_tokens=4: %s", got.Raw)
	}
	for _, bad := range []string{"status=200", "explode=1", "latency=soon", "cut_after=0"} {
		got = jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody, FaultHeader, bad), 400)
		if !strings.Contains(got.Get("error.message").String(), FaultHeader) {
			t.Errorf("%s: error does not name the header: %s", bad, got.Raw)
		}
	}
}

func TestRequireKey(t *testing.T) {
	srv := startServer(t, Config{RequireKey: "sk-sim"})
	tests := []struct {
		path, body, header, value, errType string
	}{
		{"/v1/chat/completions", chatBody, "Authorization", "Bearer sk-sim", "error.type"},
		{"/v1/messages", anthropicBody, "x-api-key", "sk-sim", "error.type"},
		{"/v1beta/models/g:generateContent", geminiBody, "x-goog-api-key", "sk-sim", "error.status"},
	}
	for _, tt := range tests {
		got := jsonBody(t, post(t, srv, tt.path, tt.body, tt.header, "wrong"), 401)
		if want := map[string]string{"error.type": "authentication_error", "error.status": "UNAUTHENTICATED"}[tt.errType]; got.Get(tt.errType).String() != want {
			t.Errorf("%s with a wrong key: %s", tt.path, got.Raw)
		}
		jsonBody(t, post(t, srv, tt.path, tt.body, tt.header, tt.value), 200)
	}
}

func TestCutAfter(t *testing.T) {
	srv := startServer(t, Config{CutAfter: 3})
	resp := post(t, srv, "/v1/chat/completions", chatStream)
	events, err := readEvents(t, resp.Body)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream ended with %v, want an unexpected EOF (connection cut)", err)
	}
	if len(events) != 3 {
		t.Errorf("got %d events before the cut, want 3", len(events))
	}

	resp = post(t, srv, "/v1/chat/completions", chatBody)
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("non-streamed answer with cut_after was read whole")
	}
	// The header can turn a cut on for one request of a healthy simulator.
	healthy := startServer(t, Config{})
	events, err = readEvents(t, post(t, healthy, "/v1/messages",
		strings.Replace(anthropicBody, `{"model"`, `{"stream":true,"model"`, 1), FaultHeader, "cut_after=2").Body)
	if err == nil || len(events) != 2 || events[1].name != "content_block_start" {
		t.Errorf("cut_after=2 header: %d events, err %v", len(events), err)
	}
}

// returned wraps h and closes the returned channel each time a request's handler returns.
func returned(h http.Handler) (http.Handler, chan struct{}) {
	done := make(chan struct{}, 16)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		h.ServeHTTP(w, r)
	}), done
}

func TestHangUntilClientLeaves(t *testing.T) {
	h, done := returned(New(Config{Hang: true}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("hang answered with status %d", resp.StatusCode)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("handler still hanging 2s after the client went away")
	}
}

func TestStreamStopsOnClientDisconnect(t *testing.T) {
	h, done := returned(New(Config{TokensPerSecond: 20, CompletionTokens: 1000}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	resp := postCtx(t, ctx, srv, "/v1/chat/completions", chatStream)
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("stream still running 1s after the client went away")
	}
}

func TestTiming(t *testing.T) {
	srv := startServer(t, Config{
		Latency: caddy.Duration(40 * time.Millisecond), TTFT: caddy.Duration(60 * time.Millisecond),
		TokensPerSecond: 100, CompletionTokens: 6,
	})
	start := time.Now()
	resp := post(t, srv, "/v1/chat/completions", chatStream)
	if headers := time.Since(start); headers < 40*time.Millisecond {
		t.Errorf("headers after %v, before the 40ms latency", headers)
	}
	sse := make([]byte, 1)
	if _, err := resp.Body.Read(sse); err != nil {
		t.Fatal(err)
	}
	if first := time.Since(start); first < 100*time.Millisecond {
		t.Errorf("first event after %v, before latency+ttft (100ms)", first)
	}
	mustEvents(t, resp)
	// 6 tokens at 100/s: the last is due 50ms after the first.
	if total := time.Since(start); total < 150*time.Millisecond {
		t.Errorf("stream done after %v, faster than 100 tokens/s allows", total)
	}

	start = time.Now()
	jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody), 200)
	if total := time.Since(start); total < 160*time.Millisecond {
		t.Errorf("non-streamed answer after %v, before latency+ttft+generation (160ms)", total)
	}
}
