package transform

import (
	"net/http"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var (
	_ ImagesDialect         = (*OpenAI)(nil)
	_ ImageEditsDialect     = (*OpenAI)(nil)
	_ SpeechDialect         = (*OpenAI)(nil)
	_ TranscriptionsDialect = (*OpenAI)(nil)
)

// BuildImages passes an image generation request through with model rewritten.
func (o *OpenAI) BuildImages(req *Request) (*Outgoing, error) {
	return o.buildMedia(req, "/images/generations")
}

// TranslateImages keeps the upstream's images answer (b64_json or url) as it is, with its usage.
func (o *OpenAI) TranslateImages(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	return o.mediaJSON(req, body)
}

// BuildImageEdits streams the client's multipart image edit through with model rewritten.
func (o *OpenAI) BuildImageEdits(req *Request) (*Outgoing, error) {
	return o.buildForm(req, "/images/edits", "application/json")
}

// TranslateImageEdits is TranslateImages.
func (o *OpenAI) TranslateImageEdits(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	return o.mediaJSON(req, body)
}

// BuildSpeech passes a speech request through with model rewritten; its answer is audio bytes (or events).
func (o *OpenAI) BuildSpeech(req *Request) (*Outgoing, error) {
	out, err := o.buildMedia(req, "/audio/speech")
	if err != nil {
		return nil, err
	}
	out.Header = http.Header{"Accept": {"application/octet-stream"}}
	if req.Stream {
		out.Header["Accept"] = []string{"text/event-stream"}
	}
	return out, nil
}

// TranslateSpeech handles a JSON answer to a speech request, which only an unusual server sends: it is kept.
func (o *OpenAI) TranslateSpeech(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	return o.mediaJSON(req, body)
}

// BuildTranscriptions streams the client's multipart transcription or translation through with model
// rewritten.
func (o *OpenAI) BuildTranscriptions(req *Request, translation bool) (*Outgoing, error) {
	if translation {
		return o.buildForm(req, "/audio/translations", "application/json")
	}
	return o.buildForm(req, "/audio/transcriptions", "application/json")
}

// TranslateTranscriptions keeps a JSON transcript (json, verbose_json, diarized_json) with its usage; text,
// srt and vtt answers are relayed by the gateway as they are.
func (o *OpenAI) TranslateTranscriptions(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	out, ct, u, err := o.mediaJSON(req, body)
	if err == nil && !u.Known() {
		// verbose_json reports the audio's length as duration.
		if d := gjson.GetBytes(body, "duration"); d.Type == gjson.Number && d.Num >= 0 {
			u = usage.Usage{AudioSeconds: d.Num, Origin: usage.Reported}
		}
	}
	return out, ct, u, err
}

// buildMedia is the Outgoing of a JSON media request: the client's bytes with model rewritten and the
// gateway's own fields dropped (no stream_options: the media APIs have none).
func (o *OpenAI) buildMedia(req *Request, suffix string) (*Outgoing, error) {
	body, err := sjson.SetBytesOptions(req.Body, "model", req.Model, &sjson.Options{Optimistic: true})
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	parsed := gjson.Parse(stringView(body))
	for _, f := range gatewayFields {
		if parsed.Get(f).Exists() {
			body, _ = sjson.DeleteBytes(body, f)
		}
	}
	path, err := o.path(req.Model, suffix)
	if err != nil {
		return nil, err
	}
	return &Outgoing{Path: path, Body: body}, nil
}

// buildForm is the Outgoing of a multipart endpoint: the client's form with model rewritten.
func (o *OpenAI) buildForm(req *Request, suffix, accept string) (*Outgoing, error) {
	if req.Form == nil {
		return nil, InvalidRequest("", "the request body must be multipart/form-data")
	}
	path, err := o.path(req.Model, suffix)
	if err != nil {
		return nil, err
	}
	body, ct := req.Form.Passthrough(req.Model)
	if req.Stream {
		accept = "text/event-stream"
	}
	return &Outgoing{Path: path, BodyReader: body, Header: http.Header{"Content-Type": {ct}, "Accept": {accept}}}, nil
}

// mediaJSON checks a JSON media answer and keeps it as the upstream sent it (image and transcription answers
// name no model), with the usage it reports.
func (o *OpenAI) mediaJSON(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, "", usage.Usage{}, badUpstreamJSON(req.provider(o.name()), err)
	}
	if e := errorAnswer(body); e != nil {
		return nil, "", usage.Usage{}, e
	}
	root := gjson.Parse(stringView(body))
	u, _ := ParseMediaUsage(root.Get("usage"))
	if data := root.Get("data"); data.IsArray() {
		u.Images = len(data.Array())
		u.ImageSize, u.ImageQuality = root.Get("size").Str, root.Get("quality").Str
	}
	return body, "application/json", u, nil
}
