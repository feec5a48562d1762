package gateway

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Video jobs (OpenAI's video API). POST …/videos creates a job through the engine like any model request
// (routes, fallbacks, limits, budgets, cost: the endpoint table's Videos). The other calls name a job by the
// id the create answered, which names the provider (and the API key, whose project owns the job) holding it
// (resourceid.go), so they reach that provider without any state in the gateway:
//
//	GET    …/videos/{id}           the job's status (videoGet)
//	GET    …/videos/{id}/content   the finished video, streamed through as it arrives (variant=video|thumbnail|spritesheet)
//	DELETE …/videos/{id}           delete the job
//	GET    …/videos                the jobs of one provider: ?provider=<name>, else the provider of the after
//	                               cursor, else the default model's, else the only provider that serves videos
//
// An id the gateway did not hand out, or one naming a provider or key that is not configured, is a 404. These
// calls are not retried and cost nothing (a job is charged when it is created); each counts as a request
// against the rate limits that apply to every model, and they are logged and counted under the endpoint
// names "video", "video_content" and "videos".

// videoOwner is the provider and API key holding a job, as a wrapped id names them: "<provider>" for the
// provider's first key, "<provider>/<key index>" for another (provider names have no "/").
func videoOwner(provider string, key int) string {
	if key == 0 {
		return provider
	}
	return provider + "/" + strconv.Itoa(key)
}

// wrapVideoID is the id the client sees for the upstream job id held by provider's key.
func wrapVideoID(provider string, key int, id string) string {
	return wrapResourceID(videoOwner(provider, key), id)
}

// unwrapVideoID returns the upstream, the key index and the upstream id a client's job id names; ok is false
// for an id the gateway did not hand out or that names a provider, key or dialect that holds no video jobs.
func (g *Gateway) unwrapVideoID(s string) (u *upstream, key int, id string, ok bool) {
	owner, id, ok := unwrapResourceID(s)
	if !ok {
		return nil, 0, "", false
	}
	name, k, hasKey := strings.Cut(owner, "/")
	if hasKey {
		n, err := strconv.Atoi(k)
		if err != nil || n <= 0 || strconv.Itoa(n) != k {
			return nil, 0, "", false
		}
		key = n
	}
	u = g.providers[name]
	if u == nil || u.videos == nil || (key > 0 && key >= len(u.APIKeys)) {
		return nil, 0, "", false
	}
	return u, key, id, true
}

// videoNotFound is the 404 for a job id that names no job the gateway can reach.
func videoNotFound(id string) *transform.Error {
	return &transform.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "video_not_found",
		Param: "video_id", Message: "no video job with id '" + id + "': use an id that POST /v1/videos answered"}
}

// videoPathID returns the job id of a …/videos/{id} or …/videos/{id}/content path.
func videoPathID(p string) string {
	i := strings.LastIndex(p, "/videos/")
	if i < 0 {
		return ""
	}
	id, _, _ := strings.Cut(p[i+len("/videos/"):], "/")
	return id
}

// routeVideo says whether p is …/videos/{id} (Video) or …/videos/{id}/content (VideoContent).
func routeVideo(p string) Endpoint {
	i := strings.LastIndex(p, "/videos/")
	if i < 0 {
		return NotOurs
	}
	id, rest, sub := strings.Cut(p[i+len("/videos/"):], "/")
	switch {
	case id == "":
		return NotOurs
	case !sub:
		return Video
	case rest == "content":
		return VideoContent
	}
	return NotOurs
}

