package transform

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var (
	_ VideosDialect       = (*Gemini)(nil)
	_ VideoContentLocator = (*Gemini)(nil)
)

// Veo's defaults where the client asks for nothing: 8 seconds of 16:9 720p, what Veo 3 renders by default.
const (
	geminiVideoSeconds = 8
	geminiVideoSize    = "1280x720"
	// geminiVideoKeep is how long Gemini keeps a generated video: two days.
	geminiVideoKeep = 2 * 24 * time.Hour
)

// geminiVideoSizes maps OpenAI's video sizes, and the usual 1080p and 4k ones, to Veo's aspect ratio and
// resolution.
var geminiVideoSizes = map[string][2]string{
	"1280x720":  {"16:9", "720p"},
	"720x1280":  {"9:16", "720p"},
	"1792x1024": {"16:9", "1080p"},
	"1024x1792": {"9:16", "1080p"},
	"1920x1080": {"16:9", "1080p"},
	"1080x1920": {"9:16", "1080p"},
	"3840x2160": {"16:9", "4k"},
	"2160x3840": {"9:16", "4k"},
}

// BuildVideoCreate translates a video job request (JSON, or multipart as the SDKs send it) into Veo's
// predictLongRunning: prompt into instances[0].prompt, an input_reference image (a file, or a data: URL) into
// instances[0].image, seconds into parameters.durationSeconds (8 when not asked: the job's length is then
// known, and so is its price) and size into parameters.aspectRatio and resolution.
func (g *Gemini) BuildVideoCreate(req *Request) (*Outgoing, error) {
	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	v, err := readVideoRequest(req)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(v.prompt) == "" {
		return nil, InvalidRequest("prompt", "prompt is required: describe the video")
	}
	seconds, size, err := geminiVideoParams(v)
	if err != nil {
		return nil, err
	}
	ar := geminiVideoSizes[size]
	out := make([]byte, 0, len(v.prompt)+len(v.refData)+160)
	out = append(out, `{"instances":[{"prompt":`...)
	out = AppendJSONString(out, v.prompt)
	if v.refData != "" {
		out = append(out, `,"image":{"bytesBase64Encoded":`...)
		out = AppendJSONString(out, v.refData)
		out = append(out, `,"mimeType":`...)
		out = AppendJSONString(out, v.refMime)
		out = append(out, '}')
	}
	out = append(out, `}],"parameters":{"aspectRatio":`...)
	out = AppendJSONString(out, ar[0])
	out = append(out, `,"resolution":`...)
	out = AppendJSONString(out, ar[1])
	out = append(out, `,"durationSeconds":`...)
	out = strconv.AppendInt(out, int64(seconds), 10)
	out = append(out, `}}`...)
	return &Outgoing{Path: "/models/" + seg + ":predictLongRunning", Body: out}, nil
}

// geminiVideoParams returns the length and size a create request asks for, with Veo's defaults.
func geminiVideoParams(v videoRequest) (int, string, error) {
	seconds, ok, err := ParseVideoSeconds(v.seconds)
	if err != nil {
		return 0, "", err
	}
	if !ok {
		seconds = geminiVideoSeconds
	}
	size := v.size
	if size == "" {
		size = geminiVideoSize
	}
	if _, ok := geminiVideoSizes[size]; !ok {
		return 0, "", InvalidRequest("size", "size '"+size+"' has no Veo equivalent: use 1280x720 or 720x1280 "+
			"(720p), 1920x1080, 1080x1920, 1792x1024 or 1024x1792 (1080p), 3840x2160 or 2160x3840 (4k)")
	}
	return seconds, size, nil
}

