package simulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// DefaultVideoRenderTime is how long a simulated video job takes when Config.VideoRenderTime is zero.
const DefaultVideoRenderTime = 3 * time.Second

// maxVideoJobs bounds the jobs the simulator remembers; the oldest is forgotten first.
const maxVideoJobs = 1024

// Video jobs, as OpenAI's video API (POST/GET */videos, GET/DELETE */videos/{id}, GET */videos/{id}/content)
// and Gemini's Veo (POST */models/{model}:predictLongRunning, GET */models/{model}/operations/{id},
// GET */files/{id}:download) serve them. A job is queued for the first fifth of the render time, then
// in_progress with a progress that grows with the time, then completed, and its content is an MP4 of the
// requested length and aspect ratio (mp4.go). A prompt holding the word "fail" makes a job that fails at the
// end, as a moderated one would.

// videoJob is one simulated job.
type videoJob struct {
	id      string // OpenAI's video id, or Gemini's operation id
	gemini  bool
	model   string
	prompt  string
	seconds int
	size    string // OpenAI's WIDTHxHEIGHT
	created time.Time
	render  time.Duration
}

// videoJobs are the jobs the simulator knows, at most maxVideoJobs.
type videoJobs struct {
	mu    sync.Mutex
	jobs  map[string]*videoJob
	order []string
}

func (v *videoJobs) add(j *videoJob) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.jobs == nil {
		v.jobs = make(map[string]*videoJob)
	}
	if len(v.order) >= maxVideoJobs {
		delete(v.jobs, v.order[0])
		v.order = v.order[1:]
	}
	v.jobs[j.id] = j
	v.order = append(v.order, j.id)
}

func (v *videoJobs) get(id string) *videoJob {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.jobs[id]
}

func (v *videoJobs) remove(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.jobs[id]; !ok {
		return false
	}
	delete(v.jobs, id)
	v.order = slices.DeleteFunc(v.order, func(s string) bool { return s == id })
	return true
}

// openAIJobs returns OpenAI's jobs, newest first.
func (v *videoJobs) openAIJobs() []*videoJob {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*videoJob
	for i := len(v.order) - 1; i >= 0; i-- {
		if j := v.jobs[v.order[i]]; !j.gemini {
			out = append(out, j)
		}
	}
	return out
}

// state is the job's status and progress at now.
func (j *videoJob) state(now time.Time) (status string, progress int) {
	elapsed := now.Sub(j.created)
	switch {
	case elapsed >= j.render:
		if j.failing() {
			return "failed", 100
		}
		return "completed", 100
	case elapsed < j.render/5:
		return "queued", 0
	}
	return "in_progress", min(99, max(1, int(100*elapsed/j.render)))
}

func (j *videoJob) failing() bool {
	for _, w := range wordsOf(strings.ToLower(j.prompt)) {
		if w == "fail" {
			return true
		}
	}
	return false
}

// mp4 renders the job's video.
func (j *videoJob) mp4() []byte {
	w, h := 16, 9
	if a, b, ok := strings.Cut(j.size, "x"); ok {
		w, _ = strconv.Atoi(a)
		h, _ = strconv.Atoi(b)
	}
	hash := fnv.New64a()
	_, _ = io.WriteString(hash, j.prompt)
	return appendMP4(nil, newVideoPicture(w, h), j.seconds, hash.Sum64())
}

// serveVideo reports whether r is a call of the video APIs, and serves it.
func (s *Simulator) serveVideo(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	var serve func(http.ResponseWriter, *http.Request)
	switch {
	case strings.HasSuffix(p, "/videos"):
		serve = s.serveOpenAIVideos
	case strings.Contains(p, "/videos/"):
		serve = s.serveOpenAIVideo
	case strings.HasSuffix(p, ":predictLongRunning") && strings.Contains(p, "/models/"):
		serve = s.serveVeoCreate
	case strings.Contains(p, "/models/") && strings.Contains(p, "/operations/"):
		serve = s.serveVeoOperation
	case strings.Contains(p, "/files/") && strings.HasSuffix(p, ":download"):
		serve = s.serveVeoDownload
	default:
		return false
	}
	if s.requireKey != "" && !keyMatches(r, s.requireKey) {
		d := dialect(openAI{})
		if strings.Contains(p, "/models/") || strings.Contains(p, "/files/") {
			d = gemini{}
		}
		writeError(w, d, http.StatusUnauthorized, "invalid API key: the simulator was configured with "+
			"require_key; send that key as Authorization: Bearer, x-api-key or x-goog-api-key", 0)
		return true
	}
	serve(w, r)
	return true
}

