package transform

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TestBedrockNativeMessagesModels: Claude model ids, system inference profiles and their ARNs are served
// natively; other families and opaque ARNs (application inference profiles, provisioned models) are not.
func TestBedrockNativeMessagesModels(t *testing.T) {
	b := NewBedrock(BedrockOptions{Region: "us-east-1"})
	for model, want := range map[string]string{
		"anthropic.claude-sonnet-4-5-20250929-v1:0":                                                  "anthropic.claude-sonnet-4-5-20250929-v1:0",
		"us.anthropic.claude-sonnet-4-5-20250929-v1:0":                                               "anthropic.claude-sonnet-4-5-20250929-v1:0",
		"global.anthropic.claude-haiku-4-5-20251001-v1:0":                                            "anthropic.claude-haiku-4-5-20251001-v1:0",
		"us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0":                                           "anthropic.claude-3-5-sonnet-20240620-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0":         "anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-1-v1:0": "anthropic.claude-opus-4-1-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6":          "",
		"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/anthropic.claude-x":                "",
		"amazon.nova-pro-v1:0":               "",
		"us.meta.llama3-3-70b-instruct-v1:0": "",
		"claude-sonnet-4-5":                  "",
	} {
		if got := bedrockClaudeID(model); got != want {
			t.Errorf("bedrockClaudeID(%q) = %q, want %q", model, got, want)
		}
		if got := b.NativeMessages(model); got != (want != "") {
			t.Errorf("NativeMessages(%q) = %v", model, got)
		}
	}
}

// claudeCodeBody is a Messages request as Claude Code sends it on a tool round trip: a thinking block with
// its signature, a tool_use and its tool_result, cache_control on the system prompt and the last user
// block.
const claudeCodeBody = `{"model":"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0","max_tokens":32000,"stream":true,` +
	`"thinking":{"type":"enabled","budget_tokens":1024},` +
	`"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral","ttl":"1h"}}],` +
	`"tools":[{"name":"read_file","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}],` +
	`"messages":[{"role":"user","content":"Read notes.txt"},` +
	`{"role":"assistant","content":[{"type":"thinking","thinking":"I should read the file.\n\u00e9\u2028","signature":"ErUBCkYIBxgCIkD+/sig=="},` +
	`{"type":"tool_use","id":"toolu_01","name":"read_file","input":{"path":"notes.txt"}}]},` +
	`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"42 apples","cache_control":{"type":"ephemeral"}}]}]}`

