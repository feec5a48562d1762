package gateway

import (
	"bytes"
	"crypto/sha256"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
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

func TestLimitsAndBudgetsStopImageAndAudioRequests(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/images/generations"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"created":1,"data":[{"url":"https://example.com/a.png"},{"url":"https://example.com/b.png"}]}`)
		case strings.HasSuffix(r.URL.Path, "/audio/speech"):
			w.Header().Set("Content-Type", "audio/mpeg")
			_, _ = io.WriteString(w, "ID3")
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"text":"hi","usage":{"type":"duration","seconds":90}}`)
		}
	})
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t,
			ratelimit.Rule{Name: "art", Images: ratelimit.Rate{Limit: 3, Window: time.Hour}},
			ratelimit.Rule{Name: "speech", Budget: mustBudget(t, "0.0001usd/1d")},
			ratelimit.Rule{Name: "listen", Budget: mustBudget(t, "0.01usd/1d")})
		c.Claims = func(_ *http.Request, s LimitScope) []ratelimit.Claim {
			switch s.Model {
			case "openai/dall-e-2":
				return []ratelimit.Claim{{Rule: "art", Key: "k"}}
			case "openai/tts-1":
				return []ratelimit.Claim{{Rule: "speech", Key: "k"}}
			}
			return []ratelimit.Claim{{Rule: "listen", Key: "k"}}
		}
	})
	// Three images per hour: 2, then 2 more is refused, 1 fits.
	for i, tc := range []struct {
		n    int
		want int
	}{{2, 200}, {2, 429}, {1, 200}} {
		rec, res := postTo(t, g, "/v1/images/generations", `{"model":"openai/dall-e-2","prompt":"a fox","size":"512x512","n":`+strconv.Itoa(tc.n)+`}`)
		if rec.Code != tc.want {
			t.Fatalf("images request %d: %d %s", i, rec.Code, rec.Body)
		}
		if tc.want == 429 && !strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, "3 images per 1h") {
			t.Errorf("refusal %s", rec.Body)
		}
		// dall-e-2 512x512 is $0.018 an image; the answer had 2.
		if tc.want == 200 && (res.Usage.Images != 2 || res.CostUSD != 0.036) {
			t.Errorf("request %d: images %d cost %v, want 2 images for 0.036", i, res.Usage.Images, res.CostUSD)
		}
	}
	// tts-1 is $15 per million characters: 5 characters cost $0.000075, two do not fit a $0.0001 budget.
	for i, want := range []int{200, 429} {
		rec, _ := postTo(t, g, "/v1/audio/speech", `{"model":"openai/tts-1","input":"hello","voice":"alloy"}`)
		if rec.Code != want || (want == 429 && gjson.Get(rec.Body.String(), "error.code").Str != "insufficient_quota") {
			t.Fatalf("speech %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	// 90 s of whisper-1 is $0.009: the third transcription finds the $0.01 budget spent.
	for i, want := range []int{200, 200, 429} {
		body, ct := formBody(t, []string{"model=openai/whisper-1", "@file=a.wav"}, map[string][]byte{"a.wav": noise(1000)})
		rec, _ := postForm(g, "/v1/audio/transcriptions", body, ct)
		if rec.Code != want {
			t.Fatalf("transcription %d: %d %s", i, rec.Code, rec.Body)
		}
	}
}

func TestRecordedImageAnswersReplayed(t *testing.T) {
	t.Run("openai generations passed through", func(t *testing.T) {
		base, seen := fakeUpstream(t, replay(t, "openai/images_generate_dalle3.json", "application/json"))
		g := newGateway(t, base)
		rec, res := postTo(t, g, "/v1/images/generations", `{"model":"openai/dall-e-3","prompt":"a baby sea otter","n":2,"size":"1024x1024","quality":"hd","response_format":"b64_json"}`)
		if rec.Code != http.StatusOK || rec.Body.String() != string(fixture(t, "openai/images_generate_dalle3.json")) {
			t.Fatalf("%d: the answer must be the upstream's bytes:\n%s", rec.Code, rec.Body)
		}
		if up := <-seen; gjson.GetBytes(up.body, "model").Str != "dall-e-3" || up.path != "/v1/images/generations" {
			t.Errorf("upstream got %s %s", up.path, up.body)
		}
		// Two hd 1024² DALL·E 3 images at $0.08; no tokens reported.
		if res.Usage.Images != 2 || res.CostUSD != 0.16 || rec.Header().Get("X-AI-Gateway-Cost") != "0.16" {
			t.Errorf("usage %+v cost %v %q", res.Usage, res.CostUSD, rec.Header().Get("X-AI-Gateway-Cost"))
		}
	})
	t.Run("openai edit's size and quality price it", func(t *testing.T) {
		base, _ := fakeUpstream(t, replay(t, "openai/images_edit_gpt_image.json", "application/json"))
		g := newGateway(t, base)
		body, ct := formBody(t, []string{"model=openai/gpt-image-1-mini", "prompt=add a hat", "@image=cat.png"},
			map[string][]byte{"cat.png": noise(500)})
		rec, res := postForm(g, "/v1/images/edits", body, ct)
		if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "quality").Str != "high" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		// The answer says high quality at 1024x1024: $0.036 on gpt-image-1-mini.
		if res.Usage.ImageQuality != "high" || res.Usage.ImageSize != "1024x1024" || res.CostUSD != 0.036 {
			t.Errorf("usage %+v cost %v", res.Usage, res.CostUSD)
		}
	})
	t.Run("gemini image answer translated", func(t *testing.T) {
		base, seen := fakeUpstream(t, replay(t, "gemini/image_generate_content.json", "application/json"))
		g := geminiGateway(t, base)
		rec, res := postTo(t, g, "/v1/images/generations", `{"model":"gemini/gemini-3.1-flash-image","prompt":"a fox","size":"1536x1024"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		up := <-seen
		if up.path != "/v1/models/gemini-3.1-flash-image:generateContent" ||
			gjson.GetBytes(up.body, "generationConfig.responseModalities.0").Str != "IMAGE" ||
			gjson.GetBytes(up.body, "generationConfig.imageConfig.aspectRatio").Str != "3:2" ||
			gjson.GetBytes(up.body, "contents.0.parts.0.text").Str != "a fox" {
			t.Errorf("upstream got %s %s", up.path, up.body)
		}
		out := gjson.Parse(rec.Body.String())
		if out.Get("data.#").Int() != 1 || out.Get("data.0.b64_json").Str != "<redacted live image data; length=439196>" ||
			out.Get("output_format").Str != "jpeg" {
			t.Errorf("answer %s", rec.Body)
		}
		if out.Get("usage.input_tokens").Int() != 10 || out.Get("usage.output_tokens").Int() != 1392 ||
			res.Usage.CompletionTokens != 1392 || res.Usage.Images != 1 {
			t.Errorf("usage %s / %+v", out.Get("usage").Raw, res.Usage)
		}
	})
	t.Run("gemini blocked prompt", func(t *testing.T) {
		base, _ := fakeUpstream(t, replay(t, "gemini/image_prompt_blocked.json", "application/json"))
		g := geminiGateway(t, base)
		rec, _ := postTo(t, g, "/v1/images/generations", `{"model":"gemini/gemini-3.1-flash-image-preview","prompt":"x"}`)
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.code").Str != "content_policy_violation" ||
			!strings.Contains(rec.Body.String(), "PROHIBITED_CONTENT") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("imagen predict translated", func(t *testing.T) {
		base, seen := fakeUpstream(t, replay(t, "gemini/imagen_predict.json", "application/json"))
		g := geminiGateway(t, base)
		rec, res := postTo(t, g, "/v1/images/generations", `{"model":"gemini/imagen-4.0-generate-001","prompt":"a hamster in a hat","size":"1024x768"}`)
		if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "data.0.b64_json").Str != "<redacted 1949564 chars>" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		// The recording's own request: sampleCount 1, aspectRatio 4:3.
		if up := <-seen; up.path != "/v1/models/imagen-4.0-generate-001:predict" ||
			string(up.body) != `{"instances":[{"prompt":"a hamster in a hat"}],"parameters":{"sampleCount":1,"aspectRatio":"4:3"}}` {
			t.Errorf("upstream got %s %s", up.path, up.body)
		}
		if res.Usage.Images != 1 {
			t.Errorf("usage %+v", res.Usage)
		}
	})
}

