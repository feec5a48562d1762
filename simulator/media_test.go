package simulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func pngOf(t *testing.T, b64 string) image.Image {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestImagesArePNGsOfTheSizeAskedFor(t *testing.T) {
	srv := startServer(t, Config{})
	body := readAll(t, post(t, srv, "/v1/images/generations", `{"model":"gpt-image-1","prompt":"a cat","size":"320x200","n":2}`))
	if n := gjson.GetBytes(body, "data.#").Int(); n != 2 {
		t.Fatalf("%d images: %s", n, body)
	}
	a, b := gjson.GetBytes(body, "data.0.b64_json").Str, gjson.GetBytes(body, "data.1.b64_json").Str
	if img := pngOf(t, a); img.Bounds().Dx() != 320 || img.Bounds().Dy() != 200 {
		t.Errorf("size %v", img.Bounds())
	}
	if a == b {
		t.Error("the two images are the same")
	}
	if gjson.GetBytes(body, "usage.output_tokens").Int() == 0 || gjson.GetBytes(body, "size").Str != "320x200" {
		t.Errorf("usage or size missing: %s", gjson.GetBytes(body, "usage").Raw)
	}
	// DALL·E answers URLs by default; here data: URLs of the PNG.
	body = readAll(t, post(t, srv, "/v1/images/generations", `{"model":"dall-e-3","prompt":"a cat","size":"1024x1024"}`))
	if u := gjson.GetBytes(body, "data.0.url").Str; !strings.HasPrefix(u, "data:image/png;base64,iVBOR") ||
		gjson.GetBytes(body, "usage").Exists() || gjson.GetBytes(body, "data.0.revised_prompt").Str == "" {
		t.Errorf("dall-e-3: %.200s", body)
	}
}

func TestImageEditInvertsTheUpload(t *testing.T) {
	srv := startServer(t, Config{})
	src := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := 0; i < len(src.Pix); i += 4 {
		src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = 10, 100, 200, 255
	}
	var in bytes.Buffer
	_ = png.Encode(&in, src)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	w, _ := mw.CreateFormFile("image[]", "in.png")
	_, _ = w.Write(in.Bytes())
	_ = mw.WriteField("prompt", "invert")
	_ = mw.WriteField("model", "gpt-image-1")
	_ = mw.Close()
	resp, err := http.Post(srv.URL+"/v1/images/edits", mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	img := pngOf(t, gjson.GetBytes(body, "data.0.b64_json").Str)
	if img.Bounds().Dx() != 40 || img.Bounds().Dy() != 30 {
		t.Errorf("size %v, want the upload's", img.Bounds())
	}
	if c := color.NRGBAModel.Convert(img.At(3, 3)).(color.NRGBA); c != (color.NRGBA{245, 155, 55, 255}) {
		t.Errorf("pixel %v, want the upload's inverted", c)
	}
	// Not an image: OpenAI's 400.
	form.Reset()
	mw = multipart.NewWriter(&form)
	w, _ = mw.CreateFormFile("image", "in.png")
	_, _ = w.Write([]byte("not a png"))
	_ = mw.WriteField("prompt", "x")
	_ = mw.Close()
	resp, _ = http.Post(srv.URL+"/v1/images/edits", mw.FormDataContentType(), &form)
	if body := readAll(t, resp); resp.StatusCode != 400 || !strings.Contains(string(body), "Invalid image file") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestSpeechLengthFollowsTheInput(t *testing.T) {
	srv := startServer(t, Config{})
	speech := func(input, format string) ([]byte, string) {
		resp := post(t, srv, "/v1/audio/speech", `{"model":"tts-1","voice":"alloy","input":"`+input+`","response_format":"`+format+`"}`)
		return readAll(t, resp), resp.Header.Get("Content-Type")
	}
	short, ct := speech(strings.Repeat("a", 20), "wav")
	long, _ := speech(strings.Repeat("a", 100), "wav")
	if ct != "audio/wav" || string(short[:4]) != "RIFF" || binary.LittleEndian.Uint32(short[24:]) != 24000 {
		t.Fatalf("%s %q", ct, short[:12])
	}
	// 60 ms a character at 24 kHz, 16-bit: 20 characters are 1.2 s.
	if n := binary.LittleEndian.Uint32(short[40:]); n != 2*24000*12/10 || int(n) != len(short)-44 {
		t.Errorf("20 characters: %d bytes of samples", n)
	}
	if len(long) < 4*len(short) {
		t.Errorf("100 characters: %d bytes, 20: %d", len(long), len(short))
	}
	pcm, ct := speech(strings.Repeat("a", 20), "pcm")
	if ct != "audio/pcm" || !bytes.Equal(pcm, short[44:]) {
		t.Errorf("pcm: %s, %d bytes: want the WAV's samples without the header", ct, len(pcm))
	}
	mp3, ct := speech(strings.Repeat("a", 20), "mp3")
	if ct != "audio/mpeg" || len(mp3)%417 != 0 || !bytes.Equal(mp3[:4], []byte{0xFF, 0xFB, 0x90, 0xC0}) {
		t.Errorf("mp3: %s, %d bytes, header %x", ct, len(mp3), mp3[:4])
	}
	resp := post(t, srv, "/v1/audio/speech", `{"model":"gpt-4o-mini-tts","voice":"alloy","input":"hi there","stream_format":"sse","response_format":"pcm"}`)
	events := string(readAll(t, resp))
	if !strings.Contains(events, `"type":"speech.audio.delta"`) || !strings.Contains(events, `"type":"speech.audio.done","usage":{"input_tokens":`) {
		t.Errorf("sse: %.300s", events)
	}
}

func TestTranscriptDependsOnTheFile(t *testing.T) {
	srv := startServer(t, Config{})
	transcribe := func(model, format string, file []byte) (int, string) {
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		w, _ := mw.CreateFormFile("file", "talk.wav")
		_, _ = w.Write(file)
		_ = mw.WriteField("model", model)
		if format != "" {
			_ = mw.WriteField("response_format", format)
		}
		_ = mw.Close()
		resp, err := http.Post(srv.URL+"/v1/audio/transcriptions", mw.FormDataContentType(), &form)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(readAll(t, resp))
	}
	_, a := transcribe("whisper-1", "", []byte(strings.Repeat("x", 32000)))
	_, b := transcribe("whisper-1", "", []byte(strings.Repeat("y", 32000)))
	if gjson.Get(a, "text").Str == gjson.Get(b, "text").Str || !strings.HasPrefix(gjson.Get(a, "text").Str, "The file talk.wav has 32000 bytes") {
		t.Errorf("transcripts %s / %s", a, b)
	}
	if gjson.Get(a, "usage.type").Str != "duration" || gjson.Get(a, "usage.seconds").Int() != 2 {
		t.Errorf("whisper-1 usage %s: 32000 bytes at 16 kB/s are 2 s", gjson.Get(a, "usage").Raw)
	}
	_, c := transcribe("gpt-4o-transcribe", "", []byte("abc"))
	if gjson.Get(c, "usage.type").Str != "tokens" || gjson.Get(c, "usage.output_tokens").Int() == 0 {
		t.Errorf("token usage %s", c)
	}
	if code, text := transcribe("whisper-1", "srt", []byte("abc")); code != 200 || !strings.HasPrefix(text, "1\n00:00:00,000 --> ") {
		t.Errorf("srt %d %q", code, text)
	}
	if code, _ := transcribe("whisper-1", "", nil); code != 400 {
		t.Errorf("empty file: %d", code)
	}
}

func TestGeminiImageAndSpeechOutput(t *testing.T) {
	srv := startServer(t, Config{})
	body := readAll(t, post(t, srv, "/v1beta/models/gemini-2.5-flash-image:generateContent",
		`{"contents":[{"parts":[{"text":"a fox"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"16:9"}}}`))
	part := gjson.GetBytes(body, "candidates.0.content.parts.0.inlineData")
	if img := pngOf(t, part.Get("data").Str); part.Get("mimeType").Str != "image/png" || img.Bounds().Dx() != 1024 || img.Bounds().Dy() != 576 {
		t.Errorf("image %s %v", part.Get("mimeType").Str, img.Bounds())
	}
	if gjson.GetBytes(body, "usageMetadata.candidatesTokensDetails.0.modality").Str != "IMAGE" {
		t.Errorf("usage %s", gjson.GetBytes(body, "usageMetadata").Raw)
	}
	body = readAll(t, post(t, srv, "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent",
		`{"contents":[{"parts":[{"text":"`+strings.Repeat("b", 50)+`"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}`))
	part = gjson.GetBytes(body, "candidates.0.content.parts.0.inlineData")
	pcm, _ := base64.StdEncoding.DecodeString(part.Get("data").Str)
	if part.Get("mimeType").Str != "audio/L16;codec=pcm;rate=24000" || len(pcm) != 2*24000*3 {
		t.Errorf("audio %s, %d bytes: 50 characters are 3 s", part.Get("mimeType").Str, len(pcm))
	}
	body = readAll(t, post(t, srv, "/v1beta/models/imagen-4.0-generate-001:predict",
		`{"instances":[{"prompt":"a fox"}],"parameters":{"sampleCount":2,"aspectRatio":"3:4"}}`))
	if n := gjson.GetBytes(body, "predictions.#").Int(); n != 2 {
		t.Fatalf("%d predictions", n)
	}
	if img := pngOf(t, gjson.GetBytes(body, "predictions.1.bytesBase64Encoded").Str); img.Bounds().Dx() != 768 || img.Bounds().Dy() != 1024 {
		t.Errorf("imagen %v", img.Bounds())
	}
}
