package transform

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// BedrockAnthropicVersion is the anthropic_version Claude models on Bedrock's InvokeModel take in the body.
const BedrockAnthropicVersion = "bedrock-2023-05-31"

// BedrockDefaultBetas are the Anthropic beta features passed to Bedrock when the provider configures no
// allowed_betas: the ones AWS documents for Claude on InvokeModel (model-parameters-anthropic-claude-messages,
// as listed in January 2026). Bedrock refuses a request naming any other with 400 "invalid beta flag", and
// Messages API clients such as Claude Code send betas only Anthropic's own API knows.
var BedrockDefaultBetas = []string{
	"computer-use-2024-10-22", "computer-use-2025-01-24", "token-efficient-tools-2025-02-19",
	"interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "dev-full-thinking-2025-05-14",
	"context-1m-2025-08-07", "context-management-2025-06-27", "effort-2025-11-24",
	"tool-search-tool-2025-10-19", "tool-examples-2025-10-29",
}

// bedrockInvokeFields are the top-level members InvokeModel takes in a Claude request body (AWS's
// model-parameters-anthropic-claude-messages page, with thinking, metadata and the fields of the effort and
// context-management betas Bedrock accepts). Bedrock refuses any other ("Extra inputs are not permitted"), so
// the others are dropped: model (in the path), stream (the operation says it), and Anthropic-only features
// such as service_tier, container, mcp_servers or speed.
var bedrockInvokeFields = []string{"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
	"stop_sequences", "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata",
	"output_config", "context_management"}

// gjsonEscape escapes a member name for a gjson/sjson path.
func gjsonEscape(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	_ MessagesDialect     = (*Bedrock)(nil)
	_ CountTokensDialect  = (*Bedrock)(nil)
	_ MessagesModelFilter = (*Bedrock)(nil)
)

// NativeMessages reports whether a Bedrock model id is Anthropic's Claude, which serves the Messages API
// through InvokeModel: a foundation model id (anthropic.claude-…), a system inference profile
// (us.anthropic.claude-…, global.anthropic.claude-…, …) or an ARN of either. Application inference profiles
// and provisioned models have opaque ARNs that do not say which model they run: they, and every other family,
// go through Converse.
func (b *Bedrock) NativeMessages(model string) bool {
	return bedrockClaudeID(model) != ""
}

// bedrockClaudeID returns the foundation model id (anthropic.claude-…) a Claude model id, inference profile or
// ARN names, "" when it names none.
func bedrockClaudeID(model string) string {
	if strings.HasPrefix(model, "arn:") {
		i := strings.LastIndexByte(model, '/')
		if i < 0 || !(strings.Contains(model, ":foundation-model/") || strings.Contains(model, ":inference-profile/")) {
			return ""
		}
		model = model[i+1:]
	}
	if strings.HasPrefix(model, "anthropic.claude") {
		return model
	}
	// a system inference profile: one geography prefix (us, eu, apac, global, us-gov, …) before the id
	if i := strings.IndexByte(model, '.'); i > 0 && strings.HasPrefix(model[i+1:], "anthropic.claude") &&
		!strings.ContainsAny(model[:i], ":/") {
		return model[i+1:]
	}
	return ""
}

// BuildMessages sends the client's Messages request to InvokeModel (/model/{id}/invoke, or
// /invoke-with-response-stream when streamed): the body as the client sent it, with model, stream and any
// member Bedrock does not take removed (bedrockInvokeFields) and anthropic_version bedrock-2023-05-31 set
// (the only version Bedrock takes, whatever the client sent). The
// client's anthropic-beta header values, and an anthropic_beta array already in the body, become the body's
// anthropic_beta array, keeping those the provider allows (BedrockOptions.Betas, else BedrockDefaultBetas).
func (b *Bedrock) BuildMessages(req *Request) (*Outgoing, error) {
	body, err := b.invokeBody(req)
	if err != nil {
		return nil, err
	}
	seg, err := bedrockModelPath(req.Model)
	if err != nil {
		return nil, err
	}
	op := "/invoke"
	h := http.Header{"Content-Type": {"application/json"}}
	if req.Stream {
		op = "/invoke-with-response-stream"
		h.Set("Accept", "application/vnd.amazon.eventstream")
		h.Set("X-Amzn-Bedrock-Accept", "application/json")
	}
	return &Outgoing{Path: "/model/" + seg + op, Body: body, Header: h}, nil
}

