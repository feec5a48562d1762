package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// h1Client is the HTTP/1.1 client of a plain-http upstream that no proxy applies to (a local vLLM, Ollama or
// simulator, a sidecar): the gateway's own transport for such an upstream, chosen over net/http's because it
// costs less per request (bench/RESULTS.md has the figures). Each request is written in one write from the
// connection's own buffer and its answer is read on the calling goroutine: no per-connection read and write
// loops, no goroutine per request. Timeouts and cancellation act through the connection's deadline
// (context.AfterFunc). Answers may be Content-Length, chunked or read-to-close; a connection goes back to the
// pool only once its answer was read to the end, and a pooled connection the upstream closed while idle is
// noticed before it is used. It speaks nothing else: TLS upstreams, proxies and custom transports use
// net/http.
type h1Client struct {
	addr                  string
	dialer                net.Dialer
	responseHeaderTimeout time.Duration
	// other carries the requests for any other origin (a download location a provider redirects to): the
	// client's connections all go to addr, so such a request must never be written to them.
	other http.RoundTripper

	mu     sync.Mutex
	idle   []*h1Conn
	closed bool
}

// h1 pool bounds: at most maxIdleH1 idle connections per upstream, each kept at most idleH1Timeout.
const (
	maxIdleH1     = 1024
	idleH1Timeout = 90 * time.Second
	// maxH1HeaderBytes bounds an answer's status line and headers.
	maxH1HeaderBytes = 1 << 20
)

type h1Conn struct {
	c      net.Conn
	br     *bufio.Reader
	wbuf   []byte
	idleAt time.Time
}

func newH1Client(addr string, dialTimeout, responseHeaderTimeout time.Duration) *h1Client {
	return &h1Client{addr: addr, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		responseHeaderTimeout: responseHeaderTimeout}
}

// get returns a pooled connection that is still open, or a new one.
func (t *h1Client) get(ctx context.Context) (*h1Conn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		hc := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if now.Sub(hc.idleAt) < idleH1Timeout && hc.br.Buffered() == 0 && connAlive(hc.c) {
			return hc, nil
		}
		_ = hc.c.Close()
	}
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, dialError{err}
	}
	return &h1Conn{c: c, br: bufio.NewReaderSize(c, 4<<10)}, nil
}

func (t *h1Client) put(hc *h1Conn) {
	if hc.c.SetDeadline(time.Time{}) != nil {
		_ = hc.c.Close()
		return
	}
	hc.idleAt = time.Now()
	t.mu.Lock()
	if t.closed || len(t.idle) >= maxIdleH1 {
		t.mu.Unlock()
		_ = hc.c.Close()
		return
	}
	t.idle = append(t.idle, hc)
	t.mu.Unlock()
}

// close closes the idle connections; connections in use close when their answers end.
func (t *h1Client) close() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.closed = nil, true
	t.mu.Unlock()
	for _, hc := range idle {
		_ = hc.c.Close()
	}
}

