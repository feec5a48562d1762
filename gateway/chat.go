package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// exchange is the state of one request to a JSON endpoint.
type exchange struct {
	ep    *endpoint
	req   *apiRequest
	res   *Result
	start time.Time
	plan  router.Plan
	// limit holds the rules claimed at admission (admitted); targetLimits those claimed for each target
	// tried.
	limit    ratelimit.Reservation
	admitted []ratelimit.Claim
	// vkey is the virtual key that authenticated the request, keyLimit the reservation of its limits (nil
	// when it has none: most requests do not pay for a second reservation's room).
	vkey         *keys.Key
	keyLimit     *ratelimit.Reservation
	targetLimits []*targetLimit
	// prompt is the locally counted prompt, computed at most once.
	prompt int
	// target is the current attempt's "provider/model", computed once per attempt.
	target string
	// reqv holds what req points to, and treq the current attempt's request to its dialect: parts of the
	// exchange rather than allocations of their own.
	reqv apiRequest
	treq transform.Request
	// form is the multipart body of an upload endpoint's request; nil for JSON requests.
	form *form
	// pin, when set, restricts the request to the targets of this provider (one holding state the request
	// refers to, such as a stored response).
	pin string
	// firstAttempt backs res.Attempts for the common single attempt; a second one moves them to the heap.
	// It is never reused: res.Attempts keeps it for as long as the access log holds the Result.
	firstAttempt [1]Attempt
}

// serveAPI serves one request to the JSON endpoint ep: validation, routes and fallbacks, limits, retries,
// usage and cost are the same for every endpoint.
func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request, ep *endpoint, res *Result, vk *keys.Key) {
	x := &exchange{ep: ep, res: res, start: time.Now(), prompt: -1, vkey: vk}
	res.CostUSD = -1
	if ep.readsForm(r) {
		if !g.readFormRequest(w, r, x) {
			return
		}
		defer x.form.close()
		g.serveExchange(w, r, x)
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, g.cfg.MaxRequestBody), r.ContentLength, g.cfg.MaxRequestBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errTooLarge) {
			g.failAs(w, res, ep, g.tooLarge())
			return
		}
		g.failAs(w, res, ep, transform.InvalidRequest("", "could not read the request body"))
		return
	}
	if verr := g.validateInto(&x.reqv, ep, body); verr != nil {
		g.failAs(w, res, ep, verr)
		return
	}
	x.req = &x.reqv
	g.serveExchange(w, r, x)
}

// serveExchange routes a validated request (x.req) and tries its targets.
func (g *Gateway) serveExchange(w http.ResponseWriter, r *http.Request, x *exchange) {
	req, res, ep := x.req, x.res, x.ep
	res.ClientModel, res.Stream = req.model, req.stream
	if err := g.router.PlanInto(&x.plan, req.model, req.fallbacks); err != nil {
		g.failAs(w, res, ep, asError(err))
		return
	}
	if ep.id != ChatCompletions { // every dialect serves chat
		if e := g.unsupported(ep, req); e != nil {
			g.failAs(w, res, ep, e)
			return
		}
	}
	if ep.surface != nil && ep.surface.prepare != nil {
		if e := ep.surface.prepare(g, r, x); e != nil {
			g.failAs(w, res, ep, e)
			return
		}
	}
	if e := g.keyAllows(x); e != nil {
		g.failAs(w, res, ep, e)
		return
	}
	if e := g.reserveKey(w, r, x); e != nil {
		g.failAs(w, res, ep, e)
		return
	}
	if e := g.reserve(w, r, x); e != nil {
		g.settleKey(r, x)
		g.failAs(w, res, ep, e)
		return
	}
	answered, last := g.tryTargets(w, r, x)
	g.settle(r, x, answered)
	g.settleKey(r, x)
	if !answered {
		g.failAs(w, res, ep, last)
	}
}

// tryTargets runs the attempts the plan and the retry policy allow until one answers.
func (g *Gateway) tryTargets(w http.ResponseWriter, r *http.Request, x *exchange) (bool, *transform.Error) {
	var last *transform.Error
	var prev router.Target
	limited := false // last is a rate limit's refusal of a target
	for {
		t, ok := x.plan.Next()
		wait := time.Duration(0)
		if !ok {
			// Every target was tried: retry the last one after a backoff, while the policy allows.
			if last == nil || x.plan.Tried() == 0 || limited {
				break
			}
			if last.RetryAfter > g.retry.MaxRetryAfter {
				break // the upstream asked for a longer rest than the policy waits: its error goes to the client
			}
			t = prev
			wait = g.retry.Backoff(len(x.res.Attempts), last.RetryAfter, rand.Float64)
		}
		if len(x.res.Attempts) > 0 && !g.retry.Again(len(x.res.Attempts), time.Since(x.start), wait) {
			break
		}
		if wait > 0 && !sleep(r.Context(), wait) {
			break
		}
		if g.providers[t.Provider].ops[x.ep.id] == nil || (x.pin != "" && t.Provider != x.pin) {
			continue // the target's dialect does not serve the endpoint, or the request is for another provider
		}
		x.target = t.String()
		if x.vkey != nil && !x.vkey.Allows(x.target) {
			if last == nil {
				last = modelNotAllowed(x)
			}
			limited = true
			continue
		}
		if e := g.reserveTarget(r, x); e != nil {
			last, limited = e, true
			continue
		}
		limited = false
		prev = t
		answered, e := g.attemptTarget(w, r, x, t)
		if answered {
			return true, e
		}
		last = e
		if r.Context().Err() != nil || !g.retryable(e) || (x.form != nil && !x.form.replayable()) {
			break
		}
	}
	if last == nil {
		last = transform.NewError(http.StatusServiceUnavailable, "service_unavailable_error", "no_upstream",
			"no upstream is available for model '"+x.req.model+"'")
	}
	return false, last
}

