package transform

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// fakeForm is a Form of parts given in order.
type fakeForm struct {
	parts []FormPart
	i     int
}

func (f *fakeForm) Value(name string) (string, bool) { return "", false }
func (f *fakeForm) Passthrough(string) (io.Reader, string) {
	return nil, ""
}
func (f *fakeForm) Parts() FormParts { return f }
func (f *fakeForm) Next() (FormPart, error) {
	if f.i == len(f.parts) {
		return FormPart{}, io.EOF
	}
	f.i++
	return f.parts[f.i-1], nil
}

func TestGeminiImageEditBodyStreamsTheImagesInline(t *testing.T) {
	img := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 1, 2, 3}, 20000) // 140 kB, read in several chunks
	form := &fakeForm{parts: []FormPart{
		{Name: "image[]", Filename: "a.png", ContentType: "image/png", Body: bytes.NewReader(img)},
		{Name: "prompt", Body: strings.NewReader(`add a "hat"`)},
		{Name: "image[]", Filename: "b.jpg", ContentType: "image/jpeg", Body: bytes.NewReader([]byte("jpeg"))},
		{Name: "mask", Filename: "m.png", Body: strings.NewReader("mask")},
		{Name: "size", Body: strings.NewReader("1024x1536")},
	}}
	out, err := NewGemini(GeminiOptions{}).BuildImageEdits(&Request{Model: "gemini-2.5-flash-image", Form: form})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(out.BodyReader)
	if err != nil {
		t.Fatal(err)
	}
	if CheckJSON(body) != nil || out.Path != "/models/gemini-2.5-flash-image:generateContent" {
		t.Fatalf("%s: %.300s", out.Path, body)
	}
	parts := gjson.GetBytes(body, "contents.0.parts")
	got, _ := base64.StdEncoding.DecodeString(parts.Get("0.inlineData.data").Str)
	if !bytes.Equal(got, img) || parts.Get("0.inlineData.mimeType").Str != "image/png" {
		t.Errorf("first image: %d bytes back of %d", len(got), len(img))
	}
	if parts.Get("1.text").Str != `add a "hat"` || parts.Get("2.inlineData.mimeType").Str != "image/jpeg" || parts.Get("#").Int() != 3 {
		t.Errorf("parts %.400s", parts.Raw)
	}
	if r := gjson.GetBytes(body, "generationConfig.imageConfig.aspectRatio").Str; r != "2:3" {
		t.Errorf("aspect ratio %q from size 1024x1536", r)
	}
}

func TestGeminiSpeechWrapsPCM(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	pcm := make([]byte, 4800)
	for i := range pcm {
		pcm[i] = byte(i)
	}
	answer := `{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"audio/L16;codec=pcm;rate=24000","data":"` +
		base64.StdEncoding.EncodeToString(pcm) + `"}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":25,"totalTokenCount":30}}`

	req := &Request{Body: []byte(`{"model":"m","input":"Hello","voice":"alloy","instructions":"cheerfully"}`), Model: "gemini-2.5-flash-preview-tts"}
	out, err := g.BuildSpeech(req)
	if err != nil {
		t.Fatal(err)
	}
	b := gjson.ParseBytes(out.Body)
	if b.Get("contents.0.parts.0.text").Str != "cheerfully: Hello" || b.Get("generationConfig.responseModalities.0").Str != "AUDIO" ||
		b.Get("generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName").Str != "Kore" {
		t.Errorf("request %s", out.Body)
	}
	audio, ct, u, err := g.TranslateSpeech(req, []byte(answer))
	if err != nil || ct != "audio/wav" || string(audio[:4]) != "RIFF" || !bytes.Equal(audio[44:], pcm) ||
		binary.LittleEndian.Uint32(audio[24:]) != 24000 || binary.LittleEndian.Uint32(audio[40:]) != 4800 {
		t.Errorf("wav: %v %s %d bytes", err, ct, len(audio))
	}
	if u.PromptTokens != 5 || u.CompletionTokens != 25 {
		t.Errorf("usage %+v", u)
	}
	req.Body = []byte(`{"model":"m","input":"Hello","voice":"Puck","response_format":"pcm"}`)
	if audio, ct, _, _ := g.TranslateSpeech(req, []byte(answer)); ct != "audio/pcm" || !bytes.Equal(audio, pcm) {
		t.Errorf("pcm: %s %d bytes", ct, len(audio))
	}
	req.Stream = true
	events, ct, _, _ := g.TranslateSpeech(req, []byte(answer))
	if ct != "text/event-stream" || !strings.Contains(string(events), `"type":"speech.audio.done","usage":{"input_tokens":5,"output_tokens":25`) {
		t.Errorf("sse: %s %.200s", ct, events)
	}
	req.Body = []byte(`{"model":"m","input":"Hello","voice":"alloy","response_format":"mp3"}`)
	if _, err := g.BuildSpeech(req); err == nil || !strings.Contains(err.Error(), "transcoding") {
		t.Errorf("mp3: %v", err)
	}
}

func TestGeminiImagesStreamedAsCompletedEvents(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	answer := []byte(`{"candidates":[{"content":{"parts":[{"text":"Here you are."},{"inlineData":{"mimeType":"image/png","data":"iVBORw0K"}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1290,"totalTokenCount":1294}}`)
	req := &Request{Body: []byte(`{"prompt":"a fox","stream":true}`), Model: "gemini-2.5-flash-image", Stream: true}
	out, ct, u, err := g.TranslateImages(req, answer)
	if err != nil || ct != "text/event-stream" || u.Images != 1 || u.CompletionTokens != 1290 {
		t.Fatalf("%v %s %+v", err, ct, u)
	}
	name, data, _ := strings.Cut(strings.TrimSuffix(string(out), "\n\n"), "\n")
	ev := gjson.Parse(strings.TrimPrefix(data, "data: "))
	if name != "event: image_generation.completed" || ev.Get("type").Str != "image_generation.completed" ||
		ev.Get("b64_json").Str != "iVBORw0K" || ev.Get("usage.output_tokens").Int() != 1290 {
		t.Errorf("event %q", out)
	}
	req.Stream = false
	out, _, _, _ = g.TranslateImages(req, answer)
	if r := gjson.GetBytes(out, "data.0.revised_prompt").Str; r != "Here you are." {
		t.Errorf("revised_prompt %q in %s", r, out)
	}
	if _, err := g.BuildImages(&Request{Body: []byte(`{"prompt":"x","n":2}`), Model: "gemini-2.5-flash-image"}); err == nil {
		t.Error("n=2 on a Gemini image model was accepted")
	}
	if _, err := g.BuildImages(&Request{Body: []byte(`{"prompt":"x","response_format":"url"}`), Model: "gemini-2.5-flash-image"}); err == nil {
		t.Error("response_format url was accepted")
	}
}
