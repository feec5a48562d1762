package gateway

import (
	"bytes"
	"context"
	"errors"
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
	base      string
	transport http.RoundTripper
	own       *http.Transport
}

func newUpstream(p *Provider) *upstream {
	u := &upstream{Provider: p, base: strings.TrimSuffix(p.BaseURL, "/"), transport: p.Transport}
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
			DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
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

// droppedHeaders are client headers never sent upstream: credentials (the provider's own replace them),
// hop-by-hop headers, and headers that would let a client spoof its origin or upset framing.
var droppedHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "X-Api-Key": true, "Api-Key": true,
	"X-Goog-Api-Key": true, "Openai-Organization": true, "Openai-Project": true,
	"Host": true, "Content-Length": true, "Accept-Encoding": true, "Expect": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Forwarded": true, "X-Real-Ip": true,
}

// upstreamHeader builds the upstream request's headers from the client's, less droppedHeaders, any
// X-Forwarded-* header and anything the client's Connection header names.
func upstreamHeader(client http.Header, extra http.Header, stream bool) http.Header {
	h := make(http.Header, len(client)+len(extra)+3)
	var connNamed []string
	for _, v := range client["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				connNamed = append(connNamed, http.CanonicalHeaderKey(f))
			}
		}
	}
	for k, vs := range client {
		if droppedHeaders[k] || strings.HasPrefix(k, "X-Forwarded-") || slices.Contains(connNamed, k) {
			continue
		}
		h[k] = vs
	}
	for k, vs := range extra {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	return h
}

// send performs one upstream request. The returned cancel must be called once the body is done with.
func (g *Gateway) send(ctx context.Context, u *upstream, key int, out *transform.Outgoing, client http.Header, stream bool) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, u.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+out.Path, bytes.NewReader(out.Body))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	req.Header = upstreamHeader(client, u.Header, stream)
	for k, vs := range out.Header {
		req.Header[k] = vs
	}
	apiKey := ""
	if key < len(u.APIKeys) {
		apiKey = u.APIKeys[key]
	}
	u.Dialect.SetAuth(req.Header, apiKey)
	resp, err := u.transport.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return resp, cancel, nil
}

// transportError turns a failed round trip into the client's error: 504 for timeouts, 499 when the client
// went away, 502 otherwise. The message names the provider but never its URL or credentials.
func transportError(ctx context.Context, provider string, err error) *transform.Error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return transform.NewError(499, "invalid_request_error", "client_closed_request", "the client closed the request")
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return transform.NewError(http.StatusGatewayTimeout, "server_error", "upstream_timeout",
			"provider '"+provider+"' did not answer in time")
	}
	reason := "could not reach it"
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		reason = "connection refused or unreachable"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		reason = "it closed the connection"
	case strings.Contains(err.Error(), "reset by peer"):
		reason = "connection reset"
	}
	return transform.NewError(http.StatusBadGateway, "server_error", "upstream_unavailable",
		"provider '"+provider+"' failed: "+reason)
}

// errTooLarge is returned by readLimited for a body over its limit.
var errTooLarge = errors.New("body too large")

// readResponse reads a successful upstream answer of at most limit bytes. A declared Content-Length over the
// limit fails before anything is read, and one within it is read into a buffer of exactly that size.
func readResponse(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, errTooLarge
	}
	if resp.ContentLength < 0 {
		return readLimited(resp.Body, limit)
	}
	b := make([]byte, resp.ContentLength)
	_, err := io.ReadFull(resp.Body, b)
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
