package transform

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var (
	_ ImagesDialect     = (*Gemini)(nil)
	_ ImageEditsDialect = (*Gemini)(nil)
	_ SpeechDialect     = (*Gemini)(nil)
)

// Gemini's images and speech, answered in OpenAI's shapes:
//
//   - POST /images/generations: image-output models (gemini-2.5-flash-image, gemini-3-pro-image-preview, ...)
//     through generateContent with responseModalities ["IMAGE"], size as imageConfig.aspectRatio (the nearest
//     of Gemini's ratios; imageSize 2K/4K for Gemini 3 models asked for more than 1024 pixels a side); Imagen
//     models (imagen-*) through :predict. Each inlineData image comes back as data[].b64_json, the answer's
//     text as revised_prompt. n > 1 is refused for generateContent (Gemini makes one image per request);
//     response_format "url" is refused (Gemini returns bytes, which the gateway does not host). With stream,
//     the finished images come as image_generation.completed events (Gemini sends no partial images).
//   - POST /images/edits: the same, the form's images as inlineData parts (streamed into the upstream body
//     as base64 while the client uploads them) and the prompt as text; a mask has no Gemini equivalent and is
//     dropped.
//   - POST /audio/speech: TTS models through generateContent with responseModalities ["AUDIO"] and
//     speechConfig; instructions are put before the input, as Google's guide does. Gemini answers 24 kHz
//     16-bit mono PCM, sent as response_format "pcm" or wrapped in a WAV header for "wav" (the default here, as
//     no other format can be made without transcoding: mp3, opus, aac and flac are refused with 400). With
//     stream_format "sse", the audio comes as speech.audio.delta events and a speech.audio.done with usage.

