package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// mediaGateway starts the gateway in front of the simulator as an OpenAI-compatible provider (openai) and as
// Gemini (google), with Anthropic (which serves no media) for the refusals; speech is paced at 4 pieces of a
// quarter second a tenth of a second apart, so that a client can see the first bytes before the last are sent.
func mediaGateway(t *testing.T) (*site, openai.Client) {
	sim := httptest.NewServer(simulator.New(simulator.Config{RequireKey: upstreamKey, TokensPerSecond: 10}))
	t.Cleanup(sim.Close)
	s := startGateway(t, providerBlock("openai", "openai", sim.URL+"/v1")+
		providerBlock("google", "gemini", sim.URL+"/v1beta")+providerBlock("anthropic", "anthropic", sim.URL))
	return s, openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}))
}

// decodePNG decodes a b64_json image.
func decodePNG(t *testing.T, b64 string) image.Image {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("b64_json is not base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the image is not a PNG: %v", err)
	}
	return img
}

// squarePNG is a w×w PNG of one colour.
func squarePNG(t *testing.T, w int, c color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, w))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMediaWithOpenAIGo(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	s, client := mediaGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("images.generate", func(t *testing.T) {
		for _, tc := range []struct {
			model  string
			size   openai.ImageGenerateParamsSize
			w, h   int
			tokens bool
		}{
			{"openai/gpt-image-1", "512x256", 512, 256, true},
			{"google/gemini-2.5-flash-image", "1536x1024", 1024, 682, true}, // Gemini's 3:2, 1024 on the long side
			{"google/imagen-4.0-generate-001", "1024x1536", 682, 1024, false},
		} {
			res, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: openai.ImageModel(tc.model),
				Prompt: "a lighthouse at dusk", Size: tc.size})
			if err != nil {
				t.Fatalf("%s: %v", tc.model, err)
			}
			if len(res.Data) != 1 {
				t.Fatalf("%s: %d images", tc.model, len(res.Data))
			}
			b := decodePNG(t, res.Data[0].B64JSON).Bounds()
			if b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("%s: a %dx%d image, want %dx%d", tc.model, b.Dx(), b.Dy(), tc.w, tc.h)
			}
			if tc.tokens && (res.Usage.OutputTokens == 0 || res.Usage.InputTokens == 0) {
				t.Errorf("%s: usage %+v", tc.model, res.Usage)
			}
		}
	})

	t.Run("images.edit", func(t *testing.T) {
		red := squarePNG(t, 64, color.NRGBA{200, 10, 10, 255})
		for _, model := range []string{"openai/gpt-image-1", "google/gemini-2.5-flash-image"} {
			res, err := client.Images.Edit(ctx, openai.ImageEditParams{Model: openai.ImageModel(model),
				Prompt: "make it the opposite colour",
				Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(red), "red.png", "image/png")}})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			img := decodePNG(t, res.Data[0].B64JSON)
			if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
				t.Errorf("%s: edit is %v, want the input's 64x64", model, b)
			}
			if c := color.NRGBAModel.Convert(img.At(5, 5)).(color.NRGBA); c.R != 55 || c.G != 245 || c.B != 245 {
				t.Errorf("%s: pixel %v: the simulator inverts the uploaded image, so the upload did not arrive intact", model, c)
			}
		}
	})

	t.Run("audio.speech", func(t *testing.T) {
		input := strings.Repeat("Hello from the gateway. ", 5) // 120 characters: 7.2 s of audio, 29 pieces
		for _, model := range []string{"openai/tts-1", "google/gemini-2.5-flash-preview-tts"} {
			resp, err := client.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: openai.SpeechModel(model),
				Input: input, Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")},
				ResponseFormat: openai.AudioSpeechNewParamsResponseFormatWAV})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			first := make([]byte, 1<<20)
			n, err := resp.Body.Read(first)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			audio := append(first[:n], rest...)
			if len(audio) < 44 || string(audio[:4]) != "RIFF" || string(audio[8:12]) != "WAVE" {
				t.Fatalf("%s: not a WAV file: %q", model, audio[:min(len(audio), 16)])
			}
			rate := binary.LittleEndian.Uint32(audio[24:])
			seconds := float64(binary.LittleEndian.Uint32(audio[40:])) / float64(rate) / 2
			if rate != 24000 || seconds < 7 || seconds > 7.5 || int(binary.LittleEndian.Uint32(audio[40:])) != len(audio)-44 {
				t.Errorf("%s: %d Hz, %.2f s, %d bytes: want 24 kHz and about 7.2 s (60 ms a character)", model, rate, seconds, len(audio))
			}
			t.Logf("%s: first read %d of %d bytes", model, n, len(audio))
			if model == "openai/tts-1" && n > len(audio)/2 {
				// The simulator sends a quarter second every 100 ms: the client had the first piece long
				// before the last was sent.
				t.Errorf("%s: the first read had %d of %d bytes: the gateway held the audio back", model, n, len(audio))
			}
		}
	})

	t.Run("audio.transcriptions", func(t *testing.T) {
		file := bytes.Repeat([]byte("not really mp3 audio but many bytes of it "), 5<<20/42)
		res, err := client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "openai/whisper-1",
			File: openai.File(bytes.NewReader(file), "meeting.mp3", "audio/mpeg")})
		if err != nil {
			t.Fatal(err)
		}
		if want := "The file meeting.mp3 has " + strconv.Itoa(len(file)) + " bytes"; !strings.HasPrefix(res.Text, want) {
			t.Errorf("text %q, want it to start with %q: the upload did not arrive whole", res.Text, want)
		}
		stream := client.Audio.Transcriptions.NewStreaming(ctx, openai.AudioTranscriptionNewParams{
			Model: "openai/gpt-4o-mini-transcribe", File: openai.File(bytes.NewReader(file[:1000]), "a.wav", "audio/wav")})
		deltas, done := 0, ""
		for stream.Next() {
			ev := stream.Current()
			switch ev.Type {
			case "transcript.text.delta":
				deltas++
			case "transcript.text.done":
				done = ev.Text
			}
		}
		if err := stream.Err(); err != nil || deltas < 5 || !strings.HasPrefix(done, "The file a.wav has 1000 bytes") {
			t.Errorf("stream: %d deltas, done %q, err %v", deltas, done, err)
		}
	})

	t.Run("unsupported", func(t *testing.T) {
		_, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "anthropic/claude-sonnet-4-5", Prompt: "x"})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "unsupported_endpoint" {
			t.Errorf("images on anthropic: %v", err)
		}
		_, err = client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "google/gemini-2.5-flash",
			File: openai.File(strings.NewReader("abc"), "a.wav", "audio/wav")})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "unsupported_endpoint" {
			t.Errorf("transcription on gemini: %v", err)
		}
	})

	t.Run("logs", func(t *testing.T) {
		seen := map[string]gjson.Result{}
		for _, l := range s.accessLog(8) {
			l = l.Get("ai_gateway")
			seen[l.Get("endpoint").Str+" "+l.Get("model").Str] = l
		}
		img := seen["images_generations openai/gpt-image-1"]
		if img.Get("provider").Str != "openai" || img.Get("images").Int() != 1 || img.Get("total_tokens").Int() == 0 ||
			img.Get("cost_usd").Float() <= 0 || img.Get("usage_origin").Str != "reported" {
			t.Errorf("image request's log line: %s", img.Raw)
		}
		if sp := seen["audio_speech openai/tts-1"]; sp.Get("characters").Int() != 120 || sp.Get("cost_usd").Float() != 0.0018 {
			t.Errorf("speech's log line (120 characters of tts-1 at $15 per million): %s", sp.Raw)
		}
		if tr := seen["audio_transcriptions openai/whisper-1"]; tr.Get("audio_seconds").Float() <= 0 || tr.Get("cost_usd").Float() <= 0 {
			t.Errorf("transcription's log line: %s", tr.Raw)
		}
	})
}
