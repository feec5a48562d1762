package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // edits accept JPEG input images
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// The simulator's image and audio endpoints answer with real media:
//
//	POST */images/generations   a PNG of the requested size (image/png, 16 to 2048 pixels a side), its colours
//	                            and stripes drawn from the prompt; b64_json (GPT image models, or DALL·E with
//	                            response_format b64_json) or a data: URL; usage for GPT image models; with
//	                            stream, partial_images image_generation.partial_image events and a
//	                            image_generation.completed one
//	POST */images/edits         multipart: the first image (PNG or JPEG) scaled to the size asked for (default
//	                            its own) with its colours inverted; image_edit.* events when streamed
//	POST */audio/speech         a 24 kHz 16-bit mono tone, about 60 ms per input character (at least 0.5 s), its
//	                            pitch from the voice: wav, pcm, or mp3 (silent MPEG-1 Layer III frames of the
//	                            same length: a tone needs an encoder); sent in pieces of a quarter second,
//	                            each after 1/tokens_per_second when that knob is set; stream_format sse sends
//	                            speech.audio.delta events and speech.audio.done with usage
//	POST */audio/transcriptions multipart, read as it arrives: a text made of the file's name, size and words
//	POST */audio/translations   picked by its SHA-256; the length of a WAV file from its header, of anything
//	                            else at 16 kB/s; json, verbose_json, text, srt or vtt; whisper-1 reports
//	                            usage in seconds, other models in tokens; stream sends transcript.text.delta
//	                            events and transcript.text.done with usage
//
// and Gemini's generateContent with responseModalities IMAGE (inlineData image/png; an input image in the
// contents is edited as above) or AUDIO (inlineData audio/L16 PCM at 24 kHz), and Imagen's :predict.

// maxUpload bounds a multipart upload, as OpenAI's 25 MB files do (plus the other fields).
const maxUpload = 26 << 20

// mediaHandler serves one media endpoint; it reads the request body itself.
type mediaHandler func(s *Simulator, ctx context.Context, w http.ResponseWriter, r *http.Request, k knobs) error

// mediaRoute returns the handler of an OpenAI image or audio path, nil for any other.
func mediaRoute(r *http.Request) mediaHandler {
	if r.Method != http.MethodPost {
		return nil
	}
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/images/generations"):
		return serveImageGeneration
	case strings.HasSuffix(p, "/images/edits"):
		return serveImageEdit
	case strings.HasSuffix(p, "/audio/speech"):
		return serveSpeech
	case strings.HasSuffix(p, "/audio/transcriptions"):
		return serveTranscription(false)
	case strings.HasSuffix(p, "/audio/translations"):
		return serveTranscription(true)
	}
	return nil
}

// serveMedia answers a media request with the knobs a chat request gets: key, faults, latency, failures.
func (s *Simulator) serveMedia(w http.ResponseWriter, r *http.Request, h mediaHandler) {
	if s.requireKey != "" && !keyMatches(r, s.requireKey) {
		writeError(w, openAI{}, http.StatusUnauthorized, "invalid API key: the simulator was configured with "+
			"require_key; send that key as Authorization: Bearer", 0)
		return
	}
	k := s.knobs
	if fh := r.Header.Get(FaultHeader); fh != "" {
		if err := applyFaultHeader(&k, fh); err != nil {
			writeError(w, openAI{}, http.StatusBadRequest, err.Error(), 0)
			return
		}
	}
	ctx := r.Context()
	if k.hang {
		<-ctx.Done()
		return
	}
	if !sleep(ctx, k.latency) {
		return
	}
	if k.failRate > 0 && (k.failRate >= 1 || rand.Float64() < k.failRate) {
		writeError(w, openAI{}, k.failStatus, fmt.Sprintf("simulated failure with status %d (fail_rate %g)",
			k.failStatus, k.failRate), k.retryAfter)
		return
	}
	if err := h(s, ctx, w, r, k); err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, openAI{}, status, err.Error(), 0)
	}
}

// imageRequest is what an image generation or edit asks for.
type imageRequest struct {
	model, prompt, size, quality, format string
	n, partials                          int
	stream                               bool
	source                               image.Image
}

// gptImage reports whether model is one of the GPT image models, which answer base64 with usage.
func gptImage(model string) bool { return strings.HasPrefix(model, "gpt-image") }