// retryable says whether a failed attempt may be tried again, from its kind: a request never sent always
// may; one sent without an answer is the retry policy's "no response" (status 0); an answer is judged by its
// status.
func (g *Gateway) retryable(e *transform.Error) bool {
	switch e.Kind {
	case transform.KindNotSent:
		return true
	case transform.KindNoAnswer:
		return g.retry.Retryable(0)
	}
	return g.retry.Retryable(e.Status)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attemptTarget tries one target and reports the outcome to the router's health tracking.
func (g *Gateway) attemptTarget(w http.ResponseWriter, r *http.Request, x *exchange, t router.Target) (bool, *transform.Error) {
	u := g.providers[t.Provider]
	ops := u.ops[x.ep.id]
	if ops.forModel != nil {
		ops = ops.forModel(t.Model)
	}
	// Attempts run one after another and nothing keeps treq past its attempt: each attempt overwrites it.
	x.treq = transform.Request{Body: x.req.body, Model: t.Model, ClientModel: x.plan.Model(), Stream: x.req.stream,
		IncludeUsage: x.req.includeUsage, Provider: t.Provider}
	if x.form != nil {
		x.treq.Form = x.form
	}
	if x.ep.surface != nil {
		provider := t.Provider
		x.treq.ResourceID = func(id string) string { return wrapResourceID(provider, id) }
		x.treq.ClientHeader = r.Header
		if x.ep.surface.inputTokens && !ops.native {
			x.treq.InputTokens = g.promptTokens(x, x.target)
		}
	}
	treq := &x.treq
	x.res.Provider, x.res.UpstreamModel, x.res.ClientModel = t.Provider, t.Model, treq.ClientModel
	health := g.router.Start(t)
	began := time.Now()
	answered, ttfb, e := g.attempt(w, r, x, u, ops, t, treq)
	e = g.redact.error(e)
	a := Attempt{Target: x.target, Label: t.Label(), Status: http.StatusOK, Duration: time.Since(began)}
	out := router.Outcome{TTFB: ttfb}
	if e != nil {
		a.Status, a.Err = e.Status, e.Error()
		a.Kind = e.Kind
		out.Failed = !answered && r.Context().Err() == nil && g.retryable(e)
		if out.Failed {
			out.RetryAfter = e.RetryAfter
		}
	}
	health.Done(out)
	if x.res.Attempts == nil {
		x.res.Attempts = x.firstAttempt[:0]
	}
	x.res.Attempts = append(x.res.Attempts, a)
	return answered, e
}

// attempt sends the request to one target. answered is true once a response has been committed to the
// client (a stream that began and then failed reports its error inside the stream); otherwise err is the
// failure to retry or send. ttfb is when the upstream's first byte (first event, for streams) arrived.
func (g *Gateway) attempt(w http.ResponseWriter, r *http.Request, x *exchange, u *upstream, ops *dialectOps, t router.Target, treq *transform.Request) (answered bool, ttfb time.Duration, err *transform.Error) {
	if ops.local != nil {
		b, lerr := ops.local(treq)
		if lerr != nil {
			return false, 0, asError(lerr)
		}
		return g.answer(w, r, x, u.Name, t.Model, b, usage.Usage{Origin: usage.Reported}, ops), 0, nil
	}
	out, berr := ops.build(treq)
	if berr != nil {
		return false, 0, asError(berr)
	}
	sent := time.Now()
	resp, cancel, serr := g.send(r.Context(), u, t.Key, out, r.Header, treq.Stream)
	if serr != nil {
		if e := x.form.readError(g); e != nil {
			return false, 0, e
		}
		return false, 0, transportError(r.Context(), u.Name, serr)
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := readLimited(resp.Body, maxErrorBody)
		if e := x.form.readError(g); e != nil {
			return false, time.Since(sent), e
		}
		if ops.translateError != nil {
			return false, time.Since(sent), ops.translateError(resp.StatusCode, resp.Header, b)
		}
		return false, time.Since(sent), u.Dialect.TranslateError(resp.StatusCode, resp.Header, b)
	}
	switch x.ep.answers {
	case answerMedia:
		return g.relayMedia(w, r, x, u, ops, treq, resp, sent)
	case answerJSON: // below: a stream of chunks, or one translated body
	}
	if treq.Stream {
		return g.relayStream(w, r, x, u, ops, treq, resp, cancel, sent)
	}
	b, rerr := readResponse(resp, g.cfg.MaxResponseBody)
	ttfb = time.Since(sent)
	if errors.Is(rerr, errTooLarge) {
		return false, ttfb, tooLarge(u.Name, "max_response_body", g.cfg.MaxResponseBody)
	}
	if rerr != nil {
		return false, ttfb, transportError(r.Context(), u.Name, rerr)
	}
	outBody, use, terr := ops.translate(treq, b)
	if terr != nil {
		return false, ttfb, asError(terr)
	}
	if x.ep.own != nil {
		outBody = x.ep.own(t, treq.ClientModel, outBody)
	}
	return g.answer(w, r, x, u.Name, t.Model, outBody, use, ops), ttfb, nil
}

// answer writes a complete, successful answer: usage completed (and priced), headers, body.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, x *exchange, provider, model string, outBody []byte, use usage.Usage, ops *dialectOps) bool {
	outBody = g.completeUsage(x, use, outBody)
	if s := x.ep.surface; s != nil && s.done != nil && !ops.native {
		s.done(g, r, x, outBody)
	}
	// Content-Length and the cost are formatted into one string, which their values share.
	var digits [64]byte
	nums := strconv.AppendInt(digits[:0], int64(len(outBody)), 10)
	lengthEnd := len(nums)
	if x.res.CostUSD >= 0 {
		nums = appendCost(nums, x.res.CostUSD)
	}
	numbers := string(nums)
	h := newHeaderValues(w.Header(), 7)
	h.set("Content-Type", "application/json")
	h.set("Content-Length", numbers[:lengthEnd])
	g.setAnswerHeaders(&h, x, provider, model)
	if x.res.CostUSD >= 0 {
		h.set(hdrCost, numbers[lengthEnd:])
	}
	w.WriteHeader(http.StatusOK)
	x.res.Status = http.StatusOK
	x.res.TimeToFirstByte = time.Since(x.start)
	_, _ = w.Write(outBody)
	return true
}