func (s *Simulator) newVideoJob(gemini bool, model, prompt string, seconds int, size string) *videoJob {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if !gemini {
		id = "video_" + id
	}
	j := &videoJob{id: id, gemini: gemini, model: model, prompt: prompt, seconds: seconds, size: size,
		created: time.Now(), render: s.videoRender}
	s.videos.add(j)
	return j
}

// serveOpenAIVideos serves POST */videos (create, multipart as the SDKs send it, or JSON) and GET */videos.
func (s *Simulator) serveOpenAIVideos(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.listOpenAIVideos(w, r)
		return
	case http.MethodPost:
	default:
		writeError(w, openAI{}, http.StatusMethodNotAllowed, "use POST or GET for "+r.URL.Path, 0)
		return
	}
	fields, err := videoFields(r)
	if err != nil {
		writeError(w, openAI{}, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if strings.TrimSpace(fields["prompt"]) == "" {
		writeError(w, openAI{}, http.StatusBadRequest, "prompt is required", 0)
		return
	}
	model := orDefault(fields["model"], "sora-2")
	seconds, err := strconv.Atoi(orDefault(fields["seconds"], "4"))
	if err != nil || seconds < 1 || seconds > 60 {
		writeError(w, openAI{}, http.StatusBadRequest, "seconds must be a whole number from 1 to 60, such as \"4\"", 0)
		return
	}
	size := orDefault(fields["size"], "720x1280")
	if a, b, ok := strings.Cut(size, "x"); !ok || atoiPositive(a) == 0 || atoiPositive(b) == 0 {
		writeError(w, openAI{}, http.StatusBadRequest, "size must be WIDTHxHEIGHT, such as 1280x720", 0)
		return
	}
	j := s.newVideoJob(false, model, fields["prompt"], seconds, size)
	writeJSON(w, http.StatusOK, j.appendOpenAI(nil, time.Now()))
}

func atoiPositive(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 10000 {
		return 0
	}
	return n
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// videoFields reads the text fields of a create request, multipart or JSON; files are read and dropped.
func videoFields(r *http.Request) (map[string]string, error) {
	body := http.MaxBytesReader(nil, r.Body, maxRequestBody)
	fields := map[string]string{}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return fields, nil
			}
			if err != nil {
				return nil, fmt.Errorf("the multipart body cannot be read: %v", err)
			}
			if part.FileName() != "" {
				_, _ = io.Copy(io.Discard, part)
				continue
			}
			v, err := io.ReadAll(io.LimitReader(part, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("the multipart body cannot be read: %v", err)
			}
			fields[part.FormName()] = string(v)
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("the request body cannot be read: %v", err)
	}
	root, err := parseObject(b)
	if err != nil {
		return nil, err
	}
	root.ForEach(func(k, v gjson.Result) bool {
		if v.Type == gjson.String || v.Type == gjson.Number {
			fields[k.Str] = v.String()
		}
		return true
	})
	return fields, nil
}

// serveOpenAIVideo serves GET and DELETE */videos/{id} and GET */videos/{id}/content.
func (s *Simulator) serveOpenAIVideo(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	id, rest, _ := strings.Cut(p[strings.LastIndex(p, "/videos/")+len("/videos/"):], "/")
	j := s.videos.get(id)
	if j == nil || j.gemini || (rest != "" && rest != "content") {
		writeError(w, openAI{}, http.StatusNotFound, "no video with id '"+id+"'", 0)
		return
	}
	now := time.Now()
	switch {
	case rest == "content" && r.Method == http.MethodGet:
		if v := r.URL.Query().Get("variant"); v != "" && v != "video" {
			writeError(w, openAI{}, http.StatusNotFound, "the simulator renders no "+v+"; ask for variant=video", 0)
			return
		}
		if status, _ := j.state(now); status != "completed" {
			writeError(w, openAI{}, http.StatusConflict, "video '"+id+"' is "+status+": its content is not ready", 0)
			return
		}
		writeMP4(w, r, j.mp4())
	case rest == "" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, j.appendOpenAI(nil, now))
	case rest == "" && r.Method == http.MethodDelete:
		s.videos.remove(id)
		writeJSON(w, http.StatusOK, []byte(`{"id":"`+id+`","object":"video.deleted","deleted":true}`))
	default:
		writeError(w, openAI{}, http.StatusMethodNotAllowed, "use GET or DELETE for "+p, 0)
	}
}

