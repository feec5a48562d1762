//lint:file-ignore SA1019 OpenAI deprecated its video API (Sora shut down 2026-09-24); the gateway serves its shape for compatible servers and Veo

package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// TestSDKVideos drives the official openai-go video client through the gateway: Videos.New (a multipart
// request, with a reference image), polling with Videos.Get until the job completes, and
// Videos.DownloadContent, against an OpenAI-compatible provider and Gemini's Veo, both played by the
// simulator (which requires the upstream key, so the gateway's server-side download of Veo's file is
// authenticated).
func TestSDKVideos(t *testing.T) {
	sim := httptest.NewServer(simulator.New(simulator.Config{VideoRenderTime: caddy.Duration(300 * time.Millisecond),
		RequireKey: upstreamKey}))
	t.Cleanup(sim.Close)
	s := startGateway(t, providerBlock("openai", "openai", sim.URL+"/v1")+providerBlock("google", "gemini", sim.URL+"/v1beta"))
	client := openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	ctx := context.Background()
	requests := 0
	for _, c := range []struct {
		model string
		size  openai.VideoSize
		cost  string
	}{
		{"openai/sora-2", openai.VideoSize1280x720, "0.4"},
		{"google/veo-3.1-generate-preview", openai.VideoSize720x1280, "1.6"},
	} {
		var created *http.Response
		v, err := client.Videos.New(ctx, openai.VideoNewParams{
			Prompt: "a paper boat on a pond", Model: openai.VideoModel(c.model), Seconds: openai.VideoSeconds4, Size: c.size,
			InputReference: openai.VideoNewParamsInputReferenceUnion{OfFile: openai.File(bytes.NewReader(pngBytes), "ref.png", "image/png")},
		}, option.WithResponseInto(&created))
		requests++
		if err != nil {
			t.Fatalf("%s: Videos.New: %v", c.model, err)
		}
		if !strings.HasPrefix(v.ID, "video_") || string(v.Model) != c.model || v.Status != openai.VideoStatusQueued ||
			v.Seconds != openai.VideoSeconds4 || v.Size != c.size {
			t.Fatalf("%s: created %+v", c.model, v)
		}
		if got := created.Header.Get("X-AI-Gateway-Cost"); got != c.cost {
			t.Errorf("%s: the job cost %q, want %s", c.model, got, c.cost)
		}
		deadline := time.Now().Add(10 * time.Second)
		for v.Status == openai.VideoStatusQueued || v.Status == openai.VideoStatusInProgress {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %s after 10 s", c.model, v.Status)
			}
			time.Sleep(50 * time.Millisecond)
			requests++
			if v, err = client.Videos.Get(ctx, v.ID); err != nil {
				t.Fatalf("%s: Videos.Get: %v", c.model, err)
			}
		}
		if v.Status != openai.VideoStatusCompleted {
			t.Fatalf("%s: the job ended %s: %+v", c.model, v.Status, v.Error)
		}
		resp, err := client.Videos.DownloadContent(ctx, v.ID, openai.VideoDownloadContentParams{})
		requests++
		if err != nil {
			t.Fatalf("%s: Videos.DownloadContent: %v", c.model, err)
		}
		mp4, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Type") != "video/mp4" || len(mp4) < 16 || string(mp4[4:8]) != "ftyp" {
			t.Fatalf("%s: downloaded %d bytes of %q (%v)", c.model, len(mp4), resp.Header.Get("Content-Type"), err)
		}
		// the movie header says how long the video is: 4 s, as asked
		if i := bytes.Index(mp4, []byte("mvhd")); i < 0 || binary.BigEndian.Uint32(mp4[i+20:]) != 4*binary.BigEndian.Uint32(mp4[i+16:]) {
			t.Errorf("%s: the video does not last 4 s", c.model)
		}
		requests++
		if _, err := client.Videos.Get(ctx, "video_not_ours"); !isStatus(err, 404) {
			t.Errorf("a foreign id: %v, want a 404", err)
		}
	}
	var fields []string
	for _, l := range s.accessLog(requests) {
		ai := l.Get("ai_gateway")
		if ai.Get("endpoint").Str == "videos" {
			fields = append(fields, ai.Get("model").Str+" "+ai.Get("cost_usd").Raw+" "+ai.Get("video_seconds").Raw+" "+
				ai.Get("video_size").Str)
		}
	}
	if strings.Join(fields, ", ") != "openai/sora-2 0.4 4 1280x720, google/veo-3.1-generate-preview 1.6 4 720x1280" {
		t.Errorf("the access log's video jobs: %v", fields)
	}
}

// isStatus reports whether err is an API error with the status.
func isStatus(err error, status int) bool {
	var apiErr *openai.Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}

// pngBytes is a 1×1 PNG, a reference image.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
