package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// uploadBody is a multipart transcription body made on the fly: its parts, with a file of size bytes of a
// fixed pattern, never held whole by the client.
type uploadBody struct {
	parts []string // the form before and after the file
	size  int64
	i     int
	sent  int64
	head  strings.Reader
	fill  []byte
}

const uploadBoundary = "benchboundary"

func newUploadBody(size int64, fileFirst bool) *uploadBody {
	model := "--" + uploadBoundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n"
	file := "--" + uploadBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n"
	before, after := model+file, "\r\n--"+uploadBoundary+"--\r\n"
	if fileFirst {
		before, after = file, "\r\n"+model+"--"+uploadBoundary+"--\r\n"
	}
	u := &uploadBody{parts: []string{before, after}, size: size, fill: make([]byte, 64<<10)}
	for i := range u.fill {
		u.fill[i] = byte(i * 7)
	}
	u.head.Reset(before)
	return u
}

func (u *uploadBody) Read(p []byte) (int, error) {
	switch u.i {
	case 0, 2:
		n, err := u.head.Read(p)
		if err == io.EOF {
			if u.i == 2 {
				return 0, io.EOF
			}
			u.i = 1
			return u.Read(p)
		}
		return n, err
	}
	if u.sent == u.size {
		u.i = 2
		u.head.Reset(u.parts[1])
		return u.Read(p)
	}
	n := copy(p, u.fill[:min(int64(len(u.fill)), u.size-u.sent)])
	u.sent += int64(n)
	return n, nil
}

// BenchmarkTranscriptionUpload sends a 25 MB transcription through the gateway over real connections, the
// model before the file (streamed upstream as it arrives) and after it (the file spooled to a temporary file
// first, as openai-go and the npm SDK send it). Everything runs in this process: B/op counts what the client,
// the gateway and the upstream allocated; peak-heap-B is the largest growth of the live heap seen during a
// request, sampled every millisecond.
func BenchmarkTranscriptionUpload(b *testing.B) {
	for _, tc := range []struct {
		name      string
		fileFirst bool
	}{{"model-first", false}, {"file-first", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var received atomic.Int64
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				received.Store(n)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"text":"ok","usage":{"type":"duration","seconds":1}}`)
			}))
			defer up.Close()
			g, err := New(Config{Providers: []Provider{{Name: "openai", BaseURL: up.URL + "/v1",
				Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}}})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			srv := httptest.NewServer(g)
			defer srv.Close()
			const size = 25 << 20
			var peak int64
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				stop := make(chan struct{})
				done := make(chan int64)
				go func() {
					var m runtime.MemStats
					top := int64(0)
					t := time.NewTicker(time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							done <- top
							return
						case <-t.C:
							runtime.ReadMemStats(&m)
							top = max(top, int64(m.HeapAlloc)-int64(before.HeapAlloc))
						}
					}
				}()
				resp, err := http.Post(srv.URL+"/v1/audio/transcriptions", "multipart/form-data; boundary="+uploadBoundary,
					newUploadBody(size, tc.fileFirst))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				close(stop)
				peak = max(peak, <-done)
				if resp.StatusCode != http.StatusOK || received.Load() < size {
					b.Fatalf("status %d, upstream received %d bytes", resp.StatusCode, received.Load())
				}
			}
			b.ReportMetric(float64(peak), "peak-heap-B")
		})
	}
}
