package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// BenchmarkVideoDownload downloads a 64 MiB video through the gateway from an OpenAI-compatible upstream: the
// bytes are relayed a 32 KiB buffer at a time, so the memory allocated per download (B/op) stays tens of KiB
// whatever the video's size.
func BenchmarkVideoDownload(b *testing.B) {
	const size = 64 << 20
	chunk := make([]byte, 1<<20)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	b.Cleanup(up.Close)
	g, err := New(Config{Providers: []Provider{{Name: "openai", BaseURL: up.URL + "/v1", APIKeys: []string{"k"},
		Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	path := "/v1/videos/" + wrapVideoID("openai", 0, "video_1") + "/content"
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		g.Serve(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.n != size {
			b.Fatalf("%d bytes relayed, want %d", w.n, size)
		}
	}
}
