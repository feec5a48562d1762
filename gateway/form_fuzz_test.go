package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// FuzzMultipartUpload sends arbitrary multipart bodies to the transcription endpoint of a gateway whose
// upstream reads the whole body and answers: every request must get a status the gateway means (200 from
// the upstream; 400, 404 for a model it does not know, or 413 of its own, OpenAI-shaped), never a panic, a
// hang or a 5xx of its own.
func FuzzMultipartUpload(f *testing.F) {
	const b = "--zzz"
	f.Add(b + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n" + b +
		"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF....\r\n" + b + "--\r\n")
	f.Add(b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nabc\r\n" + b +
		"\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n" + b + "--\r\n")
	f.Add(b + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n" + b +
		"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nabc")
	f.Add(b + "\r\nContent-Disposition: form-data; name=\"models\"\r\n\r\nopenai/x\r\n" + b + "--\r\n")
	f.Add("")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	f.Cleanup(up.Close)
	base := up.URL + "/v1"
	g, err := New(Config{MaxUploadBody: 64 << 10, Providers: []Provider{{Name: "openai", BaseURL: base,
		Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(g.Close)
	f.Fuzz(func(t *testing.T, body string) {
		rec, _ := postForm(g, "/v1/audio/transcriptions", io.MultiReader(strings.NewReader(body)), "multipart/form-data; boundary=zzz")
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
			if gjson.Get(rec.Body.String(), "error.message").Str == "" {
				t.Fatalf("%d without an OpenAI-shaped error: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