// geminiAspectRatios are the aspect ratios Gemini's image models accept.
var geminiAspectRatios = [...]string{"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}

// geminiImageConfig returns the imageConfig object for an OpenAI size ("1536x1024"), nil for "auto" or none.
func geminiImageConfig(model, size string) ([]byte, error) {
	if size == "" || size == "auto" {
		return nil, nil
	}
	ws, hs, ok := strings.Cut(size, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil || w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return nil, InvalidRequest("size", `size must be "auto" or WIDTHxHEIGHT such as 1024x1024`)
	}
	want := math.Log(float64(w) / float64(h))
	best, bestDiff := "", math.Inf(1)
	for _, r := range geminiAspectRatios {
		a, b, _ := strings.Cut(r, ":")
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		if d := math.Abs(math.Log(float64(x)/float64(y)) - want); d < bestDiff {
			best, bestDiff = r, d
		}
	}
	out := []byte(`{"aspectRatio":"` + best + `"`)
	if strings.HasPrefix(model, "gemini-3") && max(w, h) > 1024 {
		if max(w, h) > 2048 {
			out = append(out, `,"imageSize":"4K"`...)
		} else {
			out = append(out, `,"imageSize":"2K"`...)
		}
	}
	return append(out, '}'), nil
}

// geminiImageOptions reads and checks the request options a Gemini image request honours.
func geminiImageOptions(n int, responseFormat string, imagen bool) error {
	if responseFormat == "url" {
		return InvalidRequest("response_format", `Gemini returns image bytes, not URLs: use response_format "b64_json" (or leave it out)`)
	}
	if n > 1 && !imagen {
		return InvalidRequest("n", "Gemini's image models make one image per request: send n requests of n=1")
	}
	return nil
}

// BuildImages translates an image generation request into generateContent (or Imagen's :predict).
func (g *Gemini) BuildImages(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	n := int(max(root.Get("n").Int(), 1))
	imagen := strings.HasPrefix(req.Model, "imagen")
	if err := geminiImageOptions(n, root.Get("response_format").Str, imagen); err != nil {
		return nil, err
	}
	cfg, err := geminiImageConfig(req.Model, root.Get("size").Str)
	if err != nil {
		return nil, err
	}
	prompt := root.Get("prompt")
	out := make([]byte, 0, len(prompt.Raw)+192)
	if imagen {
		out = append(out, `{"instances":[{"prompt":`...)
		out = append(out, prompt.Raw...)
		out = append(out, `}],"parameters":{"sampleCount":`...)
		out = strconv.AppendInt(out, int64(n), 10)
		if ar := gjson.GetBytes(cfg, "aspectRatio"); ar.Exists() {
			out = append(out, `,"aspectRatio":`...)
			out = append(out, ar.Raw...)
		}
		out = append(out, "}}"...)
		return &Outgoing{Path: "/models/" + seg + ":predict", Body: out}, nil
	}
	out = append(out, `{"contents":[{"role":"user","parts":[{"text":`...)
	out = append(out, prompt.Raw...)
	out = append(out, `}]}],`...)
	out = appendGeminiImageGenerationConfig(out, cfg)
	return &Outgoing{Path: "/models/" + seg + ":generateContent", Body: append(out, '}')}, nil
}

func appendGeminiImageGenerationConfig(out, imageConfig []byte) []byte {
	out = append(out, `"generationConfig":{"responseModalities":["IMAGE"]`...)
	if imageConfig != nil {
		out = append(out, `,"imageConfig":`...)
		out = append(out, imageConfig...)
	}
	return append(out, '}')
}

// TranslateImages turns a generateContent (or :predict) answer into OpenAI's images answer.
func (g *Gemini) TranslateImages(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	return g.translateImages(req, body, "image_generation")
}

// BuildImageEdits translates a multipart image edit into generateContent, the images inline, as a body read
// from the client's form while the upstream reads it.
func (g *Gemini) BuildImageEdits(req *Request) (*Outgoing, error) {
	if req.Form == nil {
		return nil, InvalidRequest("", "the request body must be multipart/form-data")
	}
	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(req.Model, "imagen") {
		return nil, InvalidRequest("model", "Imagen models do not edit images on the Gemini API: use an image model such as gemini-2.5-flash-image")
	}
	n := 1
	if v, ok := req.Form.Value("n"); ok {
		n, _ = strconv.Atoi(v)
	}
	rf, _ := req.Form.Value("response_format")
	if err := geminiImageOptions(n, rf, false); err != nil {
		return nil, err
	}
	body := &geminiEditBody{parts: req.Form.Parts(), model: req.Model}
	body.out.WriteString(`{"contents":[{"role":"user","parts":[`)
	return &Outgoing{Path: "/models/" + seg + ":generateContent", BodyReader: body,
		Header: http.Header{"Content-Type": {"application/json"}}}, nil
}

// TranslateImageEdits is TranslateImages with the edit's event names.
func (g *Gemini) TranslateImageEdits(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	return g.translateImages(req, body, "image_edit")
}

// geminiEditBody is the generateContent body of an image edit, made from the form's parts as it is read:
// each image part base64-encoded chunk by chunk, the prompt as a text part, the size as imageConfig at the
// end (JSON does not care that it comes after the contents).
type geminiEditBody struct {
	parts FormParts
	model string
	out   bytes.Buffer
	// cur is the image being encoded, enc its encoder into out.
	cur   io.Reader
	enc   io.WriteCloser
	chunk []byte
	first bool // a part was written: the next needs a comma
	size  string
	done  bool
	err   error
}

func (b *geminiEditBody) Read(p []byte) (int, error) {
	for b.out.Len() == 0 {
		if b.done {
			return 0, io.EOF
		}
		if b.err != nil {
			return 0, b.err
		}
		b.err = b.fill()
	}
	return b.out.Read(p)
}

func (b *geminiEditBody) fill() error {
	if b.cur != nil {
		if b.chunk == nil {
			b.chunk = make([]byte, 24<<10)
		}
		n, err := b.cur.Read(b.chunk)
		_, _ = b.enc.Write(b.chunk[:n])
		if errors.Is(err, io.EOF) {
			_ = b.enc.Close()
			b.out.WriteString(`"}}`)
			b.cur = nil
			return nil
		}
		return err
	}
	part, err := b.parts.Next()
	if errors.Is(err, io.EOF) {
		cfg, cerr := geminiImageConfig(b.model, b.size)
		if cerr != nil {
			return cerr
		}
		b.out.WriteString(`]}],`)
		b.out.Write(appendGeminiImageGenerationConfig(nil, cfg))
		b.out.WriteByte('}')
		b.done = true
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case part.Name == "image" || part.Name == "image[]" || strings.HasPrefix(part.Name, "image["):
		b.comma()
		mime := part.ContentType
		if mime == "" || mime == "application/octet-stream" {
			mime = "image/png"
		}
		b.out.WriteString(`{"inlineData":{"mimeType":`)
		b.out.Write(AppendJSONString(nil, mime))
		b.out.WriteString(`,"data":"`)
		b.enc = base64.NewEncoder(base64.StdEncoding, &b.out)
		b.cur = part.Body
	case part.Name == "prompt":
		v, err := io.ReadAll(io.LimitReader(part.Body, 256<<10))
		if err != nil {
			return err
		}
		b.comma()
		b.out.WriteString(`{"text":`)
		b.out.Write(AppendJSONString(nil, string(v)))
		b.out.WriteByte('}')
	case part.Name == "size":
		v, _ := io.ReadAll(io.LimitReader(part.Body, 64))
		b.size = string(v)
	}
	return nil
}

func (b *geminiEditBody) comma() {
	if b.first {
		b.out.WriteByte(',')
	}
	b.first = true
}

// translateImages builds OpenAI's images answer, or its events when the client asked for a stream.
func (g *Gemini) translateImages(req *Request, body []byte, event string) ([]byte, string, usage.Usage, error) {
	provider := req.provider("gemini")
	if err := CheckJSON(body); err != nil {
		return nil, "", usage.Usage{}, badUpstreamJSON(provider, err)
	}
	root := gjson.Parse(stringView(body))
	type image struct{ data, mime string }
	var images []image
	revised := ""
	if preds := root.Get("predictions"); preds.IsArray() {
		preds.ForEach(func(_, p gjson.Result) bool {
			if d := p.Get("bytesBase64Encoded"); d.Type == gjson.String {
				images = append(images, image{d.Str, p.Get("mimeType").Str})
			}
			return true
		})
	} else {
		root.Get("candidates.0.content.parts").ForEach(func(_, p gjson.Result) bool {
			if p.Get("thought").Bool() {
				return true
			}
			if d := p.Get("inlineData"); d.IsObject() && strings.HasPrefix(d.Get("mimeType").Str, "image/") {
				images = append(images, image{d.Get("data").Str, d.Get("mimeType").Str})
			} else if t := p.Get("text"); t.Type == gjson.String {
				revised += t.Str
			}
			return true
		})
	}
	if len(images) == 0 {
		return nil, "", usage.Usage{}, geminiNoMedia(provider, root, "image")
	}
	u := geminiUsage(root.Get("usageMetadata"))
	u.Images = len(images)
	format := strings.TrimPrefix(images[0].mime, "image/")
	if format == "" {
		format = "png"
	}
	created := time.Now().Unix()
	usageJSON := appendImageUsage(nil, u)
	if req.Stream {
		var out []byte
		for i, im := range images {
			out = append(out, "event: "+event+".completed\ndata: "...)
			out = append(out, `{"type":"`+event+`.completed","b64_json":`...)
			out = AppendJSONString(out, im.data)
			out = append(out, `,"created_at":`...)
			out = strconv.AppendInt(out, created, 10)
			out = append(out, `,"output_format":`...)
			out = AppendJSONString(out, format)
			if i == len(images)-1 && u.Known() {
				out = append(out, `,"usage":`...)
				out = append(out, usageJSON...)
			}
			out = append(out, "}\n\n"...)
		}
		return out, "text/event-stream", u, nil
	}
	n := 0
	for _, im := range images {
		n += len(im.data) + 32
	}
	out := make([]byte, 0, n+len(revised)+256)
	out = append(out, `{"created":`...)
	out = strconv.AppendInt(out, created, 10)
	out = append(out, `,"data":[`...)
	for i, im := range images {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"b64_json":`...)
		out = AppendJSONString(out, im.data)
		if revised != "" {
			out = append(out, `,"revised_prompt":`...)
			out = AppendJSONString(out, revised)
		}
		out = append(out, '}')
	}
	out = append(out, `],"output_format":`...)
	out = AppendJSONString(out, format)
	if u.Known() {
		out = append(out, `,"usage":`...)
		out = append(out, usageJSON...)
	}
	return append(out, '}'), "application/json", u, nil
}

// appendImageUsage appends OpenAI's images usage object for u.
func appendImageUsage(dst []byte, u usage.Usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"input_tokens_details":{"text_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens-u.ImagePromptTokens), 10)
	dst = append(dst, `,"image_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.ImagePromptTokens), 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens), 10)
	return append(dst, '}')
}

// geminiNoMedia is the error for an answer without the image or audio asked for: a blocked prompt (400),
// a candidate stopped for safety or another reason (400), or an answer of another shape (502).
func geminiNoMedia(provider string, root gjson.Result, what string) *Error {
	if r := root.Get("promptFeedback.blockReason").Str; r != "" {
		return NewError(http.StatusBadRequest, "invalid_request_error", "content_policy_violation",
			"provider '"+provider+"' blocked the prompt ("+r+")")
	}
	if r := root.Get("candidates.0.finishReason").Str; r != "" && r != "STOP" {
		return NewError(http.StatusBadRequest, "invalid_request_error", "content_policy_violation",
			"provider '"+provider+"' returned no "+what+" (finishReason "+r+")")
	}
	if t := root.Get("candidates.0.content.parts.0.text"); t.Type == gjson.String {
		return NewError(http.StatusBadRequest, "invalid_request_error", "no_"+what,
			"provider '"+provider+"' answered with text instead of an "+what+": "+bodySnippet([]byte(t.Str)))
	}
	return badUpstream("provider '" + provider + "' answered without an " + what)
}

// geminiVoices maps OpenAI's voice names to Gemini prebuilt voices of a similar character; a Gemini voice
// name (Kore, Puck, ...) is passed as it is.
var geminiVoices = map[string]string{
	"alloy": "Kore", "ash": "Charon", "ballad": "Algieba", "coral": "Aoede", "echo": "Puck", "fable": "Fenrir",
	"onyx": "Orus", "nova": "Leda", "sage": "Sulafat", "shimmer": "Zephyr", "verse": "Schedar", "marin": "Achernar",
	"cedar": "Iapetus",
}

// BuildSpeech translates a speech request into a TTS generateContent request.
func (g *Gemini) BuildSpeech(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	if _, err := geminiSpeechFormat(root.Get("response_format").Str); err != nil {
		return nil, err
	}
	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	voice := root.Get("voice")
	if voice.IsObject() {
		voice = voice.Get("id")
	}
	name := voice.Str
	if v, ok := geminiVoices[name]; ok {
		name = v
	}
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "\"\\") {
		return nil, InvalidRequest("voice", "voice must be an OpenAI voice name (alloy, ash, ...) or a Gemini voice name such as Kore")
	}
	text := root.Get("input").Str
	if ins := root.Get("instructions").Str; ins != "" {
		text = ins + ": " + text
	}
	out := make([]byte, 0, len(text)+256)
	out = append(out, `{"contents":[{"role":"user","parts":[{"text":`...)
	out = AppendJSONString(out, text)
	out = append(out, `}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":`...)
	out = AppendJSONString(out, name)
	out = append(out, `}}}}}`...)
	return &Outgoing{Path: "/models/" + seg + ":generateContent", Body: out}, nil
}

