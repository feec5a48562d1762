package simulator

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tidwall/gjson"
)

func doVideo(t *testing.T, srv *httptest.Server, method, path, contentType string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(t, resp)
}

// multipartVideo is a create request as the SDKs send it.
func multipartVideo(t *testing.T, fields ...string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, _ := mw.CreateFormFile("input_reference", "ref.png")
	fw.Write([]byte("\x89PNG not really"))
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestVideoJobStates(t *testing.T) {
	created := time.Unix(1000, 0)
	j := &videoJob{created: created, render: 10 * time.Second, prompt: "a cat"}
	for _, c := range []struct {
		after    time.Duration
		status   string
		progress int
	}{
		{0, "queued", 0}, {time.Second, "queued", 0}, {2 * time.Second, "in_progress", 20},
		{5 * time.Second, "in_progress", 50}, {9990 * time.Millisecond, "in_progress", 99},
		{10 * time.Second, "completed", 100}, {time.Hour, "completed", 100},
	} {
		if st, p := j.state(created.Add(c.after)); st != c.status || p != c.progress {
			t.Errorf("after %v: %s %d, want %s %d", c.after, st, p, c.status, c.progress)
		}
	}
	j.prompt = "this should FAIL."
	if st, _ := j.state(created.Add(time.Hour)); st != "failed" {
		t.Errorf("a prompt saying fail ends %s", st)
	}
}

func TestOpenAIVideoJobs(t *testing.T) {
	slow := startServer(t, Config{VideoRenderTime: caddy.Duration(time.Hour)})
	ct, body := multipartVideo(t, "model", "sora-2-pro", "prompt", "a red fox", "seconds", "8", "size", "1792x1024")
	resp, b := doVideo(t, slow, "POST", "/v1/videos", ct, body)
	v := gjson.ParseBytes(b)
	if resp.StatusCode != 200 || v.Get("object").Str != "video" || v.Get("status").Str != "queued" ||
		v.Get("model").Str != "sora-2-pro" || v.Get("seconds").Str != "8" || v.Get("size").Str != "1792x1024" ||
		v.Get("completed_at").Type != gjson.Null {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	resp, b = doVideo(t, slow, "GET", "/v1/videos/"+v.Get("id").Str+"/content", "", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("content before the end: %d %s", resp.StatusCode, b)
	}

	fast := startServer(t, Config{VideoRenderTime: caddy.Duration(time.Nanosecond)})
	resp, b = doVideo(t, fast, "POST", "/v1/videos", ct, body)
	id := gjson.GetBytes(b, "id").Str
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	_, b = doVideo(t, fast, "GET", "/v1/videos/"+id, "", nil)
	if gjson.GetBytes(b, "status").Str != "completed" || gjson.GetBytes(b, "progress").Int() != 100 ||
		gjson.GetBytes(b, "completed_at").Int() == 0 || gjson.GetBytes(b, "expires_at").Int() == 0 {
		t.Fatalf("after the render time: %s", b)
	}
	resp, b = doVideo(t, fast, "GET", "/v1/videos/"+id+"/content?variant=video", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("content: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mvhd := child(t, parseBoxes(t, b, 0), "moov/mvhd").body
	if d := mvhd[16:20]; int(d[3])|int(d[2])<<8 != 8000 {
		t.Errorf("the video does not last the 8 s asked for")
	}
	if resp, _ = doVideo(t, fast, "GET", "/v1/videos/"+id+"/content?variant=thumbnail", "", nil); resp.StatusCode != 404 {
		t.Errorf("a thumbnail: %d", resp.StatusCode)
	}

	// JSON works too, and a prompt saying fail fails
	resp, b = doVideo(t, fast, "POST", "/v1/videos", "application/json", []byte(`{"prompt":"please fail"}`))
	failing := gjson.GetBytes(b, "id").Str
	if resp.StatusCode != 200 || gjson.GetBytes(b, "model").Str != "sora-2" || gjson.GetBytes(b, "seconds").Str != "4" {
		t.Fatalf("JSON create: %d %s", resp.StatusCode, b)
	}
	_, b = doVideo(t, fast, "GET", "/v1/videos/"+failing, "", nil)
	if gjson.GetBytes(b, "status").Str != "failed" || gjson.GetBytes(b, "error.code").Str == "" {
		t.Errorf("a failing job: %s", b)
	}

	_, b = doVideo(t, fast, "GET", "/v1/videos?limit=1", "", nil)
	if gjson.GetBytes(b, "data.0.id").Str != failing || !gjson.GetBytes(b, "has_more").Bool() {
		t.Errorf("list: %s", b)
	}
	_, b = doVideo(t, fast, "GET", "/v1/videos?after="+failing, "", nil)
	if gjson.GetBytes(b, "data.0.id").Str != id || gjson.GetBytes(b, "has_more").Bool() {
		t.Errorf("list after %s: %s", failing, b)
	}
	resp, b = doVideo(t, fast, "DELETE", "/v1/videos/"+id, "", nil)
	if resp.StatusCode != 200 || !gjson.GetBytes(b, "deleted").Bool() {
		t.Errorf("delete: %d %s", resp.StatusCode, b)
	}
	if resp, _ = doVideo(t, fast, "GET", "/v1/videos/"+id, "", nil); resp.StatusCode != 404 {
		t.Errorf("a deleted job: %d", resp.StatusCode)
	}
	if resp, b = doVideo(t, fast, "POST", "/v1/videos", "application/json", []byte(`{"prompt":""}`)); resp.StatusCode != 400 {
		t.Errorf("no prompt: %d %s", resp.StatusCode, b)
	}
}

func TestVeoVideoJobs(t *testing.T) {
	create := func(srv *httptest.Server) string {
		resp, b := doVideo(t, srv, "POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning", "application/json",
			[]byte(`{"instances":[{"prompt":"waves"}],"parameters":{"aspectRatio":"9:16","resolution":"720p","durationSeconds":4}}`),
			"x-goog-api-key", "gk")
		if resp.StatusCode != 200 || gjson.GetBytes(b, "name").Str == "" {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		return gjson.GetBytes(b, "name").Str
	}
	slow := startServer(t, Config{VideoRenderTime: caddy.Duration(time.Hour), RequireKey: "gk"})
	_, b := doVideo(t, slow, "GET", "/v1beta/"+create(slow), "", nil, "x-goog-api-key", "gk")
	if gjson.GetBytes(b, "done").Bool() || gjson.GetBytes(b, "name").Str == "" {
		t.Errorf("done at once: %s", b)
	}
	srv := startServer(t, Config{VideoRenderTime: caddy.Duration(time.Nanosecond), RequireKey: "gk"})
	_, b = doVideo(t, srv, "GET", "/v1beta/"+create(srv), "", nil, "x-goog-api-key", "gk")
	uri := gjson.GetBytes(b, "response.generateVideoResponse.generatedSamples.0.video.uri").Str
	if !gjson.GetBytes(b, "done").Bool() || uri == "" {
		t.Fatalf("finished operation: %s", b)
	}
	path := uri[len(srv.URL):]
	if resp, _ := doVideo(t, srv, "GET", path, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a download without the key: %d", resp.StatusCode)
	}
	resp, b := doVideo(t, srv, "GET", path, "", nil, "x-goog-api-key", "gk")
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, b)
	}
	tkhd := child(t, parseBoxes(t, b, 0), "moov/trak/tkhd").body
	if w, h := int(tkhd[76])<<8|int(tkhd[77]), int(tkhd[80])<<8|int(tkhd[81]); w >= h {
		t.Errorf("a 9:16 video is %dx%d", w, h)
	}
}
