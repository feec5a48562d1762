// Package cloudfake holds loopback fakes of the cloud AI APIs (Amazon Bedrock, Google Vertex AI, Cohere)
// for tests. Each verifies what the real service verifies before it answers (SigV4 signatures, OAuth2
// access tokens and their expiry, API keys) and answers in the service's own wire format.
package cloudfake

//lint:file-ignore ST1005 the fakes answer with the services' own wording (capitalized sentences), as clients see it

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// BedrockCall is one request the Bedrock fake accepted.
type BedrockCall struct {
	// ModelID is the model id, inference profile or ARN, unescaped from the path.
	ModelID string
	// Op is converse, converse-stream, invoke or invoke-with-response-stream.
	Op string
	// AccessKeyID is the signer's access key id, empty for an API key.
	AccessKeyID string
	// APIKey is the Bearer API key, empty for a signed request.
	APIKey string
	Body   []byte
	Header http.Header
}

// Bedrock is a fake bedrock-runtime endpoint. It checks every request's SigV4 signature (service bedrock,
// its Region) against the known credentials, or its Bedrock API key, and refuses a mismatch with 403 as AWS
// does. It answers Converse with Answer's JSON and ConverseStream with the same answer cut into AWS
// event-stream messages (messageStart, contentBlockStart/Delta/Stop, messageStop, metadata), encoded with
// AWS's encoder.
type Bedrock struct {
	// Region is the signing region requests must carry.
	Region string
	// Credentials are the access keys whose signatures are accepted.
	Credentials []aws.Credentials
	// APIKeys are the accepted Bedrock API keys (Authorization: Bearer).
	APIKeys []string
	// Answer returns the Converse answer (a ConverseResponse JSON) for an accepted request, or an AWS error:
	// status > 0 with the exception type and message. Nil answers "Hello from Bedrock". For InvokeModel on a
	// Claude model, a nil answer (and status 0) is ClaudeMessage's.
	Answer func(call BedrockCall) (answer []byte, status int, exception, message string)
	// StreamFault, when set, may end an InvokeModelWithResponseStream answer early: after that many chunk
	// events, an exception message of that type (throttlingException, modelStreamErrorException, …), or,
	// with exception "", a connection closed mid-stream. after < 0: no fault.
	StreamFault func(call BedrockCall) (after int, exception, message string)

	mu    sync.Mutex
	calls []BedrockCall
}

// Calls returns the requests accepted so far.
func (b *Bedrock) Calls() []BedrockCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BedrockCall(nil), b.calls...)
}

// ServeHTTP authenticates and answers one request.
func (b *Bedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		bedrockFail(w, http.StatusBadRequest, "ValidationException", "unreadable body")
		return
	}
	call := BedrockCall{Body: body, Header: r.Header.Clone()}
	if status, exc, msg := b.authenticate(r, body, &call); status != 0 {
		bedrockFail(w, status, exc, msg)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	seg, op, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || strings.Contains(op, "/") {
		bedrockFail(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.URL.EscapedPath())
		return
	}
	call.ModelID, err = url.PathUnescape(seg)
	call.Op = op
	if err != nil {
		bedrockFail(w, http.StatusBadRequest, "ValidationException", "bad model id")
		return
	}
	claude := isBedrockClaude(call.ModelID)
	if claude && (op == "invoke" || op == "invoke-with-response-stream" || op == "count-tokens") {
		if status, exc, msg := checkClaudeInvoke(op, call.ModelID, body); status != 0 {
			bedrockFail(w, status, exc, msg)
			return
		}
	}
	b.mu.Lock()
	b.calls = append(b.calls, call)
	b.mu.Unlock()
	if claude && op == "count-tokens" {
		inner, _ := base64.StdEncoding.DecodeString(gjson.GetBytes(body, "input.invokeModel.body").Str)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"inputTokens":%d}`, ClaudeTokenCount(inner))
		return
	}
	answer, status, exc, msg := []byte(nil), 0, "", ""
	if b.Answer != nil {
		answer, status, exc, msg = b.Answer(call)
	}
	if claude && answer == nil && status == 0 && (op == "invoke" || op == "invoke-with-response-stream") {
		answer = ClaudeMessage(body, "msg_bdrk_01XFDUDYJgAACzvnptvVoYEL", call.ModelID, "Hello from Claude on Bedrock.")
	} else if b.Answer == nil {
		answer = []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Hello from Bedrock"}]}},"stopReason":"end_turn",` +
			`"usage":{"inputTokens":12,"outputTokens":4,"totalTokens":16},"metrics":{"latencyMs":100}}`)
	}
	if status != 0 {
		bedrockFail(w, status, exc, msg)
		return
	}
	switch op {
	case "converse", "invoke":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	case "converse-stream":
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		WriteConverseStream(w, answer)
	case "invoke-with-response-stream":
		after, exception, message := -1, "", ""
		if b.StreamFault != nil {
			after, exception, message = b.StreamFault(call)
		}
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
		WriteInvokeStream(w, answer, after, exception, message)
	default:
		bedrockFail(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+op)
	}
}