// listOpenAIVideos serves GET */videos: newest first (order=asc: oldest first), after and limit (default 20).
func (s *Simulator) listOpenAIVideos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	jobs := s.videos.openAIJobs()
	if q.Get("order") == "asc" {
		slices.Reverse(jobs)
	}
	if after := q.Get("after"); after != "" {
		i := slices.IndexFunc(jobs, func(j *videoJob) bool { return j.id == after })
		if i < 0 {
			writeError(w, openAI{}, http.StatusNotFound, "no video with id '"+after+"'", 0)
			return
		}
		jobs = jobs[i+1:]
	}
	limit := 20
	if l := q.Get("limit"); l != "" {
		if limit = atoiPositive(l); limit == 0 || limit > 100 {
			writeError(w, openAI{}, http.StatusBadRequest, "limit must be from 1 to 100", 0)
			return
		}
	}
	more := len(jobs) > limit
	if more {
		jobs = jobs[:limit]
	}
	now := time.Now()
	b := []byte(`{"object":"list","data":[`)
	for i, j := range jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = j.appendOpenAI(b, now)
	}
	b = append(b, `],"first_id":`...)
	b = appendIDOrNull(b, jobs, 0)
	b = append(b, `,"last_id":`...)
	b = appendIDOrNull(b, jobs, len(jobs)-1)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, more)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

func appendIDOrNull(b []byte, jobs []*videoJob, i int) []byte {
	if i < 0 || i >= len(jobs) {
		return append(b, "null"...)
	}
	return strconv.AppendQuote(b, jobs[i].id)
}

