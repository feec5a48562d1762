package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// h1Upstream is an httptest server counting the connections it accepts.
func h1Upstream(t *testing.T, h http.HandlerFunc, idleTimeout ...time.Duration) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	if len(idleTimeout) > 0 {
		srv.Config.IdleTimeout = idleTimeout[0]
	}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func h1Do(ctx context.Context, c *h1Client, url, body string) (*http.Response, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// Answers of every framing arrive whole, with their status and headers, over one reused connection.
func TestH1ClientFramingsAndReuse(t *testing.T) {
	srv, conns := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo-Type", r.Header.Get("Content-Type"))
		switch r.URL.Path {
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "data: %d %s\n\n", i, body)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/status":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(body)
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}
	})
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	for range 3 {
		resp, got, err := h1Do(context.Background(), c, srv.URL+"/plain?x=1", `{"a":1}`)
		if err != nil || got != `{"a":1}` || resp.StatusCode != 200 || resp.Header.Get("X-Echo-Type") != "application/json" {
			t.Fatalf("plain: %v %q %v", resp, got, err)
		}
		_, got, err = h1Do(context.Background(), c, srv.URL+"/chunked", "hi")
		if err != nil || got != "data: 0 hi\n\ndata: 1 hi\n\ndata: 2 hi\n\n" {
			t.Fatalf("chunked: %q, %v", got, err)
		}
		resp, got, err = h1Do(context.Background(), c, srv.URL+"/empty", "x")
		if err != nil || got != "" || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("204: %v %q %v", resp, got, err)
		}
		resp, got, err = h1Do(context.Background(), c, srv.URL+"/status", "slow down")
		if err != nil || got != "slow down" || resp.StatusCode != http.StatusTooManyRequests || resp.Status != "429 Too Many Requests" {
			t.Fatalf("429: %v %q %v", resp, got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 12 sequential requests, want 1 reused", n)
	}
}

// A connection whose answer was not read to the end is closed, never reused with bytes of that answer left.
func TestH1ClientUnreadAnswerIsNotReused(t *testing.T) {
	srv, conns := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = resp.Body.Read(make([]byte, 10))
		_ = resp.Body.Close()
	}
	if _, got, err := h1Do(context.Background(), c, srv.URL, "{}"); err != nil || len(got) != 64<<10 {
		t.Fatalf("after two abandoned answers: %d bytes, %v", len(got), err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (the two abandoned ones closed)", n)
	}
}

// An idle connection the upstream closed (its keep-alive timeout) is noticed before use: the next request goes
// out on a new connection and succeeds.
func TestH1ClientUpstreamClosedIdleConnection(t *testing.T) {
	srv, conns := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}, 20*time.Millisecond)
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	for i := range 3 {
		if _, got, err := h1Do(context.Background(), c, srv.URL, "{}"); err != nil || got != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		time.Sleep(150 * time.Millisecond) // the server closes the idle connection meanwhile
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (one per request, each closed by the server while idle)", n)
	}
}

// The context's deadline, the response-header timeout and a cancellation each end a request at once, and a
// cancelled stream's read returns the context's error.
func TestH1ClientTimeoutsAndCancellation(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, _ := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			_, _ = io.WriteString(w, "data: first\n\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	addr := srv.Listener.Addr().String()

	c := newH1Client(addr, time.Second, 0)
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := h1Do(ctx, c, srv.URL, "{}"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("past the deadline: %v after %v, want context.DeadlineExceeded at once", err, time.Since(start))
	}

	rht := newH1Client(addr, time.Second, 50*time.Millisecond)
	defer rht.close()
	var ne net.Error
	if _, _, err := h1Do(context.Background(), rht, srv.URL, "{}"); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("past the response-header timeout: %v, want a timeout", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/stream", strings.NewReader("{}"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	time.AfterFunc(30*time.Millisecond, cancel)
	start = time.Now()
	if _, err := io.ReadAll(br); !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("reading a cancelled stream: %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

// Malformed, oversized or truncated answers are errors, never a panic or a hang; a header value that would
// split the request is refused before anything is sent.
func TestH1ClientBadAnswers(t *testing.T) {
	for name, answer := range map[string]string{
		"not http":         "SSH-2.0-OpenSSH\r\n\r\n",
		"bad status":       "HTTP/1.1 2x0 OK\r\n\r\n",
		"huge headers":     "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"truncated body":   "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"bad chunk":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
		"truncated chunks": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"two lengths":      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"gzip encoding":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				_, _ = bufio.NewReader(conn).ReadString('\n')
				_, _ = io.WriteString(conn, answer)
			}()
			c := newH1Client(ln.Addr().String(), time.Second, 0)
			defer c.close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, got, err := h1Do(ctx, c, "http://"+ln.Addr().String()+"/", "{}"); err == nil || ctx.Err() != nil {
				t.Errorf("answer %q: got %q, err %v; want an error before the deadline", answer[:min(len(answer), 40)], got, err)
			}
		})
	}
	var served atomic.Int32
	srv, _ := h1Upstream(t, func(http.ResponseWriter, *http.Request) { served.Add(1) })
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.Header["X-Team"] = []string{"a\r\nX-Injected: 1"}
	if _, err := c.RoundTrip(req); err == nil || served.Load() != 0 {
		t.Errorf("a header value with CRLF: err %v, %d requests served; want an error and none", err, served.Load())
	}
}

// Many requests, some cancelled mid-answer, leave no goroutine behind, and the pool holds at most what was
// in use at once.
func TestH1ClientNoLeaks(t *testing.T) {
	srv, _ := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	before := runtime.NumGoroutine()
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			cancel()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		cancel()
	}
	c.mu.Lock()
	idle := len(c.idle)
	c.mu.Unlock()
	if idle > 1 {
		t.Errorf("%d idle connections after sequential requests, want at most 1", idle)
	}
	c.close()
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after, %d before", n, before)
	}
}

