package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/aibackend/caddy-ai-gateway/openapi"
)

// conformance is every integration site's client transport: each exchange a test makes is checked against
// the OpenAPI document that the same gateway serves (…/openapi.json under the request's mount), so the
// document and the behaviour cannot drift apart. Every answer must conform to it, errors included; a request
// must conform when the gateway accepted it (2xx), since the tests also send requests meant to be refused.
// Streamed answers are checked event by event as the test reads them, without holding them back.
type conformance struct {
	t    *testing.T
	base http.RoundTripper
	key  string

	mu       sync.Mutex
	routers  map[string]routers.Router // by mount, e.g. "/v1"
	failures []string
	checked  int
}

func newConformance(t *testing.T, base http.RoundTripper, key string) *conformance {
	c := &conformance{t: t, base: base, key: key, routers: map[string]routers.Router{}}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.failures {
			t.Errorf("OpenAPI conformance: %s", f)
		}
	})
	return c
}

func (c *conformance) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > 1500 {
		msg = msg[:1500] + "…"
	}
	c.mu.Lock()
	c.failures = append(c.failures, msg)
	c.mu.Unlock()
}

// mountOf is the part of path before the gateway endpoint it names, "" when the path is no API endpoint.
func mountOf(path string) (string, bool) {
	for _, m := range []string{"/api/v1/", "/v1/"} {
		if strings.HasPrefix(path, m) {
			rest := path[len(m):]
			if rest == "openapi.json" || rest == "openapi.yaml" || strings.HasPrefix(rest, "docs") {
				return "", false
			}
			return strings.TrimSuffix(m, "/"), true
		}
	}
	return "", false
}

// router loads (once per mount) the document the gateway serves for mount, pointed at the site's address.
func (c *conformance) router(req *http.Request, mount string) (routers.Router, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.routers[mount]; ok {
		return r, nil
	}
	origin := req.URL.Scheme + "://" + req.URL.Host
	get, _ := http.NewRequest(http.MethodGet, origin+mount+"/openapi.json", nil)
	get.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.base.RoundTrip(get)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/openapi.json = %d %s", mount, resp.StatusCode, b)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the served document is invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: origin + mount}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	c.routers[mount] = r
	return r, nil
}

func (c *conformance) RoundTrip(req *http.Request) (*http.Response, error) {
	mount, api := mountOf(req.URL.Path)
	var reqBody []byte
	if api && req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil || !api {
		return resp, err
	}
	rt, err := c.router(req, mount)
	if err != nil {
		c.fail("%s %s: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	route, params, err := rt.FindRoute(req)
	if err != nil {
		// Not in the document: the gateway's answer (JSON) must be an unknown path (404) or a method the
		// endpoint refuses (405); with fallthrough, the next handler answers such paths its own way.
		gateway := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
		if gateway && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			c.fail("%s %s answered %d but is not in the document", req.Method, req.URL.Path, resp.StatusCode)
		}
		return resp, nil
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req.Clone(context.Background()), PathParams: params, Route: route, Options: opts}
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	if in.Request.Header.Get("Content-Type") == "" && len(reqBody) > 0 {
		// The gateway reads a JSON endpoint's body as JSON whatever its Content-Type says, as the providers do.
		in.Request.Header.Set("Content-Type", "application/json")
	}
	if resp.StatusCode/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.fail("%s %s was accepted (%d) but its request does not conform: %v\nrequest: %.300s", req.Method,
				req.URL.Path, resp.StatusCode, err, reqBody)
		}
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		schema := streamSchema(route, resp.StatusCode)
		if schema == nil {
			c.fail("%s %s streamed (%d) but the document declares no stream for it", req.Method, req.URL.Path, resp.StatusCode)
			return resp, nil
		}
		resp.Body = &eventChecker{ReadCloser: resp.Body, c: c, schema: schema, what: req.Method + " " + req.URL.Path}
	case strings.HasPrefix(ct, "application/json"):
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if err != nil {
			return resp, nil
		}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b)), Options: opts})
		if err != nil {
			c.fail("%s %s answered %d that does not conform: %v\nbody: %.300s", req.Method, req.URL.Path, resp.StatusCode, err, b)
		}
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
	return resp, nil
}

// streamSchema is the schema of the events' data of the route's answer with status, nil when none.
func streamSchema(route *routers.Route, status int) *openapi3.Schema {
	r := route.Operation.Responses.Status(status)
	if r == nil || r.Value == nil {
		return nil
	}
	mt := r.Value.Content.Get("text/event-stream")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// eventChecker passes a streamed body through untouched and checks the data of each complete event.
type eventChecker struct {
	io.ReadCloser
	c      *conformance
	schema *openapi3.Schema
	what   string
	line   []byte
}

func (e *eventChecker) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	for _, b := range p[:n] {
		if b != '\n' {
			e.line = append(e.line, b)
			continue
		}
		e.check(bytes.TrimSuffix(e.line, []byte("\r")))
		e.line = e.line[:0]
	}
	return n, err
}

func (e *eventChecker) check(line []byte) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		return
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		e.c.fail("%s: a streamed event's data is not JSON: %.200s", e.what, data)
		return
	}
	if err := e.schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		e.c.fail("%s: a streamed event does not conform: %v\nevent: %.300s", e.what, err, data)
	}
}

// TestConformanceCatchesDrift checks the checker: an answer missing a required field, a refused request
// answered 200, and a streamed event of the wrong shape are each reported.
func TestConformanceCatchesDrift(t *testing.T) {
	doc, err := openapi.Build(openapi.Spec{Server: "/v1", Endpoints: []string{"chat_completions", "models"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/openapi.json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		case r.URL.Query().Get("stream") != "":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"object\":\"chat.completion.chunk\",\"choices\":\"none\"}\n\ndata: [DONE]\n\n")
		default: // a chat completion without usage, id or choices
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"chat.completion","model":"m"}`)
		}
	}))
	defer srv.Close()
	c := &conformance{t: t, base: http.DefaultTransport, key: "k", routers: map[string]routers.Router{}}
	client := &http.Client{Transport: c}
	for _, u := range []string{"/v1/chat/completions", "/v1/chat/completions?stream=1"} {
		resp, err := client.Post(srv.URL+u, "application/json", strings.NewReader(`{"messages":"not a list"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want := []string{"was accepted (200) but its request does not conform", "answered 200 that does not conform",
		"a streamed event does not conform"}
	all := strings.Join(c.failures, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the checker did not report %q; it reported:\n%s", w, all)
		}
	}
}
