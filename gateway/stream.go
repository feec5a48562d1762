package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// relayStream translates the upstream's first event before committing the response, so that a failure before
// it, or a first event that is an error or unreadable, can still go to another target; then it relays events
// one at a time, flushing each.
func (g *Gateway) relayStream(w http.ResponseWriter, r *http.Request, x *exchange, u *upstream, ops *dialectOps, treq *transform.Request, resp *http.Response, cancel context.CancelFunc, sent time.Time) (bool, time.Duration, *transform.Error) {
	timer := startFirstEventTimer(u.FirstTokenTimeout, cancel)
	var events transform.EventReader
	if f, ok := u.Dialect.(transform.FramedDialect); ok {
		events = f.NewEventReader(resp.Body, int(g.cfg.MaxEventSize))
	} else {
		sse := transform.NewPooledSSEReader(resp.Body, int(g.cfg.MaxEventSize), &g.buffers)
		defer sse.Release()
		events = sse
	}
	ev, err := events.Next()
	ttfb := time.Since(sent)
	if timer.stop() {
		e := transform.NewError(http.StatusGatewayTimeout, "server_error", "first_token_timeout",
			"provider '"+u.Name+"' sent no first token within "+u.FirstTokenTimeout.String())
		e.Kind = transform.KindNoAnswer
		return false, 0, e
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, ttfb, transform.StreamCut("provider '" + u.Name + "' closed the stream before sending anything")
		}
		if errors.Is(err, transform.ErrEventTooLarge) {
			return false, ttfb, tooLarge(u.Name, "max_event_size", g.cfg.MaxEventSize)
		}
		return false, ttfb, transportError(r.Context(), u.Name, err)
	}
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), model: treq.ClientModel, object: x.ep.chunkObject,
		counter: g.tokenizer.NewStreamCounter(x.target), buffers: &g.buffers}
	if x.ep.surface != nil {
		sw.surface, sw.native = x.ep.surface.newStream(treq, ops.native), ops.native
		if x.ep.surface.costField != "" {
			sw.final = x.ep.surface.finalEvent
		}
	}
	defer sw.counter.Release()
	tr := ops.stream(treq)
	// The first event's chunks wait in sw.out: nothing reaches the client before the response is committed.
	done, terr := tr.Translate(ev, sw)
	if terr != nil {
		return false, ttfb, asError(terr)
	}
	hv := newHeaderValues(w.Header(), 10)
	hv.set("Content-Type", "text/event-stream")
	hv.set("Cache-Control", "no-cache")
	hv.set("X-Accel-Buffering", "no")
	// Usage is only known at the end of a stream: it follows as trailers. Both are declared; the cost is only
	// sent when the model has a price (a declared trailer left unset is not sent).
	hv.set("Trailer", "X-AI-Gateway-Usage, X-AI-Gateway-Cost")
	g.setAnswerHeaders(&hv, x, u.Name, treq.Model)
	w.WriteHeader(http.StatusOK)
	x.res.Status = http.StatusOK
	x.res.TimeToFirstByte = time.Since(x.start)

	streamErr := pump(r.Context(), u.Name, g.cfg.MaxEventSize, events, tr, sw, done)
	if sw.writeErr != nil && streamErr == nil {
		streamErr = errClientGone
	}
	g.finishStreamUsage(x, sw, streamErr != nil)
	hv.set(hdrUsage, x.res.Usage.Origin.String())
	if x.res.CostUSD >= 0 {
		hv.set(hdrCost, formatCost(x.res.CostUSD))
	}
	if sw.writeErr != nil || errors.Is(streamErr, errClientGone) {
		x.res.Err = transform.NewError(499, "invalid_request_error", "client_closed_request", "the client closed the request")
		return true, ttfb, x.res.Err
	}
	if streamErr != nil {
		e := g.redact.error(asError(streamErr))
		sw.writeError(e)
		x.res.Err = e
		return true, ttfb, e
	}
	if sw.surface != nil {
		g.finishSurface(r, x, sw)
		return true, ttfb, nil
	}
	sw.finish(treq.IncludeUsage, g.usageJSON(x, sw.rawUsage))
	return true, ttfb, nil
}

// finishSurface ends a complete stream of a surface: a translated one with the surface's closing events
// (final usage and cost); a native one has sent its own.
func (g *Gateway) finishSurface(r *http.Request, x *exchange, sw *streamWriter) {
	if sw.native && sw.held != nil {
		ev := sw.held
		if g.cfg.ReportCost && x.res.CostUSD >= 0 {
			ev, _ = sjson.SetBytes(ev, x.ep.surface.costField, x.res.CostUSD)
		}
		_ = sw.writeEvent(sw.final, ev)
	}
	if !sw.native {
		cost := -1.0
		if g.cfg.ReportCost {
			cost = x.res.CostUSD
		}
		if err := sw.surface.Finish(x.res.Usage, cost, sw); err == nil {
			if s := x.ep.surface; s.done != nil {
				s.done(g, r, x, sw.surface.Result())
			}
		}
	}
	_ = sw.flush()
}

var errClientGone = errors.New("the client closed the request")

