package gateway

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// mediaCopyChunk is the most of a media answer read (and then written and flushed) at a time.
const mediaCopyChunk = 32 << 10

// relayMedia answers with a successful upstream answer of an answerMedia endpoint, by its Content-Type: a
// JSON answer is translated whole (within MaxResponseBody), an event stream relayed event by event, and
// anything else (audio, a text transcript) relayed as it arrives.
func (g *Gateway) relayMedia(w http.ResponseWriter, r *http.Request, x *exchange, u *upstream, ops *dialectOps, treq *transform.Request, resp *http.Response, sent time.Time) (bool, time.Duration, *transform.Error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		return g.relayMediaEvents(w, r, x, u, treq, resp, sent)
	case "application/json":
	default:
		return g.relayBytes(w, r, x, u, treq, resp, sent)
	}
	b, rerr := readResponse(resp, g.cfg.MaxResponseBody)
	ttfb := time.Since(sent)
	if errors.Is(rerr, errTooLarge) {
		return false, ttfb, tooLarge(u.Name, "max_response_body", g.cfg.MaxResponseBody)
	}
	if rerr != nil {
		return false, ttfb, transportError(r.Context(), u.Name, rerr)
	}
	out, ct, use, terr := ops.media(treq, b)
	if terr != nil {
		return false, ttfb, asError(terr)
	}
	g.mediaUsage(x, use)
	if g.cfg.ReportCost && x.res.CostUSD >= 0 && ct == "application/json" && gjson.GetBytes(out, "usage").IsObject() {
		out = setUsageCost(out, x.res.CostUSD)
	}
	h := newHeaderValues(w.Header(), 8)
	h.set("Content-Type", ct)
	h.set("Content-Length", strconv.Itoa(len(out)))
	g.setAnswerHeaders(&h, x, u.Name, treq.Model)
	if x.res.CostUSD >= 0 {
		h.set(hdrCost, formatCost(x.res.CostUSD))
	}
	w.WriteHeader(http.StatusOK)
	x.res.Status = http.StatusOK
	x.res.TimeToFirstByte = time.Since(x.start)
	_, _ = w.Write(out)
	return true, ttfb, nil
}

// mediaUsage completes a media answer's usage with what the request asked for (images, characters) and
// prices it. Without reported tokens, the prompt is the gateway's own count.
func (g *Gateway) mediaUsage(x *exchange, reported usage.Usage) {
	u := reported
	if x.ep.units != nil {
		x.ep.units(x.req, &u)
	}
	if !u.Known() {
		u.PromptTokens = g.promptTokens(x, x.target)
		u.TotalTokens = u.PromptTokens
		u.Origin = g.tokenizer.Origin(x.target)
	}
	x.res.Usage = u
	x.res.CostUSD = g.cost(x.target, u)
}

// relayBytes relays a non-JSON answer (audio, a text transcript) as it arrives: each read is written and
// flushed. Its first bytes are read before the answer is committed, so that an upstream that fails before
// sending any can still be replaced by another target. Usage comes from the request (characters, the prompt
// counted locally): the bytes say nothing of it.
func (g *Gateway) relayBytes(w http.ResponseWriter, r *http.Request, x *exchange, u *upstream, treq *transform.Request, resp *http.Response, sent time.Time) (bool, time.Duration, *transform.Error) {
	buf := make([]byte, mediaCopyChunk)
	n, err := io.ReadAtLeast(resp.Body, buf, 1)
	ttfb := time.Since(sent)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, ttfb, transportError(r.Context(), u.Name, err)
	}
	g.mediaUsage(x, usage.Usage{})
	h := newHeaderValues(w.Header(), 9)
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.set("Content-Type", ct)
	if resp.ContentLength >= 0 {
		h.set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	h.set("X-Accel-Buffering", "no")
	g.setAnswerHeaders(&h, x, u.Name, treq.Model)
	if x.res.CostUSD >= 0 {
		h.set(hdrCost, formatCost(x.res.CostUSD))
	}
	w.WriteHeader(http.StatusOK)
	x.res.Status = http.StatusOK
	x.res.TimeToFirstByte = time.Since(x.start)
	rc := http.NewResponseController(w)
	for {
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return g.clientGone(x, ttfb)
			}
			if rc.Flush() != nil {
				return g.clientGone(x, ttfb)
			}
		}
		if err != nil {
			break
		}
		n, err = resp.Body.Read(buf)
	}
	if !errors.Is(err, io.EOF) {
		// The answer is committed: the client sees a body shorter than its Content-Length, or a chunked body
		// cut without its last chunk only where the server aborts it; the log records the failure.
		if r.Context().Err() != nil {
			return g.clientGone(x, ttfb)
		}
		x.res.Err = g.redact.error(transportError(r.Context(), u.Name, err))
		return true, ttfb, x.res.Err
	}
	return true, ttfb, nil
}

