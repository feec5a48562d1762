package transform

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// VideosDialect serves OpenAI's video jobs API: POST /videos creates a job (through the gateway's engine,
// like any model request), and the calls of VideoOp read, list, download and delete jobs by id. Ids here are
// the upstream's own; the gateway wraps the ids it hands out so that they name the provider holding the job.
type VideosDialect interface {
	// BuildVideoCreate builds the request creating a job from the client's create request: a JSON object with
	// OpenAI's fields (prompt, model, seconds, size, input_reference).
	BuildVideoCreate(req *Request) (*Outgoing, error)
	// TranslateVideoCreate turns the upstream's answer to a create into OpenAI's video object, with the
	// upstream's job id and model set to req.ClientModel. Video jobs report no token usage.
	TranslateVideoCreate(req *Request, body []byte) ([]byte, usage.Usage, error)
	// BuildVideoCall builds the upstream request of one call about existing jobs.
	BuildVideoCall(c *VideoCall) (*Outgoing, error)
	// TranslateVideoCall turns the upstream's successful JSON answer to c (every op but VideoContent) into
	// OpenAI's shape: a video object, a list of them, or a video.deleted object, with the upstream's ids and
	// model names.
	TranslateVideoCall(c *VideoCall, body []byte) ([]byte, error)
}

// VideoContentLocator is implemented by a VideosDialect whose finished videos are not served at a path of its
// own but at a URL the job's status names (Gemini's Files API). For VideoContent, BuildVideoCall then asks for
// the status, and VideoContentURL reads the download URL from the answer; the gateway downloads it, with the
// provider's credential only when the URL has the provider's own origin.
type VideoContentLocator interface {
	VideoContentURL(c *VideoCall, status []byte) (string, error)
}

// VideoOp is one call of the video jobs API other than create.
type VideoOp uint8

const (
	// VideoGet is GET /videos/{id}: the job's status.
	VideoGet VideoOp = iota
	// VideoList is GET /videos: the jobs, newest first, paged by after and limit.
	VideoList
	// VideoDelete is DELETE /videos/{id}.
	VideoDelete
	// VideoContent is GET /videos/{id}/content: the finished video's bytes (variant video, thumbnail or
	// spritesheet).
	VideoContent
)

// VideoCall is one call of the video jobs API as the dialects see it.
type VideoCall struct {
	Op VideoOp
	// ID is the upstream's job id; empty for VideoList.
	ID string
	// Query holds the client's query parameters the call takes, checked by the gateway: after (an upstream
	// id), limit and order for VideoList, variant for VideoContent.
	Query url.Values
	// Provider is the configured provider's name, for error messages.
	Provider string
}

// VideoSizes are the sizes OpenAI's video models take, width x height.
var VideoSizes = []string{"720x1280", "1280x720", "1024x1792", "1792x1024"}

// Video job statuses of OpenAI's video object.
const (
	VideoQueued     = "queued"
	VideoInProgress = "in_progress"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
)

// VideoSeconds returns the length a create request asks for, in whole seconds (OpenAI sends it as a string,
// "4"; a number is taken too), and false when it is absent. A value that is not a whole number of seconds
// from 1 to 600 is a 400.
func VideoSeconds(body []byte) (int, bool, error) {
	v := gjson.GetBytes(body, "seconds")
	if !v.Exists() || v.Type == gjson.Null {
		return 0, false, nil
	}
	s := v.Raw
	if v.Type == gjson.String {
		s = v.Str
	}
	return ParseVideoSeconds(s)
}

// ParseVideoSeconds is VideoSeconds for a form field's value; "" is absent.
func ParseVideoSeconds(s string) (int, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 600 {
		return 0, false, InvalidRequest("seconds", "seconds must be a whole number of seconds from 1 to 600, "+
			"such as \"4\" or \"8\"")
	}
	return n, true, nil
}

// videoRequest is what a dialect that rebuilds a create request needs from it, JSON or multipart.
type videoRequest struct {
	prompt  string
	seconds string
	size    string
	// refMime and refData are an input_reference image, base64-encoded; empty without one.
	refMime, refData string
}

// maxVideoReference bounds an input_reference image read from a multipart request to be sent inline.
const maxVideoReference = 20 << 20

// readVideoRequest reads a create request's fields from its JSON body or its form. A JSON input_reference
// must be an image data URL ({"image_url":"data:image/png;base64,..."}).
func readVideoRequest(req *Request) (videoRequest, error) {
	var v videoRequest
	if req.Form == nil {
		root, err := requestObject(req.Body)
		if err != nil {
			return v, err
		}
		v.prompt, v.size = root.Get("prompt").String(), root.Get("size").String()
		if s := root.Get("seconds"); s.Exists() && s.Type != gjson.Null {
			v.seconds = s.String()
		}
		if ref := root.Get("input_reference"); ref.Exists() && ref.Type != gjson.Null {
			var ok bool
			if v.refMime, v.refData, ok = dataURL(ref.Get("image_url").String()); !ok {
				return v, InvalidRequest("input_reference", "provider '"+req.provider("")+"' takes an input_reference "+
					"as an image file or an image data URL ({\"image_url\":\"data:image/png;base64,...\"})")
			}
		}
		return v, nil
	}
	parts := req.Form.Parts()
	for {
		p, err := parts.Next()
		if errors.Is(err, io.EOF) {
			return v, nil
		}
		if err != nil {
			return v, err
		}
		if p.Name == "input_reference" {
			b, err := io.ReadAll(io.LimitReader(p.Body, maxVideoReference+1))
			if err != nil {
				return v, err
			}
			if len(b) > maxVideoReference {
				return v, InvalidRequest("input_reference", "input_reference is larger than 20 MiB")
			}
			v.refMime = p.ContentType
			if v.refMime == "" || v.refMime == "application/octet-stream" {
				v.refMime = http.DetectContentType(b)
			}
			v.refData = base64.StdEncoding.EncodeToString(b)
			continue
		}
		if p.Filename != "" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Body, 1<<20))
		if err != nil {
			return v, err
		}
		switch p.Name {
		case "prompt":
			v.prompt = string(b)
		case "seconds":
			v.seconds = string(b)
		case "size":
			v.size = string(b)
		}
	}
}

// dataURL splits "data:<mime>;base64,<data>".
func dataURL(s string) (mime, data string, ok bool) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return "", "", false
	}
	head, data, ok := strings.Cut(rest, ",")
	mime, isBase64 := strings.CutSuffix(head, ";base64")
	if !ok || !isBase64 || mime == "" || data == "" {
		return "", "", false
	}
	return mime, data, true
}

// videoUsage is the usage of a created job: its length and size, which price it.
func videoUsage(seconds int, size string) usage.Usage {
	return usage.Usage{VideoSeconds: seconds, VideoSize: size, Origin: usage.Reported}
}
