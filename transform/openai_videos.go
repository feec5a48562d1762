package transform

import (
	"net/http"
	"net/url"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ VideosDialect = (*OpenAI)(nil)

// BuildVideoCreate passes a video job request (JSON, or multipart as the SDKs send it) through to POST
// /videos with model rewritten.
func (o *OpenAI) BuildVideoCreate(req *Request) (*Outgoing, error) {
	if req.Form != nil {
		body, ct := req.Form.Passthrough(req.Model)
		return &Outgoing{Path: "/videos", BodyReader: body, Header: http.Header{"Content-Type": {ct}}}, nil
	}
	body, err := sjson.SetBytesOptions(req.Body, "model", req.Model, &sjson.Options{Optimistic: true})
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	return &Outgoing{Path: "/videos", Body: body}, nil
}

// TranslateVideoCreate keeps the upstream's video object with model replaced. Its seconds and size are the
// usage, which prices the job.
func (o *OpenAI) TranslateVideoCreate(req *Request, body []byte) ([]byte, usage.Usage, error) {
	out, err := o.videoAnswer(req.provider(o.name()), body)
	if err != nil {
		return nil, usage.Usage{}, err
	}
	out, _ = sjson.SetBytes(out, "model", req.ClientModel)
	v := gjson.ParseBytes(out)
	seconds, _, _ := ParseVideoSeconds(v.Get("seconds").String())
	return out, videoUsage(seconds, v.Get("size").String()), nil
}

// BuildVideoCall builds the call at OpenAI's own path for it.
func (o *OpenAI) BuildVideoCall(c *VideoCall) (*Outgoing, error) {
	if c.Op == VideoList {
		return &Outgoing{Method: http.MethodGet, Path: "/videos" + encodeQuery(c.Query, "after", "limit", "order")}, nil
	}
	seg, err := pathSegment("video_id", c.ID)
	if err != nil {
		return nil, err
	}
	switch c.Op {
	case VideoDelete:
		return &Outgoing{Method: http.MethodDelete, Path: "/videos/" + seg}, nil
	case VideoContent:
		return &Outgoing{Method: http.MethodGet, Path: "/videos/" + seg + "/content" + encodeQuery(c.Query, "variant"),
			Header: http.Header{"Accept": {"application/binary, video/mp4, image/webp, application/json"}}}, nil
	}
	return &Outgoing{Method: http.MethodGet, Path: "/videos/" + seg}, nil
}

// TranslateVideoCall keeps the upstream's answer as it is; the gateway rewrites its ids and models.
func (o *OpenAI) TranslateVideoCall(c *VideoCall, body []byte) ([]byte, error) {
	return o.videoAnswer(c.Provider, body)
}

// videoAnswer checks an upstream's answer about video jobs: JSON, and no error object inside a 200.
func (o *OpenAI) videoAnswer(provider string, body []byte) ([]byte, error) {
	if provider == "" {
		provider = o.name()
	}
	if err := CheckJSON(body); err != nil {
		return nil, badUpstreamJSON(provider, err)
	}
	// A failed job's video object carries an error object of its own: only other answers are checked for one.
	switch gjson.GetBytes(body, "object").Str {
	case "video", "list", "video.deleted":
		return body, nil
	}
	if e := errorAnswer(body); e != nil {
		return nil, e
	}
	return body, nil
}

// encodeQuery returns "?" and the named parameters of q that are set, or "" when none is.
func encodeQuery(q url.Values, names ...string) string {
	v := url.Values{}
	for _, n := range names {
		if s := q.Get(n); s != "" {
			v.Set(n, s)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