// serveVideoCall serves a call about existing video jobs (ep Video, VideoContent, or Videos with GET).
func (g *Gateway) serveVideoCall(w http.ResponseWriter, r *http.Request, ep Endpoint, res *Result) {
	start := time.Now()
	c := &transform.VideoCall{Op: transform.VideoGet}
	allow := "GET, DELETE"
	switch {
	case ep == Videos:
		c.Op, allow = transform.VideoList, "GET, POST"
	case ep == VideoContent:
		c.Op, allow = transform.VideoContent, "GET"
	case r.Method == http.MethodDelete:
		c.Op = transform.VideoDelete
	}
	if r.Method != http.MethodGet && (r.Method != http.MethodDelete || c.Op != transform.VideoDelete) {
		w.Header().Set("Allow", allow)
		g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
			"use "+strings.ReplaceAll(allow, ", ", " or ")+" for "+r.URL.Path))
		return
	}
	var u *upstream
	key := 0
	clientID := ""
	query := r.URL.Query()
	if c.Op == transform.VideoList {
		var e *transform.Error
		if u, key, e = g.videoListProvider(query); e != nil {
			g.fail(w, res, e)
			return
		}
	} else {
		clientID = videoPathID(r.URL.Path)
		var ok bool
		if u, key, c.ID, ok = g.unwrapVideoID(clientID); !ok {
			g.fail(w, res, videoNotFound(clientID))
			return
		}
	}
	c.Query, c.Provider = query, u.Name
	res.Provider = u.Name
	lim, e := g.limitVideoCall(w, r, res)
	if e != nil {
		g.fail(w, res, e)
		return
	}
	if lim != nil {
		defer func() { g.storeError(lim.Settle(context.WithoutCancel(r.Context()), 0, 0)) }()
	}
	out, err := u.videos.BuildVideoCall(c)
	if err != nil {
		g.fail(w, res, g.videoError(asError(err), clientID))
		return
	}
	label := u.Name + "/other"
	rng := r.Header.Get("Range")
	if c.Op == transform.VideoContent && rng != "" {
		if _, ok := u.videos.(transform.VideoContentLocator); !ok {
			out.Header = out.Header.Clone()
			if out.Header == nil {
				out.Header = http.Header{}
			}
			out.Header.Set("Range", rng)
		}
	}
	resp, cancel, e := g.sendVideo(r, u, key, out, label, res)
	if e != nil {
		g.fail(w, res, g.videoError(e, clientID))
		return
	}
	defer cancel()
	defer resp.Body.Close()
	if c.Op == transform.VideoContent {
		if loc, ok := u.videos.(transform.VideoContentLocator); ok {
			resp, cancel, e = g.locateVideo(r, u, key, c, loc, resp, label, res)
			if e != nil {
				g.fail(w, res, g.videoError(e, clientID))
				return
			}
			defer cancel()
			defer resp.Body.Close()
		} else if next, ok := videoRedirect(resp, resp.Request.URL); ok {
			// the upstream serves its content from elsewhere (a signed URL): the gateway fetches it
			resp, cancel, e = g.fetchVideo(r, u, key, next, 1, label, res)
			if e != nil {
				g.fail(w, res, g.videoError(e, clientID))
				return
			}
			defer cancel()
			defer resp.Body.Close()
		}
		g.relayVideo(w, resp, res, start)
		return
	}
	body, rerr := readResponse(resp, g.cfg.MaxResponseBody)
	if rerr != nil {
		e := transportError(r.Context(), u.Name, rerr)
		if errors.Is(rerr, errTooLarge) {
			e = tooLarge(u.Name, "max_response_body", g.cfg.MaxResponseBody)
		}
		g.fail(w, res, e)
		return
	}
	outBody, terr := u.videos.TranslateVideoCall(c, body)
	if terr != nil {
		g.fail(w, res, g.videoError(asError(terr), clientID))
		return
	}
	res.UpstreamModel = gjson.GetBytes(outBody, "model").Str
	outBody = ownVideoAnswer(outBody, u.Name, key, "")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(outBody)))
	h.Set(hdrProvider, u.Name)
	res.Status = http.StatusOK
	res.TimeToFirstByte = time.Since(start)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(outBody)
}

// limitVideoCall charges a call about video jobs against the rate-limit rules that apply to every model (those
// without a model match): a request each, with no tokens and no spend, since the job was charged when it was
// created. It returns the reservation to settle, nil without limits, or the refusal.
func (g *Gateway) limitVideoCall(w http.ResponseWriter, r *http.Request, res *Result) (*ratelimit.Reservation, *transform.Error) {
	if g.cfg.Limiter == nil || g.cfg.Claims == nil {
		return nil, nil
	}
	claims := g.cfg.Claims(r, LimitScope{ClientKey: res.ClientKey})
	if len(claims) == 0 {
		return nil, nil
	}
	lim, err := g.cfg.Limiter.Reserve(r.Context(), claims)
	g.storeError(err)
	if !lim.Allowed() {
		lim.Headers().Each(w.Header().Set)
		return nil, denialError(lim.Denial())
	}
	return &lim, nil
}

// videoError is the client's error for a failed call about the job clientID: an upstream's 404 says the job is
// not found (not the model, as Gemini's would).
func (g *Gateway) videoError(e *transform.Error, clientID string) *transform.Error {
	if e.Status == http.StatusNotFound && e.Code != "variant_not_found" && clientID != "" {
		return videoNotFound(clientID)
	}
	return e
}