// TranslateVideoCreate answers Veo's operation ({"name":"models/…/operations/…"}) as a queued video object.
// Veo's status carries neither the request's length and size nor when it began: the job id keeps them, as
// geminiVideoJob describes, so later status answers can say them without state in the gateway. The usage is
// the length and size asked for, which Veo renders.
func (g *Gemini) TranslateVideoCreate(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("gemini"), err)
	}
	op := gjson.Parse(stringView(body))
	job := geminiVideoJob{name: op.Get("name").Str, created: time.Now().Unix()}
	if _, _, ok := geminiOperationPath(job.name); !ok {
		return nil, usage.Usage{}, badUpstream("provider '" + req.provider("gemini") + "' answered without an operation name")
	}
	v := videoRequest{}
	if req.Form == nil {
		root := gjson.Parse(stringView(req.Body))
		v.prompt, v.size = root.Get("prompt").String(), root.Get("size").String()
		if s := root.Get("seconds"); s.Exists() && s.Type != gjson.Null {
			v.seconds = s.String()
		}
	} else {
		// the fields the gateway read before the upload began streaming, which BuildVideoCreate read too
		v.prompt, _ = req.Form.Value("prompt")
		v.seconds, _ = req.Form.Value("seconds")
		v.size, _ = req.Form.Value("size")
	}
	var err error
	if job.seconds, job.size, err = geminiVideoParams(v); err != nil {
		return nil, usage.Usage{}, err
	}
	return job.appendVideo(nil, req.ClientModel, v.prompt, op), videoUsage(job.seconds, job.size), nil
}

// BuildVideoCall asks for the job's operation (VideoGet, and VideoContent, whose download URL the finished
// operation names). Gemini can neither list nor delete video jobs: those are a 400 that says so.
func (g *Gemini) BuildVideoCall(c *VideoCall) (*Outgoing, error) {
	switch c.Op {
	case VideoList:
		return nil, unsupportedVideoCall(c.Provider, "list video jobs: keep the ids that POST /v1/videos returns")
	case VideoDelete:
		return nil, unsupportedVideoCall(c.Provider, "delete video jobs: Gemini deletes a video two days after it was made")
	case VideoContent:
		if v := c.Query.Get("variant"); v != "" && v != "video" {
			return nil, &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "variant_not_found",
				Param: "variant", Message: "provider '" + c.Provider + "' makes no " + v + " of a video: ask for variant=video"}
		}
	}
	job, ok := parseGeminiVideoJob(c.ID)
	if !ok {
		return nil, errGeminiVideoID
	}
	model, op, _ := geminiOperationPath(job.name)
	return &Outgoing{Method: http.MethodGet, Path: "/models/" + model + "/operations/" + op}, nil
}

// errGeminiVideoID is what the gateway answers 404 for: an id that is not one TranslateVideoCreate made.
var errGeminiVideoID = &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "video_not_found",
	Param: "video_id", Message: "no video job has this id"}

// unsupportedVideoCall is the 400 for a call Gemini has no equivalent of.
func unsupportedVideoCall(provider, what string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request_error", "unsupported_endpoint",
		"provider '"+provider+"' (Gemini) cannot "+what)
}

// TranslateVideoCall answers the job's operation as a video object: not done is in_progress (Veo reports no
// progress), done with an error is failed, done with a generated sample is completed.
func (g *Gemini) TranslateVideoCall(c *VideoCall, body []byte) ([]byte, error) {
	if err := CheckJSON(body); err != nil {
		return nil, badUpstreamJSON(c.Provider, err)
	}
	job, ok := parseGeminiVideoJob(c.ID)
	if !ok {
		return nil, errGeminiVideoID
	}
	op := gjson.Parse(stringView(body))
	model, _, _ := geminiOperationPath(job.name)
	return job.appendVideo(nil, model, "", op), nil
}

// VideoContentURL returns the URI of the finished job's first video; a job still rendering, failed, or
// filtered is a 409 that says so.
func (g *Gemini) VideoContentURL(c *VideoCall, status []byte) (string, error) {
	if err := CheckJSON(status); err != nil {
		return "", badUpstreamJSON(c.Provider, err)
	}
	op := gjson.Parse(stringView(status))
	uri := geminiVideoURI(op)
	if uri == "" {
		state, msg := geminiVideoState(op)
		if msg == "" {
			msg = "the video is " + state + ": poll GET /v1/videos/{video_id} until its status is completed"
		}
		return "", &Error{Status: http.StatusConflict, Type: "invalid_request_error", Code: "video_not_ready",
			Message: "no video to download: " + msg}
	}
	return uri, nil
}

