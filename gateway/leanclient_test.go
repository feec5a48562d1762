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
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// leanTransport is a prototype of a lean HTTP/1.1 client for one plain-http keep-alive upstream, measured
// against the tuned net/http Transport in BenchmarkRequestPath (bench/RESULTS.md has the figures and the
// decision). It writes each request in one write from the connection's own buffer, reads the answer on the
// calling goroutine (no per-connection read and write loops), and cancels through the connection's deadline
// (context.AfterFunc) instead of a goroutine. It handles Content-Length, chunked and read-to-close bodies,
// keeps a connection only after its answer was read to the end, and retries once on a fresh connection when a
// reused one fails before any answer byte (the upstream closed it while idle). It is not shipped: no TLS, no
// HTTP/2, no proxy, no 1xx, no trailers, no Expect, no compression.
type leanTransport struct {
	addr string
	dial net.Dialer

	mu   sync.Mutex
	idle []*leanConn
}

type leanConn struct {
	t    *leanTransport
	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
}

func (t *leanTransport) get(ctx context.Context) (*leanConn, bool, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		lc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return lc, true, nil
	}
	t.mu.Unlock()
	c, err := t.dial.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, dialError{err}
	}
	return &leanConn{t: t, c: c, br: bufio.NewReaderSize(c, 4<<10), wbuf: make([]byte, 0, 2<<10)}, false, nil
}

func (t *leanTransport) put(lc *leanConn) {
	_ = lc.c.SetDeadline(time.Time{})
	t.mu.Lock()
	t.idle = append(t.idle, lc)
	t.mu.Unlock()
}

func (t *leanTransport) CloseIdleConnections() {
	t.mu.Lock()
	for _, lc := range t.idle {
		_ = lc.c.Close()
	}
	t.idle = nil
	t.mu.Unlock()
}

var errStaleConn = errors.New("reused connection closed before the answer")

func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	for attempt := 0; ; attempt++ {
		resp, err := t.roundTrip(req, body)
		if errors.Is(err, errStaleConn) && attempt == 0 {
			continue
		}
		return resp, err
	}
}

func (t *leanTransport) roundTrip(req *http.Request, body []byte) (*http.Response, error) {
	ctx := req.Context()
	lc, reused, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = lc.c.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = lc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = lc.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	b := append(lc.wbuf[:0], req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.URL.Host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	if cap(b) <= 64<<10 {
		lc.wbuf = b
	}
	if _, err := lc.c.Write(b); err != nil {
		if reused {
			err = errStaleConn
		}
		return fail(err)
	}
	resp, err := readLeanResponse(lc.br, req)
	if err != nil {
		if reused && errors.Is(err, io.EOF) {
			err = errStaleConn
		}
		return fail(err)
	}
	lb := &leanBody{lc: lc, stop: stop, keep: !resp.Close, remain: -1}
	switch {
	case resp.ContentLength >= 0:
		lb.r, lb.remain = lc.br, resp.ContentLength
	case len(resp.TransferEncoding) > 0:
		lb.r, lb.chunked = httputil.NewChunkedReader(lc.br), true
	default:
		lb.r, lb.keep = lc.br, false
	}
	if lb.remain == 0 {
		lb.finish(true)
	}
	resp.Body = lb
	return resp, nil
}

// readLeanResponse reads a status line and headers.
func readLeanResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, errors.New("malformed status line")
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, errors.New("malformed status code")
	}
	resp := &http.Response{StatusCode: code, Status: strconv.Itoa(code), Proto: "HTTP/1.1", ProtoMajor: 1,
		ProtoMinor: 1, Header: make(http.Header, 8), ContentLength: -1, Request: req}
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return nil, errors.New("malformed header line")
		}
		k, v := line[:i], bytes.TrimSpace(line[i+1:])
		key := commonHeaderKey(k)
		val := string(v)
		switch key {
		case "Content-Length":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return nil, errors.New("malformed Content-Length")
			}
			resp.ContentLength = n
		case "Transfer-Encoding":
			if !bytes.EqualFold(v, []byte("chunked")) {
				return nil, errors.New("unsupported Transfer-Encoding")
			}
			resp.TransferEncoding = []string{"chunked"}
			continue
		case "Connection":
			if bytes.EqualFold(v, []byte("close")) {
				resp.Close = true
			}
		}
		resp.Header[key] = append(resp.Header[key], val)
	}
	if len(resp.TransferEncoding) > 0 {
		resp.ContentLength = -1
	}
	return resp, nil
}

// commonHeaderKey returns the canonical key of the usual answer headers without allocating.
func commonHeaderKey(k []byte) string {
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
	}
	return http.CanonicalHeaderKey(string(k))
}

// leanBody gives the connection back once the body was read to its end, and closes it otherwise.
type leanBody struct {
	lc      *leanConn
	r       io.Reader
	remain  int64 // bytes left of a Content-Length body; -1 otherwise
	chunked bool
	stop    func() bool
	keep    bool
	done    bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.remain >= 0 && int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.r.Read(p)
	if b.remain >= 0 {
		b.remain -= int64(n)
		if b.remain == 0 {
			b.finish(true)
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	switch {
	case err == io.EOF && b.chunked:
		b.finish(skipTrailer(b.lc.br) == nil)
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
	}
	return n, err
}

// skipTrailer reads the trailer section that ends a chunked body.
func skipTrailer(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func (b *leanBody) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if !b.stop() || !complete || !b.keep {
		_ = b.lc.c.Close()
		return
	}
	b.lc.t.put(b.lc)
}

func (b *leanBody) Close() error {
	b.finish(false)
	return nil
}

// The prototype is only measured, but its figures only count if it is right: complete answers of both body
// framings over one reused connection, and a cancelled request that returns at once.
func TestLeanTransportPrototype(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("wait") != "" {
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/chunked" {
			for i := range 3 {
				fmt.Fprintf(w, "data: %d %s\n\n", i, body)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	lt := &leanTransport{addr: srv.Listener.Addr().String()}
	defer lt.CloseIdleConnections()
	do := func(ctx context.Context, path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader("hello"))
		resp, err := lt.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for range 3 {
		if got, err := do(context.Background(), "/plain"); err != nil || got != "hello" {
			t.Fatalf("plain: %q, %v", got, err)
		}
		if got, err := do(context.Background(), "/chunked"); err != nil || got != "data: 0 hello\n\ndata: 1 hello\n\ndata: 2 hello\n\n" {
			t.Fatalf("chunked: %q, %v", got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 6 sequential requests, want 1 reused", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := do(ctx, "/plain?wait=1"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("a request past its deadline: %v after %v, want context.DeadlineExceeded at once", err, time.Since(start))
	}
}