// videoListProvider picks the provider whose jobs GET …/videos lists, and the key to list them with, as
// described above; the after cursor, when set, is unwrapped in query.
func (g *Gateway) videoListProvider(query url.Values) (*upstream, int, *transform.Error) {
	if after := query.Get("after"); after != "" {
		u, key, id, ok := g.unwrapVideoID(after)
		if !ok {
			return nil, 0, videoNotFound(after)
		}
		if p := query.Get("provider"); p != "" && p != u.Name {
			return nil, 0, transform.InvalidRequest("after", "after names a video job of provider '"+u.Name+
				"', not of '"+p+"'")
		}
		query.Set("after", id)
		return u, key, nil
	}
	if p := query.Get("provider"); p != "" {
		u := g.providers[p]
		if u == nil || u.videos == nil {
			return nil, 0, transform.InvalidRequest("provider", "provider '"+p+"' is not configured or does not "+
				"serve videos: name one that does")
		}
		return u, 0, nil
	}
	if g.cfg.DefaultModel != "" {
		if ts, err := g.router.Resolve(g.cfg.DefaultModel); err == nil && len(ts) > 0 {
			if u := g.providers[ts[0].Provider]; u.videos != nil {
				return u, 0, nil
			}
		}
	}
	var only *upstream
	for _, u := range g.providers {
		if u.videos != nil {
			if only != nil {
				return nil, 0, transform.InvalidRequest("provider", "several providers serve videos: "+
					"name the one to list with ?provider=<name>")
			}
			only = u
		}
	}
	if only == nil {
		return nil, 0, transform.NewError(http.StatusBadRequest, "invalid_request_error", "unsupported_endpoint",
			"no configured provider serves videos")
	}
	return only, 0, nil
}

// sendVideo sends one call upstream with the key's credential and records it as the request's attempt. An
// upstream error answer is returned translated.
func (g *Gateway) sendVideo(r *http.Request, u *upstream, key int, out *transform.Outgoing, label string, res *Result) (*http.Response, func(), *transform.Error) {
	began := time.Now()
	resp, cancel, err := g.send(r.Context(), u, key, out, r.Header, false)
	a := Attempt{Target: label, Label: label, Status: http.StatusOK}
	var e *transform.Error
	switch {
	case err != nil:
		e = g.redact.error(transportError(r.Context(), u.Name, err))
	case resp.StatusCode >= 400:
		b, _ := readLimited(resp.Body, maxErrorBody)
		resp.Body.Close()
		cancel()
		e = g.redact.error(u.Dialect.TranslateError(resp.StatusCode, resp.Header, b))
	}
	if e != nil {
		a.Status, a.Err, a.Kind = e.Status, e.Error(), e.Kind
	}
	a.Duration = time.Since(began)
	res.Attempts = append(res.Attempts, a)
	if e != nil {
		return nil, nil, e
	}
	return resp, cancel, nil
}

// locateVideo reads the finished job's status (resp) and starts the download of the video it names.
func (g *Gateway) locateVideo(r *http.Request, u *upstream, key int, c *transform.VideoCall, loc transform.VideoContentLocator, resp *http.Response, label string, res *Result) (*http.Response, func(), *transform.Error) {
	status, err := readResponse(resp, g.cfg.MaxResponseBody)
	if err != nil {
		return nil, nil, transportError(r.Context(), u.Name, err)
	}
	raw, err := loc.VideoContentURL(c, status)
	if err != nil {
		return nil, nil, asError(err)
	}
	return g.fetchVideo(r, u, key, raw, 0, label, res)
}

// maxVideoRedirects bounds the redirects a download follows (an upstream that answers with a signed URL).
const maxVideoRedirects = 3

