package transform

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"golang.org/x/oauth2"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// VertexAnthropicVersion is the anthropic_version Anthropic models on Vertex AI take in the request body.
const VertexAnthropicVersion = "vertex-2023-10-16"

// VertexOptions configures the Vertex AI dialect.
type VertexOptions struct {
	// Project is the Google Cloud project id.
	Project string
	// Location is the region, e.g. us-central1, or "global".
	Location string
	// TokenSource gives the OAuth2 access tokens requests carry (shared by all requests, refreshed before
	// they expire). Nil sends no token (an api_key of the provider is then needed).
	TokenSource oauth2.TokenSource
	// Gemini and Anthropic configure the translations reused for the two publishers' models.
	Gemini    GeminiOptions
	Anthropic AnthropicOptions
}

// Vertex is the dialect of Google Cloud's Vertex AI for Gemini models (publishers/google, generateContent
// and streamGenerateContent, the Gemini dialect's translation) and Anthropic models (publishers/anthropic,
// rawPredict and streamRawPredict with anthropic_version vertex-2023-10-16 in the body, the Anthropic
// dialect's translation). Models whose name starts with "claude" go to Anthropic, every other one to
// Google. Requests carry an OAuth2 access token (Authorization: Bearer), or, when the provider has an
// api_key, that key as x-goog-api-key (a Google Cloud API key bound to a service account).
type Vertex struct {
	opts      VertexOptions
	gemini    *Gemini
	anthropic *Anthropic
}

var _ Dialect = (*Vertex)(nil)

// NewVertex returns the Vertex AI dialect.
func NewVertex(opts VertexOptions) *Vertex {
	return &Vertex{opts: opts, gemini: NewGemini(opts.Gemini), anthropic: NewAnthropic(opts.Anthropic)}
}

// VertexBaseURL is the API endpoint of a location: aiplatform.googleapis.com for global, else the regional
// <location>-aiplatform.googleapis.com.
func VertexBaseURL(location string) string {
	if location == "" || location == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + location + "-aiplatform.googleapis.com"
}

// isVertexAnthropic reports whether a model is served by the anthropic publisher.
func isVertexAnthropic(model string) bool {
	return strings.HasPrefix(model, "claude")
}

// modelPath returns /v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}.
func (v *Vertex) modelPath(publisher, model string) (string, error) {
	seg, err := pathSegment("model", model)
	if err != nil {
		return "", err
	}
	return "/v1/projects/" + v.opts.Project + "/locations/" + v.opts.Location + "/publishers/" + publisher + "/models/" + seg, nil
}

// BuildRequest translates the request with the Gemini or Anthropic translation and addresses it to the
// model's Vertex endpoint.
func (v *Vertex) BuildRequest(req *Request) (*Outgoing, error) {
	if !isVertexAnthropic(req.Model) {
		out, err := v.gemini.BuildRequest(req)
		if err != nil {
			return nil, err
		}
		base, err := v.modelPath("google", req.Model)
		if err != nil {
			return nil, err
		}
		_, method, _ := strings.Cut(out.Path[len("/models/"):], ":")
		out.Path = base + ":" + method
		return out, nil
	}
	out, err := v.anthropic.BuildRequest(req)
	if err != nil {
		return nil, err
	}
	if out.Body, err = vertexAnthropicBody(out.Body); err != nil {
		return nil, err
	}
	out.Path, err = v.modelPath("anthropic", req.Model)
	if err != nil {
		return nil, err
	}
	if req.Stream {
		out.Path += ":streamRawPredict"
	} else {
		out.Path += ":rawPredict"
	}
	if beta := out.Header.Get("anthropic-beta"); beta != "" {
		out.Header = http.Header{"Anthropic-Beta": {beta}}
	} else {
		out.Header = nil
	}
	return out, nil
}

// vertexAnthropicBody turns a Messages request body into Vertex's: the model moves to the URL and
// anthropic_version into the body.
func vertexAnthropicBody(body []byte) ([]byte, error) {
	body, err := sjson.DeleteBytes(body, "model")
	if err != nil {
		return nil, err
	}
	return sjson.SetBytes(body, "anthropic_version", VertexAnthropicVersion)
}

// Authorize sets the OAuth2 access token, or the API key (x-goog-api-key) when one is configured.
func (v *Vertex) Authorize(req *http.Request, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("x-goog-api-key", apiKey)
		return nil
	}
	if v.opts.TokenSource == nil {
		return errors.New("vertex: no credentials: set credentials_file or credentials_json, or provide Application Default Credentials")
	}
	tok, err := v.opts.TokenSource.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return fmt.Errorf("vertex: the token endpoint refused the credentials: HTTP %d %s", re.Response.StatusCode, re.ErrorCode)
		}
		return fmt.Errorf("vertex: getting an access token: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

// TranslateResponse translates a Gemini or Anthropic answer.
func (v *Vertex) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if isVertexAnthropic(req.Model) {
		return v.anthropic.TranslateResponse(req, body)
	}
	return v.gemini.TranslateResponse(req, body)
}

// NewStream returns the Gemini or Anthropic stream translator (both streams are server-sent events).
func (v *Vertex) NewStream(req *Request) StreamTranslator {
	if isVertexAnthropic(req.Model) {
		return v.anthropic.NewStream(req)
	}
	return v.gemini.NewStream(req)
}

// TranslateError maps Vertex's errors: Google RPC errors ({"error":{"code","status","message"}}) for both
// publishers, Anthropic's error shape from Anthropic models. An UNAUTHENTICATED error points at the OAuth2
// credentials rather than an API key.
func (v *Vertex) TranslateError(status int, h http.Header, body []byte) *Error {
	var e *Error
	if CheckJSON(body) == nil && gjson.GetBytes(body, "type").String() == "error" {
		e = v.anthropic.TranslateError(status, h, body)
	} else {
		e = v.gemini.TranslateError(status, h, body)
	}
	e.Message = "vertex: " + strings.TrimPrefix(strings.TrimPrefix(e.Message, "gemini: "), "anthropic: ")
	if e.Status == http.StatusUnauthorized {
		e.Message = strings.Replace(e.Message, " (check the API key configured for this Gemini provider)", "", 1) +
			" (check the service account or Application Default Credentials of this Vertex AI provider)"
	}
	return e
}