// geminiSpeechFormat is the output format of a speech request: wav (the default) or pcm.
func geminiSpeechFormat(f string) (string, error) {
	switch f {
	case "", "wav":
		return "wav", nil
	case "pcm":
		return "pcm", nil
	}
	return "", InvalidRequest("response_format", "Gemini speech is PCM audio, which the gateway sends as "+
		`"wav" or "pcm": `+strconv.Quote(f)+" would need transcoding, which it does not do")
}

// TranslateSpeech decodes Gemini's PCM and sends it as the format asked for (or as events).
func (g *Gemini) TranslateSpeech(req *Request, body []byte) ([]byte, string, usage.Usage, error) {
	provider := req.provider("gemini")
	if err := CheckJSON(body); err != nil {
		return nil, "", usage.Usage{}, badUpstreamJSON(provider, err)
	}
	root := gjson.Parse(stringView(body))
	var data gjson.Result
	mime := ""
	root.Get("candidates.0.content.parts").ForEach(func(_, p gjson.Result) bool {
		if d := p.Get("inlineData"); d.IsObject() && strings.HasPrefix(d.Get("mimeType").Str, "audio/") {
			data, mime = d.Get("data"), d.Get("mimeType").Str
			return false
		}
		return true
	})
	if data.Type != gjson.String {
		return nil, "", usage.Usage{}, geminiNoMedia(provider, root, "audio")
	}
	pcm, err := base64.StdEncoding.DecodeString(data.Str)
	if err != nil {
		return nil, "", usage.Usage{}, badUpstream("provider '" + provider + "' sent audio that is not base64")
	}
	rate := 24000
	if i := strings.Index(mime, "rate="); i >= 0 {
		if r, err := strconv.Atoi(strings.SplitN(mime[i+5:], ";", 2)[0]); err == nil && r > 0 && r <= 192000 {
			rate = r
		}
	}
	format, _ := geminiSpeechFormat(gjson.GetBytes(req.Body, "response_format").Str)
	audio, ct := pcm, "audio/pcm"
	if format == "wav" {
		audio, ct = wavFile(pcm, rate), "audio/wav"
	}
	u := geminiUsage(root.Get("usageMetadata"))
	if !req.Stream {
		return audio, ct, u, nil
	}
	const deltaBytes = 24 << 10
	out := make([]byte, 0, len(audio)*4/3+len(audio)/deltaBytes*64+256)
	for i := 0; i < len(audio); i += deltaBytes {
		out = append(out, `data: {"type":"speech.audio.delta","audio":"`...)
		out = base64.StdEncoding.AppendEncode(out, audio[i:min(i+deltaBytes, len(audio))])
		out = append(out, "\"}\n\n"...)
	}
	out = append(out, `data: {"type":"speech.audio.done","usage":{"input_tokens":`...)
	out = strconv.AppendInt(out, int64(u.PromptTokens), 10)
	out = append(out, `,"output_tokens":`...)
	out = strconv.AppendInt(out, int64(u.CompletionTokens), 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, int64(u.TotalTokens), 10)
	out = append(out, "}}\n\n"...)
	return out, "text/event-stream", u, nil
}

// wavFile wraps 16-bit mono PCM at rate in a 44-byte RIFF/WAVE header.
func wavFile(pcm []byte, rate int) []byte {
	out := make([]byte, 44, 44+len(pcm))
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+len(pcm)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1) // PCM
	binary.LittleEndian.PutUint16(out[22:], 1) // mono
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(out[32:], 2)
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(len(pcm)))
	return append(out, pcm...)
}
