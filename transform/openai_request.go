package transform

import (
	"net/url"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// gatewayFields are request fields that the gateway consumes and never sends upstream.
var gatewayFields = [...]string{"models", "route"}

// BuildRequest rewrites model, asks a streaming upstream for usage (keeping the client's other stream_options),
// drops stream_options when not streaming, and drops metadata unless configured to forward it.
func (o *OpenAI) BuildRequest(req *Request) (*Outgoing, error) {
	return o.build(req, "/chat/completions")
}

// build is BuildRequest for the endpoint at path suffix (e.g. "/embeddings"): the client's bytes with model
// rewritten and the gateway's own fields dropped.
func (o *OpenAI) build(req *Request, suffix string) (*Outgoing, error) {
	// Optimistic: a model already at the top level (always, but for default_model) is replaced in one copy of
	// the body, the same bytes as sjson's full rewrite, which parses its way to the key.
	body, err := sjson.SetBytesOptions(req.Body, "model", req.Model, &sjson.Options{Optimistic: true})
	if err != nil {
		return nil, InvalidRequest("model", "could not set the model: "+err.Error())
	}
	// parsed is only asked what exists, while this body is never written to (sjson builds a new one): a view
	// of it, not a copy.
	parsed := gjson.Parse(stringView(body))
	if req.Stream {
		if !parsed.Get("stream_options.include_usage").Bool() {
			if body, err = sjson.SetBytes(body, "stream_options.include_usage", true); err != nil {
				return nil, InvalidRequest("stream_options", "stream_options must be an object")
			}
		}
	} else if parsed.Get("stream_options").Exists() {
		body, _ = sjson.DeleteBytes(body, "stream_options")
	}
	if !o.opts.ForwardMetadata && parsed.Get("metadata").Exists() {
		body, _ = sjson.DeleteBytes(body, "metadata")
	}
	for _, f := range gatewayFields {
		if parsed.Get(f).Exists() {
			body, _ = sjson.DeleteBytes(body, f)
		}
	}
	path, err := o.path(req.Model, suffix)
	if err != nil {
		return nil, err
	}
	return &Outgoing{Path: path, Body: body}, nil
}

// path is the request path of the endpoint at suffix: Azure's carries the deployment, which must be a plain
// path segment.
func (o *OpenAI) path(model, suffix string) (string, error) {
	az := o.opts.Azure
	if az == nil {
		return suffix, nil
	}
	dep := model
	if d, ok := az.Deployments[model]; ok {
		dep = d
	}
	seg, err := pathSegment("model", dep)
	if err != nil {
		return "", err
	}
	p := "/openai/deployments/" + seg + suffix
	if az.APIVersion != "" {
		p += "?api-version=" + url.QueryEscape(az.APIVersion)
	}
	return p, nil
}
