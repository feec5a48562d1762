package simulator

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// maxRequestBody bounds a request body, as the providers do (Anthropic's limit is 32 MB).
const maxRequestBody = 32 << 20

// Simulator is the http.Handler returned by New.
type Simulator struct {
	// tok counts OpenAI prompts the way OpenAI does, so the simulated usage is what a real upstream reports.
	tok        *usage.Tokenizer
	knobs      knobs
	requireKey string
	models     []string
	bufs       sync.Pool
	// videos are the video jobs (video.go), each rendered in videoRender.
	videos      videoJobs
	videoRender time.Duration
}

// New returns a handler that serves, by path:
//
//	POST */chat/completions                        OpenAI-compatible chat completions, streamed or not
//	POST */completions                             OpenAI legacy text completions, streamed or not
//	POST */embeddings                              OpenAI embeddings (float or base64)
//	POST */moderations                             OpenAI moderations
//	POST */rerank                                  rerank (Cohere v2, Jina and vLLM shape)
//	POST */api/embed                               Ollama embeddings
//	GET  */models                                  OpenAI model list
//	POST */v1/messages                             Anthropic Messages, streamed or not
//	POST */v1/messages/count_tokens                Anthropic token count
//	POST */models/{model}:generateContent          Gemini
//	POST */models/{model}:streamGenerateContent    Gemini stream (?alt=sse: SSE with CRLF; else a JSON array)
//	POST */models/{model}:countTokens              Gemini token count
//	POST */models/{model}:embedContent             Gemini embedding
//	POST */models/{model}:batchEmbedContents       Gemini embeddings
//	POST */models/{model}:predict                  Imagen images
//	POST */images/generations, */images/edits      OpenAI images (media.go: real PNGs)
//	POST */audio/speech                            OpenAI speech (a tone: wav, pcm; silent mp3)
//	POST */audio/transcriptions, */translations    OpenAI transcription (text from the uploaded file)
//	POST, GET */videos; GET, DELETE */videos/{id}; GET */videos/{id}/content   OpenAI video jobs
//	POST */models/{model}:predictLongRunning; GET */models/{model}/operations/{id};
//	GET */files/{id}:download                      Gemini Veo video jobs (video.go)
//
// Anything else gets 404. Out-of-range knobs are clamped or replaced by their defaults; call
// Config.Validate first to report them. The package documentation says what each endpoint answers.
func New(cfg Config) *Simulator {
	s := &Simulator{tok: usage.NewTokenizer(), knobs: cfg.knobs(), requireKey: cfg.RequireKey, models: cfg.Models}
	if len(s.models) == 0 {
		s.models = []string{DefaultModel}
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.videoRender = time.Duration(cfg.VideoRenderTime)
	if s.videoRender <= 0 {
		s.videoRender = DefaultVideoRenderTime
	}
	return s
}

// ServeHTTP answers one request as the provider its path names would.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveVideo(w, r) {
		return
	}
	if h := mediaRoute(r); h != nil {
		s.serveMedia(w, r, h)
		return
	}
	ep, ok := route(r)
	if !ok {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
			s.serveModels(w)
			return
		}
		writeError(w, openAI{}, http.StatusNotFound, fmt.Sprintf("the simulator has no endpoint %s %s; it serves "+
			"POST */chat/completions, */completions, */embeddings, */moderations, */rerank, */api/embed, "+
			"GET */models, POST */v1/messages and POST */models/{model}:generateContent, :streamGenerateContent, "+
			":countTokens, :embedContent or :batchEmbedContents", r.Method, r.URL.Path), 0)
		return
	}
	if s.requireKey != "" && !keyMatches(r, s.requireKey) {
		writeError(w, ep.dialect, http.StatusUnauthorized, "invalid API key: the simulator was configured with "+
			"require_key; send that key as Authorization: Bearer, x-api-key or x-goog-api-key", 0)
		return
	}
	k := s.knobs
	if h := r.Header.Get(FaultHeader); h != "" {
		if err := applyFaultHeader(&k, h); err != nil {
			writeError(w, ep.dialect, http.StatusBadRequest, err.Error(), 0)
			return
		}
	}

	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.putBuffer(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxRequestBody)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, ep.dialect, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body exceeds %d bytes", maxRequestBody), 0)
		}
		return
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
		writeError(w, ep.dialect, k.failStatus, fmt.Sprintf("simulated failure with status %d (fail_rate %g)",
			k.failStatus, k.failRate), k.retryAfter)
		return
	}

	if _, ok := ep.dialect.(anthropic); ok && r.Header.Get("Anthropic-Version") == "" {
		writeError(w, ep.dialect, http.StatusBadRequest, "anthropic-version: header is required; send "+
			"anthropic-version: 2023-06-01", 0)
		return
	}
	if ep.json != nil {
		s.serveJSON(ctx, w, ep, buf)
		return
	}
	if m := geminiModality(buf.Bytes()); m != "" && ep.model != "" && !ep.stream && !ep.countTokens {
		s.serveGeminiMedia(ctx, w, k, buf.Bytes(), m)
		return
	}
	ex := &exchange{k: k, model: ep.model, stream: ep.stream, counting: ep.countTokens, created: time.Now().Unix(), tok: s.tok}
	if err := ep.dialect.parse(ex, buf.Bytes()); err != nil {
		writeError(w, ep.dialect, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if ep.countTokens {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ep.dialect.appendCount(buf.Bytes()[:0], ex.promptTokens))
		return
	}
	ex.plan(buf.Bytes())
	if ex.stream {
		s.serveStream(ctx, w, ep, ex)
		return
	}
	s.serveWhole(ctx, w, ep.dialect, ex, buf)
}

