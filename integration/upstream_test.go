package integration

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// seen is one request as an upstream received it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// upstream is a loopback fake provider that records every request and answers with its handler.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// newUpstream starts a fake provider; answer gets each request with its body already read.
func newUpstream(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		answer(w, r, body)
	}))
	t.Cleanup(u.Close)
	return u
}

// requests returns what the upstream has received so far.
func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// last returns the last request received, failing the test if there was none.
func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	rs := u.requests()
	if len(rs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return rs[len(rs)-1]
}

// fixture reads a recorded provider response from testdata/fixtures, byte for byte.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splitEvents splits an SSE body into its events, terminators included (LF or CRLF framing).
func splitEvents(body []byte) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		i, n := bytes.Index(body, []byte("\n\n")), 2
		if j := bytes.Index(body, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
			i, n = j, 4
		}
		if i < 0 {
			out = append(out, body)
			break
		}
		out = append(out, body[:i+n])
		body = body[i+n:]
	}
	return out
}

// writeSSE writes events one at a time, flushing each, as a provider does.
func writeSSE(w http.ResponseWriter, events [][]byte) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for _, ev := range events {
		if _, err := w.Write(ev); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

// replaySSE answers every request with the recorded stream in file.
func replaySSE(t *testing.T, file string) func(http.ResponseWriter, *http.Request, []byte) {
	events := splitEvents(fixture(t, file))
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeSSE(w, events) }
}

// replayJSON answers every request with status and the recorded JSON body in file.
func replayJSON(t *testing.T, status int, file string) func(http.ResponseWriter, *http.Request, []byte) {
	body := fixture(t, file)
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}
