package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image/png"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// processMemory reads a process's resident set and its peak (VmRSS, VmHWM) in bytes from /proc; ok is false
// where there is no /proc.
func processMemory(pid int) (rss, peak int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, found := strings.Cut(line, ":")
		if !found || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, rss > 0
}

// TestQuickstartMediaOpenAIGo calls the quickstart's image and audio endpoints with openai-go, against the
// simulator as an OpenAI-compatible provider and as Gemini, and measures what a 20 MB transcription upload
// costs the gateway process (which also runs the simulator, which reads uploads as streams too).
func TestQuickstartMediaOpenAIGo(t *testing.T) {
	qs := startQuickstart(t)
	client := openai.NewClient(option.WithBaseURL(qs.url("/v1/")), option.WithAPIKey(quickstartKey),
		option.WithMaxRetries(0), option.WithRequestTimeout(acceptanceTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), 4*acceptanceTimeout)
	defer cancel()

	t.Run("transcription upload memory", func(t *testing.T) {
		const size = 20 << 20
		file := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		// Warm up the paths once, so that what is measured is the upload and not first-use allocations.
		if _, err := client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "openai/whisper-1",
			File: openai.File(bytes.NewReader(file[:1<<20]), "warm.mp3", "audio/mpeg")}); err != nil {
			t.Fatal(err)
		}
		pid := qs.cmd.Process.Pid
		rss0, peak0, ok := processMemory(pid)
		res, err := client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "openai/whisper-1",
			File: openai.File(bytes.NewReader(file), "meeting.mp3", "audio/mpeg")})
		if err != nil {
			t.Fatal(err)
		}
		if want := "The file meeting.mp3 has " + strconv.Itoa(size) + " bytes"; !strings.HasPrefix(res.Text, want) {
			t.Fatalf("text %q, want it to start with %q", res.Text, want)
		}
		if !ok {
			t.Skip("no /proc: the process's memory cannot be read here")
		}
		rss1, peak1, _ := processMemory(pid)
		t.Logf("gateway process for a %d MiB upload: RSS %d -> %d KiB, peak RSS %d -> %d KiB (growth %d KiB)",
			size>>20, rss0>>10, rss1>>10, peak0>>10, peak1>>10, (peak1-peak0)>>10)
		if growth := peak1 - peak0; growth > size/4 {
			t.Errorf("the peak resident memory grew by %d KiB for a %d KiB upload: it was buffered", growth>>10, size>>10)
		}
	})

	t.Run("images", func(t *testing.T) {
		for _, model := range []string{"openai/gpt-image-1", "google/gemini-2.5-flash-image"} {
			res, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: openai.ImageModel(model),
				Prompt: "a lighthouse at dusk", Size: openai.ImageGenerateParamsSize1024x1024})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			raw, _ := base64.StdEncoding.DecodeString(res.Data[0].B64JSON)
			cfg, err := png.DecodeConfig(bytes.NewReader(raw))
			if err != nil || cfg.Width != 1024 || cfg.Height != 1024 {
				t.Errorf("%s: %v %dx%d", model, err, cfg.Width, cfg.Height)
			}
			edit, err := client.Images.Edit(ctx, openai.ImageEditParams{Model: openai.ImageModel(model), Prompt: "invert it",
				Image: openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(raw), "in.png", "image/png")}})
			if err != nil {
				t.Fatalf("%s edit: %v", model, err)
			}
			if edit.Data[0].B64JSON == res.Data[0].B64JSON || len(edit.Data[0].B64JSON) < 100 {
				t.Errorf("%s edit: the image came back unchanged or empty", model)
			}
		}
	})

	t.Run("speech", func(t *testing.T) {
		input := strings.Repeat("Hello from the gateway. ", 10) // 14.4 s of audio, 58 pieces 20 ms apart
		for _, model := range []string{"openai/tts-1", "google/gemini-2.5-flash-preview-tts"} {
			resp, err := client.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: openai.SpeechModel(model), Input: input,
				Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}, ResponseFormat: "wav"})
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
			if len(audio) < 44 || string(audio[8:12]) != "WAVE" || int(binary.LittleEndian.Uint32(audio[40:])) != len(audio)-44 {
				t.Fatalf("%s: not a whole WAV file (%d bytes)", model, len(audio))
			}
			t.Logf("%s: first read %d of %d bytes", model, n, len(audio))
			if model == "openai/tts-1" && n > len(audio)/2 {
				t.Errorf("%s: the first read had %d of %d bytes: the audio was held back", model, n, len(audio))
			}
		}
	})
}