func serveImageGeneration(s *Simulator, ctx context.Context, w http.ResponseWriter, r *http.Request, k knobs) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return err
	}
	root, err := parseObject(body)
	if err != nil {
		return err
	}
	req := imageRequest{model: root.Get("model").Str, prompt: root.Get("prompt").Str, size: root.Get("size").Str,
		quality: root.Get("quality").Str, format: root.Get("response_format").Str, n: int(root.Get("n").Int()),
		partials: int(root.Get("partial_images").Int()), stream: root.Get("stream").Bool()}
	if req.prompt == "" {
		return errors.New("Missing required parameter: 'prompt'.")
	}
	return s.answerImages(ctx, w, req, k, "image_generation")
}

func serveImageEdit(s *Simulator, ctx context.Context, w http.ResponseWriter, r *http.Request, k knobs) error {
	mr, err := multipartOf(w, r)
	if err != nil {
		return err
	}
	req := imageRequest{}
	images := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := p.FormName()
		if name == "image" || strings.HasPrefix(name, "image[") {
			images++
			if req.source == nil {
				src, _, derr := image.Decode(p)
				if derr != nil {
					return fmt.Errorf("Invalid image file or mode for image %d, please check your image file.", images)
				}
				req.source = src
			}
			_, _ = io.Copy(io.Discard, p)
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, 64<<10))
		if err != nil {
			return err
		}
		switch name {
		case "model":
			req.model = string(v)
		case "prompt":
			req.prompt = string(v)
		case "size":
			req.size = string(v)
		case "quality":
			req.quality = string(v)
		case "response_format":
			req.format = string(v)
		case "n":
			req.n, _ = strconv.Atoi(string(v))
		case "partial_images":
			req.partials, _ = strconv.Atoi(string(v))
		case "stream":
			req.stream = string(v) == "true"
		}
	}
	if images == 0 {
		return errors.New("Missing required parameter: 'image'.")
	}
	if req.prompt == "" {
		return errors.New("Missing required parameter: 'prompt'.")
	}
	return s.answerImages(ctx, w, req, k, "image_edit")
}

// multipartOf reads r's body as a multipart form of at most maxUpload bytes.
func multipartOf(w http.ResponseWriter, r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errors.New("Invalid content type: send multipart/form-data")
	}
	return multipart.NewReader(http.MaxBytesReader(w, r.Body, maxUpload), params["boundary"]), nil
}

// imageSize reads "WxH", clamped to 16..2048 a side; "auto" or nothing is the source's size or 1024².
func imageSize(size string, src image.Image) (int, int, error) {
	if size == "" || size == "auto" {
		if src != nil {
			b := src.Bounds()
			return min(max(b.Dx(), 16), 2048), min(max(b.Dy(), 16), 2048), nil
		}
		return 1024, 1024, nil
	}
	ws, hs, ok := strings.Cut(size, "x")
	wd, err1 := strconv.Atoi(ws)
	ht, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || wd <= 0 || ht <= 0 {
		return 0, 0, fmt.Errorf("Invalid size '%s'. Supported sizes are 1024x1024, 1024x1536, 1536x1024 and auto.", size)
	}
	return min(max(wd, 16), 2048), min(max(ht, 16), 2048), nil
}

// imageTokens is a GPT image model's output tokens for a quality and size, as OpenAI's pricing guide lists
// them for 1024×1024 (272, 1056, 4160), scaled by area.
func imageTokens(quality string, w, h int) int {
	base := 1056
	switch quality {
	case "low":
		base = 272
	case "high", "hd":
		base = 4160
	}
	return int(math.Ceil(float64(base) * float64(w*h) / (1024 * 1024)))
}

