package transform

import (
	"bytes"
	"net/http"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ ResponsesDialect = (*OpenAI)(nil)

// BuildResponses passes a Responses API request through with model rewritten and the gateway's own fields
// dropped. Azure OpenAI serves the API at /openai/v1/responses, the deployment named by model.
func (o *OpenAI) BuildResponses(req *Request) (*Outgoing, error) {
	model := req.Model
	if az := o.opts.Azure; az != nil {
		if d, ok := az.Deployments[model]; ok {
			model = d
		}
	}
	body, err := sjson.SetBytesOptions(req.Body, "model", model, &sjson.Options{Optimistic: true})
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	parsed := gjson.Parse(stringView(body))
	for _, f := range gatewayFields {
		if parsed.Get(f).Exists() {
			body, _ = sjson.DeleteBytes(body, f)
		}
	}
	return &Outgoing{Path: o.responsesPath(""), Body: body}, nil
}

// responsesPath is the path of the Responses API followed by rest.
func (o *OpenAI) responsesPath(rest string) string {
	if o.opts.Azure != nil {
		return "/openai/v1/responses" + rest
	}
	return "/responses" + rest
}

// BuildResponseResource builds a request for a stored response.
func (o *OpenAI) BuildResponseResource(method, rest string) (*Outgoing, error) {
	return &Outgoing{Method: method, Path: o.responsesPath(rest)}, nil
}

// TranslateResponses keeps the upstream's Response object with model and id replaced.
func (o *OpenAI) TranslateResponses(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider(o.name()), err)
	}
	if e := errorAnswer(body); e != nil {
		return nil, usage.Usage{}, e
	}
	out := rewriteResponse(body, "", req)
	u, _ := parseResponsesUsage(gjson.GetBytes(out, "usage"))
	return out, u, nil
}

// rewriteResponse returns data with the model and id of the Response object at path (the top level when
// empty) set to the client's model and the id the client sees.
func rewriteResponse(data []byte, path string, req *Request) []byte {
	prefix := ""
	if path != "" {
		prefix = path + "."
	}
	out := data
	if m := gjson.GetBytes(data, prefix+"model"); m.Type == gjson.String {
		out, _ = sjson.SetBytes(out, prefix+"model", req.ClientModel)
	}
	if id := gjson.GetBytes(out, prefix+"id"); id.Type == gjson.String && id.Str != "" && req.ResourceID != nil {
		out, _ = sjson.SetBytes(out, prefix+"id", req.ResourceID(id.Str))
	}
	return out
}

// parseResponsesUsage reads a Responses usage object. ok is false when v is absent or null.
func parseResponsesUsage(v gjson.Result) (usage.Usage, bool) {
	if !v.IsObject() {
		return usage.Usage{}, false
	}
	u := usage.Usage{Origin: usage.Reported}
	var rep usage.Report
	u.PromptTokens = rep.Count(v.Get("input_tokens"))
	u.CompletionTokens = rep.Count(v.Get("output_tokens"))
	u.TotalTokens = rep.Count(v.Get("total_tokens"))
	u.CachedTokens = rep.Count(v.Get("input_tokens_details.cached_tokens"))
	u.ReasoningTokens = rep.Count(v.Get("output_tokens_details.reasoning_tokens"))
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u), true
}

// NewResponsesStream relays the upstream's Responses events.
func (o *OpenAI) NewResponsesStream(req *Request) StreamTranslator {
	return &responsesRelay{req: req, provider: req.provider(o.name())}
}

// responsesRelay relays a Responses API stream event by event. Events that carry the response object
// (response.created, .in_progress, .completed, ...) get its model and id rewritten; the others pass as they
// are. An error event before anything was relayed fails the attempt (another target may be tried).
type responsesRelay struct {
	req      *Request
	provider string
	done     bool
}

// Translate implements StreamTranslator.
func (s *responsesRelay) Translate(ev Event, sink Sink) (bool, error) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || bytes.Equal(data, doneMarker) {
		return false, nil
	}
	if err := CheckJSON(data); err != nil {
		return false, badUpstreamJSON(s.provider, err)
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return false, badUpstream("provider '" + s.provider + "' sent a stream event that is not a JSON object")
	}
	typ := root.Get("type").Str
	if typ == "" {
		typ = string(ev.Name)
	}
	if typ == "error" {
		return false, responsesStreamError(root)
	}
	out := data
	if root.Get("response").IsObject() {
		out = rewriteResponse(data, "response", s.req)
	}
	switch typ {
	case "response.completed", "response.incomplete", "response.failed":
		s.done = true
		if u, ok := parseResponsesUsage(gjson.GetBytes(out, "response.usage")); ok {
			sink.Usage(u, nil)
		}
	}
	es, ok := sink.(EventSink)
	if !ok {
		return false, badUpstream("the Responses API stream of provider '" + s.provider + "' needs an event sink")
	}
	return s.done, es.Event(typ, out)
}

// responsesStreamError is the error an upstream error event reports, nested or flat.
func responsesStreamError(root gjson.Result) *Error {
	obj := root.Get("error")
	if !obj.IsObject() {
		obj = root
	}
	e := &Error{Status: openAIErrorStatus(obj), Message: obj.Get("message").String(), Code: obj.Get("code").String(),
		Type: obj.Get("type").String(), Param: obj.Get("param").String()}
	if e.Type == "" {
		e.Type = TypeForStatus(e.Status)
	}
	if e.Status == http.StatusBadGateway && e.Code == "" {
		e.Type = "server_error"
	}
	return e
}

// Finish accepts a stream that ended with its final response event; any other end is an error.
func (s *responsesRelay) Finish(_ Sink, eof bool) error {
	if !s.done {
		return StreamCut("the upstream closed the Responses stream before response.completed")
	}
	return nil
}