func TestAzureMediaDeploymentPaths(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if strings.Contains(r.URL.Path, "/audio/speech") {
			w.Header().Set("Content-Type", "audio/wav")
			_, _ = io.WriteString(w, "RIFF")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"hi"}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers[0].Name = "azure"
		c.Providers[0].Dialect = transform.NewOpenAI(transform.OpenAIOptions{Azure: &transform.AzureOptions{
			APIVersion: "2025-04-01-preview", Deployments: map[string]string{"whisper": "whisper-eu"}}})
	})
	body, ct := formBody(t, []string{"model=azure/whisper", "@file=a.wav"}, map[string][]byte{"a.wav": noise(100)})
	if rec, _ := postForm(g, "/v1/audio/transcriptions", body, ct); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/openai/deployments/whisper-eu/audio/transcriptions?api-version=2025-04-01-preview" ||
		up.header.Get("Api-Key") != "sk-upstream-secret" {
		t.Errorf("upstream got %s, api-key %q", up.path, up.header.Get("Api-Key"))
	}
	if _, fields, _ := upstreamForm(t, up); fields["model"] != "whisper" {
		t.Errorf("model field %q", fields["model"])
	}
	if rec, _ := postTo(t, g, "/v1/audio/speech", `{"model":"azure/tts","input":"hi","voice":"alloy"}`); rec.Code != http.StatusOK ||
		rec.Body.String() != "RIFF" {
		t.Fatalf("speech %d %s", rec.Code, rec.Body)
	}
	if up := <-seen; up.path != "/v1/openai/deployments/tts/audio/speech?api-version=2025-04-01-preview" {
		t.Errorf("speech went to %s", up.path)
	}
	if rec, _ := postTo(t, g, "/v1/rerank", `{"model":"azure/x","query":"q","documents":["a"]}`); rec.Code != http.StatusBadRequest {
		t.Errorf("rerank on Azure: %d", rec.Code)
	}
}
