package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// responsesSurface is OpenAI's Responses API (POST …/responses): natively for dialects that implement
// transform.ResponsesDialect (OpenAI and Azure, and OpenAI-compatible providers set to `responses native`),
// through chat completions for the others. Responses the gateway makes itself are kept in its conversation
// store (responseStore) for previous_response_id and GET …/responses/{id}; the ids of responses an upstream
// keeps name that provider (wrapResourceID), so later requests for them reach it.
var responsesSurface = &surface{
	native: func(d transform.Dialect) *dialectOps {
		rd, ok := d.(transform.ResponsesDialect)
		if !ok {
			return nil
		}
		build := func(req *transform.Request) (*transform.Outgoing, error) {
			// A previous_response_id still wrapped is one the gateway expanded from its own store.
			if prev := gjson.GetBytes(req.Body, "previous_response_id"); prev.Type == gjson.String {
				if _, _, wrapped := unwrapResourceID(prev.Str); wrapped {
					body, _ := sjson.DeleteBytes(req.Body, "previous_response_id")
					r := *req
					r.Body = body
					return rd.BuildResponses(&r)
				}
			}
			return rd.BuildResponses(req)
		}
		return &dialectOps{build: clampedToModel("max_output_tokens", build), translate: rd.TranslateResponses,
			stream: rd.NewResponsesStream}
	},
	toChat: func(req *transform.Request) ([]byte, error) {
		return transform.ResponsesToChat(clampOutputTokens(req.Body, "max_output_tokens", modelOutputLimit(req.Model)))
	},
	fromChat: func(req *transform.Request, chat []byte, u usage.Usage) ([]byte, error) {
		return transform.ChatToResponses(req, chat, u)
	},
	newStream: transform.NewResponsesSurfaceStream,
	setUsage: func(body []byte, u usage.Usage) []byte {
		body, _ = sjson.SetRawBytes(body, "usage", transform.AppendResponsesUsage(nil, u, -1))
		return body
	},
	finalEvent: "response.completed",
	costField:  "response.usage.cost",
	prepare:    prepareResponses,
	done:       keepResponse,
}

// responsesField validates a Responses request's own fields.
func responsesField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "input":
		if v.Type != gjson.String && !v.IsArray() && v.Type != gjson.Null {
			return transform.InvalidRequest("input", "input must be a string or an array of input items")
		}
	case "instructions", "previous_response_id":
		if v.Type != gjson.String && v.Type != gjson.Null {
			return transform.InvalidRequest(key, key+" must be a string")
		}
	case "max_output_tokens":
		if v.Type == gjson.Null {
			return nil
		}
		// Above max_output_tokens it is lowered, not refused (prepareResponses): agent clients ask for a lot.
		n, ok := intValue(v)
		if !ok || n < 1 {
			return transform.InvalidRequest(key, key+" must be a positive integer")
		}
		req.maxTokens = min(n, g.cfg.MaxOutputTokens)
	case "store", "background", "parallel_tool_calls":
		if v.Type != gjson.True && v.Type != gjson.False && v.Type != gjson.Null {
			return transform.InvalidRequest(key, key+" must be a boolean")
		}
	case "tools", "include":
		if !v.IsArray() && v.Type != gjson.Null {
			return transform.InvalidRequest(key, key+" must be an array")
		}
	case "temperature", "top_p", "metadata":
		return generationField(g, req, key, v)
	}
	return nil
}

// countResponsesPrompt counts a Responses request's instructions and input: the text of its messages,
// function calls' names and arguments, and tool outputs.
func countResponsesPrompt(t *usage.Tokenizer, model string, body []byte) int {
	root := gjson.ParseBytes(body)
	return countText(t, model, root.Get("instructions"), 0) + countText(t, model, root.Get("input"), 0)
}

// countText counts the strings of v that are text: v itself, or in arrays and objects the members text,
// content, output, arguments, name, refusal and input (of custom tool calls), to a bounded depth.
func countText(t *usage.Tokenizer, model string, v gjson.Result, depth int) int {
	switch {
	case v.Type == gjson.String:
		return t.Count(model, v.Str)
	case depth > 8:
		return 0
	case v.IsArray():
		n := 0
		v.ForEach(func(_, e gjson.Result) bool {
			n += countText(t, model, e, depth+1)
			return true
		})
		return n
	case v.IsObject():
		n := 0
		v.ForEach(func(k, e gjson.Result) bool {
			switch k.Str {
			case "text", "content", "output", "arguments", "name", "refusal", "input", "summary":
				n += countText(t, model, e, depth+1)
			}
			return true
		})
		return n
	}
	return 0
}

