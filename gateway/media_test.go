package gateway

import (
	"bytes"
	"crypto/sha256"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// formBody builds a multipart body: fields in order, each "name=value" or, for a file, "@name=filename" with
// the content from files.
func formBody(t *testing.T, parts []string, files map[string][]byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		name, value, _ := strings.Cut(p, "=")
		if file, ok := strings.CutPrefix(name, "@"); ok {
			w, _ := mw.CreateFormFile(file, value)
			_, _ = w.Write(files[value])
			continue
		}
		_ = mw.WriteField(name, value)
	}
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

// upstreamForm parses a multipart body the fake upstream received: its fields and files, in order.
func upstreamForm(t *testing.T, c captured) (order []string, fields map[string]string, files map[string][]byte) {
	t.Helper()
	_, params, err := mime.ParseMediaType(c.header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("upstream Content-Type %q: %v", c.header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	fields, files = map[string]string{}, map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("upstream got a malformed multipart body: %v", err)
		}
		b, _ := io.ReadAll(p)
		order = append(order, p.FormName())
		if p.FileName() != "" {
			files[p.FormName()] = b
		} else {
			fields[p.FormName()] = string(b)
		}
	}
}

func postForm(g *Gateway, path string, body io.Reader, contentType string) (*httptest.ResponseRecorder, *Result) {
	req := httptest.NewRequest(http.MethodPost, path, body)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	return rec, g.Serve(rec, req)
}

// noise is n bytes that are not all alike, so that a part cut or shifted anywhere shows.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestTranscriptionFormStreamedWithModelRewritten(t *testing.T) {
	for _, order := range [][]string{
		{"model=openai/whisper-1", "language=en", "@file=speech.wav", "response_format=json"},
		{"@file=speech.wav", "model=openai/whisper-1", "language=en", "response_format=json"}, // openai-go's order
	} {
		base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"text":"hello","usage":{"type":"duration","seconds":90}}`)
		})
		g := newGateway(t, base)
		audio := noise(3<<20 + 17)
		body, ct := formBody(t, order, map[string][]byte{"speech.wav": audio})
		rec, res := postForm(g, "/v1/audio/transcriptions", body, ct)
		if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "text").Str != "hello" {
			t.Fatalf("%v: %d %s", order, rec.Code, rec.Body)
		}
		up := <-seen
		if up.path != "/v1/audio/transcriptions" || up.header.Get("Authorization") != "Bearer sk-upstream-secret" {
			t.Errorf("upstream got %s with auth %q", up.path, up.header.Get("Authorization"))
		}
		got, fields, files := upstreamForm(t, up)
		if fields["model"] != "whisper-1" || fields["language"] != "en" || fields["response_format"] != "json" {
			t.Errorf("%v: upstream fields %v, want model rewritten and the others kept", order, fields)
		}
		if sha256.Sum256(files["file"]) != sha256.Sum256(audio) {
			t.Errorf("%v: the file arrived with %d bytes, not the %d sent", order, len(files["file"]), len(audio))
		}
		if len(got) != 4 {
			t.Errorf("upstream parts %v: want each part once", got)
		}
		if res.Endpoint != "audio_transcriptions" || res.Usage.AudioSeconds != 90 {
			t.Errorf("result endpoint %q usage %+v", res.Endpoint, res.Usage)
		}
		if c := rec.Header().Get("X-AI-Gateway-Cost"); c != "0.009" {
			t.Errorf("cost %q: 90 s of whisper-1 at $0.006 a minute is $0.009", c)
		}
	}
}

func TestUploadLimitAndMalformedForms(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"x"}`)
	})
	g := newGateway(t, base, func(c *Config) { c.MaxUploadBody = 1 << 20 })
	big, ct := formBody(t, []string{"model=openai/whisper-1", "@file=a.wav"}, map[string][]byte{"a.wav": noise(2 << 20)})

	rec, _ := postForm(g, "/v1/audio/transcriptions", bytes.NewReader(big.Bytes()), ct)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "max_upload_body") {
		t.Errorf("declared too large: %d %s", rec.Code, rec.Body)
	}
	// Without a Content-Length the limit is met while the file streams upstream.
	rec, _ = postForm(g, "/v1/audio/transcriptions", io.MultiReader(bytes.NewReader(big.Bytes())), ct)
	if rec.Code != http.StatusRequestEntityTooLarge || gjson.Get(rec.Body.String(), "error.code").Str != "request_too_large" {
		t.Errorf("streamed too large: %d %s", rec.Code, rec.Body)
	}
	for name, tc := range map[string]struct{ body, ct string }{
		"not multipart":  {`{"model":"openai/whisper-1"}`, "application/json"},
		"no boundary":    {"--x\r\n", "multipart/form-data"},
		"garbage":        {"this is not a form", "multipart/form-data; boundary=zzz"},
		"cut mid-header": {"--zzz\r\nContent-Disposition: form-data; name=\"mod", "multipart/form-data; boundary=zzz"},
		"no model":       {"--zzz\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n--zzz--\r\n", "multipart/form-data; boundary=zzz"},
	} {
		rec, _ := postForm(g, "/v1/audio/transcriptions", strings.NewReader(tc.body), tc.ct)
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.type").Str != "invalid_request_error" {
			t.Errorf("%s: %d %s, want an OpenAI-shaped 400", name, rec.Code, rec.Body)
		}
	}
	// A body cut inside the streamed file is the client's fault, not the upstream's.
	cut, ct := formBody(t, []string{"model=openai/whisper-1", "@file=a.wav"}, map[string][]byte{"a.wav": noise(100 << 10)})
	rec, _ = postForm(g, "/v1/audio/transcriptions", io.MultiReader(bytes.NewReader(cut.Bytes()[:60<<10])), ct)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("cut body: %d %s, want 400", rec.Code, rec.Body)
	}
	select {
	case c := <-seen:
		if len(c.body) > 1<<20+64<<10 {
			t.Errorf("the upstream received %d bytes of a body over the limit", len(c.body))
		}
	default:
	}
}