func (s *Simulator) putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		s.bufs.Put(b)
	}
}

// serveWhole writes a non-streamed answer after the whole simulated generation time.
func (s *Simulator) serveWhole(ctx context.Context, w http.ResponseWriter, d dialect, ex *exchange, buf *bytes.Buffer) {
	wait := ex.k.ttft
	if ex.k.tokensPerSecond > 0 {
		wait += time.Duration(float64(ex.completionTokens()) / ex.k.tokensPerSecond * float64(time.Second))
	}
	if !sleep(ctx, wait) {
		return
	}
	body := d.appendResponse(buf.Bytes()[:0], ex)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	d.setHeaders(h)
	if ex.k.cutAfter > 0 {
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write(body)
}

// serveJSON answers an endpoint that neither chats nor streams, after the time to first token.
func (s *Simulator) serveJSON(ctx context.Context, w http.ResponseWriter, ep endpoint, buf *bytes.Buffer) {
	body, err := ep.json(s, nil, buf.Bytes(), ep.model)
	if err != nil {
		writeError(w, ep.dialect, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if !sleep(ctx, s.knobs.ttft) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	ep.dialect.setHeaders(h)
	_, _ = w.Write(body)
}

// serveStream writes a streamed answer, event by event, flushing each.
func (s *Simulator) serveStream(ctx context.Context, w http.ResponseWriter, ep endpoint, ex *exchange) {
	h := w.Header()
	if ep.framing == jsonArray {
		h.Set("Content-Type", "application/json; charset=UTF-8")
	} else {
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
	}
	h.Set("Cache-Control", "no-cache")
	ep.dialect.setHeaders(h)
	w.WriteHeader(http.StatusOK)
	st := newStreamer(ctx, w, ep.framing, ex.k)
	if err := st.flush(); err != nil || !sleep(ctx, ex.k.ttft) {
		return
	}
	st.start()
	err := ep.dialect.stream(st, ex)
	if err == nil {
		err = st.end()
	}
	if errors.Is(err, errCut) {
		panic(http.ErrAbortHandler)
	}
}

func (s *Simulator) serveModels(w http.ResponseWriter) {
	created := strconv.FormatInt(time.Now().Unix(), 10)
	b := []byte(`{"object":"list","data":[`)
	for i, m := range s.models {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = transform.AppendJSONString(b, m)
		b = append(b, `,"object":"model","created":`...)
		b = append(b, created...)
		b = append(b, `,"owned_by":"simulator"}`...)
	}
	b = append(b, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// writeError writes a failure in the dialect's error shape.
func writeError(w http.ResponseWriter, d dialect, status int, message string, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	d.setHeaders(h)
	w.WriteHeader(status)
	_, _ = w.Write(d.appendError(nil, status, message, retryAfter))
}

// keyMatches reports whether the request carries key in one of the places the providers' clients put it.
func keyMatches(r *http.Request, key string) bool {
	candidates := [...]string{
		strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
		r.Header.Get("X-Api-Key"),
		r.Header.Get("X-Goog-Api-Key"),
		r.URL.Query().Get("key"),
	}
	for _, c := range candidates {
		if c != "" && subtle.ConstantTimeCompare([]byte(c), []byte(key)) == 1 {
			return true
		}
	}
	return false
}

// sleep waits for d or until ctx is done, and reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// endpoint is what a request path selects.
type endpoint struct {
	dialect     dialect
	model       string // from the path (Gemini); empty when the body names it
	stream      bool   // from the path (Gemini); otherwise the body decides
	framing     framing
	countTokens bool
	json        jsonEndpoint // answers an endpoint that neither chats nor streams; nil for chat
}

func route(r *http.Request) (endpoint, bool) {
	if r.Method != http.MethodPost {
		return endpoint{}, false
	}
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		return endpoint{dialect: openAI{}, framing: sseLF}, true
	case strings.HasSuffix(p, "/completions"):
		return endpoint{dialect: completions{}, framing: sseLF}, true
	case strings.HasSuffix(p, "/embeddings"):
		return endpoint{dialect: openAI{}, json: serveEmbeddings}, true
	case strings.HasSuffix(p, "/moderations"):
		return endpoint{dialect: openAI{}, json: serveModerations}, true
	case strings.HasSuffix(p, "/responses"):
		return endpoint{dialect: responsesAPI{}, framing: sseLF}, true
	case strings.HasSuffix(p, "/rerank"):
		return endpoint{dialect: openAI{}, json: serveRerank}, true
	case strings.HasSuffix(p, "/api/embed"):
		return endpoint{dialect: openAI{}, json: serveOllamaEmbed}, true
	case strings.HasSuffix(p, "/v1/messages"):
		return endpoint{dialect: anthropic{}, framing: sseLF}, true
	case strings.HasSuffix(p, "/v1/messages/count_tokens"):
		return endpoint{dialect: anthropic{}, countTokens: true}, true
	}
	i := strings.LastIndex(p, "/models/")
	if i < 0 {
		return endpoint{}, false
	}
	model, action, ok := strings.Cut(p[i+len("/models/"):], ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return endpoint{}, false
	}
	ep := endpoint{dialect: gemini{}, model: model}
	switch action {
	case "generateContent":
	case "streamGenerateContent":
		ep.stream = true
		ep.framing = jsonArray
		if r.URL.Query().Get("alt") == "sse" {
			ep.framing = sseCRLF
		}
	case "countTokens":
		ep.countTokens = true
	case "embedContent":
		ep.json = serveGeminiEmbed
	case "batchEmbedContents":
		ep.json = serveGeminiBatchEmbed
	case "predict":
		ep.json = servePredict
	default:
		return endpoint{}, false
	}
	return ep, true
}

// dialect is one provider's wire format.
type dialect interface {
	// parse reads the request body into ex; its error says what is wrong with the request.
	parse(ex *exchange, body []byte) error
	// appendResponse appends the non-streamed answer.
	appendResponse(dst []byte, ex *exchange) []byte
	// stream writes the streamed answer's events, without the stream's terminator if it has one.
	stream(st *streamer, ex *exchange) error
	// appendError appends an error body in the provider's shape.
	appendError(dst []byte, status int, message string, retryAfter time.Duration) []byte
	// appendCount appends the answer of the provider's token-counting endpoint.
	appendCount(dst []byte, promptTokens int) []byte
	// setHeaders adds the provider's usual response headers.
	setHeaders(h http.Header)
}
