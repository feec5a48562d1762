package gateway

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/simulator"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// videoGateway is a gateway in front of one simulator serving OpenAI's video API (provider "openai") and Veo
// (provider "google"), with videos rendered in render.
func videoGateway(t *testing.T, render time.Duration, mutate ...func(*Config)) *Gateway {
	t.Helper()
	sim := httptest.NewServer(simulator.New(simulator.Config{VideoRenderTime: caddy.Duration(render)}))
	t.Cleanup(sim.Close)
	cfg := func(c *Config) {
		c.Providers = []Provider{
			{Name: "openai", BaseURL: sim.URL + "/v1", APIKeys: []string{"sk-a"},
				Dialect: transform.NewOpenAI(transform.OpenAIOptions{})},
			{Name: "google", BaseURL: sim.URL + "/v1beta", APIKeys: []string{"gm-key"},
				Dialect: transform.NewGemini(transform.GeminiOptions{})},
			{Name: "claude", BaseURL: sim.URL, Dialect: transform.NewAnthropic(transform.AnthropicOptions{})},
		}
	}
	return newGateway(t, sim.URL, append([]func(*Config){cfg}, mutate...)...)
}

// call sends one request to the gateway and returns the answer and the Result.
func call(t *testing.T, g *Gateway, method, path, body string) (*httptest.ResponseRecorder, *Result) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	res := g.Serve(rec, httptest.NewRequest(method, path, rd))
	return rec, res
}

func TestVideoRoutes(t *testing.T) {
	for p, want := range map[string]Endpoint{
		"/v1/videos":                   Videos,
		"/api/v1/videos":               Videos,
		"/v1/videos/video_abc":         Video,
		"/v1/videos/video_abc/content": VideoContent,
		"/v1/videos/video_abc/remix":   NotOurs,
		"/v1/videos/":                  NotOurs,
	} {
		if got := route(p); got != want {
			t.Errorf("route(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestVideoIDsNameProviderAndKey(t *testing.T) {
	g := videoGateway(t, time.Second, func(c *Config) { c.Providers[0].APIKeys = []string{"sk-a", "sk-b"} })
	for _, c := range []struct {
		provider string
		key      int
	}{{"openai", 0}, {"openai", 1}, {"google", 0}} {
		id := wrapVideoID(c.provider, c.key, "video_123")
		if !strings.HasPrefix(id, "video_aigw") {
			t.Errorf("%s/%d: id %q keeps no video_ prefix", c.provider, c.key, id)
		}
		u, key, up, ok := g.unwrapVideoID(id)
		if !ok || u.Name != c.provider || key != c.key || up != "video_123" {
			t.Errorf("unwrap(%q) = %v, %d, %q, %v", id, u, key, up, ok)
		}
	}
	for _, forged := range []string{
		"video_123",                              // not the gateway's
		wrapResourceID("nobody", "video_1"),      // no such provider
		wrapResourceID("openai/2", "video_1"),    // no such key
		wrapResourceID("openai/0", "video_1"),    // key 0 is never spelled out
		wrapResourceID("openai/01", "video_1"),   // nor with leading zeros
		wrapResourceID("claude", "video_1"),      // a provider without videos
		"video_aigw!!!.video_1",                  // not base64
		wrapResourceID("openai", "video_1")[:12], // cut short
	} {
		if _, _, _, ok := g.unwrapVideoID(forged); ok {
			t.Errorf("unwrap(%q) accepted a forged id", forged)
		}
	}
}

func TestVideoForgedIDIs404WithoutUpstream(t *testing.T) {
	var hits atomic.Int32
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { hits.Add(1) })
	g := newGateway(t, base)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/videos/video_abc"},
		{"GET", "/v1/videos/" + wrapResourceID("other", "video_abc") + "/content"},
		{"DELETE", "/v1/videos/" + wrapResourceID("openai/5", "video_abc")},
	} {
		rec, res := call(t, g, c.method, c.path, "")
		if rec.Code != http.StatusNotFound || gjson.Get(rec.Body.String(), "error.code").Str != "video_not_found" ||
			gjson.Get(rec.Body.String(), "error.type").Str != "invalid_request_error" {
			t.Errorf("%s %s: %d %s, want 404 video_not_found in OpenAI's shape", c.method, c.path, rec.Code, rec.Body)
		}
		if res.Endpoint == "" {
			t.Errorf("%s %s: no endpoint name in the result", c.method, c.path)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("forged ids reached the upstream %d times", hits.Load())
	}
}

// pollVideo polls GET …/videos/{id} until the job is no longer queued or in progress, and returns the
// statuses seen.
func pollVideo(t *testing.T, g *Gateway, id string) (gjson.Result, []string) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rec, res := call(t, g, "GET", "/v1/videos/"+id, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", id, rec.Code, rec.Body)
		}
		if res.Endpoint != "video" {
			t.Errorf("endpoint %q, want video", res.Endpoint)
		}
		v := gjson.Parse(rec.Body.String())
		if v.Get("id").Str != id {
			t.Fatalf("status answer has id %q, want the client's %q", v.Get("id").Str, id)
		}
		st := v.Get("status").Str
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if st != transform.VideoQueued && st != transform.VideoInProgress {
			return v, seen
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Fatalf("job %s never finished: %v", id, seen)
	return gjson.Result{}, nil
}

// checkMP4 fails unless b starts with an ftyp box and holds a moov and an mdat box.
func checkMP4(t *testing.T, b []byte) {
	t.Helper()
	var types []string
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("box at %d has size %d of %d bytes", off, size, len(b))
		}
		types = append(types, string(b[off+4:off+8]))
		off += size
	}
	if strings.Join(types, ",") != "ftyp,moov,mdat" {
		t.Fatalf("top-level boxes %v, want ftyp, moov, mdat", types)
	}
}