func (g *Gateway) clientGone(x *exchange, ttfb time.Duration) (bool, time.Duration, *transform.Error) {
	x.res.Err = transform.NewError(499, "invalid_request_error", "client_closed_request", "the client closed the request")
	return true, ttfb, x.res.Err
}

// relayMediaEvents relays a stream of OpenAI's named media events (partial images, speech audio deltas,
// transcript deltas) event by event, each checked as JSON and flushed once the events that arrived together
// are written; usage is read from the event that carries it (image_generation.completed, speech.audio.done,
// transcript.text.done). One event may hold a whole image, so events are bounded by MaxResponseBody rather
// than MaxEventSize. The first event is read before the answer is committed, as for chat streams.
func (g *Gateway) relayMediaEvents(w http.ResponseWriter, r *http.Request, x *exchange, u *upstream, treq *transform.Request, resp *http.Response, sent time.Time) (bool, time.Duration, *transform.Error) {
	limit := max(g.cfg.MaxEventSize, g.cfg.MaxResponseBody)
	events := transform.NewSSEReader(resp.Body, int(limit))
	ev, err := events.Next()
	ttfb := time.Since(sent)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, ttfb, transform.StreamCut("provider '" + u.Name + "' closed the stream before sending anything")
		}
		if errors.Is(err, transform.ErrEventTooLarge) {
			return false, ttfb, tooLarge(u.Name, "max_response_body", limit)
		}
		return false, ttfb, transportError(r.Context(), u.Name, err)
	}
	var use usage.Usage
	if e := mediaEvent(ev, u.Dialect, &use); e != nil {
		return false, ttfb, e
	}
	hv := newHeaderValues(w.Header(), 10)
	hv.set("Content-Type", "text/event-stream")
	hv.set("Cache-Control", "no-cache")
	hv.set("X-Accel-Buffering", "no")
	hv.set("Trailer", "X-AI-Gateway-Usage, X-AI-Gateway-Cost")
	g.setAnswerHeaders(&hv, x, u.Name, treq.Model)
	w.WriteHeader(http.StatusOK)
	x.res.Status = http.StatusOK
	x.res.TimeToFirstByte = time.Since(x.start)
	rc := http.NewResponseController(w)
	var out []byte
	var streamErr *transform.Error
	for {
		out = appendEvent(out, ev.Name, ev.Data)
		if events.Buffered() == 0 {
			if _, werr := w.Write(out); werr != nil || rc.Flush() != nil {
				g.mediaUsage(x, use)
				return g.clientGone(x, ttfb)
			}
			out = out[:0]
		}
		ev, err = events.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			if streamErr = mediaEvent(ev, u.Dialect, &use); streamErr == nil {
				continue
			}
		} else if errors.Is(err, transform.ErrEventTooLarge) {
			streamErr = tooLarge(u.Name, "max_response_body", limit)
		} else {
			streamErr = transportError(r.Context(), u.Name, err)
		}
		break
	}
	if streamErr != nil {
		streamErr = g.redact.error(streamErr)
		b := append([]byte(`{"type":"error","error":`), streamErr.AppendJSON(nil)...)
		out = appendEvent(out, []byte("error"), append(b, '}'))
		x.res.Err = streamErr
	}
	_, _ = w.Write(out)
	_ = rc.Flush()
	g.mediaUsage(x, use)
	hv.set(hdrUsage, x.res.Usage.Origin.String())
	if x.res.CostUSD >= 0 {
		hv.set(hdrCost, formatCost(x.res.CostUSD))
	}
	return true, ttfb, streamErr
}

// mediaEvent checks one event of a media stream and takes its usage; the error is an event that is not JSON
// or that reports an error.
func mediaEvent(ev transform.Event, d transform.Dialect, use *usage.Usage) *transform.Error {
	if err := transform.CheckJSON(ev.Data); err != nil {
		return transform.NewError(http.StatusBadGateway, "server_error", "bad_upstream_event",
			"the upstream sent an event that is not valid JSON: "+err.Error())
	}
	root := gjson.ParseBytes(ev.Data)
	if root.Get("type").Str == "error" || root.Get("error").IsObject() {
		return d.TranslateError(http.StatusBadGateway, nil, ev.Data)
	}
	if v := root.Get("usage"); v.IsObject() {
		if got, ok := transform.ParseMediaUsage(v); ok && got.Known() {
			*use = got
		}
	}
	return nil
}

// appendEvent appends one server-sent event: its name, when it has one, and its data on one line.
func appendEvent(dst, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	dst = append(dst, dataPrefix...)
	start := len(dst)
	dst = append(dst, data...)
	for i, c := range dst[start:] {
		if c == '\n' || c == '\r' {
			dst[start+i] = ' '
		}
	}
	return append(dst, eventEnd...)
}
