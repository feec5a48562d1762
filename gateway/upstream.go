package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// upstream is a provider with its own connection pool.
type upstream struct {
	*Provider
	base string
	// forward are the canonical names of the client headers sent upstream.
	forward   []string
	transport http.RoundTripper
	own       *http.Transport
	// ops are the dialect's implementations of the endpoints, by Endpoint; nil where it has none.
	ops [endpointCount]*dialectOps
	// videos serves the calls about video jobs (video.go); nil when the dialect has none.
	videos transform.VideosDialect
}

func newUpstream(p *Provider, forward []string) *upstream {
	u := &upstream{Provider: p, base: strings.TrimSuffix(p.BaseURL, "/"), forward: forward, transport: p.Transport}
	filter, _ := p.Dialect.(transform.EndpointFilter)
	for i := range endpoints {
		e := &endpoints[i]
		switch {
		case e.surface != nil:
			u.ops[e.id] = e.surface.ops(p.Dialect, filter == nil || filter.ServesEndpoint(e.suffix[1:]))
		case e.id == ChatCompletions || filter == nil || filter.ServesEndpoint(e.suffix[1:]):
			u.ops[e.id] = e.ops(p.Dialect)
		}
	}
	if v, ok := p.Dialect.(transform.VideosDialect); ok && (filter == nil || filter.ServesEndpoint("videos")) {
		u.videos = v
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if u.transport == nil {
		dial := p.DialTimeout
		if dial <= 0 {
			dial = DefaultDialTimeout
		}
		u.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialContext(&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}),
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          0,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   dial,
			ResponseHeaderTimeout: p.ResponseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
		}
		u.transport = u.own
	}
	return u
}

func (u *upstream) close() {
	if u.own != nil {
		u.own.CloseIdleConnections()
	}
}

// defaultForwardHeaders are the client request headers sent upstream by default: content negotiation, the
// client's User-Agent, request ids and W3C trace context. Every other client header is dropped
// (Provider.ForwardHeaders adds to the list); the dialects set the headers their APIs need
// (anthropic-version, api keys) themselves.
var defaultForwardHeaders = []string{
	"Accept-Language", "User-Agent", "X-Request-Id", "X-Client-Request-Id", "Traceparent", "Tracestate",
}

// unforwardable are the headers Provider.ForwardHeaders may not name, with the reason given to the operator.
var unforwardable = map[string]string{
	"Authorization":       "a client credential: the gateway sends the provider's own",
	"Proxy-Authorization": "a client credential",
	"Cookie":              "a client credential",
	"X-Api-Key":           "a client credential: the gateway sends the provider's own",
	"Api-Key":             "a client credential: the gateway sends the provider's own",
	"X-Goog-Api-Key":      "a client credential: the gateway sends the provider's own",
	"Host":                "set by the gateway from base_url",
	"Content-Length":      "set by the gateway for the body it sends",
	"Content-Type":        "set by the gateway for the body it sends",
	"Content-Encoding":    "set by the gateway for the body it sends",
	"Accept":              "set by the gateway",
	"Accept-Encoding":     "set by the gateway's HTTP client, which decompresses answers itself",
	"Expect":              "set by the gateway's HTTP client",
	"Connection":          "hop-by-hop",
	"Keep-Alive":          "hop-by-hop",
	"Proxy-Connection":    "hop-by-hop",
	"Te":                  "hop-by-hop",
	"Trailer":             "hop-by-hop",
	"Transfer-Encoding":   "hop-by-hop",
	"Upgrade":             "hop-by-hop",
}

// forwardList returns the canonical names of the client headers p forwards: defaultForwardHeaders and
// p.ForwardHeaders, without repeats.
func forwardList(p *Provider) ([]string, error) {
	out := slices.Clone(defaultForwardHeaders)
	for _, name := range p.ForwardHeaders {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("provider '%s': forward_headers: '%s' is not a valid header name", p.Name, name)
		}
		k := http.CanonicalHeaderKey(name)
		if why, refused := unforwardable[k]; refused {
			return nil, fmt.Errorf("provider '%s': forward_headers: %s is never forwarded (%s): remove it", p.Name, k, why)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// validHeaderName reports whether s is an RFC 9110 field name (a non-empty token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// upstreamHeader builds the upstream request's headers: the client's headers named in forward (canonical
// names) except any the client's Connection header names, then extra, then the gateway's Content-Type and
// Accept.
func upstreamHeader(client http.Header, forward []string, extra http.Header, stream bool) http.Header {
	h := make(http.Header, len(forward)+len(extra)+2)
	addUpstreamHeader(h, client, forward, extra, stream)
	return h
}

// addUpstreamHeader adds upstreamHeader's headers to h, which has none of them yet.
func addUpstreamHeader(h, client http.Header, forward []string, extra http.Header, stream bool) {
	conn := client["Connection"]
	for _, k := range forward {
		if vs, ok := client[k]; ok && (len(conn) == 0 || !connectionNames(conn, k)) {
			h[k] = vs
		}
	}
	for k, vs := range extra {
		h[k] = vs
	}
	// One array for both values, each slice capped at its own element.
	vals := make([]string, 2)
	vals[0], vals[1] = "application/json", "application/json"
	if stream {
		vals[1] = "text/event-stream"
	}
	h["Content-Type"], h["Accept"] = vals[0:1:1], vals[1:2:2]
}

// connectionNames reports whether the Connection header values conn name the header k (hop-by-hop).
func connectionNames(conn []string, k string) bool {
	for _, v := range conn {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), k) {
				return true
			}
		}
	}
	return false
}