func TestVideoJobLifecycleOpenAI(t *testing.T) {
	g := videoGateway(t, 300*time.Millisecond)
	rec, res := call(t, g, "POST", "/v1/videos", `{"model":"openai/sora-2","prompt":"a cat on a skateboard","seconds":"4","size":"1280x720"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	v := gjson.Parse(rec.Body.String())
	id := v.Get("id").Str
	if !strings.HasPrefix(id, "video_aigw") || v.Get("model").Str != "openai/sora-2" || v.Get("status").Str != "queued" ||
		v.Get("seconds").Str != "4" || v.Get("size").Str != "1280x720" {
		t.Fatalf("create answered %s", rec.Body)
	}
	if res.Endpoint != "videos" || res.Provider != "openai" || res.UpstreamModel != "sora-2" {
		t.Errorf("result %+v", res)
	}
	done, seen := pollVideo(t, g, id)
	if done.Get("status").Str != "completed" || done.Get("progress").Int() != 100 || done.Get("model").Str != "openai/sora-2" {
		t.Errorf("finished job: %s (statuses %v)", done.Raw, seen)
	}

	rec, res = call(t, g, "GET", "/v1/videos/"+id+"/content", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "video/mp4" || res.Endpoint != "video_content" {
		t.Fatalf("content: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), res.Endpoint)
	}
	checkMP4(t, rec.Body.Bytes())

	// a second job, then the list: newest first, every id the gateway's own
	rec, _ = call(t, g, "POST", "/v1/videos", `{"model":"openai/sora-2","prompt":"a dog"}`)
	second := gjson.Get(rec.Body.String(), "id").Str
	rec, res = call(t, g, "GET", "/v1/videos?provider=openai&limit=1", "")
	l := gjson.Parse(rec.Body.String())
	if rec.Code != http.StatusOK || l.Get("data.0.id").Str != second || l.Get("first_id").Str != second ||
		l.Get("last_id").Str != second || !l.Get("has_more").Bool() || res.Endpoint != "videos" {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	// the next page, from the wrapped cursor
	rec, _ = call(t, g, "GET", "/v1/videos?limit=1&after="+second, "")
	if got := gjson.Get(rec.Body.String(), "data.0.id").Str; got != id {
		t.Errorf("page after %s: %s", second, rec.Body)
	}

	rec, res = call(t, g, "DELETE", "/v1/videos/"+id, "")
	if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "id").Str != id || !gjson.Get(rec.Body.String(), "deleted").Bool() ||
		res.Endpoint != "video" {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	rec, _ = call(t, g, "GET", "/v1/videos/"+id, "")
	if rec.Code != http.StatusNotFound || gjson.Get(rec.Body.String(), "error.code").Str != "video_not_found" {
		t.Errorf("a deleted job: %d %s", rec.Code, rec.Body)
	}
}

func TestVideoJobLifecycleVeo(t *testing.T) {
	g := videoGateway(t, 300*time.Millisecond)
	rec, _ := call(t, g, "POST", "/v1/videos", `{"model":"google/veo-3.0-generate-001","prompt":"a sunrise","size":"720x1280","seconds":"6"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	v := gjson.Parse(rec.Body.String())
	id := v.Get("id").Str
	if !strings.HasPrefix(id, "video_aigw") || v.Get("model").Str != "google/veo-3.0-generate-001" ||
		v.Get("status").Str != "queued" || v.Get("seconds").Str != "6" || v.Get("size").Str != "720x1280" ||
		v.Get("prompt").Str != "a sunrise" {
		t.Fatalf("create answered %s", rec.Body)
	}
	done, seen := pollVideo(t, g, id)
	if done.Get("status").Str != "completed" || done.Get("seconds").Str != "6" || done.Get("size").Str != "720x1280" ||
		done.Get("model").Str != "google/veo-3.0-generate-001" || done.Get("expires_at").Int() <= done.Get("created_at").Int() {
		t.Errorf("finished job: %s (statuses %v)", done.Raw, seen)
	}
	rec, _ = call(t, g, "GET", "/v1/videos/"+id+"/content", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "video/mp4" {
		t.Fatalf("content: %d %s", rec.Code, rec.Body)
	}
	checkMP4(t, rec.Body.Bytes())
	if strings.Contains(rec.Body.String(), "gm-key") || strings.Contains(rec.Header().Get("Location"), "key") {
		t.Error("the download exposed the provider's key")
	}

	for _, c := range []struct{ method, path string }{{"DELETE", "/v1/videos/" + id}, {"GET", "/v1/videos?provider=google"}} {
		rec, _ = call(t, g, c.method, c.path, "")
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.code").Str != "unsupported_endpoint" ||
			!strings.Contains(rec.Body.String(), "Gemini") {
			t.Errorf("%s %s: %d %s, want 400 unsupported_endpoint naming Gemini", c.method, c.path, rec.Code, rec.Body)
		}
	}
	rec, _ = call(t, g, "POST", "/v1/videos", `{"model":"claude/claude-sonnet-4-5","prompt":"x"}`)
	if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.code").Str != "unsupported_endpoint" {
		t.Errorf("a provider without videos: %d %s", rec.Code, rec.Body)
	}
}

func TestVeoOperationMapping(t *testing.T) {
	var op atomic.Value
	var downloadKey atomic.Value
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ":predictLongRunning"):
			io.WriteString(w, `{"name":"models/veo-3.1-generate-preview/operations/op1"}`)
		case strings.HasSuffix(r.URL.Path, "/operations/op1"):
			io.WriteString(w, strings.ReplaceAll(op.Load().(string), "BASE", base))
		case strings.Contains(r.URL.Path, "/files/"):
			downloadKey.Store(r.Header.Get("X-Goog-Api-Key") + r.URL.Query().Get("key"))
			w.Header().Set("Content-Type", "video/mp4")
			io.WriteString(w, "MP4BYTES")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	g := newGateway(t, srv.URL, func(c *Config) {
		c.Providers = []Provider{{Name: "google", BaseURL: srv.URL + "/v1beta", APIKeys: []string{"gm-secret"},
			Dialect: transform.NewGemini(transform.GeminiOptions{})}}
	})
	rec, _ := call(t, g, "POST", "/v1/videos", `{"model":"google/veo-3.1-generate-preview","prompt":"p"}`)
	id := gjson.Get(rec.Body.String(), "id").Str
	if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "seconds").Str != "8" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct{ op, status, code string }{
		{`{"name":"models/veo-3.1-generate-preview/operations/op1","done":false}`, "in_progress", ""},
		{`{"name":"x","done":true,"error":{"code":3,"message":"bad prompt","status":"INVALID_ARGUMENT"}}`, "failed", "invalid_argument"},
		{`{"name":"x","done":true,"response":{"generateVideoResponse":{"raiMediaFilteredCount":1,"raiMediaFilteredReasons":["filtered"]}}}`, "failed", "video_generation_failed"},
		{`{"name":"x","done":true,"response":{"generateVideoResponse":{"generatedSamples":[{"video":{"uri":"BASE/v1beta/files/f1:download?alt=media"}}]}}}`, "completed", ""},
	} {
		op.Store(c.op)
		rec, _ := call(t, g, "GET", "/v1/videos/"+id, "")
		v := gjson.Parse(rec.Body.String())
		if rec.Code != http.StatusOK || v.Get("status").Str != c.status || v.Get("error.code").Str != c.code ||
			v.Get("model").Str != "google/veo-3.1-generate-preview" {
			t.Errorf("operation %s: %d %s", c.op, rec.Code, rec.Body)
		}
	}
	rec, _ = call(t, g, "GET", "/v1/videos/"+id+"/content", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "MP4BYTES" || downloadKey.Load() != "gm-secret" {
		t.Errorf("download: %d %s, key sent %q", rec.Code, rec.Body, downloadKey.Load())
	}
	// a URL of another origin never gets the key
	op.Store(`{"name":"x","done":true,"response":{"generateVideoResponse":{"generatedSamples":[{"video":{"uri":"` +
		strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + `/files/f1:download"}}]}}}`)
	rec, _ = call(t, g, "GET", "/v1/videos/"+id+"/content", "")
	if rec.Code != http.StatusOK || downloadKey.Load() != "" {
		t.Errorf("download from another origin: %d, key sent %q", rec.Code, downloadKey.Load())
	}
	// not finished: a 409 that says so
	op.Store(`{"name":"x","done":false}`)
	rec, _ = call(t, g, "GET", "/v1/videos/"+id+"/content", "")
	if rec.Code != http.StatusConflict || gjson.Get(rec.Body.String(), "error.code").Str != "video_not_ready" {
		t.Errorf("content of a running job: %d %s", rec.Code, rec.Body)
	}
	rec, _ = call(t, g, "GET", "/v1/videos/"+id+"/content?variant=thumbnail", "")
	if rec.Code != http.StatusNotFound || gjson.Get(rec.Body.String(), "error.code").Str != "variant_not_found" {
		t.Errorf("a thumbnail from Veo: %d %s", rec.Code, rec.Body)
	}
}

func TestVideoContentIsStreamedThrough(t *testing.T) {
	release := make(chan struct{})
	first := bytes.Repeat([]byte("A"), 64<<10)
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Header.Get("Authorization") != "Bearer sk-b" {
			http.Error(w, `{"error":{"message":"wrong key","type":"invalid_request_error"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("END"))
	})
	g := newGateway(t, base, func(c *Config) { c.Providers[0].APIKeys = []string{"sk-a", "sk-b"} })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/v1/videos/" + wrapVideoID("openai", 1, "video_9") + "/content")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, got); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("the first 64 KiB did not arrive before the upstream finished: %v", err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "END" {
		t.Errorf("the rest: %q", rest)
	}
}

func TestVideoCostChargedOnceAtCreate(t *testing.T) {
	g := videoGateway(t, 50*time.Millisecond)
	for _, c := range []struct {
		body  string
		cost  string
		usage usage.Usage
	}{
		// sora-2-pro: $0.50 a second at 1792x1024
		{`{"model":"openai/sora-2-pro","prompt":"p","seconds":"8","size":"1792x1024"}`, "4", usage.Usage{VideoSeconds: 8, VideoSize: "1792x1024"}},
		// the upstream's answer says how long: the simulator's default is 4 s of 720x1280, at $0.10
		{`{"model":"openai/sora-2","prompt":"p"}`, "0.4", usage.Usage{VideoSeconds: 4, VideoSize: "720x1280"}},
		// Veo 3.1 at 4k: $0.60 a second, 8 s by default
		{`{"model":"google/veo-3.1-generate-preview","prompt":"p","size":"3840x2160"}`, "4.8", usage.Usage{VideoSeconds: 8, VideoSize: "3840x2160"}},
	} {
		rec, res := call(t, g, "POST", "/v1/videos", c.body)
		if rec.Code != http.StatusOK || rec.Header().Get("X-AI-Gateway-Cost") != c.cost ||
			res.Usage.VideoSeconds != c.usage.VideoSeconds || res.Usage.VideoSize != c.usage.VideoSize {
			t.Errorf("%s: %d cost %q usage %+v, want cost %s", c.body, rec.Code, rec.Header().Get("X-AI-Gateway-Cost"),
				res.Usage, c.cost)
		}
		id := gjson.Get(rec.Body.String(), "id").Str
		// polling, listing and downloading cost nothing: the job was charged once, when it was created
		pollVideo(t, g, id)
		for _, p := range []string{"/v1/videos/" + id, "/v1/videos/" + id + "/content"} {
			_, res := call(t, g, "GET", p, "")
			if res.CostUSD > 0 || res.Usage.VideoSeconds != 0 {
				t.Errorf("GET %s was charged %v (%+v)", p, res.CostUSD, res.Usage)
			}
		}
	}
}

func TestBudgetStopsVideoCreate(t *testing.T) {
	budget, _ := ratelimit.ParseBudget("1usd/1d")
	var hits atomic.Int32
	sim := simulator.New(simulator.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g := newGateway(t, srv.URL+"/v1", func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "team", Budget: budget})
		c.Claims = func(r *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "team", Key: "team"}}
		}
	})
	// $0.30 a second: 3 s costs $0.90, within the budget; the next 3 s would overrun it
	body := `{"model":"openai/sora-2-pro","prompt":"p","seconds":"3","size":"1280x720"}`
	rec, res := call(t, g, "POST", "/v1/videos", body)
	if rec.Code != http.StatusOK || res.CostUSD != 0.9 {
		t.Fatalf("first job: %d %s cost %v", rec.Code, rec.Body, res.CostUSD)
	}
	rec, _ = call(t, g, "POST", "/v1/videos", body)
	if rec.Code != http.StatusTooManyRequests || gjson.Get(rec.Body.String(), "error.code").Str != "insufficient_quota" {
		t.Fatalf("second job: %d %s, want 429 insufficient_quota", rec.Code, rec.Body)
	}
	// a job that names no length reserves the longest (12 s, $3.60): refused before the upstream too
	rec, _ = call(t, g, "POST", "/v1/videos", `{"model":"openai/sora-2-pro","prompt":"p"}`)
	if rec.Code != http.StatusTooManyRequests || hits.Load() != 1 {
		t.Fatalf("a job without seconds: %d, %d upstream requests, want 429 and 1", rec.Code, hits.Load())
	}
}

func TestVideoCreateMultipartLikeTheSDKs(t *testing.T) {
	var got atomic.Value
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		got.Store(r.Header.Get("Content-Type") + "\n" + string(body))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"video_1","object":"video","model":"sora-2","status":"queued","progress":0,"seconds":"8","size":"1280x720"}`)
	})
	g := newGateway(t, base)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("prompt", "a fox")
	fw, _ := mw.CreateFormFile("input_reference", "ref.png")
	fw.Write([]byte("PNGDATA"))
	mw.WriteField("model", "openai/sora-2")
	mw.WriteField("seconds", "8")
	mw.WriteField("size", "1280x720")
	mw.Close()
	req := httptest.NewRequest("POST", "/v1/videos", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	res := g.Serve(rec, req)
	if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "model").Str != "openai/sora-2" ||
		!strings.HasPrefix(gjson.Get(rec.Body.String(), "id").Str, "video_aigw") || res.CostUSD != 0.8 {
		t.Fatalf("%d %s cost %v", rec.Code, rec.Body, res.CostUSD)
	}
	up, _ := got.Load().(string)
	if !strings.HasPrefix(up, "multipart/form-data") || !strings.Contains(up, "PNGDATA") ||
		!strings.Contains(up, "name=\"model\"\r\n\r\nsora-2\r\n") || strings.Contains(up, "openai/sora-2") {
		t.Errorf("the upstream got %q: want the form with model rewritten and the file", up)
	}
}