// countResponsesOutput counts a Response object's output; reasoning is the reasoning items' part.
func countResponsesOutput(t *usage.Tokenizer, model string, body []byte) (completion, reasoning int) {
	gjson.GetBytes(body, "output").ForEach(func(_, item gjson.Result) bool {
		n := countText(t, model, item, 1)
		completion += n
		if item.Get("type").Str == "reasoning" {
			reasoning += n
		}
		return true
	})
	return completion, reasoning
}

// prepareResponses lowers max_output_tokens to the gateway's max_output_tokens (recorded in the request log)
// and resolves previous_response_id. A response the gateway keeps (made through chat) is
// expanded: its conversation goes before the request's input, for any provider. A response an upstream
// keeps pins the request to that provider, which gets its own id back. Any other id is refused.
func prepareResponses(g *Gateway, r *http.Request, x *exchange) *transform.Error {
	g.clampOutput(x, "max_output_tokens")
	prev := gjson.GetBytes(x.req.body, "previous_response_id")
	if prev.Type != gjson.String || prev.Str == "" {
		return nil
	}
	if kept := g.keptResponse(r.Context(), prev.Str, x.res.ClientKey); kept != nil {
		history := joinArrays(kept.History, normalizedInput(gjson.GetBytes(x.req.body, "input")))
		body, err := sjson.SetRawBytes(x.req.body, "input", history)
		if err != nil {
			return transform.InvalidRequest("input", "could not continue the conversation: "+err.Error())
		}
		x.req.body = body
		x.prompt = -1
		return nil
	}
	provider, id, ok := unwrapResourceID(prev.Str)
	u := g.providers[provider]
	if !ok || u == nil || u.ops[Responses] == nil || !u.ops[Responses].native {
		e := transform.InvalidRequest("previous_response_id", "previous response with id '"+prev.Str+"' not found: "+
			"it expired, was stored with store: false, or was not made through this gateway")
		e.Code = "previous_response_not_found"
		return e
	}
	routed := false
	g.eachTarget(x.req, func(t router.Target) bool {
		routed = t.Provider == provider
		return !routed
	})
	if !routed {
		return transform.InvalidRequest("previous_response_id", "previous response '"+prev.Str+"' is kept by provider '"+
			provider+"', which model '"+x.req.model+"' is not routed to: name a model of that provider")
	}
	body, err := sjson.SetBytes(x.req.body, "previous_response_id", id)
	if err != nil {
		return transform.InvalidRequest("previous_response_id", "could not set previous_response_id")
	}
	x.req.body, x.pin = body, provider
	return nil
}

// joinArrays returns the elements of the JSON arrays a and b in one array.
func joinArrays(a, b []byte) []byte {
	inner := func(arr []byte) []byte {
		arr = bytes.TrimSpace(arr)
		if len(arr) < 2 {
			return nil
		}
		return bytes.TrimSpace(arr[1 : len(arr)-1])
	}
	ai, bi := inner(a), inner(b)
	out := make([]byte, 0, len(ai)+len(bi)+3)
	out = append(append(out, '['), ai...)
	if len(ai) > 0 && len(bi) > 0 {
		out = append(out, ',')
	}
	return append(append(out, bi...), ']')
}

// normalizedInput is a request's input as an array of items (a string is one user message).
func normalizedInput(v gjson.Result) []byte {
	switch {
	case v.Type == gjson.String:
		return append(append([]byte(`[{"role":"user","content":`), v.Raw...), "}]"...)
	case v.IsArray():
		return []byte(v.Raw)
	}
	return []byte("[]")
}

// keepResponse keeps a response made through chat in the conversation store, unless the request said
// store: false: its input items and its output (message and tool call items; reasoning summaries cannot be
// replayed to a provider) make the history a later previous_response_id continues.
func keepResponse(g *Gateway, r *http.Request, x *exchange, answer []byte) {
	root := gjson.ParseBytes(x.req.body)
	if root.Get("store").Type == gjson.False || len(answer) == 0 {
		return
	}
	id := gjson.GetBytes(answer, "id").Str
	if id == "" {
		return
	}
	input := normalizedInput(root.Get("input"))
	inputCount := 0
	gjson.ParseBytes(input).ForEach(func(_, _ gjson.Result) bool { inputCount++; return true })
	output := []byte{'['}
	gjson.GetBytes(answer, "output").ForEach(func(_, item gjson.Result) bool {
		switch item.Get("type").Str {
		case "message", "function_call", "custom_tool_call":
			b, _ := sjson.DeleteBytes([]byte(item.Raw), "id")
			b, _ = sjson.DeleteBytes(b, "status")
			if len(output) > 1 {
				output = append(output, ',')
			}
			output = append(output, b...)
		}
		return true
	})
	history := joinArrays(input, append(output, ']'))
	g.storeError(g.responses.Put(context.WithoutCancel(r.Context()),
		&StoredResponse{ID: id, History: history, InputCount: inputCount, Response: append([]byte(nil), answer...),
			Owner: x.res.ClientKey}))
}

