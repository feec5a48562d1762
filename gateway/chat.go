package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

func (g *Gateway) serveChat(w http.ResponseWriter, r *http.Request, res *Result) {
	start := time.Now()
	body, err := readLimited(http.MaxBytesReader(w, r.Body, g.cfg.MaxRequestBody), g.cfg.MaxRequestBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || err.Error() == "upstream body too large" {
			g.fail(w, res, transform.NewError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
				"the request body is larger than the gateway's limit of "+strconv.FormatInt(g.cfg.MaxRequestBody, 10)+" bytes"))
			return
		}
		g.fail(w, res, transform.InvalidRequest("", "could not read the request body"))
		return
	}
	req, verr := g.validate(body)
	if verr != nil {
		g.fail(w, res, verr)
		return
	}
	res.ClientModel, res.Stream = req.model, req.stream
	targets, err := g.targets(req)
	if err != nil {
		g.fail(w, res, asError(err))
		return
	}
	var last *transform.Error
	for i, t := range targets {
		u := g.providers[t.Provider]
		treq := &transform.Request{Body: req.body, Model: t.Model, ClientModel: req.model, Stream: req.stream, IncludeUsage: req.includeUsage}
		res.Provider, res.UpstreamModel = t.Provider, t.Model
		attemptStart := time.Now()
		answered, e := g.attempt(w, r, u, t, treq, res, start)
		a := Attempt{Target: t.String(), Status: http.StatusOK, Duration: time.Since(attemptStart)}
		if e != nil {
			a.Status, a.Err = e.Status, e.Error()
		}
		res.Attempts = append(res.Attempts, a)
		if answered {
			return
		}
		last = e
		if r.Context().Err() != nil || !retryable(e.Status) || i == len(targets)-1 {
			break
		}
	}
	g.fail(w, res, last)
}

// targets lists the upstream targets to try: the model's own, then each request-level fallback's.
func (g *Gateway) targets(req *chatRequest) ([]router.Target, error) {
	ts, err := g.router.Resolve(req.model)
	if err != nil {
		return nil, err
	}
	for _, m := range req.fallbacks {
		more, err := g.router.Resolve(m)
		if err != nil {
			return nil, err
		}
		ts = append(ts, more...)
	}
	return ts, nil
}

// retryable reports whether another target may succeed where this status failed.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 529:
		return true
	}
	return false
}

// attempt tries one target. answered is true once a response has been committed to the client (a stream that
// began and then failed reports its error inside the stream); otherwise err is the failure to retry or send.
func (g *Gateway) attempt(w http.ResponseWriter, r *http.Request, u *upstream, t router.Target, treq *transform.Request, res *Result, start time.Time) (answered bool, err *transform.Error) {
	out, berr := u.Dialect.BuildRequest(treq)
	if berr != nil {
		return false, asError(berr)
	}
	resp, cancel, serr := g.send(r.Context(), u, t.Key, out, r.Header, treq.Stream)
	if serr != nil {
		return false, transportError(r.Context(), u.Name, serr)
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := readLimited(resp.Body, maxErrorBody)
		return false, u.Dialect.TranslateError(resp.StatusCode, resp.Header, b)
	}
	if treq.Stream {
		return g.relayStream(w, r, u, treq, resp, res, start)
	}
	b, rerr := readLimited(resp.Body, maxResponseBody)
	if rerr != nil {
		return false, transportError(r.Context(), u.Name, rerr)
	}
	outBody, use, terr := u.Dialect.TranslateResponse(treq, b)
	if terr != nil {
		return false, asError(terr)
	}
	res.Usage = use
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(outBody)))
	setWhoAnswered(h, u.Name, t.Model, len(res.Attempts)+1)
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	res.TimeToFirstByte = time.Since(start)
	_, _ = w.Write(outBody)
	return true, nil
}

func setWhoAnswered(h http.Header, provider, model string, attempts int) {
	h.Set("X-AI-Gateway-Provider", provider)
	h.Set("X-AI-Gateway-Upstream-Model", model)
	h.Set("X-AI-Gateway-Attempts", strconv.Itoa(attempts))
}