func TestVeoCreateFromMultipart(t *testing.T) {
	var got atomic.Value
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		got.Store(string(body))
		io.WriteString(w, `{"name":"models/veo-3.1-generate-preview/operations/o1"}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = []Provider{{Name: "google", BaseURL: base, APIKeys: []string{"k"}, Dialect: transform.NewGemini(transform.GeminiOptions{})}}
	})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("model", "google/veo-3.1-generate-preview")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="input_reference"; filename="ref.png"`)
	h.Set("Content-Type", "image/png")
	fw, _ := mw.CreatePart(h)
	fw.Write([]byte("PNGDATA"))
	mw.WriteField("prompt", "a fox") // after the file: the whole form is read before routing
	mw.WriteField("seconds", "4")
	mw.Close()
	req := httptest.NewRequest("POST", "/v1/videos", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	res := g.Serve(rec, req)
	if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "seconds").Str != "4" || res.CostUSD != 1.6 {
		t.Fatalf("%d %s cost %v", rec.Code, rec.Body, res.CostUSD)
	}
	up, _ := got.Load().(string)
	want := `{"instances":[{"prompt":"a fox","image":{"bytesBase64Encoded":"UE5HREFUQQ==","mimeType":"image/png"}}],` +
		`"parameters":{"aspectRatio":"16:9","resolution":"720p","durationSeconds":4}}`
	if up != want {
		t.Errorf("Veo got %s\nwant %s", up, want)
	}
}