// send performs one upstream request. The returned cancel must be called once the body is done with.
func (g *Gateway) send(ctx context.Context, u *upstream, key int, out *transform.Outgoing, client http.Header, stream bool) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, u.Timeout)
	method := out.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader = bytes.NewReader(out.Body)
	switch {
	case out.BodyReader != nil:
		body = out.BodyReader
	case len(out.Body) == 0 && method != http.MethodPost:
		body = nil
	}
	req, err := http.NewRequestWithContext(ctx, method, u.base+out.Path, body)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	addUpstreamHeader(req.Header, client, u.forward, u.Header, stream) // into the request's own empty map
	for k, vs := range out.Header {
		req.Header[k] = vs
	}
	apiKey := ""
	if key < len(u.APIKeys) {
		apiKey = u.APIKeys[key]
	}
	if err := u.Dialect.Authorize(req, apiKey); err != nil {
		cancel()
		return nil, nil, &authError{provider: u.Name, err: err}
	}
	resp, err := u.transport.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return resp, cancel, nil
}

// authError is a dialect's failure to authorize a request, which was therefore never sent.
type authError struct {
	provider string
	err      error
}

func (e *authError) Error() string {
	return "provider '" + e.provider + "': authorizing the request: " + e.err.Error()
}
func (e *authError) Unwrap() error { return e.err }

// dialError is a failure to connect to an upstream: the request was never sent, so it is always safe to
// retry (as reverse_proxy's DialError). It never leaves the package: transportError turns it into the
// client's error.
type dialError struct{ err error }

func (e dialError) Error() string { return "dial: " + e.err.Error() }
func (e dialError) Unwrap() error { return e.err }

// dialContext wraps a dialer's errors in dialError.
func dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, dialError{err}
		}
		return c, nil
	}
}

// notSent reports whether a failed round trip never reached the upstream: a dialError from the gateway's own
// transport, or a dial or DNS failure from any other.
func notSent(err error) bool {
	var de dialError
	var oe *net.OpError
	var dns *net.DNSError
	return errors.As(err, &de) || errors.As(err, &oe) && oe.Op == "dial" || errors.As(err, &dns)
}

// transportError turns a failed round trip into the client's error: 504 for timeouts, 499 when the client
// went away, 502 otherwise; its Kind says whether the request was sent. The message names the provider but
// never its URL or credentials.
func transportError(ctx context.Context, provider string, err error) *transform.Error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return transform.NewError(499, "invalid_request_error", "client_closed_request", "the client closed the request")
	}
	var ae *authError
	if errors.As(err, &ae) {
		// the dialect's message may quote a credential: say only that signing failed
		e := transform.NewError(http.StatusBadGateway, "server_error", "upstream_auth_failed",
			"provider '"+provider+"': the gateway could not authorize the request")
		e.Kind = transform.KindNotSent
		return e
	}
	kind := transform.KindNoAnswer
	if notSent(err) {
		kind = transform.KindNotSent
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e := transform.NewError(http.StatusGatewayTimeout, "server_error", "upstream_timeout",
			"provider '"+provider+"' did not answer in time")
		e.Kind = kind
		return e
	}
	reason := "could not reach it"
	switch {
	case kind == transform.KindNotSent:
		reason = "connection refused or unreachable"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		reason = "it closed the connection"
	case strings.Contains(err.Error(), "reset by peer"):
		reason = "connection reset"
	}
	e := transform.NewError(http.StatusBadGateway, "server_error", "upstream_unavailable",
		"provider '"+provider+"' failed: "+reason)
	e.Kind = kind
	return e
}

// errTooLarge is returned by readLimited for a body over its limit.
var errTooLarge = errors.New("body too large")

// readResponse reads a successful upstream answer of at most limit bytes. A declared Content-Length over the
// limit fails before anything is read, and one within it is read into a buffer of exactly that size.
func readResponse(resp *http.Response, limit int64) ([]byte, error) {
	return readBody(resp.Body, resp.ContentLength, limit)
}

// readBody reads a body of declared length (-1: unknown) up to limit bytes. A declared length is refused
// unread when over limit, and read into a buffer of exactly that size otherwise.
func readBody(body io.Reader, declared, limit int64) ([]byte, error) {
	if declared > limit {
		return nil, errTooLarge
	}
	if declared < 0 {
		return readLimited(body, limit)
	}
	b := make([]byte, declared)
	_, err := io.ReadFull(body, b)
	return b, err
}

// tooLarge is the 502 for an upstream answer over one of the gateway's limits, named by option.
func tooLarge(provider, option string, limit int64) *transform.Error {
	return transform.NewError(http.StatusBadGateway, "server_error", "upstream_response_too_large",
		"provider '"+provider+"' answered with more than the "+strconv.FormatInt(limit, 10)+" bytes "+option+
			" allows: raise "+option+" or ask for a shorter answer")
}

// readLimited reads at most limit bytes of body.
func readLimited(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err == nil && int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, err
}