// setAnswerHeaders says who answered and how usage was obtained, and adds the rate-limit headers.
func (g *Gateway) setAnswerHeaders(h *headerValues, x *exchange, provider, model string) {
	h.set(hdrProvider, provider)
	h.set(hdrUpstreamModel, model)
	h.set(hdrAttempts, strconv.Itoa(len(x.res.Attempts)+1))
	if x.res.Usage.Known() {
		h.set(hdrUsage, x.res.Usage.Origin.String())
	}
	if x.keyLimit != nil {
		x.keyLimit.Headers().Each(h.h.Set) // a virtual key's own limits; configured rules' below take precedence
	}
	x.limit.Headers().Each(h.h.Set)
}

// The gateway's response header names, in canonical form: headerValues.set stores them as they are.
const (
	hdrProvider      = "X-Ai-Gateway-Provider"
	hdrUpstreamModel = "X-Ai-Gateway-Upstream-Model"
	hdrAttempts      = "X-Ai-Gateway-Attempts"
	hdrUsage         = "X-Ai-Gateway-Usage"
	hdrCost          = "X-Ai-Gateway-Cost"
)

// headerValues sets the single-valued headers of one response. Their values share one array allocated for
// this response only; each header's slice is capped at its own element, so a later append to it (or an edit
// in place, as Caddy's header handler may make) never reaches another header's value.
type headerValues struct {
	h    http.Header
	vals []string
}

// newHeaderValues sets headers of h, room for n values allocated at once.
func newHeaderValues(h http.Header, n int) headerValues {
	return headerValues{h: h, vals: make([]string, 0, n)}
}

// set sets the header k, which must be in canonical form, to the one value v.
func (s *headerValues) set(k, v string) {
	s.vals = append(s.vals, v)
	n := len(s.vals)
	s.h[k] = s.vals[n-1 : n : n]
}

// firstEventTimer cancels an attempt whose stream has not produced its first event in time.
type firstEventTimer struct {
	t     *time.Timer
	fired atomic.Bool
}

// startFirstEventTimer arms a timer of d; nil, a timer that never fires, when d is not positive.
func startFirstEventTimer(d time.Duration, cancel context.CancelFunc) *firstEventTimer {
	if d <= 0 {
		return nil
	}
	ft := &firstEventTimer{}
	ft.t = time.AfterFunc(d, func() {
		ft.fired.Store(true)
		cancel()
	})
	return ft
}

// stop disarms the timer and reports whether it had already fired.
func (ft *firstEventTimer) stop() bool {
	if ft == nil {
		return false
	}
	ft.t.Stop()
	return ft.fired.Load()
}

// tooLarge is the 413 for a request body over MaxRequestBody, declared or read.
func (g *Gateway) tooLarge() *transform.Error {
	return transform.NewError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
		"the request body is larger than the gateway's limit of "+strconv.FormatInt(g.cfg.MaxRequestBody, 10)+
			" bytes: send a smaller one, or raise max_request_body")
}