// answerImages writes the images answer, or its events.
func (s *Simulator) answerImages(ctx context.Context, w http.ResponseWriter, req imageRequest, k knobs, event string) error {
	wd, ht, err := imageSize(req.size, req.source)
	if err != nil {
		return err
	}
	n := min(max(req.n, 1), 10)
	quality := req.quality
	if quality == "" || quality == "auto" {
		quality = "medium"
	}
	if !sleep(ctx, k.ttft) {
		return nil
	}
	seed := hashOf(req.prompt)
	pngs := make([][]byte, n)
	for i := range pngs {
		pngs[i] = drawImage(wd, ht, seed+uint64(i), req.source)
	}
	gpt := gptImage(req.model) || req.model == ""
	prompt := s.tok.Count("openai/gpt-4o", req.prompt)
	out := imageTokens(quality, wd, ht) * n
	usageJSON := fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"text_tokens":%d,"image_tokens":%d},"output_tokens":%d,"total_tokens":%d}`,
		prompt+imageInput(req.source), prompt, imageInput(req.source), out, prompt+imageInput(req.source)+out)
	size := strconv.Itoa(wd) + "x" + strconv.Itoa(ht)
	created := time.Now().Unix()
	if req.stream && gpt {
		h := w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := 0; i < min(max(req.partials, 0), 3); i++ {
			partial := drawImage(wd, ht, seed+uint64(100+i), req.source)
			fmt.Fprintf(w, "event: %s.partial_image\ndata: {\"type\":\"%s.partial_image\",\"b64_json\":\"%s\",\"created_at\":%d,\"size\":\"%s\",\"quality\":\"%s\",\"background\":\"opaque\",\"output_format\":\"png\",\"partial_image_index\":%d}\n\n",
				event, event, base64.StdEncoding.EncodeToString(partial), created, size, quality, i)
			if rc.Flush() != nil || !sleep(ctx, k.ttft) {
				return nil
			}
		}
		fmt.Fprintf(w, "event: %s.completed\ndata: {\"type\":\"%s.completed\",\"b64_json\":\"%s\",\"created_at\":%d,\"size\":\"%s\",\"quality\":\"%s\",\"background\":\"opaque\",\"output_format\":\"png\",\"usage\":%s}\n\n",
			event, event, base64.StdEncoding.EncodeToString(pngs[0]), created, size, quality, usageJSON)
		_ = rc.Flush()
		return nil
	}
	b := []byte(`{"created":` + strconv.FormatInt(created, 10) + `,"data":[`)
	for i, p := range pngs {
		if i > 0 {
			b = append(b, ',')
		}
		if !gpt && req.format != "b64_json" {
			b = append(b, `{"url":"data:image/png;base64,`...)
			b = base64.StdEncoding.AppendEncode(b, p)
			b = append(b, '"')
		} else {
			b = append(b, `{"b64_json":"`...)
			b = base64.StdEncoding.AppendEncode(b, p)
			b = append(b, '"')
		}
		if req.model == "dall-e-3" {
			b = append(b, `,"revised_prompt":`...)
			b = transform.AppendJSONString(b, "A picture of "+req.prompt)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if gpt {
		b = append(b, `,"background":"opaque","output_format":"png","quality":"`+quality+`","size":"`+size+`","usage":`+usageJSON...)
	}
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	return nil
}

// imageInput is the input image tokens of an edit's source image (a 1024² image: 323 tokens, scaled).
func imageInput(src image.Image) int {
	if src == nil {
		return 0
	}
	b := src.Bounds()
	return int(math.Ceil(323 * float64(b.Dx()*b.Dy()) / (1024 * 1024)))
}

// drawImage draws a w×h picture: with src, src scaled to the size with its colours inverted; without, a
// gradient in two colours from seed crossed by diagonal stripes.
func drawImage(w, h int, seed uint64, src image.Image) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	if src != nil {
		sb := src.Bounds()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(src.At(sb.Min.X+x*sb.Dx()/w, sb.Min.Y+y*sb.Dy()/h)).(color.NRGBA)
				img.SetNRGBA(x, y, color.NRGBA{255 - c.R, 255 - c.G, 255 - c.B, c.A})
			}
		}
	} else {
		r0, g0, b0 := byte(seed), byte(seed>>8), byte(seed>>16)
		r1, g1, b1 := byte(seed>>24), byte(seed>>32), byte(seed>>40)
		stripe := 16 + int(seed>>48)%48
		for y := 0; y < h; y++ {
			t := y * 255 / max(h-1, 1)
			c := color.NRGBA{mix(r0, r1, t), mix(g0, g1, t), mix(b0, b1, t), 255}
			dark := color.NRGBA{c.R / 2, c.G / 2, c.B / 2, 255}
			row := img.Pix[y*img.Stride:]
			for x := 0; x < w; x++ {
				cc := c
				if ((x+y)/stripe)%2 == 1 {
					cc = dark
				}
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = cc.R, cc.G, cc.B, 255
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	_ = enc.Encode(&buf, img)
	return buf.Bytes()
}

func mix(a, b byte, t int) byte { return byte((int(a)*(255-t) + int(b)*t) / 255) }

// speechSampleRate is the rate of the simulator's speech, OpenAI's pcm rate and Gemini's.
const speechSampleRate = 24000

// speechPCM is the tone of a speech answer: 16-bit mono at speechSampleRate, about 60 ms per character of
// input, at a pitch chosen by the voice, in syllables of 150 ms.
func speechPCM(input, voice string) []byte {
	chars := len([]rune(input))
	seconds := max(0.5, float64(chars)*0.06)
	n := int(seconds * speechSampleRate)
	freq := 180 + float64(hashOf(voice)%300)
	pcm := make([]byte, 2*n)
	syllable := int(0.15 * speechSampleRate)
	for i := 0; i < n; i++ {
		env := math.Sin(math.Pi * float64(i%syllable) / float64(syllable))
		v := int16(9000 * env * math.Sin(2*math.Pi*freq*float64(i)/speechSampleRate))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(v))
	}
	return pcm
}

// wav wraps 16-bit mono PCM in a RIFF/WAVE header.
func wav(pcm []byte, rate int) []byte {
	out := make([]byte, 44, 44+len(pcm))
	copy(out, "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+len(pcm)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1)
	binary.LittleEndian.PutUint16(out[22:], 1)
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(out[32:], 2)
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(len(pcm)))
	return append(out, pcm...)
}

// silentMP3 is seconds of MPEG-1 Layer III silence: frames of 128 kbit/s, 44.1 kHz, mono, 417 bytes each
// (1152 samples), with zeroed side information (no Huffman data: every sample decodes as 0).
func silentMP3(seconds float64) []byte {
	frames := int(math.Ceil(seconds * 44100 / 1152))
	const size = 417
	out := make([]byte, frames*size)
	for i := 0; i < frames; i++ {
		copy(out[i*size:], []byte{0xFF, 0xFB, 0x90, 0xC0})
	}
	return out
}

func serveSpeech(s *Simulator, ctx context.Context, w http.ResponseWriter, r *http.Request, k knobs) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return err
	}
	root, err := parseObject(body)
	if err != nil {
		return err
	}
	input := root.Get("input").Str
	if input == "" {
		return errors.New("Missing required parameter: 'input'.")
	}
	voice := root.Get("voice").Str
	if v := root.Get("voice.id"); v.Exists() {
		voice = v.Str
	}
	pcm := speechPCM(input, voice)
	var audio []byte
	ct := ""
	switch f := root.Get("response_format").Str; f {
	case "", "mp3":
		audio, ct = silentMP3(float64(len(pcm))/2/speechSampleRate), "audio/mpeg"
	case "wav":
		audio, ct = wav(pcm, speechSampleRate), "audio/wav"
	case "pcm":
		audio, ct = pcm, "audio/pcm"
	default:
		return fmt.Errorf("the simulator makes mp3 (silent), wav and pcm speech, not %q", f)
	}
	if !sleep(ctx, k.ttft) {
		return nil
	}
	piece := speechSampleRate / 2 // a quarter of a second of 16-bit samples
	pace := time.Duration(0)
	if k.tokensPerSecond > 0 {
		pace = time.Duration(float64(time.Second) / k.tokensPerSecond)
	}
	rc := http.NewResponseController(w)
	if root.Get("stream_format").Str == "sse" {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < len(audio); i += piece {
			fmt.Fprintf(w, "data: {\"type\":\"speech.audio.delta\",\"audio\":\"%s\"}\n\n",
				base64.StdEncoding.EncodeToString(audio[i:min(i+piece, len(audio))]))
			if rc.Flush() != nil || !sleep(ctx, pace) {
				return nil
			}
		}
		in := s.tok.Count("openai/gpt-4o", input)
		outTokens := len(pcm) / 2 / speechSampleRate * 20
		fmt.Fprintf(w, "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":%d,\"output_tokens\":%d,\"total_tokens\":%d}}\n\n", in, outTokens, in+outTokens)
		_ = rc.Flush()
		return nil
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	for i := 0; i < len(audio); i += piece {
		if _, err := w.Write(audio[i:min(i+piece, len(audio))]); err != nil || rc.Flush() != nil {
			return nil
		}
		if i+piece < len(audio) && !sleep(ctx, pace) {
			return nil
		}
	}
	return nil
}