// authenticate checks the Bearer API key or the SigV4 signature; a non-zero status is the AWS refusal.
func (b *Bedrock) authenticate(r *http.Request, body []byte, call *BedrockCall) (int, string, string) {
	auth := r.Header.Get("Authorization")
	if key, ok := strings.CutPrefix(auth, "Bearer "); ok {
		for _, k := range b.APIKeys {
			if k == key {
				call.APIKey = key
				return 0, "", ""
			}
		}
		return http.StatusForbidden, "AccessDeniedException", "Authentication failed: invalid API key"
	}
	akid, err := VerifySigV4(r, body, "bedrock", b.Region, b.Credentials, time.Now())
	if err != nil {
		return http.StatusForbidden, "InvalidSignatureException", err.Error()
	}
	call.AccessKeyID = akid
	return 0, "", ""
}

// VerifySigV4 checks r's AWS SigV4 Authorization header as AWS does: the credential scope names a known
// access key, the region and the service; X-Amz-Date is within 5 minutes of now; and the signature, computed
// again with AWS's signer over the headers the request says it signed and the body, matches. It returns the
// access key id.
func VerifySigV4(r *http.Request, body []byte, service, region string, known []aws.Credentials, now time.Time) (string, error) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", fmt.Errorf("missing Authentication Token")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	var creds *aws.Credentials
	for i := range known {
		if known[i].AccessKeyID == scope[0] {
			creds = &known[i]
		}
	}
	if creds == nil {
		return "", fmt.Errorf("The security token included in the request is invalid.")
	}
	if scope[2] != region || scope[3] != service {
		return "", fmt.Errorf("Credential should be scoped to a valid region (%s) and service (%s), not %s/%s", region, service, scope[2], scope[3])
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || scope[1] != when.Format("20060102") {
		return "", fmt.Errorf("bad X-Amz-Date %q", r.Header.Get("X-Amz-Date"))
	}
	if d := now.Sub(when); d > 5*time.Minute || d < -5*time.Minute {
		return "", fmt.Errorf("Signature expired: %s is now earlier than %s", when.Format("20060102T150405Z"), now.Add(-5*time.Minute).Format("20060102T150405Z"))
	}
	if creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return "", fmt.Errorf("The security token included in the request is invalid.")
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	clone, _ := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(body))
	clone.URL.RawPath = r.URL.RawPath
	clone.URL.Path = r.URL.Path
	clone.Host = r.Host
	clone.ContentLength = r.ContentLength
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range signed {
		if h == "host" || h == "content-length" {
			continue
		}
		if vs := r.Header.Values(h); len(vs) > 0 {
			clone.Header[http.CanonicalHeaderKey(h)] = vs
		}
	}
	clone.Header.Del("X-Amz-Security-Token")
	clone.Header.Del("X-Amz-Date")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), *creds, clone, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return "", err
	}
	if clone.Header.Get("Authorization") != auth {
		return "", fmt.Errorf("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return creds.AccessKeyID, nil
}

// bedrockFail writes an AWS JSON error with its type in X-Amzn-ErrorType.
func bedrockFail(w http.ResponseWriter, status int, exception, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", exception+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, message)
}

// WriteConverseStream writes a Converse answer as the ConverseStream event stream Bedrock would send: text
// in deltas of a few words, tool inputs as JSON fragments, then messageStop and metadata with the usage.
func WriteConverseStream(w http.ResponseWriter, answer []byte) {
	enc := eventstream.NewEncoder()
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	send := func(event, payload string) {
		var h eventstream.Headers
		h.Set(":event-type", eventstream.StringValue(event))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("event"))
		_ = enc.Encode(w, eventstream.Message{Headers: h, Payload: []byte(payload)})
		flush()
	}
	root := gjson.ParseBytes(answer)
	send("messageStart", `{"role":"assistant","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"}`)
	i := 0
	root.Get("output.message.content").ForEach(func(_, block gjson.Result) bool {
		switch {
		case block.Get("text").Exists():
			for _, piece := range pieces(block.Get("text").Str, 12) {
				send("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":{"text":%s},"p":"abcd"}`, i, jsonString(piece)))
			}
		case block.Get("reasoningContent").Exists():
			for _, piece := range pieces(block.Get("reasoningContent.reasoningText.text").Str, 12) {
				send("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":{"reasoningContent":{"text":%s}},"p":"abcd"}`, i, jsonString(piece)))
			}
		case block.Get("toolUse").Exists():
			tu := block.Get("toolUse")
			send("contentBlockStart", fmt.Sprintf(`{"contentBlockIndex":%d,"start":{"toolUse":{"toolUseId":%s,"name":%s}},"p":"abcd"}`,
				i, jsonString(tu.Get("toolUseId").Str), jsonString(tu.Get("name").Str)))
			for _, piece := range pieces(tu.Get("input").Raw, 8) {
				send("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":{"toolUse":{"input":%s}},"p":"abcd"}`, i, jsonString(piece)))
			}
		}
		send("contentBlockStop", fmt.Sprintf(`{"contentBlockIndex":%d,"p":"abcd"}`, i))
		i++
		return true
	})
	send("messageStop", fmt.Sprintf(`{"stopReason":%s,"p":"abcd"}`, jsonString(root.Get("stopReason").Str)))
	send("metadata", fmt.Sprintf(`{"usage":%s,"metrics":{"latencyMs":120},"p":"abcd"}`, root.Get("usage").Raw))
}

// WriteInvokeStream writes a Claude Message as InvokeModelWithResponseStream sends it: one chunk event per
// Anthropic stream event (ClaudeEvents), its JSON base64-encoded in {"bytes":…}, the last (message_stop)
// carrying Bedrock's amazon-bedrock-invocationMetrics. After `after` chunks (when after >= 0) it sends an
// exception message of type exception instead, or, with exception "", stops mid-stream.
func WriteInvokeStream(w http.ResponseWriter, msg []byte, after int, exception, excMessage string) {
	enc := eventstream.NewEncoder()
	u := gjson.GetBytes(msg, "usage")
	for i, ev := range ClaudeEvents(msg) {
		if i == after {
			if exception != "" {
				WriteEventStreamException(w, exception, excMessage)
			}
			return
		}
		if gjson.Get(ev, "type").Str == "message_stop" {
			ev, _ = sjson.SetRaw(ev, "amazon-bedrock-invocationMetrics", fmt.Sprintf(
				`{"inputTokenCount":%d,"outputTokenCount":%d,"invocationLatency":812,"firstByteLatency":345,"cacheReadInputTokenCount":%d,"cacheWriteInputTokenCount":%d}`,
				u.Get("input_tokens").Int(), u.Get("output_tokens").Int(), u.Get("cache_read_input_tokens").Int(), u.Get("cache_creation_input_tokens").Int()))
		}
		var h eventstream.Headers
		h.Set(":event-type", eventstream.StringValue("chunk"))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("event"))
		payload := `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(ev)) + `","p":"abcdefghijkl"}`
		_ = enc.Encode(w, eventstream.Message{Headers: h, Payload: []byte(payload)})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// isBedrockClaude reports whether a model id, inference profile or ARN names a Claude model.
func isBedrockClaude(model string) bool {
	return strings.Contains(model, "anthropic.claude")
}

// bedrockBetas are the anthropic_beta values the fake's Claude models accept; Bedrock refuses others.
var bedrockBetas = []string{"computer-use-2024-10-22", "computer-use-2025-01-24", "token-efficient-tools-2025-02-19",
	"interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "dev-full-thinking-2025-05-14", "context-1m-2025-08-07",
	"context-management-2025-06-27", "effort-2025-11-24", "tool-search-tool-2025-10-19", "tool-examples-2025-10-29"}

// bedrockInvokeFields are the top-level members a Claude InvokeModel body may have; Bedrock refuses others.
var bedrockInvokeFields = []string{"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
	"stop_sequences", "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata",
	"output_config", "context_management"}

// checkClaudeInvoke validates an InvokeModel body for a Claude model (for count-tokens, the body inside
// input.invokeModel.body, base64) as Bedrock does: anthropic_version bedrock-2023-05-31, no model, stream
// or other member Bedrock does not know, max_tokens and messages present, known betas only. CountTokens takes foundation model ids only.
func checkClaudeInvoke(op, model string, body []byte) (int, string, string) {
	if op == "count-tokens" {
		if !strings.HasPrefix(model, "anthropic.") && !strings.Contains(model, ":foundation-model/") {
			return http.StatusBadRequest, "ValidationException", "The provided model doesn't support counting tokens."
		}
		inner, err := base64.StdEncoding.DecodeString(gjson.GetBytes(body, "input.invokeModel.body").Str)
		if err != nil || len(inner) == 0 {
			return http.StatusBadRequest, "ValidationException", "input.invokeModel.body must be the base64 of an InvokeModel body"
		}
		body = inner
	}
	root := gjson.ParseBytes(body)
	switch {
	case !gjson.ValidBytes(body):
		return http.StatusBadRequest, "ValidationException", "Malformed input request: not JSON"
	case root.Get("anthropic_version").Str != "bedrock-2023-05-31":
		return http.StatusBadRequest, "ValidationException", "Malformed input request: #: required key [anthropic_version] not found or not bedrock-2023-05-31"
	case root.Get("model").Exists():
		return http.StatusBadRequest, "ValidationException", "Malformed input request: #: extraneous key [model] is not permitted"
	case root.Get("stream").Exists():
		return http.StatusBadRequest, "ValidationException", "Malformed input request: #: extraneous key [stream] is not permitted"
	case !root.Get("max_tokens").Exists() || !root.Get("messages").IsArray():
		return http.StatusBadRequest, "ValidationException", "Malformed input request: #: required key [max_tokens] or [messages] not found"
	}
	extra := ""
	root.ForEach(func(k, _ gjson.Result) bool {
		if !slices.Contains(bedrockInvokeFields, k.Str) {
			extra = k.Str
		}
		return extra == ""
	})
	if extra != "" {
		return http.StatusBadRequest, "ValidationException", "Malformed input request: " + extra + ": Extra inputs are not permitted"
	}
	bad := ""
	root.Get("anthropic_beta").ForEach(func(_, v gjson.Result) bool {
		if !slices.Contains(bedrockBetas, v.Str) {
			bad = v.Str
		}
		return bad == ""
	})
	if bad != "" {
		return http.StatusBadRequest, "ValidationException", "invalid beta flag"
	}
	return 0, "", ""
}

// ClaudeTokenCount is the fake's token count of an InvokeModel body: one token per 4 bytes.
func ClaudeTokenCount(body []byte) int {
	return (len(body) + 3) / 4
}

// WriteEventStreamException writes an exception message as Bedrock sends one inside a stream.
func WriteEventStreamException(w io.Writer, exception, message string) {
	var h eventstream.Headers
	h.Set(":exception-type", eventstream.StringValue(exception))
	h.Set(":content-type", eventstream.StringValue("application/json"))
	h.Set(":message-type", eventstream.StringValue("exception"))
	_ = eventstream.NewEncoder().Encode(w, eventstream.Message{Headers: h, Payload: []byte(`{"message":` + jsonString(message) + `}`)})
}

// pieces cuts s into pieces of about n bytes, on rune boundaries.
func pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut < len(s) && s[cut]&0xC0 == 0x80 {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