func TestVideoCallsCountAgainstRequestLimits(t *testing.T) {
	g := videoGateway(t, time.Hour, func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "rpm", Requests: ratelimit.Rate{Limit: 3, Window: time.Hour}})
		c.Claims = func(r *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "rpm", Key: "k"}}
		}
	})
	rec, _ := call(t, g, "POST", "/v1/videos", `{"model":"openai/sora-2","prompt":"p"}`)
	id := gjson.Get(rec.Body.String(), "id").Str
	for i, want := range []int{200, 200, 429} {
		rec, _ := call(t, g, "GET", "/v1/videos/"+id, "")
		if rec.Code != want {
			t.Errorf("poll %d: %d %s, want %d", i+1, rec.Code, rec.Body, want)
		}
	}
}

func TestVideoContentRangeForPlayers(t *testing.T) {
	g := videoGateway(t, time.Nanosecond)
	for _, model := range []string{"openai/sora-2", "google/veo-3.1-generate-preview"} {
		rec, _ := call(t, g, "POST", "/v1/videos", `{"model":"`+model+`","prompt":"p"}`)
		id := gjson.Get(rec.Body.String(), "id").Str
		pollVideo(t, g, id)
		whole, _ := call(t, g, "GET", "/v1/videos/"+id+"/content", "")
		req := httptest.NewRequest("GET", "/v1/videos/"+id+"/content", nil)
		req.Header.Set("Range", "bytes=4-11")
		part := httptest.NewRecorder()
		g.Serve(part, req)
		if part.Code != http.StatusPartialContent || part.Body.String() != whole.Body.String()[4:12] ||
			!strings.HasPrefix(part.Header().Get("Content-Range"), "bytes 4-11/") {
			t.Errorf("%s: Range bytes=4-11: %d %q, %d bytes", model, part.Code, part.Header().Get("Content-Range"), part.Body.Len())
		}
	}
}