// appendOpenAI appends the job as OpenAI's video object at now.
func (j *videoJob) appendOpenAI(b []byte, now time.Time) []byte {
	status, progress := j.state(now)
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, j.id)
	b = append(b, `,"object":"video","model":`...)
	b = strconv.AppendQuote(b, j.model)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","progress":`...)
	b = strconv.AppendInt(b, int64(progress), 10)
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, j.created.Unix(), 10)
	b = append(b, `,"completed_at":`...)
	if status == "completed" || status == "failed" {
		b = strconv.AppendInt(b, j.created.Add(j.render).Unix(), 10)
		b = append(b, `,"expires_at":`...)
		b = strconv.AppendInt(b, j.created.Add(j.render+24*time.Hour).Unix(), 10)
	} else {
		b = append(b, `null,"expires_at":null`...)
	}
	b = append(b, `,"prompt":`...)
	b = transform.AppendJSONString(b, j.prompt)
	b = append(b, `,"seconds":"`...)
	b = strconv.AppendInt(b, int64(j.seconds), 10)
	b = append(b, `","size":`...)
	b = strconv.AppendQuote(b, j.size)
	b = append(b, `,"remixed_from_video_id":null,"error":`...)
	if status == "failed" {
		b = append(b, `{"code":"moderation_blocked","message":"the simulator fails prompts that say fail"}`...)
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// veoSizes maps Veo's aspect ratio and resolution to a size.
var veoSizes = map[string]string{
	"16:9 720p": "1280x720", "9:16 720p": "720x1280", "16:9 1080p": "1920x1080", "9:16 1080p": "1080x1920",
	"16:9 4k": "3840x2160", "9:16 4k": "2160x3840",
}

// serveVeoCreate serves POST */models/{model}:predictLongRunning.
func (s *Simulator) serveVeoCreate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, gemini{}, http.StatusMethodNotAllowed, "use POST for "+r.URL.Path, 0)
		return
	}
	p := r.URL.Path
	model := strings.TrimSuffix(p[strings.LastIndex(p, "/models/")+len("/models/"):], ":predictLongRunning")
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, gemini{}, http.StatusBadRequest, "the request body cannot be read", 0)
		return
	}
	root, err := parseObject(b)
	if err != nil {
		writeError(w, gemini{}, http.StatusBadRequest, err.Error(), 0)
		return
	}
	prompt := root.Get("instances.0.prompt").String()
	if strings.TrimSpace(prompt) == "" {
		writeError(w, gemini{}, http.StatusBadRequest, "instances[0].prompt is required", 0)
		return
	}
	params := root.Get("parameters")
	seconds := 8
	if d := params.Get("durationSeconds"); d.Exists() {
		seconds = int(d.Int())
		if d.Type != gjson.Number || seconds < 1 || seconds > 60 {
			writeError(w, gemini{}, http.StatusBadRequest, "parameters.durationSeconds must be a number of seconds", 0)
			return
		}
	}
	ar, res := orDefault(params.Get("aspectRatio").String(), "16:9"), orDefault(params.Get("resolution").String(), "720p")
	size, ok := veoSizes[ar+" "+res]
	if !ok {
		writeError(w, gemini{}, http.StatusBadRequest, "aspectRatio must be 16:9 or 9:16 and resolution 720p, 1080p or 4k", 0)
		return
	}
	j := s.newVideoJob(true, model, prompt, seconds, size)
	writeJSON(w, http.StatusOK, []byte(`{"name":"models/`+model+`/operations/`+j.id+`"}`))
}

// serveVeoOperation serves GET */models/{model}/operations/{id}.
func (s *Simulator) serveVeoOperation(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	rest := p[strings.LastIndex(p, "/models/")+len("/models/"):]
	model, id, _ := strings.Cut(rest, "/operations/")
	j := s.videos.get(id)
	if r.Method != http.MethodGet || j == nil || !j.gemini || j.model != model {
		writeError(w, gemini{}, http.StatusNotFound, "operation "+rest+" not found", 0)
		return
	}
	status, _ := j.state(time.Now())
	b := []byte(`{"name":"models/` + model + `/operations/` + id + `"`)
	switch status {
	case "completed":
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		prefix := p[:strings.LastIndex(p, "/models/")]
		uri := scheme + "://" + r.Host + prefix + "/files/" + id + ":download?alt=media"
		b = append(b, `,"done":true,"response":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse","generateVideoResponse":{"generatedSamples":[{"video":{"uri":`...)
		b = strconv.AppendQuote(b, uri)
		b = append(b, `}}]}}`...)
	case "failed":
		b = append(b, `,"done":true,"response":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse","generateVideoResponse":{"raiMediaFilteredCount":1,"raiMediaFilteredReasons":["The simulator filters prompts that say fail."]}}`...)
	default:
		b = append(b, `,"done":false`...)
	}
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// serveVeoDownload serves GET */files/{id}:download, the finished video's bytes.
func (s *Simulator) serveVeoDownload(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	id := strings.TrimSuffix(p[strings.LastIndex(p, "/files/")+len("/files/"):], ":download")
	j := s.videos.get(id)
	if r.Method != http.MethodGet || j == nil || !j.gemini {
		writeError(w, gemini{}, http.StatusNotFound, "file "+id+" not found", 0)
		return
	}
	if status, _ := j.state(time.Now()); status != "completed" {
		writeError(w, gemini{}, http.StatusNotFound, "file "+id+" not found", 0)
		return
	}
	writeMP4(w, r, j.mp4())
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeMP4 answers with a video, or the byte range the request asks for (players seek with Range).
func writeMP4(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