// transcript is what the simulator hears in an uploaded file.
type transcript struct {
	text    string
	seconds float64
}

// hear reads an uploaded file as it arrives and makes its transcript from its name, size and hash.
func hear(filename string, r io.Reader) (transcript, error) {
	h := sha256.New()
	var head [44]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return transcript{}, err
	}
	h.Write(head[:n])
	rest, err := io.Copy(h, r)
	if err != nil {
		return transcript{}, err
	}
	size := int64(n) + rest
	if size == 0 {
		return transcript{}, errors.New("Audio file is empty.")
	}
	seconds := float64(size) / 16000
	if n == 44 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE" {
		if rate := binary.LittleEndian.Uint32(head[28:]); rate > 0 {
			seconds = float64(size-44) / float64(rate)
		}
	}
	sum := h.Sum(nil)
	var b strings.Builder
	fmt.Fprintf(&b, "The file %s has %d bytes and says", filename, size)
	for _, c := range sum[:8] {
		b.WriteByte(' ')
		b.WriteString(words[int(c)%len(words)])
	}
	b.WriteByte('.')
	return transcript{text: b.String(), seconds: math.Round(seconds*100) / 100}, nil
}

func serveTranscription(translation bool) mediaHandler {
	return func(s *Simulator, ctx context.Context, w http.ResponseWriter, r *http.Request, k knobs) error {
		mr, err := multipartOf(w, r)
		if err != nil {
			return err
		}
		var model, format string
		stream := false
		var heard *transcript
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if p.FormName() == "file" {
				t, err := hear(p.FileName(), p)
				if err != nil {
					return err
				}
				heard = &t
				continue
			}
			v, err := io.ReadAll(io.LimitReader(p, 64<<10))
			if err != nil {
				return err
			}
			switch p.FormName() {
			case "model":
				model = string(v)
			case "response_format":
				format = string(v)
			case "stream":
				stream = string(v) == "true"
			}
		}
		if heard == nil {
			return errors.New("Missing required parameter: 'file'.")
		}
		if model == "" {
			return errors.New("Missing required parameter: 'model'.")
		}
		t := *heard
		if translation {
			t.text = "In English: " + t.text
		}
		if !sleep(ctx, k.ttft) {
			return nil
		}
		in, out := int(math.Ceil(t.seconds*10)), s.tok.Count("openai/gpt-4o", t.text)
		usageJSON := fmt.Sprintf(`{"type":"tokens","input_tokens":%d,"input_token_details":{"text_tokens":0,"audio_tokens":%d},"output_tokens":%d,"total_tokens":%d}`,
			in, in, out, in+out)
		if model == "whisper-1" {
			usageJSON = fmt.Sprintf(`{"type":"duration","seconds":%d}`, int(math.Ceil(t.seconds)))
		}
		if stream && model != "whisper-1" {
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			rc := http.NewResponseController(w)
			for i, word := range strings.Fields(t.text) {
				if i > 0 {
					word = " " + word
				}
				fmt.Fprintf(w, "data: {\"type\":\"transcript.text.delta\",\"delta\":%s}\n\n", transform.AppendJSONString(nil, word))
				if rc.Flush() != nil {
					return nil
				}
			}
			fmt.Fprintf(w, "data: {\"type\":\"transcript.text.done\",\"text\":%s,\"usage\":%s}\n\n", transform.AppendJSONString(nil, t.text), usageJSON)
			_ = rc.Flush()
			return nil
		}
		text := string(transform.AppendJSONString(nil, t.text))
		end := formatTimestamp(t.seconds, ",")
		var b, ct string
		switch format {
		case "", "json":
			b, ct = `{"text":`+text+`,"usage":`+usageJSON+`}`, "application/json"
		case "verbose_json":
			task := "transcribe"
			if translation {
				task = "translate"
			}
			secs := strconv.FormatFloat(t.seconds, 'f', -1, 64)
			b, ct = `{"task":"`+task+`","language":"english","duration":`+secs+`,"text":`+text+
				`,"segments":[{"id":0,"seek":0,"start":0.0,"end":`+secs+`,"text":`+text+
				`,"tokens":[],"temperature":0.0,"avg_logprob":-0.2,"compression_ratio":1.2,"no_speech_prob":0.01}],"usage":{"type":"duration","seconds":`+
				strconv.Itoa(int(math.Ceil(t.seconds)))+`}}`, "application/json"
		case "text":
			b, ct = t.text+"\n", "text/plain; charset=utf-8"
		case "srt":
			b, ct = "1\n00:00:00,000 --> "+end+"\n"+t.text+"\n\n", "text/plain; charset=utf-8"
		case "vtt":
			b, ct = "WEBVTT\n\n00:00:00.000 --> "+formatTimestamp(t.seconds, ".")+"\n"+t.text+"\n\n", "text/vtt; charset=utf-8"
		default:
			return fmt.Errorf("Invalid response_format %q: use json, text, srt, verbose_json or vtt.", format)
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = io.WriteString(w, b)
		return nil
	}
}