// fetchVideo starts the download of a video at raw, an absolute URL a provider named (Veo's file, or where an
// upstream redirected its content), following its redirects. The provider's credential goes only to a URL of
// the provider's own origin (its base URL's scheme and host); any other URL is fetched without it. followed is
// the number of redirects that led to raw.
func (g *Gateway) fetchVideo(r *http.Request, u *upstream, key int, raw string, followed int, label string, res *Result) (*http.Response, func(), *transform.Error) {
	bad := transform.NewError(http.StatusBadGateway, "server_error", "upstream_bad_response",
		"provider '"+u.Name+"' named a video location the gateway cannot download")
	base, _ := url.Parse(u.base)
	for redirects := followed; ; redirects++ {
		target, perr := url.Parse(raw)
		if perr != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
			return nil, nil, bad
		}
		ctx, cancel := context.WithTimeout(r.Context(), u.Timeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
		if err != nil {
			cancel()
			return nil, nil, bad
		}
		for _, k := range u.forward {
			if vs, ok := r.Header[k]; ok {
				req.Header[k] = vs
			}
		}
		if rng := r.Header.Get("Range"); rng != "" {
			req.Header.Set("Range", rng)
		}
		if target.Scheme == base.Scheme && target.Host == base.Host {
			apiKey := ""
			if key < len(u.APIKeys) {
				apiKey = u.APIKeys[key]
			}
			if err := u.Dialect.Authorize(req, apiKey); err != nil {
				cancel()
				return nil, nil, transportError(r.Context(), u.Name, &authError{provider: u.Name, err: err})
			}
		}
		began := time.Now()
		dl, err := u.transport.RoundTrip(req)
		a := Attempt{Target: label, Label: label, Status: http.StatusOK, Duration: time.Since(began)}
		var e *transform.Error
		switch {
		case err != nil:
			e = g.redact.error(transportError(r.Context(), u.Name, err))
		case dl.StatusCode >= 400:
			b, _ := readLimited(dl.Body, maxErrorBody)
			dl.Body.Close()
			e = g.redact.error(u.Dialect.TranslateError(dl.StatusCode, dl.Header, b))
			e.Status = http.StatusBadGateway // the download failed, not the client's request
		}
		if e != nil {
			cancel()
			a.Status, a.Err, a.Kind = e.Status, e.Error(), e.Kind
			res.Attempts = append(res.Attempts, a)
			return nil, nil, e
		}
		res.Attempts = append(res.Attempts, a)
		next, redirected := videoRedirect(dl, target)
		if !redirected {
			return dl, cancel, nil
		}
		dl.Body.Close()
		cancel()
		if redirects == maxVideoRedirects {
			return nil, nil, transform.NewError(http.StatusBadGateway, "server_error", "upstream_bad_response",
				"provider '"+u.Name+"' redirected the video download more than 3 times")
		}
		raw = next
	}
}

// videoRedirect returns where a redirect answer to a download (at target) points.
func videoRedirect(resp *http.Response, target *url.URL) (string, bool) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect,
		http.StatusPermanentRedirect:
	default:
		return "", false
	}
	loc, err := target.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return "", false
	}
	return loc.String(), true
}

// relayVideo streams a download to the client as it arrives: its bytes are copied a buffer at a time and
// flushed, never held whole. A client's Range is sent upstream, and a partial answer relayed as one (206,
// Content-Range), so players can seek.
func (g *Gateway) relayVideo(w http.ResponseWriter, resp *http.Response, res *Result, start time.Time) {
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition", "Etag", "Last-Modified",
		"Accept-Ranges", "Content-Range"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set(hdrProvider, res.Provider)
	status := http.StatusOK
	if resp.StatusCode == http.StatusPartialContent {
		status = http.StatusPartialContent
	}
	res.Status = status
	w.WriteHeader(status)
	res.TimeToFirstByte = time.Since(start)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			if err != io.EOF {
				res.Err = transform.StreamCut("the video download from provider '" + res.Provider + "' was cut")
			}
			return
		}
	}
}

// ownVideoAnswer rewrites a translated answer about video jobs for the client: each job's id and
// remixed_from_video_id wrapped to name the provider and key holding it, and its model "<provider>/<model>"
// (or model, when set: the name the client asked for). A list's data, first_id and last_id are rewritten too.
func ownVideoAnswer(body []byte, provider string, key int, model string) []byte {
	root := gjson.ParseBytes(body)
	if root.Get("object").Str == "list" {
		n := int(root.Get("data.#").Int())
		for i := 0; i < n; i++ {
			body = ownVideo(body, "data."+strconv.Itoa(i)+".", root.Get("data."+strconv.Itoa(i)), provider, key, model)
		}
		for _, f := range []string{"first_id", "last_id"} {
			if v := root.Get(f); v.Type == gjson.String && v.Str != "" {
				body, _ = sjson.SetBytes(body, f, wrapVideoID(provider, key, v.Str))
			}
		}
		return body
	}
	return ownVideo(body, "", root, provider, key, model)
}