// TestBedrockBuildMessages: the client's body goes to InvokeModel byte for byte but for model and stream
// removed and anthropic_version added (thinking signatures and cache_control untouched); betas from the
// header and the body become the body's anthropic_beta, filtered by the allow-list; the model id is one
// escaped path segment.
func TestBedrockBuildMessages(t *testing.T) {
	h := http.Header{}
	h.Add("anthropic-beta", "interleaved-thinking-2025-05-14,oauth-2025-04-20")
	h.Add("anthropic-beta", "claude-code-20250219, context-1m-2025-08-07")
	for _, c := range []struct {
		model  string
		stream bool
		betas  []string
		path   string
		want   string
	}{
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", true, nil, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
			`["interleaved-thinking-2025-05-14","context-1m-2025-08-07"]`},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", false, nil,
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			`["interleaved-thinking-2025-05-14","context-1m-2025-08-07"]`},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", false, []string{"claude-code-20250219"}, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			`["claude-code-20250219"]`},
	} {
		b := NewBedrock(BedrockOptions{Region: "us-east-1", Betas: c.betas})
		body := claudeCodeBody
		if !c.stream {
			body = strings.Replace(body, `"stream":true,`, ``, 1)
		}
		out, err := b.BuildMessages(&Request{Body: []byte(body), Model: c.model, Stream: c.stream, ClientHeader: h})
		if err != nil {
			t.Fatal(err)
		}
		if out.Path != c.path {
			t.Errorf("path %s, want %s", out.Path, c.path)
		}
		sent := gjson.ParseBytes(out.Body)
		if sent.Get("anthropic_version").Str != BedrockAnthropicVersion || sent.Get("model").Exists() || sent.Get("stream").Exists() ||
			sent.Get("anthropic_beta").Raw != c.want {
			t.Errorf("body %s", out.Body)
		}
		// everything else is the client's bytes
		rest, _ := sjson.DeleteBytes(out.Body, "anthropic_version")
		rest, _ = sjson.DeleteBytes(rest, "anthropic_beta")
		orig, _ := sjson.DeleteBytes([]byte(body), "model")
		orig, _ = sjson.DeleteBytes(orig, "stream")
		if !bytes.Equal(rest, orig) {
			t.Errorf("the body changed beyond model, stream, version and betas:\n%s\n%s", rest, orig)
		}
		if c.stream != (out.Header.Get("Accept") == "application/vnd.amazon.eventstream") {
			t.Errorf("Accept %q", out.Header.Get("Accept"))
		}
	}
	// members Bedrock does not take are dropped, the others kept
	out, err := NewBedrock(BedrockOptions{}).BuildMessages(&Request{Model: "anthropic.claude-3-haiku-20240307-v1:0", ClientHeader: http.Header{},
		Body: []byte(`{"model":"x","service_tier":"auto","max_tokens":5,"container":"c","mcp_servers":[{"url":"u"}],"we.ird":1,` +
			`"metadata":{"user_id":"u1"},"messages":[{"role":"user","content":"Hi"}]}`)})
	if err != nil || string(out.Body) != `{"max_tokens":5,"metadata":{"user_id":"u1"},"messages":[{"role":"user","content":"Hi"}],"anthropic_version":"bedrock-2023-05-31"}` {
		t.Errorf("unknown members: %v %s", err, out.Body)
	}
	// no allowed beta: no anthropic_beta at all (Bedrock refuses an unknown one)
	h2 := http.Header{"Anthropic-Beta": {"oauth-2025-04-20"}}
	out, err = NewBedrock(BedrockOptions{}).BuildMessages(&Request{Body: []byte(`{"model":"x","max_tokens":5,"anthropic_beta":["fast-mode-2026-02-01"],"messages":[]}`),
		Model: "anthropic.claude-3-haiku-20240307-v1:0", ClientHeader: h2})
	if err != nil || gjson.GetBytes(out.Body, "anthropic_beta").Exists() {
		t.Errorf("unknown betas: %v %s", err, out.Body)
	}
}

// TestBedrockTranslateMessages: the Message keeps its bytes but for the model; usage counts cache reads and
// writes in the prompt.
func TestBedrockTranslateMessages(t *testing.T) {
	body := `{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
		`"content":[{"type":"thinking","thinking":"hm","signature":"sig+/="},{"type":"text","text":"Hi"}],"stop_reason":"end_turn",` +
		`"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":418,"cache_read_input_tokens":1111,"output_tokens":33}}`
	out, u, err := NewBedrock(BedrockOptions{}).TranslateMessages(&Request{ClientModel: "bedrock/claude"}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(body, `"claude-sonnet-4-5-20250929"`, `"bedrock/claude"`, 1); string(out) != want {
		t.Errorf("answer\n%s\nwant\n%s", out, want)
	}
	if u.PromptTokens != 1532 || u.CachedTokens != 1111 || u.CacheWriteTokens != 418 || u.CompletionTokens != 33 || u.Origin != usage.Reported {
		t.Errorf("usage %+v", u)
	}
}

// invokeStream wraps Anthropic SSE events as InvokeModelWithResponseStream sends them: one chunk event each,
// its JSON base64 in {"bytes":…}; metrics, when set, is added to message_stop as Bedrock adds its invocation
// metrics.
func invokeStream(t *testing.T, sse []byte, metrics string) (stream []byte, events [][2]string) {
	t.Helper()
	var out bytes.Buffer
	enc := eventstream.NewEncoder()
	r := NewSSEReader(bytes.NewReader(sse), 0)
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		data := append([]byte(nil), ev.Data...)
		events = append(events, [2]string{string(ev.Name), string(data)})
		if metrics != "" && gjson.GetBytes(data, "type").Str == "message_stop" {
			data, _ = sjson.SetRawBytes(data, bedrockMetricsKey, []byte(metrics))
		}
		var h eventstream.Headers
		h.Set(":event-type", eventstream.StringValue("chunk"))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&out, eventstream.Message{Headers: h,
			Payload: []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString(data) + `","p":"abc"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes(), events
}

