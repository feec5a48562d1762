package transform

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestGeminiVideoIDsRefuseForgedOperations(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	enc := func(raw string) string { return "video_" + base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	good := enc("models/veo-3.1-generate-preview/operations/abc123|1700000000|8|1280x720")
	out, err := g.BuildVideoCall(&VideoCall{Op: VideoGet, ID: good, Provider: "google"})
	if err != nil || out.Method != http.MethodGet || out.Path != "/models/veo-3.1-generate-preview/operations/abc123" {
		t.Fatalf("a job id the dialect made: %+v, %v", out, err)
	}
	for _, forged := range []string{
		enc("models/../operations/x|1|8|1280x720"),
		enc("models/veo/operations/..|1|8|1280x720"),
		enc("models/veo/operations/a/b|1|8|1280x720"),
		enc("files/x|1|8|1280x720"),
		enc("models/veo/operations/x%2F..|1|8|1280x720"),
		enc("models/veo/operations/x|one|8|1280x720"),
		enc("models/veo/operations/x|1|8"),
		"video_!!!",
		"resp_abc",
	} {
		_, err := g.BuildVideoCall(&VideoCall{Op: VideoGet, ID: forged, Provider: "google"})
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusNotFound {
			t.Errorf("forged id %q: %v, want a 404", forged, err)
		}
	}
}

func TestVeoCreateRequest(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	for _, c := range []struct{ body, want, err string }{
		{`{"prompt":"a cat","seconds":"4","size":"720x1280"}`,
			`{"instances":[{"prompt":"a cat"}],"parameters":{"aspectRatio":"9:16","resolution":"720p","durationSeconds":4}}`, ""},
		{`{"prompt":"a cat","size":"1920x1080","input_reference":{"image_url":"data:image/png;base64,QUJD"}}`,
			`{"instances":[{"prompt":"a cat","image":{"bytesBase64Encoded":"QUJD","mimeType":"image/png"}}],"parameters":{"aspectRatio":"16:9","resolution":"1080p","durationSeconds":8}}`, ""},
		{`{"prompt":"a cat","size":"640x480"}`, "", "size"},
		{`{"prompt":"a cat","seconds":"zero"}`, "", "seconds"},
		{`{"prompt":"a cat","input_reference":{"image_url":"https://example.com/x.png"}}`, "", "input_reference"},
		{`{"prompt":" "}`, "", "prompt"},
	} {
		out, err := g.BuildVideoCreate(&Request{Body: []byte(c.body), Model: "veo-3.1-generate-preview", Provider: "google"})
		if c.err != "" {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Param != c.err {
				t.Errorf("%s: %v, want a 400 naming %s", c.body, err, c.err)
			}
			continue
		}
		if err != nil || string(out.Body) != c.want || !strings.HasSuffix(out.Path, ":predictLongRunning") {
			t.Errorf("%s:\n got %s %v\nwant %s", c.body, out.Body, err, c.want)
		}
	}
}

func TestOpenAIVideoAnswers(t *testing.T) {
	o := NewOpenAI(OpenAIOptions{})
	failed := `{"id":"video_1","object":"video","status":"failed","error":{"code":"moderation_blocked","message":"no"}}`
	if out, err := o.TranslateVideoCall(&VideoCall{Op: VideoGet, ID: "video_1"}, []byte(failed)); err != nil || string(out) != failed {
		t.Errorf("a failed job is an answer, not an error: %s %v", out, err)
	}
	if _, err := o.TranslateVideoCall(&VideoCall{Op: VideoGet, ID: "video_1"}, []byte(`{"error":{"message":"x","type":"server_error"}}`)); err == nil {
		t.Error("an error object in a 200 was taken for a job")
	}
	out, u, err := o.TranslateVideoCreate(&Request{ClientModel: "openai/sora-2"}, []byte(`{"id":"video_1","object":"video","model":"sora-2","seconds":"12","size":"1280x720"}`))
	if err != nil || gjson.GetBytes(out, "model").Str != "openai/sora-2" || u.VideoSeconds != 12 || u.VideoSize != "1280x720" {
		t.Errorf("create answer: %s %+v %v", out, u, err)
	}
	call, _ := o.BuildVideoCall(&VideoCall{Op: VideoList, Query: map[string][]string{"after": {"video_0"}, "limit": {"2"}, "provider": {"x"}}})
	if call.Method != http.MethodGet || call.Path != "/videos?after=video_0&limit=2" {
		t.Errorf("list: %+v", call)
	}
	if _, err := o.BuildVideoCall(&VideoCall{Op: VideoGet, ID: "../models"}); err == nil {
		t.Error("an id with a slash reached the upstream's path")
	}
}

// FuzzGeminiVideoCall: whatever id a client sends, the upstream path built from it is the operation path of
// one model and one operation, plain segments, or the call is refused.
func FuzzGeminiVideoCall(f *testing.F) {
	f.Add("video_" + base64.RawURLEncoding.EncodeToString([]byte("models/veo/operations/a|1|8|1280x720")))
	f.Add("video_" + base64.RawURLEncoding.EncodeToString([]byte("models/../operations/a|1|8|1280x720")))
	f.Add("video_bW9kZWxz")
	g := NewGemini(GeminiOptions{})
	f.Fuzz(func(t *testing.T, id string) {
		out, err := g.BuildVideoCall(&VideoCall{Op: VideoContent, ID: id, Provider: "google"})
		if err != nil {
			return
		}
		parts := strings.Split(out.Path, "/")
		if len(parts) != 5 || parts[1] != "models" || parts[3] != "operations" {
			t.Fatalf("id %q built path %q", id, out.Path)
		}
		for _, p := range []string{parts[2], parts[4]} {
			if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `\?#%`) {
				t.Fatalf("id %q built path %q", id, out.Path)
			}
		}
	})
}