// ownVideo rewrites one job object v found at path (ending in "." or empty) of body.
func ownVideo(body []byte, path string, v gjson.Result, provider string, key int, model string) []byte {
	if id := v.Get("id"); id.Type == gjson.String && id.Str != "" {
		body, _ = sjson.SetBytes(body, path+"id", wrapVideoID(provider, key, id.Str))
	}
	if id := v.Get("remixed_from_video_id"); id.Type == gjson.String && id.Str != "" {
		body, _ = sjson.SetBytes(body, path+"remixed_from_video_id", wrapVideoID(provider, key, id.Str))
	}
	if m := v.Get("model"); model != "" {
		body, _ = sjson.SetBytes(body, path+"model", model)
	} else if m.Type == gjson.String && m.Str != "" && !strings.HasPrefix(m.Str, provider+"/") {
		body, _ = sjson.SetBytes(body, path+"model", provider+"/"+m.Str)
	}
	return body
}

// ownVideoJob is the Videos endpoint's own: the created job's id names the target holding it.
func ownVideoJob(t router.Target, model string, body []byte) []byte {
	return ownVideoAnswer(body, t.Provider, t.Key, model)
}

// videoField validates a video job request's own fields: prompt, seconds and size.
func videoField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "prompt":
		req.required++
		if v.Type != gjson.String || strings.TrimSpace(v.Str) == "" {
			return transform.InvalidRequest("prompt", "prompt must be a non-empty string describing the video")
		}
	case "seconds", "size":
		if v.Type == gjson.Null {
			return nil
		}
		if v.Type != gjson.String && (key == "size" || v.Type != gjson.Number) {
			return transform.InvalidRequest(key, key+" must be a string, such as \"8\" or \"1280x720\"")
		}
		return videoFormField(req, key, v.String())
	}
	return nil
}

// videoFormField validates a video job form's text fields and records its length and size.
func videoFormField(req *apiRequest, name, value string) *transform.Error {
	switch name {
	case "prompt":
		if strings.TrimSpace(value) == "" {
			return transform.InvalidRequest("prompt", "prompt must be a non-empty string describing the video")
		}
	case "seconds":
		n, _, err := transform.ParseVideoSeconds(value)
		if err != nil {
			return asError(err)
		}
		req.videoSeconds = n
	case "size":
		w, h, ok := strings.Cut(value, "x")
		if !ok || !positiveInt(w) || !positiveInt(h) {
			return transform.InvalidRequest("size", "size must be WIDTHxHEIGHT, such as \"1280x720\"")
		}
		req.videoSize = value
	}
	return nil
}

// videoSecondsEstimate is the length limits reserve for a job that does not say its own: the longest that
// OpenAI's video models make.
const videoSecondsEstimate = 12

// videoUnits are the seconds of video a job asks for, for limits before the answer says more.
func videoUnits(req *apiRequest, u *usage.Usage) {
	if u.VideoSeconds == 0 {
		u.VideoSeconds = req.videoSeconds
		if u.VideoSeconds == 0 {
			u.VideoSeconds = videoSecondsEstimate
		}
	}
	if u.VideoSize == "" {
		u.VideoSize = req.videoSize
	}
}

// isMultipart reports whether r's body is multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// positiveInt reports whether s is a positive decimal integer of at most 5 digits.
func positiveInt(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && len(s) <= 5
}

// videoEndpoints are the video job endpoints served through the engine: the create (endpoints continues
// with them). The calls about existing jobs are served by serveVideoCall.
var videoEndpoints = [...]endpoint{
	{
		id: Videos, suffix: "/videos", methods: "POST", model: modelInJSONOrForm, modelField: "model",
		required: []string{"prompt"}, field: videoField, formField: videoFormField, prompt: countVideoPrompt,
		units: videoUnits, own: ownVideoJob,
		ops: func(d transform.Dialect) *dialectOps {
			if v, ok := d.(transform.VideosDialect); ok {
				return &dialectOps{build: v.BuildVideoCreate, translate: v.TranslateVideoCreate}
			}
			return nil
		},
	},
}

// countVideoPrompt counts a JSON request's prompt (a form's body is not kept: its prompt is not counted).
func countVideoPrompt(t *usage.Tokenizer, model string, body []byte) int {
	if len(body) == 0 {
		return 0
	}
	return countInput(t, model, gjson.GetBytes(body, "prompt"))
}
