package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An upstream event whose JSON spans several data lines is valid SSE; relayed as it came, with its line
// breaks, it would reach the client as an event cut at the first line, "{".
func TestStreamEventOfSeveralDataLinesReachesClientWhole(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\n" +
			"data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\r\n\r\n" +
			"data: [DONE]\n\n"))
	})
	g := newGateway(t, base)
	rec := post(t, g, `{"model":"openai/m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	events := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n\n"), "\n\n")
	if len(events) != 2 || events[1] != "data: [DONE]" {
		t.Fatalf("want one chunk and [DONE], got %q", rec.Body)
	}
	data, ok := strings.CutPrefix(events[0], "data: ")
	if !ok || strings.ContainsAny(data, "\r\n") || !json.Valid([]byte(data)) {
		t.Fatalf("the chunk is not one data line of JSON: %q", events[0])
	}
}

// Events that arrived with the start of a later one are relayed at once: the relay must not hold them back
// until the rest of that event arrives, which may take as long as the model thinks.
func TestStreamEventsArrivingWithAPartialOneAreNotHeldBack(t *testing.T) {
	release := make(chan struct{})
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(content string) string {
			return `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,` +
				`"delta":{"content":"` + content + `"},"finish_reason":null}]}` + "\n\n"
		}
		_, _ = io.WriteString(w, chunk("first")+chunk("second")+`data: {"id":"c1","object":"chat.`)
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, `completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},`+
			`"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	})
	srv := httptest.NewServer(newGateway(t, base))
	defer srv.Close()
	defer close(release)
	got := make(chan error, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"openai/x","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			got <- err
			return
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				got <- err
				return
			}
			if strings.Contains(line, `"content":"second"`) {
				got <- nil
				return
			}
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the events that came with a partial one were held back until the upstream sent its rest")
	}
}