// RoundTrip implements http.RoundTripper.
func (t *h1Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.serves(req.URL) || streamedBody(req) {
		if t.other == nil {
			return nil, fmt.Errorf("no transport for %s://%s", req.URL.Scheme, req.URL.Host)
		}
		return t.other.RoundTrip(req)
	}
	ctx := req.Context()
	hc, err := t.get(ctx)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	deadline, hasDeadline := ctx.Deadline()
	stop := context.AfterFunc(ctx, func() { _ = hc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = hc.c.Close()
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, ctxError(ctx, err)
	}
	b, err := appendH1Request(hc.wbuf[:0], req)
	if err != nil {
		return fail(err)
	}
	if cap(b) <= 64<<10 {
		hc.wbuf = b[:0]
	}
	headerDeadline := deadline
	if t.responseHeaderTimeout > 0 {
		if d := time.Now().Add(t.responseHeaderTimeout); !hasDeadline || d.Before(deadline) {
			headerDeadline = d
		}
	}
	if !headerDeadline.IsZero() {
		if err := hc.c.SetDeadline(headerDeadline); err != nil {
			return fail(err)
		}
	}
	if _, err := hc.c.Write(b); err != nil {
		return fail(err)
	}
	resp, err := readH1Response(hc.br, req)
	if err != nil {
		return fail(err)
	}
	if !headerDeadline.Equal(deadline) {
		if err := hc.c.SetDeadline(deadline); err != nil { // the zero time when ctx has none
			return fail(err)
		}
	}
	body := &h1Body{t: t, hc: hc, ctx: ctx, stop: stop, keep: !resp.Close, remain: -1}
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified ||
		req.Method == http.MethodHead:
		body.remain = 0
	case resp.ContentLength >= 0:
		body.remain = resp.ContentLength
	case len(resp.TransferEncoding) > 0:
		body.chunked = newChunkedReader(hc.br)
	default:
		body.keep = false // read to close
	}
	resp.Body = body
	if body.remain == 0 {
		body.finish(true)
	}
	return resp, nil
}

// appendH1Request appends req as an HTTP/1.1 request, its body included, refusing header names and values
// that could split the request.
func appendH1Request(b []byte, req *http.Request) ([]byte, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		if !validHeaderName(k) || k == "Host" || k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection" {
			if validHeaderName(k) {
				continue // set here, or hop-by-hop
			}
			return nil, fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, fmt.Errorf("invalid value for header %s", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if req.Body == nil || req.Body == http.NoBody {
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			b = append(b, "Content-Length: 0\r\n"...)
		}
		return append(b, "\r\n"...), nil
	}
	defer req.Body.Close()
	if req.ContentLength > 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n\r\n"...)
		start := len(b)
		b = append(b, make([]byte, req.ContentLength)...)
		if _, err := io.ReadFull(req.Body, b[start:]); err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		return b, nil
	}
	return nil, errors.New("a request body of unknown length goes through net/http (streamedBody)")
}

// validHeaderValue reports whether v may be sent as a field value: no control character but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var errMalformedAnswer = errors.New("malformed HTTP answer")

// readH1Response reads an answer's status line and headers, skipping informational (1xx) answers.
func readH1Response(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	budget := maxH1HeaderBytes
	for {
		line, err := readH1Line(br, &budget)
		if err != nil {
			return nil, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
			len(line) > 12 && line[12] != ' ' {
			return nil, errMalformedAnswer
		}
		code := 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return nil, errMalformedAnswer
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 {
			return nil, errMalformedAnswer
		}
		resp := &http.Response{StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header, 8), ContentLength: -1, Request: req}
		if line[7] == '0' {
			resp.Proto, resp.ProtoMinor, resp.Close = "HTTP/1.0", 0, true
		}
		resp.Status = string(line[9:])
		if err := readH1Header(br, resp, &budget); err != nil {
			return nil, err
		}
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			continue
		}
		return resp, nil
	}
}

// readH1Header reads the header lines into resp, up to the blank line.
func readH1Header(br *bufio.Reader, resp *http.Response, budget *int) error {
	for {
		line, err := readH1Line(br, budget)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if len(resp.TransferEncoding) > 0 {
				resp.ContentLength = -1
				resp.Header.Del("Content-Length")
			}
			return nil
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return errMalformedAnswer
		}
		k, v := line[:i], bytes.TrimSpace(line[i+1:])
		key := h1HeaderKey(k)
		if key == "" {
			return errMalformedAnswer
		}
		switch key {
		case "Content-Length":
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 || resp.ContentLength >= 0 && resp.ContentLength != n {
				return errMalformedAnswer
			}
			resp.ContentLength = n
		case "Transfer-Encoding":
			if !bytes.EqualFold(v, []byte("chunked")) {
				return fmt.Errorf("unsupported Transfer-Encoding %q", v)
			}
			resp.TransferEncoding = []string{"chunked"}
			continue
		case "Connection":
			for f := range bytes.SplitSeq(v, []byte(",")) {
				switch {
				case bytes.EqualFold(bytes.TrimSpace(f), []byte("close")):
					resp.Close = true
				case bytes.EqualFold(bytes.TrimSpace(f), []byte("keep-alive")) && resp.ProtoMinor == 0:
					resp.Close = false
				}
			}
		}
		resp.Header[key] = append(resp.Header[key], string(v))
	}
}

