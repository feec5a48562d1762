package transform

import (
	"io"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Form is a client's multipart/form-data request body (image edits, audio transcriptions and translations)
// as the dialects see it. The gateway reads the client's parts only as far as the model field (and the
// text fields before the first file that follows it); the rest, files included, is read while it is sent
// upstream, so a large upload is never held in memory. Request.Body is nil for such a request.
type Form interface {
	// Value returns a text field that came before the body began streaming; fields after that point are not
	// seen by the gateway (the upstream validates them).
	Value(name string) (string, bool)
	// Passthrough returns the body to send upstream, the client's parts in their order with the model field
	// set to model and the gateway's own fields dropped, re-encoded part by part as it is read; and its
	// Content-Type. It reads the client's body: an attempt that read any of it cannot be repeated.
	Passthrough(model string) (body io.Reader, contentType string)
	// Parts returns the parts in order except model and the gateway's own fields, for a dialect that
	// rebuilds the request from them (a JSON body with the files inline) as the upstream reads it. Like
	// Passthrough, it reads the client's body.
	Parts() FormParts
}

// FormParts iterates a Form's parts.
type FormParts interface {
	// Next returns the next part, io.EOF after the last. The part's Body is valid until the next call.
	Next() (FormPart, error)
}

// FormPart is one part of a Form.
type FormPart struct {
	// Name is the field's name; Filename is empty for a text field.
	Name, Filename, ContentType string
	Body                        io.Reader
}

// Media answers: a dialect of an image or audio endpoint turns a complete, successful JSON answer of its
// upstream into the bytes the client gets and their Content-Type (OpenAI's JSON, or audio bytes for speech),
// with the usage the upstream reported. Upstream answers that are not JSON (audio bytes, a text transcript)
// and event streams are relayed by the gateway itself, as they arrive.

// ImagesDialect serves POST /images/generations (a JSON request).
type ImagesDialect interface {
	BuildImages(req *Request) (*Outgoing, error)
	TranslateImages(req *Request, body []byte) (out []byte, contentType string, u usage.Usage, err error)
}

// ImageEditsDialect serves POST /images/edits (a multipart request: Request.Form).
type ImageEditsDialect interface {
	BuildImageEdits(req *Request) (*Outgoing, error)
	TranslateImageEdits(req *Request, body []byte) (out []byte, contentType string, u usage.Usage, err error)
}

// SpeechDialect serves POST /audio/speech (a JSON request; the answer is audio bytes, or events with
// stream_format "sse").
type SpeechDialect interface {
	BuildSpeech(req *Request) (*Outgoing, error)
	TranslateSpeech(req *Request, body []byte) (out []byte, contentType string, u usage.Usage, err error)
}

// TranscriptionsDialect serves POST /audio/transcriptions and /audio/translations (multipart requests:
// Request.Form). translation is set for /audio/translations.
type TranscriptionsDialect interface {
	BuildTranscriptions(req *Request, translation bool) (*Outgoing, error)
	TranslateTranscriptions(req *Request, body []byte) (out []byte, contentType string, u usage.Usage, err error)
}

// ParseMediaUsage reads the usage object of an image or audio answer or event, in any of OpenAI's shapes:
// tokens as input_tokens/output_tokens (GPT image models, speech and transcription events, with
// input_tokens_details.image_tokens counted as ImagePromptTokens), prompt_tokens/completion_tokens, or
// {"type":"duration","seconds"} (whisper-1). ok is false when v is not an object.
func ParseMediaUsage(v gjson.Result) (usage.Usage, bool) {
	if !v.IsObject() {
		return usage.Usage{}, false
	}
	u := usage.Usage{Origin: usage.Reported}
	var rep usage.Report
	v.ForEach(func(k, val gjson.Result) bool {
		switch k.Str {
		case "input_tokens", "prompt_tokens":
			u.PromptTokens = rep.Count(val)
		case "output_tokens", "completion_tokens":
			u.CompletionTokens = rep.Count(val)
		case "total_tokens":
			u.TotalTokens = rep.Count(val)
		case "input_tokens_details":
			u.ImagePromptTokens = rep.Count(val.Get("image_tokens"))
			u.AudioPromptTokens = rep.Count(val.Get("audio_tokens"))
		case "seconds":
			if val.Type == gjson.Number && val.Num >= 0 {
				u.AudioSeconds = val.Num
			}
		}
		return true
	})
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u), true
}