// invokeBody is the InvokeModel body of a Messages request.
func (b *Bedrock) invokeBody(req *Request) ([]byte, error) {
	if _, err := requestObject(req.Body); err != nil {
		return nil, err
	}
	body := req.Body
	var drop []string
	gjson.ParseBytes(body).ForEach(func(k, _ gjson.Result) bool {
		if !containsString(bedrockInvokeFields, k.Str) {
			drop = append(drop, k.Str)
		}
		return true
	})
	var err error
	for _, k := range drop {
		if body, err = sjson.DeleteBytes(body, gjsonEscape(k)); err != nil {
			break
		}
	}
	if err == nil {
		body, err = sjson.SetBytes(body, "anthropic_version", BedrockAnthropicVersion)
	}
	if err != nil {
		return nil, InvalidRequest("model", "could not prepare the Bedrock request: "+err.Error())
	}
	var client []string
	client = append(client, req.ClientHeader.Values("anthropic-beta")...)
	gjson.GetBytes(body, "anthropic_beta").ForEach(func(_, v gjson.Result) bool {
		if v.Type == gjson.String {
			client = append(client, v.Str)
		}
		return true
	})
	betas := b.betas(client)
	if len(betas) == 0 {
		body, err = sjson.DeleteBytes(body, "anthropic_beta")
	} else {
		raw := []byte{'['}
		for i, s := range betas {
			if i > 0 {
				raw = append(raw, ',')
			}
			raw = AppendJSONString(raw, s)
		}
		body, err = sjson.SetRawBytes(body, "anthropic_beta", append(raw, ']'))
	}
	if err != nil {
		return nil, InvalidRequest("anthropic_beta", "could not set anthropic_beta: "+err.Error())
	}
	return body, nil
}

// betas returns the client's betas Bedrock is allowed to get, each once, in order.
func (b *Bedrock) betas(client []string) []string {
	allowed := b.opts.Betas
	if len(allowed) == 0 {
		allowed = BedrockDefaultBetas
	}
	return appendBetas(nil, client, allowed)
}

// TranslateMessages returns InvokeModel's answer, an Anthropic Message, with model set to the client's name,
// and its usage (cache reads and writes included).
func (b *Bedrock) TranslateMessages(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("bedrock"), err)
	}
	out, err := sjson.SetBytes(body, "model", req.ClientModel)
	if err != nil {
		return nil, usage.Usage{}, badUpstream("bedrock: the InvokeModel answer is not a JSON object")
	}
	u := gjson.GetBytes(body, "usage")
	if !u.IsObject() {
		return out, usage.Usage{}, nil
	}
	return out, MessagesUsage(u), nil
}

// TranslateMessagesError maps a Bedrock error as TranslateError does (the Messages surface writes it in
// Anthropic's shape, its type from the status: ThrottlingException becomes a 429 rate_limit_error); a body
// that is already Anthropic-shaped is kept.
func (b *Bedrock) TranslateMessagesError(status int, h http.Header, body []byte) *Error {
	e := b.TranslateError(status, h, body)
	if IsMessagesError(body) {
		e.Raw = append([]byte(nil), body...)
	}
	return e
}

// NewMessagesStream returns the relay of one InvokeModelWithResponseStream answer: each chunk event's
// payload ({"bytes":"<base64>"}) is one Anthropic stream event, relayed as the Anthropic dialect relays
// them.
func (b *Bedrock) NewMessagesStream(req *Request) StreamTranslator {
	return &bedrockMessagesStream{relay: messagesRelay{model: req.ClientModel, provider: req.provider("bedrock")}}
}

// bedrockMessagesStream unwraps Bedrock's chunk events into the Anthropic events they carry.
type bedrockMessagesStream struct {
	relay messagesRelay
	buf   []byte
}

// bedrockMetricsKey is the member Bedrock adds to the last event (message_stop) with its own counts.
const bedrockMetricsKey = "amazon-bedrock-invocationMetrics"