// keptResponse returns the response the store keeps as id for the client identity owner, or nil; a store
// failure counts as none, as does another client's response.
func (g *Gateway) keptResponse(ctx context.Context, id, owner string) *StoredResponse {
	kept, err := g.responses.Get(ctx, id)
	g.storeError(err)
	if kept == nil || kept.Owner != owner {
		return nil
	}
	return kept
}

// serveResponse serves the stored-response requests: GET and DELETE …/responses/{id}, GET
// …/responses/{id}/input_items and POST …/responses/{id}/cancel. A response the gateway keeps is answered
// from its store; one an upstream keeps is asked of the provider its id names.
func (g *Gateway) serveResponse(w http.ResponseWriter, r *http.Request, res *Result) {
	ep := endpointByID[Responses]
	_, rest, _ := strings.Cut(r.URL.Path, "/responses/")
	id, sub, _ := strings.Cut(rest, "/")
	method := r.Method
	switch {
	case id == "":
	case sub == "" && (method == http.MethodGet || method == http.MethodDelete):
	case sub == "input_items" && method == http.MethodGet:
	case sub == "cancel" && method == http.MethodPost:
	default:
		g.failAs(w, res, ep, transform.NewError(http.StatusNotFound, "invalid_request_error", "unknown_url",
			"unknown request URL: "+method+" "+r.URL.Path))
		return
	}
	notFound := transform.NewError(http.StatusNotFound, "invalid_request_error", "not_found",
		"no response with id '"+id+"': it expired, was stored with store: false, or was not made through this gateway")
	if kept := g.keptResponse(r.Context(), id, res.ClientKey); kept != nil {
		res.Status = http.StatusOK
		switch {
		case sub == "input_items":
			writeJSON(w, inputItemsList(kept))
		case sub == "cancel":
			g.failAs(w, res, ep, transform.InvalidRequest("", "only background responses can be cancelled"))
		case method == http.MethodDelete:
			_, err := g.responses.Delete(r.Context(), id)
			g.storeError(err)
			b := transform.AppendJSONString([]byte(`{"id":`), id)
			writeJSON(w, append(b, `,"object":"response","deleted":true}`...))
		default:
			writeJSON(w, kept.Response)
		}
		return
	}
	provider, upstreamID, ok := unwrapResourceID(id)
	u := g.providers[provider]
	if !ok || u == nil || u.ops[Responses] == nil || !u.ops[Responses].native {
		g.failAs(w, res, ep, notFound)
		return
	}
	if upstreamID == "." || upstreamID == ".." {
		g.failAs(w, res, ep, notFound)
		return
	}
	rd, _ := u.Dialect.(transform.ResponsesDialect)
	restPath := "/" + url.PathEscape(upstreamID)
	if sub != "" {
		restPath += "/" + sub
	}
	if r.URL.RawQuery != "" {
		restPath += "?" + r.URL.RawQuery
	}
	out, err := rd.BuildResponseResource(method, restPath)
	if err != nil {
		g.failAs(w, res, ep, asError(err))
		return
	}
	res.Provider = provider
	resp, cancel, err := g.send(r.Context(), u, 0, out, r.Header, false)
	if err != nil {
		g.failAs(w, res, ep, g.redact.error(transportError(r.Context(), u.Name, err)))
		return
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := readLimited(resp.Body, maxErrorBody)
		g.failAs(w, res, ep, g.redact.error(u.Dialect.TranslateError(resp.StatusCode, resp.Header, b)))
		return
	}
	b, err := readResponse(resp, g.cfg.MaxResponseBody)
	if err != nil || transform.CheckJSON(b) != nil {
		g.failAs(w, res, ep, transform.NewError(http.StatusBadGateway, "server_error", "bad_upstream_response",
			"provider '"+provider+"' sent an answer that is not JSON"))
		return
	}
	if gjson.GetBytes(b, "object").Str == "response" {
		if rid := gjson.GetBytes(b, "id"); rid.Type == gjson.String && rid.Str != "" {
			b, _ = sjson.SetBytes(b, "id", wrapResourceID(provider, rid.Str))
		}
	}
	res.Status = http.StatusOK
	writeJSON(w, b)
}

// inputItemsList is the input_items list of a kept response.
func inputItemsList(kept *StoredResponse) []byte {
	b := []byte(`{"object":"list","data":[`)
	i := 0
	gjson.ParseBytes(kept.History).ForEach(func(_, item gjson.Result) bool {
		if i >= kept.InputCount {
			return false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item.Raw...)
		i++
		return true
	})
	return append(b, `],"first_id":null,"last_id":null,"has_more":false}`...)
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