// pump feeds upstream events to the translator until the stream ends, the first event already translated
// (done is what Translate said of it). It returns the error to report in the stream, or nil after a complete
// answer.
func pump(ctx context.Context, provider string, maxEvent int64, events transform.EventReader, tr transform.StreamTranslator, sw *streamWriter, done bool) error {
	for {
		if sw.writeErr != nil {
			return nil
		}
		// Flush once the events that arrived together have been relayed, as reverse_proxy's flush_interval -1
		// does per read: one write per upstream read, never an event held back waiting for the next.
		if len(sw.out) > 0 && events.Buffered() == 0 && sw.flush() != nil {
			return nil
		}
		if done {
			return tr.Finish(sw, false)
		}
		ev, err := events.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return tr.Finish(sw, true)
			}
			ferr := tr.Finish(sw, true)
			switch {
			case ctx.Err() != nil:
				return errClientGone
			case errors.Is(err, transform.ErrEventTooLarge):
				return tooLarge(provider, "max_event_size", maxEvent)
			case ferr != nil:
				return ferr
			}
			return transportError(ctx, provider, err)
		}
		if done, err = tr.Translate(ev, sw); err != nil {
			return err
		}
	}
}

// streamWriter is the Sink that writes OpenAI SSE events to the client and counts what it writes.
type streamWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	model string
	// object is the chunks' object ("chat.completion.chunk", "text_completion").
	object  string
	counter *usage.StreamCounter
	// id, created, fingerprint and tier are the stream's, from its first chunk that has an id.
	id, created, fingerprint, tier []byte
	usage                          usage.Usage
	rawUsage                       []byte
	// usageChunk is the upstream's own usage chunk, when it sent one (OpenAI-compatible streams).
	usageChunk []byte
	// out holds the events relayed since the last flush: they go to the client in one write, because each
	// write through Caddy's response writer also resets the connection's write deadline. It is lent by
	// buffers from the first event queued to the flush, so that an idle stream holds none.
	out      []byte
	buffers  *transform.Buffers
	writeErr error
	// surface writes the events of a surface's stream (nil for chat and the other OpenAI endpoints); native
	// says the upstream's events are relayed as they are, through Event.
	surface transform.SurfaceStream
	native  bool
	// final names the event of a native stream held until its usage is settled (surface.finalEvent); held
	// is that event.
	final string
	held  []byte
}

var (
	dataPrefix  = []byte("data: ")
	eventPrefix = []byte("event: ")
	eventEnd    = []byte("\n\n")
	doneEvent   = []byte("data: [DONE]\n\n")
)

// Chunk implements transform.Sink.
func (s *streamWriter) Chunk(data []byte) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	if s.surface != nil {
		if s.counter != nil {
			s.counter.AddChunk(data)
		}
		return s.surface.Chunk(data, s)
	}
	if s.id == nil {
		s.rememberIDs(data)
	}
	if s.counter != nil {
		s.counter.AddChunk(data)
	}
	return s.write(data)
}

// ChunkChoices implements transform.ChoicesSink: the passthrough relay hands over the choices it parsed.
func (s *streamWriter) ChunkChoices(data []byte, choices gjson.Result) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	if s.surface != nil {
		if s.counter != nil {
			s.counter.AddChoices(choices)
		}
		return s.surface.Chunk(data, s)
	}
	if s.id == nil {
		s.rememberIDs(data)
	}
	if s.counter != nil {
		s.counter.AddChoices(choices)
	}
	return s.write(data)
}

// Event implements transform.EventSink: one named event of a surface's stream.
func (s *streamWriter) Event(name string, data []byte) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	if s.native && s.final != "" && name == s.final {
		s.held = append(s.held[:0], data...)
		return nil
	}
	return s.writeEvent(name, data)
}

// writeEvent queues one named event.
func (s *streamWriter) writeEvent(name string, data []byte) error {
	if s.out == nil {
		s.out = s.buffers.Get()
	}
	s.out = append(s.out, eventPrefix...)
	s.out = append(s.out, name...)
	s.out = append(s.out, '\n')
	return s.write(data)
}

// rememberIDs keeps the stream's id and created for the usage chunk the gateway writes. Chunks without them
// (Azure's leading prompt-filter chunk has "id":"" and "created":0) are skipped.
func (s *streamWriter) rememberIDs(data []byte) {
	if len(data) == 0 {
		return
	}
	view := unsafe.String(&data[0], len(data)) // read only, while data is; what is kept is copied below
	id := gjson.Get(view, "id")
	created := gjson.Get(view, "created")
	if id.Str == "" || created.Int() == 0 {
		return
	}
	f := gjson.Get(view, "system_fingerprint")
	t := gjson.Get(view, "service_tier")
	n := len(id.Raw) + len(created.Raw)
	if f.Type == gjson.String {
		n += len(f.Raw)
	}
	if t.Type == gjson.String {
		n += len(t.Raw)
	}
	// One copy holds them all, each slice capped at its own bytes.
	buf := make([]byte, 0, n)
	part := func(raw string) []byte {
		i := len(buf)
		buf = append(buf, raw...)
		return buf[i:len(buf):len(buf)]
	}
	s.id = part(id.Raw)
	s.created = part(created.Raw)
	if f.Type == gjson.String {
		s.fingerprint = part(f.Raw)
	}
	if t.Type == gjson.String {
		s.tier = part(t.Raw)
	}
}