// relayAll runs a whole event stream through tr; it returns the last Translate or Finish error.
func relayAll(tr StreamTranslator, r EventReader, sink Sink) error {
	for {
		ev, err := r.Next()
		if err != nil {
			return tr.Finish(sink, true)
		}
		done, err := tr.Translate(ev, sink)
		if err != nil {
			return err
		}
		if done {
			return tr.Finish(sink, false)
		}
	}
}

// TestBedrockMessagesStreamRecorded relays recorded Anthropic streams (thinking with its signature, parallel
// tool use) wrapped in Bedrock's chunk events: the client gets each Anthropic event byte for byte, named by
// its type, with only message_start's model changed and Bedrock's invocation metrics removed; the usage is
// the stream's own.
func TestBedrockMessagesStreamRecorded(t *testing.T) {
	for _, c := range []struct {
		name          string
		input, output int
	}{
		{"messages_stream_thinking", 43, 0},
		{"messages_stream_text_parallel_tool_use", 679, 111},
	} {
		t.Run(c.name, func(t *testing.T) {
			sse, err := os.ReadFile(filepath.Join(anthropicFixtures, c.name+".sse"))
			if err != nil {
				t.Fatal(err)
			}
			stream, sent := invokeStream(t, sse, `{"inputTokenCount":9999,"outputTokenCount":9999,"invocationLatency":1,"firstByteLatency":1}`)
			tr := NewBedrock(BedrockOptions{}).NewMessagesStream(&Request{ClientModel: "bedrock/claude"})
			rec := &eventRecorder{}
			if err := relayAll(tr, NewEventStreamReader(bytes.NewReader(stream), 0), rec); err != nil {
				t.Fatal(err)
			}
			got := NewSSEReader(bytes.NewReader(rec.sse.Bytes()), 0)
			for i, want := range sent {
				ev, err := got.Next()
				if err != nil {
					t.Fatalf("event %d missing", i)
				}
				if typ := gjson.Get(want[1], "type").Str; string(ev.Name) != typ {
					t.Errorf("event %d named %s, want %s", i, ev.Name, typ)
				}
				if i == 0 {
					if m := gjson.GetBytes(ev.Data, "message.model").Str; m != "bedrock/claude" {
						t.Errorf("message_start model %q", m)
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
			if m := rec.accumulate(t); len(m.Content) == 0 {
				t.Errorf("accumulated %s", m.RawJSON())
			}
			if len(rec.usages) != 1 || rec.usages[0].PromptTokens != c.input || (c.output > 0 && rec.usages[0].CompletionTokens != c.output) {
				t.Errorf("usage %+v (the stream's own, not the invocation metrics)", rec.usages)
			}
		})
	}
}

// TestBedrockMessagesStreamMetricsFallback: a stream whose events carry no usage is billed from Bedrock's
// invocation metrics.
func TestBedrockMessagesStreamMetricsFallback(t *testing.T) {
	sse := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[]}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	stream, _ := invokeStream(t, []byte(sse), `{"inputTokenCount":20,"outputTokenCount":5,"cacheReadInputTokenCount":100,"cacheWriteInputTokenCount":7}`)
	rec := &eventRecorder{}
	if err := relayAll(NewBedrock(BedrockOptions{}).NewMessagesStream(&Request{ClientModel: "m"}), NewEventStreamReader(bytes.NewReader(stream), 0), rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.usages) != 1 || rec.usages[0].PromptTokens != 127 || rec.usages[0].CachedTokens != 100 ||
		rec.usages[0].CacheWriteTokens != 7 || rec.usages[0].CompletionTokens != 5 {
		t.Errorf("usage %+v", rec.usages)
	}
	if strings.Contains(rec.sse.String(), bedrockMetricsKey) {
		t.Errorf("the client got Bedrock's metrics:\n%s", rec.sse.String())
	}
}

// TestBedrockMessagesStreamFaults: an exception message is the upstream's error in Anthropic's shape
// (throttling a 429 rate_limit_error, which the engine retries before anything was sent); a stream that ends
// before message_stop is cut, with the usage seen so far reported.
func TestBedrockMessagesStreamFaults(t *testing.T) {
	sse, err := os.ReadFile(filepath.Join(anthropicFixtures, "messages_stream_text.sse"))
	if err != nil {
		t.Fatal(err)
	}
	stream, _ := invokeStream(t, sse, "")
	// cut inside the fourth chunk event
	cut := stream[:remainingStart(t, stream, 3)+10]
	rec := &eventRecorder{}
	err = relayAll(NewBedrock(BedrockOptions{}).NewMessagesStream(&Request{ClientModel: "m"}), NewEventStreamReader(bytes.NewReader(cut), 0), rec)
	var e *Error
	if !errors.As(err, &e) || e.Code != "upstream_stream_cut" {
		t.Errorf("cut stream: %v", err)
	}
	if len(rec.usages) != 1 || rec.usages[0].PromptTokens != 15 {
		t.Errorf("usage of a cut stream %+v", rec.usages)
	}

	for exc, want := range map[string]int{"throttlingException": 429, "modelStreamErrorException": 502,
		"serviceUnavailableException": 503, "validationException": 400} {
		var buf bytes.Buffer
		buf.Write(stream[:remainingStart(t, stream, 2)])
		var h eventstream.Headers
		h.Set(":exception-type", eventstream.StringValue(exc))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("exception"))
		_ = eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: h, Payload: []byte(`{"message":"Too many tokens, please wait"}`)})
		rec := &eventRecorder{}
		err := relayAll(NewBedrock(BedrockOptions{}).NewMessagesStream(&Request{ClientModel: "m"}), NewEventStreamReader(&buf, 0), rec)
		if !errors.As(err, &e) || e.Status != want {
			t.Errorf("%s: %v, want status %d", exc, err, want)
			continue
		}
		body := gjson.ParseBytes(AppendMessagesError(nil, e))
		if body.Get("type").Str != "error" || body.Get("error.type").Str != MessagesErrorType(want) ||
			!strings.Contains(body.Get("error.message").Str, "Too many tokens, please wait") {
			t.Errorf("%s: error body %s", exc, body.Raw)
		}
	}
}

