package aigateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// A video job's create and the calls about it are counted under their endpoint names, the create's cost under
// "videos", and the create sets {http.ai_gateway.video_seconds}.
func TestVideoJobsInMetricsAndPlaceholders(t *testing.T) {
	sim := httptest.NewServer(simulator.New(simulator.Config{VideoRenderTime: caddy.Duration(time.Hour)}))
	t.Cleanup(sim.Close)
	h := new(Handler)
	cfg := "ai_gateway {\nprovider openai {\nbase_url " + sim.URL + "/v1\nmodels sora-2\n}\n}"
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(cfg)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	h.logger = zap.NewNop()
	serve := func(method, path, body string) (*httptest.ResponseRecorder, *caddy.Replacer) {
		repl := caddy.NewReplacer()
		req := caddyhttp.PrepareRequest(httptest.NewRequest(method, path, strings.NewReader(body)), repl, nil, &caddyhttp.Server{})
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, req, nil); err != nil {
			t.Fatal(err)
		}
		return rec, repl
	}
	rec, repl := serve(http.MethodPost, "/v1/videos", `{"model":"openai/sora-2","prompt":"p","seconds":"8"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if v, _ := repl.GetString("http.ai_gateway.video_seconds"); v != "8" {
		t.Errorf("{http.ai_gateway.video_seconds} = %q, want 8", v)
	}
	id := gjson.Get(rec.Body.String(), "id").Str
	serve(http.MethodGet, "/v1/videos/"+id, "")
	serve(http.MethodGet, "/v1/videos/"+id, "")
	if got := testutil.ToFloat64(h.metrics.cost.WithLabelValues("videos", "openai", "openai/sora-2")); got != 0.8 {
		t.Errorf("cost of the videos endpoint: %v, want 0.8 (8 s at $0.10)", got)
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("videos", "openai", "openai/sora-2", "200")); got != 1 {
		t.Errorf("creates counted: %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("video", "openai", "openai/other", "200")); got != 2 {
		t.Errorf("status calls counted: %v, want 2", got)
	}
}