// The gateway uses its own client only for plain-http upstreams that no proxy applies to.
func TestH1ClientChosenForPlainHTTPOnly(t *testing.T) {
	for base, want := range map[string]bool{
		"http://127.0.0.1:8000/v1":  true, // a proxy from the environment never applies to loopback
		"http://localhost:11434":    true,
		"https://api.openai.com/v1": false,
		"https://127.0.0.1:8443/v1": false,
	} {
		p := &Provider{Name: "p", BaseURL: base, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}
		u := newUpstream(p, nil)
		if got := u.h1 != nil; got != want {
			t.Errorf("%s: own HTTP/1.1 client %v, want %v", base, got, want)
		}
		u.close()
	}
	t.Setenv("AIGW_NETHTTP_CLIENT", "1")
	p := &Provider{Name: "p", BaseURL: "http://127.0.0.1:8000/v1", Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}
	if u := newUpstream(p, nil); u.h1 != nil {
		t.Error("AIGW_NETHTTP_CLIENT=1: the gateway's own client was chosen")
	}
}

// Closing a body from another goroutine interrupts a Read blocked on it, as with net/http's bodies.
func TestH1ClientCloseInterruptsRead(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, _ := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(30*time.Millisecond, func() { _ = resp.Body.Close() })
	done := make(chan error, 1)
	go func() { _, err := resp.Body.Read(buf); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a Read interrupted by Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt a blocked Read")
	}
}

// A stream whose reader stops at its last event ([DONE]) and closes the body, the rest of the answer (the
// chunked encoding's end) having arrived with it, leaves its connection reusable.
func TestH1ClientStreamEndKeepsConnection(t *testing.T) {
	srv, conns := h1Upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush() // chunked from here
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	})
	c := newH1Client(srv.Listener.Addr().String(), time.Second, 0)
	defer c.close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		req.Header.Set("Transfer-Encoding", "chunked") // ignored: the client always sends Content-Length
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "data: [DONE]\n" {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // the chunked terminator has arrived
		_ = resp.Body.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 streams closed after [DONE], want 1 reused", n)
	}
}

// Chunks that arrived together come out of one Read, as with net/http, so that the relay writes them to its
// client in one write, not one write per event.
func TestH1ClientReadsBufferedChunksTogether(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = bufio.NewReader(conn).ReadString('\n')
		answer := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
		for i := range 5 {
			answer += fmt.Sprintf("9\r\ndata: %d\n\n\r\n", i)
		}
		_, _ = io.WriteString(conn, answer+"0\r\n\r\n")
		time.Sleep(time.Second)
	}()
	c := newH1Client(ln.Addr().String(), time.Second, 0)
	defer c.close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/", strings.NewReader("{}"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	if want := "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"; string(buf[:n]) != want || err != io.EOF {
		t.Errorf("one Read: %q, %v; want every event and io.EOF", buf[:n], err)
	}
}

// TestH1ClientSendsOtherOriginsElsewhere: the client's connections all go to its upstream, so a request for
// another origin (a download a provider redirects to) must reach that origin, never the upstream.
func TestH1ClientSendsOtherOriginsElsewhere(t *testing.T) {
	var upstreamHits, otherHits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { upstreamHits.Add(1) }))
	defer up.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		io.WriteString(w, "other origin")
	}))
	defer other.Close()
	c := newH1Client(strings.TrimPrefix(up.URL, "http://"), time.Second, 0)
	defer c.close()
	req, _ := http.NewRequest(http.MethodGet, other.URL+"/file", nil)
	if _, err := c.RoundTrip(req); err == nil {
		t.Fatal("without a transport for other origins the request was sent")
	}
	c.other = http.DefaultTransport
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "other origin" || otherHits.Load() != 1 || upstreamHits.Load() != 0 {
		t.Errorf("got %q; other origin hit %d times, the upstream %d", b, otherHits.Load(), upstreamHits.Load())
	}
}

// TestH1ClientLeavesStreamedBodiesToNetHTTP: an upload streamed through (no length) must not be read whole
// into the client's buffer; it goes through net/http, which sends it as it reads it.
func TestH1ClientLeavesStreamedBodiesToNetHTTP(t *testing.T) {
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	defer up.Close()
	c := newH1Client(strings.TrimPrefix(up.URL, "http://"), time.Second, 0)
	defer c.close()
	stream := func() *io.PipeReader {
		pr, pw := io.Pipe()
		go func() {
			pw.Write(make([]byte, 3<<20))
			pw.Close()
		}()
		return pr
	}
	unsent := stream()
	defer unsent.Close() // ends the writer, which nothing reads
	req, _ := http.NewRequest(http.MethodPost, up.URL+"/upload", unsent)
	if _, err := c.RoundTrip(req); err == nil {
		t.Fatal("without net/http for streamed bodies the body was read whole and sent")
	}
	c.other = http.DefaultTransport
	req, _ = http.NewRequest(http.MethodPost, up.URL+"/upload", stream())
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Load() != 3<<20 {
		t.Errorf("the upstream got %d bytes, want %d", got.Load(), 3<<20)
	}
}