// readH1Line reads one line without its line ending, charging it to budget.
func readH1Line(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(long) <= *budget {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	*budget -= len(line)
	if *budget < 0 {
		return nil, errors.New("the upstream's answer headers are too large")
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// h1HeaderKey returns the canonical form of a header name, without allocating for the usual ones, or "" for
// a name that is not a token.
func h1HeaderKey(k []byte) string {
	switch string(k) {
	case "Content-Type", "content-type":
		return "Content-Type"
	case "Content-Length", "content-length":
		return "Content-Length"
	case "Date", "date":
		return "Date"
	case "Transfer-Encoding", "transfer-encoding":
		return "Transfer-Encoding"
	case "Connection", "connection":
		return "Connection"
	case "Cache-Control", "cache-control":
		return "Cache-Control"
	case "Server", "server":
		return "Server"
	}
	s := string(k)
	if !validHeaderName(s) {
		return ""
	}
	return http.CanonicalHeaderKey(s)
}

// h1Body is an answer's body. It gives its connection back to the pool once read to the end, and closes it
// when closed earlier or on any error.
type h1Body struct {
	t       *h1Client
	hc      *h1Conn
	ctx     context.Context
	stop    func() bool
	remain  int64 // bytes left of a Content-Length body; -1 otherwise
	chunked *chunkedReader
	keep    bool
	mu      sync.Mutex // Close may come from another goroutine than Read
	done    bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read(p)
}

func (b *h1Body) read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	var n int
	var err error
	switch {
	case b.remain >= 0:
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err = b.hc.br.Read(p)
		b.remain -= int64(n)
		if b.remain == 0 {
			b.finish(true)
			return n, io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	case b.chunked != nil:
		n, err = b.chunked.Read(p)
	default:
		n, err = b.hc.br.Read(p)
	}
	switch {
	case errors.Is(err, io.EOF):
		b.finish(true)
	case err != nil:
		b.finish(false)
		err = ctxError(b.ctx, err)
	}
	return n, err
}

// ctxError returns the context's error for an I/O error that the context caused: its cancellation, or its
// deadline (the connection's deadline, which is the same, may expire a moment before the context's timer).
func ctxError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// finish ends the body: its connection goes back to the pool when complete is true and it may be reused.
func (b *h1Body) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if !b.stop() || !complete || !b.keep {
		_ = b.hc.c.Close()
		return
	}
	b.t.put(b.hc)
}

// Close ends the body. A Read blocked in another goroutine is interrupted by closing the connection. What is
// left of the answer is read when it has already arrived (the end of a stream after its last event), so that
// the connection can be reused.
func (b *h1Body) Close() error {
	if !b.mu.TryLock() {
		_ = b.hc.c.Close()
		b.mu.Lock()
	}
	if !b.done && b.keep && b.hc.br.Buffered() > 0 && b.ctx.Err() == nil {
		b.readBuffered()
	}
	b.finish(false)
	b.mu.Unlock()
	return nil
}

// readBuffered reads the body on from what is buffered, at most maxDrain bytes, without waiting for more: a
// read that would wait fails at once on the expired deadline and the connection is closed.
func (b *h1Body) readBuffered() {
	const maxDrain = 16 << 10
	if b.hc.c.SetReadDeadline(time.Unix(1, 0)) != nil {
		return
	}
	var buf [1024]byte
	for n := 0; n < maxDrain && !b.done; {
		k, err := b.read(buf[:])
		n += k
		if err != nil {
			return
		}
	}
}

// chunkedReader reads a chunked body, its trailer section included (trailers are discarded). A Read returns
// the data of every chunk already buffered, as net/http's does, so that events the upstream sent together are
// relayed together.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes left in the current chunk
	crlf bool  // the CRLF after the current chunk's data is still to read
	eof  bool
}

func newChunkedReader(br *bufio.Reader) *chunkedReader { return &chunkedReader{br: br} }

func (c *chunkedReader) Read(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && !c.eof {
		if c.left == 0 {
			// With data in hand, go on only if the next chunk's size line has arrived: never wait for it.
			if n > 0 && !c.sizeLineBuffered() {
				break
			}
			if err := c.nextChunk(); err != nil {
				return n, err
			}
			if c.eof {
				break
			}
		}
		if n > 0 && c.br.Buffered() == 0 {
			break
		}
		chunk := p
		if int64(len(chunk)) > c.left {
			chunk = chunk[:c.left]
		}
		k, err := c.br.Read(chunk)
		n += k
		p = p[k:]
		c.left -= int64(k)
		if c.left == 0 {
			c.crlf = true
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	if c.eof {
		return n, io.EOF
	}
	return n, nil
}

// sizeLineBuffered reports whether the next chunk-size line (after the pending CRLF) is wholly buffered.
func (c *chunkedReader) sizeLineBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	if c.crlf {
		if len(b) < 2 {
			return false
		}
		b = b[2:]
	}
	return bytes.IndexByte(b, '\n') >= 0
}

// nextChunk reads a chunk-size line; the last chunk's trailer section is read and dropped.
func (c *chunkedReader) nextChunk() error {
	if c.crlf {
		if err := c.chunkEnd(); err != nil {
			return err
		}
		c.crlf = false
	}
	budget := maxH1HeaderBytes
	line, err := readH1Line(c.br, &budget)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 16 {
		return errMalformedAnswer
	}
	var n int64
	for _, ch := range line {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch|0x20 >= 'a' && ch|0x20 <= 'f':
			d = ch | 0x20 - 'a' + 10
		default:
			return errMalformedAnswer
		}
		n = n<<4 | int64(d)
	}
	if n < 0 {
		return errMalformedAnswer
	}
	if n > 0 {
		c.left = n
		return nil
	}
	for {
		line, err := readH1Line(c.br, &budget)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			c.eof = true
			return nil
		}
	}
}