// remainingStart returns the byte offset where event n (0-based) of an event stream starts.
func remainingStart(t *testing.T, stream []byte, n int) int {
	t.Helper()
	off := 0
	for range n {
		if off+4 > len(stream) {
			t.Fatal("short stream")
		}
		off += int(uint32(stream[off])<<24 | uint32(stream[off+1])<<16 | uint32(stream[off+2])<<8 | uint32(stream[off+3]))
	}
	return off
}

// TestBedrockCountTokens: CountTokens gets the InvokeModel body base64-encoded, on the foundation model id
// (CountTokens takes no inference profile), with a max_tokens above the thinking budget; the answer
// becomes {"input_tokens":N}.
func TestBedrockCountTokens(t *testing.T) {
	b := NewBedrock(BedrockOptions{})
	body := `{"model":"bedrock/claude","thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"Hi"}]}`
	out, err := b.BuildCountTokens(&Request{Body: []byte(body), Model: "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens" {
		t.Errorf("path %s", out.Path)
	}
	inner, err := base64.StdEncoding.DecodeString(gjson.GetBytes(out.Body, "input.invokeModel.body").Str)
	if err != nil {
		t.Fatalf("body %s: %v", out.Body, err)
	}
	m := gjson.ParseBytes(inner)
	if m.Get("anthropic_version").Str != BedrockAnthropicVersion || m.Get("model").Exists() || m.Get("max_tokens").Int() != 2049 ||
		m.Get("messages.0.content").Str != "Hi" {
		t.Errorf("counted body %s", inner)
	}
	got, u, err := b.TranslateCountTokens(&Request{}, []byte(`{"inputTokens":17}`))
	if err != nil || string(got) != `{"input_tokens":17}` || u.Origin != usage.Reported || u.TotalTokens != 0 {
		t.Errorf("count %s %+v %v", got, u, err)
	}
	if _, _, err := b.TranslateCountTokens(&Request{}, []byte(`{"count":1}`)); err == nil {
		t.Error("an answer without inputTokens was accepted")
	}
}

// TestBedrockMessagesError: Bedrock's errors reach Messages clients Anthropic-shaped with AWS's status mapping
// and message.
func TestBedrockMessagesError(t *testing.T) {
	h := http.Header{"X-Amzn-Errortype": {"ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}}
	e := NewBedrock(BedrockOptions{}).TranslateMessagesError(429, h, []byte(`{"message":"Too many requests, please wait before trying again."}`))
	if e.Status != 429 || string(AppendMessagesError(nil, e)) !=
		`{"type":"error","error":{"type":"rate_limit_error","message":"bedrock: ThrottlingException: Too many requests, please wait before trying again."}}` {
		t.Errorf("%d %s", e.Status, AppendMessagesError(nil, e))
	}
	h = http.Header{"X-Amzn-Errortype": {"ValidationException"}}
	e = NewBedrock(BedrockOptions{}).TranslateMessagesError(400, h, []byte(`{"message":"invalid beta flag"}`))
	if e.Status != 400 || gjson.GetBytes(AppendMessagesError(nil, e), "error.type").Str != "invalid_request_error" {
		t.Errorf("%d %s", e.Status, AppendMessagesError(nil, e))
	}
}

// TestBedrockCachePointTTL: cache_control with ttl "1h" becomes a one-hour cachePoint on Converse, others the
// default one; Converse's cacheDetails and the Messages API's cache_creation report the one-hour writes,
// which are priced apart.
func TestBedrockCachePointTTL(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"Long rules","cache_control":{"type":"ephemeral","ttl":"1h"}}]},` +
		`{"role":"user","content":[{"type":"text","text":"Question","cache_control":{"type":"ephemeral"}}]}],` +
		`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}},"cache_control":{"type":"ephemeral","ttl":"1h"}}]}`
	out, err := NewBedrock(BedrockOptions{}).BuildRequest(&Request{Body: []byte(body), Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	if err != nil {
		t.Fatal(err)
	}
	root := gjson.ParseBytes(out.Body)
	if root.Get("system.1").Raw != `{"cachePoint":{"type":"default","ttl":"1h"}}` ||
		root.Get("messages.0.content.1").Raw != `{"cachePoint":{"type":"default"}}` ||
		root.Get("toolConfig.tools.1").Raw != `{"cachePoint":{"type":"default","ttl":"1h"}}` {
		t.Errorf("cache points in %s", out.Body)
	}
	u := bedrockUsage(gjson.Parse(`{"inputTokens":5,"outputTokens":2,"cacheReadInputTokens":100,"cacheWriteInputTokens":300,` +
		`"cacheDetails":[{"inputTokens":200,"ttl":"1h"},{"inputTokens":100,"ttl":"5m"}]}`))
	if u.CacheWriteTokens != 300 || u.CacheWrite1hTokens != 200 || u.PromptTokens != 405 {
		t.Errorf("Converse usage %+v", u)
	}
	_, mu, err := NewBedrock(BedrockOptions{}).TranslateMessages(&Request{ClientModel: "c"}, []byte(`{"type":"message","usage":{"input_tokens":5,`+
		`"cache_creation_input_tokens":300,"cache_read_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":2}}`))
	if err != nil || mu.CacheWriteTokens != 300 || mu.CacheWrite1hTokens != 200 {
		t.Errorf("Messages usage %+v %v", mu, err)
	}
}
