package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// prompt is the user message of every test request.
const prompt = "Say hello to the end-to-end test, please."

// newClient returns an HTTP client with a pool large enough for the concurrent tests; its idle connections
// are closed when the test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// chatBody is a chat completion request for model; streams ask for the usage chunk.
func chatBody(model string, stream bool) string {
	if stream {
		return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}],"stream":true,`+
			`"stream_options":{"include_usage":true}}`, model, prompt)
	}
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]}`, model, prompt)
}

// answer is a response as a client reads it.
type answer struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
	// err is the transport error, if the request or the body read failed.
	err error

	// For event streams: the data of each event, the concatenated content deltas, the usage chunk's usage,
	// the error event's error, and whether [DONE] ended the stream.
	events  []string
	content string
	usage   gjson.Result
	errEv   gjson.Result
	done    bool
}

// describe summarises the answer for failure messages.
func (a *answer) describe() string {
	if a.err != nil {
		return "transport error: " + a.err.Error()
	}
	body := string(a.body)
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("status %d, body %s", a.status, body)
}

// chat posts body to the gateway's chat completions endpoint with the given header pairs and reads the
// whole answer. It never fails the test, so that it can run in many goroutines.
func chat(ctx context.Context, c *http.Client, gw *caddyProc, body string, header ...string) *answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gw.url("/v1/chat/completions"), strings.NewReader(body))
	if err != nil {
		return &answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return &answer{err: err}
	}
	defer resp.Body.Close()
	a := &answer{status: resp.StatusCode, header: resp.Header}
	a.body, a.err = io.ReadAll(resp.Body)
	a.trailer = resp.Trailer
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		a.parseEvents()
	}
	return a
}

// parseEvents splits an SSE body into its events' data.
func (a *answer) parseEvents() {
	var data []string
	end := func() {
		if len(data) > 0 {
			a.addEvent(strings.Join(data, "\n"))
		}
		data = data[:0]
	}
	sc := bufio.NewScanner(strings.NewReader(string(a.body)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			end()
			continue
		}
		if v, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
	end()
}

func (a *answer) addEvent(data string) {
	a.events = append(a.events, data)
	if data == "[DONE]" {
		a.done = true
		return
	}
	ev := gjson.Parse(data)
	if e := ev.Get("error"); e.Exists() {
		a.errEv = e
	}
	if u := ev.Get("usage"); u.IsObject() {
		a.usage = u
	}
	ev.Get("choices.#.delta.content").ForEach(func(_, c gjson.Result) bool {
		a.content += c.Str
		return true
	})
}

// succeeded reports whether the answer is a complete 200: a JSON completion with content, or a stream with
// content, no error event and [DONE].
func (a *answer) succeeded() bool {
	if a.err != nil || a.status != http.StatusOK {
		return false
	}
	if a.events != nil {
		return a.done && !a.errEv.Exists() && a.content != ""
	}
	return gjson.GetBytes(a.body, "choices.0.message.content").Str != ""
}