// chunkEnd reads the CRLF that ends a chunk's data.
func (c *chunkedReader) chunkEnd() error {
	b, err := c.br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] == '\r' && b[1] == '\n' {
		_, _ = c.br.Discard(2)
		return nil
	}
	if b[0] == '\n' {
		_, _ = c.br.Discard(1)
		return nil
	}
	return errMalformedAnswer
}

// maxH1Body is the largest request body the client sends: it writes a request in one write from its own
// buffer, so a body of unknown length (an upload streamed through) or a large one goes through net/http,
// which sends it as it is read.
const maxH1Body = 1 << 20

// streamedBody reports whether req's body is one the client leaves to net/http (see maxH1Body).
func streamedBody(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return false
	}
	return req.ContentLength <= 0 || req.ContentLength > maxH1Body
}

// serves reports whether u is at the client's own origin: plain http to its address.
func (t *h1Client) serves(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	return host == t.addr
}

// useH1Client reports whether an upstream at base (a parsed base URL's scheme and host) gets the h1Client:
// plain http, and no proxy from the environment applies to it.
func useH1Client(req *http.Request) bool {
	if req.URL.Scheme != "http" || os.Getenv("AIGW_NETHTTP_CLIENT") != "" {
		return false
	}
	proxy, err := http.ProxyFromEnvironment(req)
	return err == nil && proxy == nil
}
