package simulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkChatCompletion measures non-streamed answers through the handler in fast mode, without a network.
func BenchmarkChatCompletion(b *testing.B) {
	sim := New(Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody)))
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkChatCompletionLoopback measures non-streamed requests per second over loopback HTTP in fast mode.
func BenchmarkChatCompletionLoopback(b *testing.B) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = resp.Body.Read(make([]byte, 1024))
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkChatCompletionStream measures a 200-chunk stream through the handler in fast mode.
func BenchmarkChatCompletionStream(b *testing.B) {
	sim := New(Config{CompletionTokens: 200})
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatStream)))
	}
}

// burst sends a stream's events without flushing between them; without it every event is flushed.
func TestBurstStreamsWithoutFlushing(t *testing.T) {
	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for _, burst := range []bool{false, true} {
		rec := httptest.NewRecorder()
		New(Config{Burst: burst, CompletionTokens: 5}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "data: [DONE]") || strings.Count(rec.Body.String(), "data: ") < 6 {
			t.Fatalf("burst %v: status %d, body %s", burst, rec.Code, rec.Body)
		}
		if rec.Flushed == burst {
			t.Errorf("burst %v: flushed %v", burst, rec.Flushed)
		}
	}
}
