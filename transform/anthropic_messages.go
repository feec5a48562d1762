package transform

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// MessagesDialect serves Anthropic's Messages API (POST /v1/messages) natively: the client's body goes
// upstream with only model rewritten (and what the upstream's own envelope needs, such as Bedrock's and
// Vertex AI's anthropic_version), the answer and each stream event come back as the upstream sent them (model
// rewritten), and upstream errors keep their body when it is Anthropic-shaped. A dialect without it serves
// the Messages API through Chat Completions (MessagesToChat, ChatToMessages, MessagesStream).
type MessagesDialect interface {
	BuildMessages(req *Request) (*Outgoing, error)
	// TranslateMessages returns the upstream's Message with model set to req.ClientModel, and its usage.
	TranslateMessages(req *Request, body []byte) ([]byte, usage.Usage, error)
	// NewMessagesStream returns a translator that passes each upstream event (model rewritten in
	// message_start) to its sink's Event method (the sink is an EventSink), and the usage of message_start
	// and message_delta to Usage.
	NewMessagesStream(req *Request) StreamTranslator
	// TranslateMessagesError is TranslateError keeping the upstream's error body (Error.Raw) when it has the
	// Messages API's shape, for the client to get as it is.
	TranslateMessagesError(status int, h http.Header, body []byte) *Error
}

// CountTokensDialect is implemented by a MessagesDialect whose upstream counts the tokens of a Messages
// request (POST /v1/messages/count_tokens). Without it count_tokens is answered with the gateway's own count
// (CountMessagesTokens), with no upstream call.
type CountTokensDialect interface {
	BuildCountTokens(req *Request) (*Outgoing, error)
	// TranslateCountTokens returns the upstream's count as {"input_tokens":N}.
	TranslateCountTokens(req *Request, body []byte) ([]byte, usage.Usage, error)
}

// MessagesModelFilter is implemented by a MessagesDialect that serves the Messages API natively for some of
// its models only (Claude on Bedrock and Vertex AI): the others are served through Chat Completions, and
// their count_tokens with the gateway's own count.
type MessagesModelFilter interface {
	// NativeMessages reports whether the upstream model (as the route names it) speaks the Messages API.
	NativeMessages(model string) bool
}

var (
	_ MessagesDialect    = (*Anthropic)(nil)
	_ CountTokensDialect = (*Anthropic)(nil)
)

// BuildMessages passes the client's Messages request through with model set to req.Model. The client's
// anthropic-version and anthropic-beta headers (req.ClientHeader) are sent as they are, betas filtered by
// AnthropicOptions.Betas, since beta headers come paired with body fields; without them the configured
// version and beta are sent.
func (a *Anthropic) BuildMessages(req *Request) (*Outgoing, error) {
	return a.passthrough(req, "/v1/messages")
}

// BuildCountTokens passes a count_tokens request through as BuildMessages does.
func (a *Anthropic) BuildCountTokens(req *Request) (*Outgoing, error) {
	return a.passthrough(req, "/v1/messages/count_tokens")
}

func (a *Anthropic) passthrough(req *Request, path string) (*Outgoing, error) {
	if _, err := requestObject(req.Body); err != nil {
		return nil, err
	}
	body, err := sjson.SetBytes(req.Body, "model", req.Model)
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	h := make(http.Header, 2)
	version := req.ClientHeader.Get("anthropic-version")
	if version == "" {
		version = a.opts.Version
	}
	h.Set("anthropic-version", version)
	if beta := a.betas(req.ClientHeader.Values("anthropic-beta")); beta != "" {
		h.Set("anthropic-beta", beta)
	}
	return &Outgoing{Path: path, Body: body, Header: h}, nil
}

// betas returns the anthropic-beta value for the client's: the client's betas the options allow (all when
// Betas is empty), then the configured Beta's, each once.
func (a *Anthropic) betas(client []string) string {
	out := appendBetas(nil, client, a.opts.Betas)
	return strings.Join(appendBetas(out, []string{a.opts.Beta}, nil), ",")
}

// appendBetas appends to out each beta named in values (anthropic-beta header values: comma-separated lists)
// that allowed holds (any, when allowed is empty) and out does not have yet.
func appendBetas(out, values, allowed []string) []string {
	for _, v := range values {
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if b != "" && !containsString(out, b) && (len(allowed) == 0 || containsString(allowed, b)) {
				out = append(out, b)
			}
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TranslateMessages sets the answer's model to the client's name and reads its usage.
func (a *Anthropic) TranslateMessages(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("anthropic"), err)
	}
	out, err := sjson.SetBytes(body, "model", req.ClientModel)
	if err != nil {
		return nil, usage.Usage{}, badUpstream("the upstream answer is not a JSON object")
	}
	u := gjson.GetBytes(body, "usage")
	if !u.IsObject() {
		return out, usage.Usage{}, nil
	}
	return out, MessagesUsage(u), nil
}

