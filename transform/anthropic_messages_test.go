package transform

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TestMessagesRelayRecordedStreams relays recorded Anthropic streams through the native Messages relay and
// checks the client gets every event as the upstream sent it, in order, with only message_start's model
// changed, and the usage of message_start and message_delta.
func TestMessagesRelayRecordedStreams(t *testing.T) {
	for _, c := range []struct {
		name          string
		input, output int
	}{
		{"messages_stream_text", 15, 13},
		{"messages_stream_text_parallel_tool_use", 679, 111},
		{"messages_stream_thinking", 43, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(anthropicFixtures, c.name+".sse"))
			if err != nil {
				t.Fatal(err)
			}
			tr := NewAnthropic(AnthropicOptions{}).NewMessagesStream(&Request{ClientModel: "my-claude"})
			rec := &eventRecorder{}
			r := NewSSEReader(bytes.NewReader(body), 0)
			var sent [][2]string
			for {
				ev, err := r.Next()
				if err != nil {
					t.Fatalf("stream ended before message_stop: %v", err)
				}
				sent = append(sent, [2]string{string(ev.Name), string(ev.Data)})
				done, err := tr.Translate(ev, rec)
				if err != nil {
					t.Fatal(err)
				}
				if done {
					break
				}
			}
			if err := tr.Finish(rec, false); err != nil {
				t.Fatal(err)
			}
			got := NewSSEReader(bytes.NewReader(rec.sse.Bytes()), 0)
			for i, want := range sent {
				ev, err := got.Next()
				if err != nil {
					t.Fatalf("event %d missing", i)
				}
				if string(ev.Name) != want[0] {
					t.Errorf("event %d: name %s, want %s", i, ev.Name, want[0])
				}
				if want[0] == "message_start" {
					if m := gjson.GetBytes(ev.Data, "message.model").String(); m != "my-claude" {
						t.Errorf("model %q", m)
					}
					if gjson.GetBytes(ev.Data, "message.usage").Raw != gjson.Get(want[1], "message.usage").Raw {
						t.Errorf("message_start changed beyond the model:\n%s\n%s", ev.Data, want[1])
					}
					continue
				}
				if string(ev.Data) != want[1] {
					t.Errorf("event %d changed:\n%s\nwant\n%s", i, ev.Data, want[1])
				}
			}
			if _, err := got.Next(); err == nil {
				t.Error("more events than the upstream sent")
			}
			m := rec.accumulate(t)
			if len(m.Content) == 0 || m.Model != "my-claude" {
				t.Errorf("accumulated %s", m.RawJSON())
			}
			if len(rec.usages) != 1 {
				t.Fatalf("%d usages", len(rec.usages))
			}
			u := rec.usages[0]
			if u.PromptTokens != c.input || (c.output > 0 && u.CompletionTokens != c.output) || u.CompletionTokens == 0 || u.Origin != usage.Reported {
				t.Errorf("usage %+v", u)
			}
		})
	}
}

// TestMessagesRelayErrorAndCut: an error event ends the stream with the upstream's body kept; a stream cut
// before message_stop is a StreamCut.
func TestMessagesRelayErrorAndCut(t *testing.T) {
	a := NewAnthropic(AnthropicOptions{})
	body := anthropicStreamHead + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
	tr := a.NewMessagesStream(&Request{ClientModel: "m"})
	rec := &eventRecorder{}
	r := NewSSEReader(strings.NewReader(body), 0)
	var err error
	for err == nil {
		ev, rerr := r.Next()
		if rerr != nil {
			t.Fatal("no error from the error event")
		}
		_, err = tr.Translate(ev, rec)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable ||
		string(AppendMessagesError(nil, e)) != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` {
		t.Errorf("error %v: %s", err, AppendMessagesError(nil, e))
	}

	tr = a.NewMessagesStream(&Request{ClientModel: "m"})
	r = NewSSEReader(strings.NewReader(anthropicStreamHead), 0)
	for {
		ev, rerr := r.Next()
		if rerr != nil {
			break
		}
		if _, err := tr.Translate(ev, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Finish(rec, true); !errors.As(err, &e) || e.Code != "upstream_stream_cut" {
		t.Errorf("cut stream: %v", err)
	}
}

// TestMessagesPassthroughRequest: only model changes in the body; the client's anthropic-version and
// anthropic-beta go upstream, betas filtered when the operator restricts them.
func TestMessagesPassthroughRequest(t *testing.T) {
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":32000,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQBsig"}]}]}`)
	client := http.Header{}
	client.Set("anthropic-version", "2023-06-01")
	client.Add("anthropic-beta", "claude-code-20250219, interleaved-thinking-2025-05-14")
	client.Add("anthropic-beta", "context-management-2025-06-27")
	client.Set("x-api-key", "client-secret")
	req := &Request{Body: body, Model: "claude-sonnet-4-5-20250929", ClientHeader: client}

	out, err := NewAnthropic(AnthropicOptions{Version: "2099-01-01"}).BuildMessages(req)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(body), `"claude-sonnet-4-5"`, `"claude-sonnet-4-5-20250929"`, 1)
	if string(out.Body) != want || out.Path != "/v1/messages" {
		t.Errorf("body %s\nwant %s", out.Body, want)
	}
	if v := out.Header.Get("anthropic-version"); v != "2023-06-01" {
		t.Errorf("version %q", v)
	}
	if b := out.Header.Get("anthropic-beta"); b != "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27" {
		t.Errorf("beta %q", b)
	}
	if out.Header.Get("x-api-key") != "" {
		t.Error("the client's key went upstream")
	}

	restricted := NewAnthropic(AnthropicOptions{Betas: []string{"interleaved-thinking-2025-05-14"}, Beta: "files-api-2025-04-14"})
	out, err = restricted.BuildCountTokens(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := out.Header.Get("anthropic-beta"); b != "interleaved-thinking-2025-05-14,files-api-2025-04-14" || out.Path != "/v1/messages/count_tokens" {
		t.Errorf("restricted beta %q, path %s", b, out.Path)
	}
	out, err = restricted.BuildMessages(&Request{Body: body, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if v := out.Header.Get("anthropic-version"); v != defaultAnthropicVersion {
		t.Errorf("default version %q", v)
	}

	raw, err := os.ReadFile(filepath.Join(anthropicFixtures, "error_404_not_found.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := restricted.TranslateMessagesError(404, nil, raw)
	if !bytes.Equal(AppendMessagesError(nil, e), raw) || e.Status != 404 {
		t.Errorf("upstream error body not kept: %s", AppendMessagesError(nil, e))
	}
}