// UsageChunk implements transform.UsageChunkSink: the upstream's usage chunk, kept for finish.
func (s *streamWriter) UsageChunk(chunk []byte) {
	s.usageChunk = append(s.usageChunk[:0], chunk...)
}

// write queues one event for the next flush. The payload goes out as one data line: a line break in it (JSON
// whitespace, as in an upstream event sent as several data lines or a pretty-printed upstream error) becomes a
// space, or the client would take the event to end at the first one.
func (s *streamWriter) write(data []byte) error {
	if s.out == nil {
		s.out = s.buffers.Get()
	}
	s.out = append(s.out, dataPrefix...)
	start := len(s.out)
	s.out = append(s.out, data...)
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		for i, c := range s.out[start:] {
			if c == '\n' || c == '\r' {
				s.out[start+i] = ' '
			}
		}
	}
	s.out = append(s.out, eventEnd...)
	return s.writeErr
}

// flush writes the queued events to the client, flushes them and gives their buffer back.
func (s *streamWriter) flush() error {
	if s.writeErr == nil && len(s.out) > 0 {
		if _, s.writeErr = s.w.Write(s.out); s.writeErr == nil {
			s.writeErr = s.rc.Flush()
		}
	}
	s.buffers.Put(s.out)
	s.out = nil
	return s.writeErr
}

// Usage implements transform.Sink.
func (s *streamWriter) Usage(u usage.Usage, raw []byte) {
	s.usage = u
	s.rawUsage = append(s.rawUsage[:0], raw...)
}

// finish writes the usage chunk when the client asked for it, then [DONE]. The upstream's own usage chunk is
// kept (id, created, system_fingerprint, service_tier, obfuscation, ...) with model and usage replaced; without
// one, the chunk is built from the stream's first chunk.
func (s *streamWriter) finish(includeUsage bool, usageJSON []byte) {
	if includeUsage && len(usageJSON) > 0 {
		if b, ok := spliceUsageChunk(s.usageChunk, s.model, usageJSON); ok {
			_ = s.write(b)
			s.out = append(s.out, doneEvent...)
			_ = s.flush()
			return
		}
		b := make([]byte, 0, 256+len(usageJSON))
		b = append(b, `{"id":`...)
		b = appendRawOr(b, s.id, `""`)
		b = append(b, `,"object":`...)
		b = transform.AppendJSONString(b, s.object)
		b = append(b, `,"created":`...)
		b = appendRawOr(b, s.created, strconv.FormatInt(time.Now().Unix(), 10))
		b = append(b, `,"model":`...)
		b = transform.AppendJSONString(b, s.model)
		if len(s.fingerprint) > 0 {
			b = append(b, `,"system_fingerprint":`...)
			b = append(b, s.fingerprint...)
		}
		if len(s.tier) > 0 {
			b = append(b, `,"service_tier":`...)
			b = append(b, s.tier...)
		}
		b = append(b, `,"choices":[],"usage":`...)
		b = append(b, usageJSON...)
		_ = s.write(append(b, '}'))
	}
	s.out = append(s.out, doneEvent...)
	_ = s.flush()
}

// spliceUsageChunk returns the upstream's usage chunk with the values of its top-level model and usage
// replaced, everything else as the upstream wrote it; ok is false without such a chunk.
func spliceUsageChunk(chunk []byte, model string, usageJSON []byte) ([]byte, bool) {
	if len(chunk) == 0 {
		return nil, false
	}
	view := unsafe.String(&chunk[0], len(chunk)) // read only, while chunk is
	m, u := gjson.Get(view, "model"), gjson.Get(view, "usage")
	if m.Index <= 0 || u.Index <= 0 || m.Index == u.Index {
		return nil, false
	}
	b := make([]byte, 0, len(chunk)+len(model)+len(usageJSON)+8)
	splice := func(b []byte, r gjson.Result) []byte {
		if r.Index == m.Index {
			return transform.AppendJSONString(b, model)
		}
		return append(b, usageJSON...)
	}
	first, second := m, u
	if u.Index < m.Index {
		first, second = u, m
	}
	b = append(b, chunk[:first.Index]...)
	b = splice(b, first)
	b = append(b, chunk[first.Index+len(first.Raw):second.Index]...)
	b = splice(b, second)
	return append(b, chunk[second.Index+len(second.Raw):]...), true
}

// writeError ends the stream with an OpenAI error event and no [DONE], so clients see a failure rather than a
// truncated answer that looks complete.
func (s *streamWriter) writeError(e *transform.Error) {
	if s.surface != nil {
		s.surface.Fail(e, s)
	} else {
		_ = s.write(e.AppendJSON(make([]byte, 0, 256)))
	}
	_ = s.flush()
}

func appendRawOr(dst, raw []byte, fallback string) []byte {
	if len(raw) == 0 {
		return append(dst, fallback...)
	}
	return append(dst, raw...)
}