// geminiVideoURI is the URI of an operation's first generated video; empty when there is none.
func geminiVideoURI(op gjson.Result) string {
	return op.Get("response.generateVideoResponse.generatedSamples.0.video.uri").Str
}

// geminiVideoState maps an operation to a video status and, for a failure, its message.
func geminiVideoState(op gjson.Result) (status, message string) {
	switch {
	case !op.Get("done").Bool():
		return VideoInProgress, ""
	case op.Get("error").IsObject():
		return VideoFailed, op.Get("error.message").String()
	case geminiVideoURI(op) != "":
		return VideoCompleted, ""
	}
	reasons := op.Get("response.generateVideoResponse.raiMediaFilteredReasons.0").String()
	if reasons == "" {
		reasons = "Gemini finished the job without a video"
	}
	return VideoFailed, reasons
}

// geminiVideoJob is what a Gemini video id carries: "video_" and, in base64url without padding,
// "<operation name>|<created_at>|<seconds>|<size>".
type geminiVideoJob struct {
	name    string
	created int64
	seconds int
	size    string
}

func (j *geminiVideoJob) id() string {
	raw := j.name + "|" + strconv.FormatInt(j.created, 10) + "|" + strconv.Itoa(j.seconds) + "|" + j.size
	return "video_" + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseGeminiVideoJob(id string) (geminiVideoJob, bool) {
	enc, ok := strings.CutPrefix(id, "video_")
	if !ok {
		return geminiVideoJob{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return geminiVideoJob{}, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 {
		return geminiVideoJob{}, false
	}
	j := geminiVideoJob{name: parts[0], size: parts[3]}
	j.created, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return geminiVideoJob{}, false
	}
	if j.seconds, err = strconv.Atoi(parts[2]); err != nil {
		return geminiVideoJob{}, false
	}
	if _, _, ok := geminiOperationPath(j.name); !ok {
		return geminiVideoJob{}, false
	}
	return j, true
}

// geminiOperationPath splits "models/<model>/operations/<operation>" into its two names, each a plain path
// segment.
func geminiOperationPath(name string) (model, op string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "models" || parts[2] != "operations" {
		return "", "", false
	}
	for _, p := range []string{parts[1], parts[3]} {
		if _, err := pathSegment("", p); err != nil || url.PathEscape(p) != p {
			return "", "", false
		}
	}
	return parts[1], parts[3], true
}

// appendVideo appends the job as OpenAI's video object in the state of the operation op.
func (j *geminiVideoJob) appendVideo(dst []byte, model, prompt string, op gjson.Result) []byte {
	status, message := VideoQueued, ""
	if op.Get("done").Exists() {
		status, message = geminiVideoState(op)
	}
	progress := 0
	if status == VideoCompleted {
		progress = 100
	}
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, j.id())
	dst = append(dst, `,"object":"video","model":`...)
	dst = AppendJSONString(dst, model)
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, status)
	dst = append(dst, `,"progress":`...)
	dst = strconv.AppendInt(dst, int64(progress), 10)
	dst = append(dst, `,"created_at":`...)
	dst = strconv.AppendInt(dst, j.created, 10)
	// Veo does not say when a job finished: completed_at stays null.
	dst = append(dst, `,"completed_at":null,"expires_at":`...)
	if status == VideoCompleted {
		dst = strconv.AppendInt(dst, j.created+int64(geminiVideoKeep/time.Second), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"prompt":`...)
	dst = AppendJSONString(dst, prompt)
	dst = append(dst, `,"seconds":`...)
	dst = AppendJSONString(dst, strconv.Itoa(j.seconds))
	dst = append(dst, `,"size":`...)
	dst = AppendJSONString(dst, j.size)
	dst = append(dst, `,"remixed_from_video_id":null,"error":`...)
	if status == VideoFailed {
		code := op.Get("error.status").String()
		if code == "" {
			code = "video_generation_failed"
		}
		dst = append(dst, `{"code":`...)
		dst = AppendJSONString(dst, strings.ToLower(code))
		dst = append(dst, `,"message":`...)
		dst = AppendJSONString(dst, message)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}