// TranslateCountTokens returns the upstream's answer as it is. Counting tokens costs nothing: its usage is
// a reported zero.
func (a *Anthropic) TranslateCountTokens(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("anthropic"), err)
	}
	return body, usage.Usage{Origin: usage.Reported}, nil
}

// TranslateMessagesError is TranslateError with the upstream's body and status kept when the body is
// Anthropic-shaped (a 529 overloaded_error stays a 529, which the retry policy retries by default).
func (a *Anthropic) TranslateMessagesError(status int, h http.Header, body []byte) *Error {
	e := a.TranslateError(status, h, body)
	if IsMessagesError(body) {
		e.Raw = append([]byte(nil), body...)
		e.Status = status
	}
	return e
}

// NewMessagesStream returns the relay of one Messages stream.
func (a *Anthropic) NewMessagesStream(req *Request) StreamTranslator {
	return &messagesRelay{model: req.ClientModel, provider: req.provider("anthropic")}
}

// messagesRelay relays one Anthropic Messages stream event by event, keeping the usage counts only.
type messagesRelay struct {
	model, provider                    string
	input, cacheRead, cacheWrite, outp int64
	cacheWrite1h                       int64
	seenUsage, stopped                 bool
}

// Translate relays one event; an error event ends the stream with the upstream's error (its body kept).
func (s *messagesRelay) Translate(ev Event, sink Sink) (bool, error) {
	if s.stopped {
		return true, nil
	}
	es, ok := sink.(EventSink)
	if !ok {
		return false, badUpstream("the Messages relay needs an event sink")
	}
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return false, nil
	}
	if err := CheckJSON(ev.Data); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	data := ev.Data
	root := gjson.ParseBytes(data)
	typ := root.Get("type").String()
	name := string(ev.Name)
	if name == "" {
		name = typ
	}
	switch typ {
	case "message_start":
		s.addUsage(root.Get("message.usage"))
		if m := root.Get("message.model"); m.Exists() {
			var err error
			if data, err = sjson.SetBytes(data, "message.model", s.model); err != nil {
				return false, badUpstream("message_start is not a JSON object")
			}
		}
	case "message_delta":
		s.addUsage(root.Get("usage"))
	case "message_stop":
		s.stopped = true
	case "error":
		e := anthropicError(0, root.Get("error.type").String(), root.Get("error.message").String(), nil)
		e.Raw = append([]byte(nil), data...)
		return false, e
	}
	if err := es.Event(name, data); err != nil {
		return false, err
	}
	if s.stopped {
		s.report(sink)
	}
	return s.stopped, nil
}

// addUsage takes the counts present in a usage object; each is a whole-message total so far.
func (s *messagesRelay) addUsage(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	s.seenUsage = true
	for _, f := range [...]struct {
		name string
		dst  *int64
	}{{"input_tokens", &s.input}, {"cache_read_input_tokens", &s.cacheRead},
		{"cache_creation_input_tokens", &s.cacheWrite}, {"output_tokens", &s.outp},
		{"cache_creation.ephemeral_1h_input_tokens", &s.cacheWrite1h}} {
		if v := u.Get(f.name); v.Type == gjson.Number {
			*f.dst = v.Int()
		}
	}
}

func (s *messagesRelay) report(sink Sink) {
	if !s.seenUsage {
		return
	}
	u := usage.Usage{PromptTokens: int(s.input + s.cacheRead + s.cacheWrite), CompletionTokens: int(s.outp),
		CachedTokens: int(s.cacheRead), CacheWriteTokens: int(s.cacheWrite),
		CacheWrite1hTokens: int(min(s.cacheWrite1h, s.cacheWrite)), Origin: usage.Reported}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	sink.Usage(u, nil)
}

// reportSeen reports the usage seen so far of a stream that fails.
func (s *messagesRelay) reportSeen(sink Sink) {
	if s.seenUsage && !s.stopped {
		s.report(sink)
	}
}

// Finish reports a stream that ended before message_stop as cut, with the usage seen so far.
func (s *messagesRelay) Finish(sink Sink, eof bool) error {
	if s.stopped {
		return nil
	}
	if s.seenUsage {
		s.report(sink)
	}
	return StreamCut("provider '" + s.provider + "' ended the stream before message_stop")
}