func TestSpeechBytesRelayedAsTheyArrive(t *testing.T) {
	release := make(chan struct{})
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write([]byte("ID3first-frame"))
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write([]byte("second-frame"))
	})
	g := newGateway(t, base)
	srv := httptest.NewServer(g)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/audio/speech", "application/json",
		strings.NewReader(`{"model":"openai/tts-1","input":"héllo","voice":"alloy"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("ID3first-frame"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "ID3first-frame" {
		t.Fatalf("first bytes %q %v: they must arrive before the upstream finishes", first, err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second-frame" || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("rest %q, type %q", rest, resp.Header.Get("Content-Type"))
	}
	// tts-1 is $15 per million characters: 5 characters.
	if c := resp.Header.Get("X-AI-Gateway-Cost"); c != "0.000075" {
		t.Errorf("cost %q", c)
	}
	up := <-seen
	if gjson.GetBytes(up.body, "model").Str != "tts-1" || gjson.GetBytes(up.body, "stream_options").Exists() {
		t.Errorf("upstream body %s", up.body)
	}
}

func TestImageStreamRelayedEventByEvent(t *testing.T) {
	release := make(chan struct{})
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAAA\",\"partial_image_index\":0}\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\",\"usage\":{\"input_tokens\":10,\"input_tokens_details\":{\"text_tokens\":10,\"image_tokens\":0},\"output_tokens\":272,\"total_tokens\":282}}\n\n")
	})
	g := newGateway(t, base)
	srv := httptest.NewServer(g)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/images/generations", "application/json",
		strings.NewReader(`{"model":"openai/gpt-image-1","prompt":"a cat","stream":true,"partial_images":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	done := make(chan string)
	go func() {
		n, _ := resp.Body.Read(buf)
		done <- string(buf[:n])
	}()
	select {
	case first := <-done:
		if !strings.HasPrefix(first, "event: image_generation.partial_image\ndata: {") {
			t.Errorf("first event %q", first)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the partial image did not arrive before the upstream finished")
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), "event: image_generation.completed\ndata: ") {
		t.Errorf("rest %q", rest)
	}
	// gpt-image-1: text in $5, image out $40 per million tokens.
	if c := resp.Trailer.Get("X-AI-Gateway-Cost"); c != "0.01093" {
		t.Errorf("cost trailer %q", c)
	}
}