// formatTimestamp writes seconds as HH:MM:SS<sep>mmm.
func formatTimestamp(seconds float64, sep string) string {
	ms := int(seconds * 1000)
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}

// geminiModality returns "IMAGE" or "AUDIO" when a generateContent request asks for that output, else "".
func geminiModality(body []byte) string {
	m := ""
	gjson.GetBytes(body, "generationConfig.responseModalities").ForEach(func(_, v gjson.Result) bool {
		if v.Str == "IMAGE" || v.Str == "AUDIO" {
			m = v.Str
			return false
		}
		return true
	})
	return m
}

// geminiAspectSize is the 1024-pixel-side size of a Gemini aspect ratio ("16:9").
func geminiAspectSize(ratio string) (int, int) {
	a, b, ok := strings.Cut(ratio, ":")
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	if !ok || x <= 0 || y <= 0 {
		return 1024, 1024
	}
	if x >= y {
		return 1024, max(16, 1024*y/x)
	}
	return max(16, 1024*x/y), 1024
}

// serveGeminiMedia answers a generateContent request for an image or for speech.
func (s *Simulator) serveGeminiMedia(ctx context.Context, w http.ResponseWriter, k knobs, body []byte, modality string) {
	root := gjson.ParseBytes(body)
	var text strings.Builder
	var src image.Image
	root.Get("contents").ForEach(func(_, c gjson.Result) bool {
		c.Get("parts").ForEach(func(_, p gjson.Result) bool {
			if t := p.Get("text"); t.Type == gjson.String {
				text.WriteString(t.Str)
			}
			if d := p.Get("inlineData"); d.IsObject() && src == nil && strings.HasPrefix(d.Get("mimeType").Str, "image/") {
				raw, err := base64.StdEncoding.DecodeString(d.Get("data").Str)
				if err == nil {
					src, _, _ = image.Decode(bytes.NewReader(raw))
				}
			}
			return true
		})
		return true
	})
	if text.Len() == 0 {
		writeError(w, gemini{}, http.StatusBadRequest, "* GenerateContentRequest.contents: contents must contain a text part", 0)
		return
	}
	if !sleep(ctx, k.ttft) {
		return
	}
	prompt := s.tok.Count("openai/gpt-4o", text.String())
	var part string
	var out int
	if modality == "IMAGE" {
		wd, ht := geminiAspectSize(root.Get("generationConfig.imageConfig.aspectRatio").Str)
		if src != nil && root.Get("generationConfig.imageConfig.aspectRatio").Str == "" {
			wd, ht, _ = imageSize("auto", src)
		}
		png := drawImage(wd, ht, hashOf(text.String()), src)
		part = `{"inlineData":{"mimeType":"image/png","data":"` + base64.StdEncoding.EncodeToString(png) + `"}}`
		out = 1290
	} else {
		voice := root.Get("generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName").Str
		pcm := speechPCM(text.String(), voice)
		part = `{"inlineData":{"mimeType":"audio/L16;codec=pcm;rate=24000","data":"` + base64.StdEncoding.EncodeToString(pcm) + `"}}`
		out = int(math.Ceil(float64(len(pcm)) / 2 / speechSampleRate * 25))
	}
	b := fmt.Sprintf(`{"candidates":[{"content":{"parts":[%s],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":%d,"totalTokenCount":%d,"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}],"candidatesTokensDetails":[{"modality":"%s","tokenCount":%d}]},"modelVersion":"simulator","responseId":"%s"}`,
		part, prompt, out, prompt+out, prompt, modality, out, strconv.FormatUint(hashOf(text.String()), 36))
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = io.WriteString(w, b)
}

// servePredict answers Imagen's :predict with sampleCount PNGs.
func servePredict(_ *Simulator, b, body []byte, _ string) ([]byte, error) {
	root, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	prompt := root.Get("instances.0.prompt").Str
	if prompt == "" {
		return nil, errors.New("* instances[0].prompt: prompt is required")
	}
	n := int(min(max(root.Get("parameters.sampleCount").Int(), 1), 4))
	wd, ht := geminiAspectSize(root.Get("parameters.aspectRatio").Str)
	b = append(b, `{"predictions":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"mimeType":"image/png","bytesBase64Encoded":"`...)
		b = base64.StdEncoding.AppendEncode(b, drawImage(wd, ht, hashOf(prompt)+uint64(i), nil))
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), nil
}