func TestVideoContentFollowsRedirectsWithoutLeakingTheKey(t *testing.T) {
	var cdnAuth atomic.Value
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "video/mp4")
		io.WriteString(w, "SIGNED")
	}))
	t.Cleanup(cdn.Close)
	hops := 0
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/v1/videos/video_9/content":
			http.Redirect(w, r, "/v1/files/video_9", http.StatusFound) // same origin: the key goes along
		case "/v1/files/video_9":
			if r.Header.Get("Authorization") != "Bearer sk-upstream-secret" {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, cdn.URL+"/signed?sig=x", http.StatusTemporaryRedirect)
		case "/v1/videos/video_loop/content":
			hops++
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}
	})
	g := newGateway(t, base)
	rec, _ := call(t, g, "GET", "/v1/videos/"+wrapVideoID("openai", 0, "video_9")+"/content", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "SIGNED" || cdnAuth.Load() != "" {
		t.Errorf("redirected download: %d %q, the CDN got Authorization %q", rec.Code, rec.Body, cdnAuth.Load())
	}
	rec, _ = call(t, g, "GET", "/v1/videos/"+wrapVideoID("openai", 0, "video_loop")+"/content", "")
	if rec.Code != http.StatusBadGateway || hops != 4 {
		t.Errorf("a redirect loop: %d after %d hops, want 502 after 4", rec.Code, hops)
	}
}