// Translate decodes one chunk and relays its event. An exception message (throttlingException,
// modelStreamErrorException, …) is the upstream's error, mapped as ConverseStream's are. The invocation
// metrics of the last event are removed from what the client gets (it is not part of Anthropic's event) and
// used only when the stream reported no usage of its own.
func (s *bedrockMessagesStream) Translate(ev Event, sink Sink) (bool, error) {
	name := string(ev.Name)
	if exc, ok := strings.CutPrefix(name, "exception:"); ok {
		msg := ""
		if CheckJSON(ev.Data) == nil {
			msg = gjson.GetBytes(ev.Data, "message").String()
		}
		if msg == "" {
			msg = "upstream stream error"
		}
		s.relay.reportSeen(sink)
		return false, bedrockError(0, exc, msg)
	}
	if name != "chunk" || len(bytes.TrimSpace(ev.Data)) == 0 {
		return false, nil
	}
	if err := CheckJSON(ev.Data); err != nil {
		return false, badUpstreamJSON(s.relay.provider, err)
	}
	enc := gjson.Get(stringView(ev.Data), "bytes") // Str views ev.Data: nothing is copied
	if enc.Type != gjson.String {
		return false, badUpstream("bedrock: a chunk event without bytes")
	}
	n := base64.StdEncoding.DecodedLen(len(enc.Str))
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(s.buf[:n], bytesView(enc.Str))
	if err != nil {
		return false, badUpstream("bedrock: a chunk event's bytes are not base64: " + err.Error())
	}
	data := s.buf[:n]
	if bytes.Contains(data, []byte(bedrockMetricsKey)) && CheckJSON(data) == nil {
		m := gjson.GetBytes(data, bedrockMetricsKey)
		if m.IsObject() && !s.relay.seenUsage {
			s.relay.addUsage(gjson.Parse(`{"input_tokens":` + strconv.FormatInt(m.Get("inputTokenCount").Int(), 10) +
				`,"output_tokens":` + strconv.FormatInt(m.Get("outputTokenCount").Int(), 10) +
				`,"cache_read_input_tokens":` + strconv.FormatInt(m.Get("cacheReadInputTokenCount").Int(), 10) +
				`,"cache_creation_input_tokens":` + strconv.FormatInt(m.Get("cacheWriteInputTokenCount").Int(), 10) + `}`))
		}
		if stripped, err := sjson.DeleteBytes(data, bedrockMetricsKey); err == nil {
			data = stripped
		}
	}
	return s.relay.Translate(Event{Data: data}, sink)
}

// Finish reports a stream cut before message_stop, as the Anthropic relay does.
func (s *bedrockMessagesStream) Finish(sink Sink, eof bool) error {
	return s.relay.Finish(sink, eof)
}

// BuildCountTokens asks Bedrock's CountTokens (/model/{id}/count-tokens) for the InvokeModel body the
// request would send, base64-encoded as AWS's JSON protocol sends blobs. CountTokens takes foundation model
// ids only: an inference profile (us.anthropic.claude-…) or its ARN is counted on the model it names.
func (b *Bedrock) BuildCountTokens(req *Request) (*Outgoing, error) {
	inner, err := b.invokeBody(req)
	if err != nil {
		return nil, err
	}
	if !gjson.GetBytes(inner, "max_tokens").Exists() {
		// count_tokens requests need none, InvokeModel bodies do (above a thinking budget)
		if inner, err = sjson.SetBytes(inner, "max_tokens", max(gjson.GetBytes(inner, "thinking.budget_tokens").Int()+1, 1)); err != nil {
			return nil, InvalidRequest("max_tokens", "could not prepare the count: "+err.Error())
		}
	}
	model := bedrockClaudeID(req.Model)
	if model == "" {
		model = req.Model
	}
	seg, err := bedrockModelPath(model)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 0, base64.StdEncoding.EncodedLen(len(inner))+48)
	body = append(body, `{"input":{"invokeModel":{"body":"`...)
	body = base64.StdEncoding.AppendEncode(body, inner)
	body = append(body, `"}}}`...)
	return &Outgoing{Path: "/model/" + seg + "/count-tokens", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}}, nil
}

// TranslateCountTokens turns CountTokens' {"inputTokens":N} into the Messages API's {"input_tokens":N}.
// Counting costs nothing: its usage is a reported zero.
func (b *Bedrock) TranslateCountTokens(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("bedrock"), err)
	}
	n := gjson.GetBytes(body, "inputTokens")
	if n.Type != gjson.Number {
		return nil, usage.Usage{}, badUpstream("bedrock: the CountTokens answer has no inputTokens")
	}
	return AppendCountTokens(nil, int(n.Int())), usage.Usage{Origin: usage.Reported}, nil
}