// relayStream waits for the upstream's first event before committing the response (so a failure before it can
// still go to another target), then relays events one at a time, flushing each.
func (g *Gateway) relayStream(w http.ResponseWriter, r *http.Request, u *upstream, treq *transform.Request, resp *http.Response, res *Result, start time.Time) (bool, *transform.Error) {
	events := transform.NewSSEReader(resp.Body, 0)
	tr := u.Dialect.NewStream(treq)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), model: treq.ClientModel}
	ev, err := events.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, transform.NewError(http.StatusBadGateway, "server_error", "upstream_stream_cut",
				"provider '"+u.Name+"' closed the stream before sending anything")
		}
		return false, transportError(r.Context(), u.Name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	setWhoAnswered(h, u.Name, treq.Model, len(res.Attempts)+1)
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	res.TimeToFirstByte = time.Since(start)

	streamErr := g.pump(r.Context(), u.Name, events, tr, sw, ev)
	res.Usage = sw.usage
	if sw.writeErr != nil {
		return true, nil // the client went away; nothing more can be said to it
	}
	if streamErr != nil {
		e := asError(streamErr)
		sw.writeError(e)
		res.Err = e
		return true, e
	}
	sw.finish(treq.IncludeUsage)
	return true, nil
}

// pump feeds upstream events to the translator until the stream ends. It returns the error to report in the
// stream, or nil after a complete answer.
func (g *Gateway) pump(ctx context.Context, provider string, events *transform.SSEReader, tr transform.StreamTranslator, sw *streamWriter, ev transform.Event) error {
	for {
		done, err := tr.Translate(ev, sw)
		if err != nil {
			return err
		}
		if sw.writeErr != nil {
			return nil
		}
		if sw.pending {
			if sw.writeErr = sw.rc.Flush(); sw.writeErr != nil {
				return nil
			}
			sw.pending = false
		}
		if done {
			return tr.Finish(sw, false)
		}
		ev, err = events.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return tr.Finish(sw, true)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ferr := tr.Finish(sw, true); ferr != nil {
				return ferr
			}
			return transportError(ctx, provider, err)
		}
	}
}

// streamWriter is the Sink that writes OpenAI SSE events to the client.
type streamWriter struct {
	w        io.Writer
	rc       *http.ResponseController
	model    string
	id       []byte
	created  []byte
	usage    usage.Usage
	rawUsage []byte
	pending  bool
	writeErr error
}

var (
	dataPrefix = []byte("data: ")
	eventEnd   = []byte("\n\n")
)

// Chunk implements transform.Sink.
func (s *streamWriter) Chunk(data []byte) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	if s.id == nil {
		s.id = append([]byte{}, gjson.GetBytes(data, "id").Raw...)
		s.created = append([]byte{}, gjson.GetBytes(data, "created").Raw...)
	}
	if _, s.writeErr = s.w.Write(dataPrefix); s.writeErr == nil {
		if _, s.writeErr = s.w.Write(data); s.writeErr == nil {
			_, s.writeErr = s.w.Write(eventEnd)
		}
	}
	s.pending = true
	return s.writeErr
}

// Usage implements transform.Sink.
func (s *streamWriter) Usage(u usage.Usage, raw []byte) {
	s.usage = u
	s.rawUsage = append(s.rawUsage[:0], raw...)
}

// finish writes the usage chunk when the client asked for it, then [DONE].
func (s *streamWriter) finish(includeUsage bool) {
	if includeUsage && s.usage.Known() {
		b := make([]byte, 0, 512)
		b = append(b, `{"id":`...)
		b = appendRawOr(b, s.id, `""`)
		b = append(b, `,"object":"chat.completion.chunk","created":`...)
		b = appendRawOr(b, s.created, strconv.FormatInt(time.Now().Unix(), 10))
		b = append(b, `,"model":`...)
		b = transform.AppendJSONString(b, s.model)
		b = append(b, `,"choices":[],"usage":`...)
		if len(s.rawUsage) > 0 {
			b = append(b, s.rawUsage...)
		} else {
			b = s.usage.AppendJSON(b, -1)
		}
		b = append(b, '}')
		_ = s.Chunk(b)
	}
	if s.writeErr == nil {
		_, s.writeErr = s.w.Write([]byte("data: [DONE]\n\n"))
	}
	if s.writeErr == nil {
		s.writeErr = s.rc.Flush()
	}
}

// writeError ends the stream with an OpenAI error event and no [DONE], so clients see a failure rather than a
// truncated answer that looks complete.
func (s *streamWriter) writeError(e *transform.Error) {
	b := e.AppendJSON(make([]byte, 0, 256))
	if s.Chunk(b) == nil {
		_ = s.rc.Flush()
	}
}

func appendRawOr(dst, raw []byte, fallback string) []byte {
	if len(raw) == 0 {
		return append(dst, fallback...)
	}
	return append(dst, raw...)
}
