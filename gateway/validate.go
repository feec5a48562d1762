package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// apiRequest is what validation learned about a request to a JSON endpoint, read in one pass with gjson.
type apiRequest struct {
	body         []byte
	model        string
	fallbacks    []string
	stream       bool
	includeUsage bool
	maxTokens    int
	// n is the number of choices asked for: 1 unless the request sets n.
	n int
	// required counts the endpoint's required fields seen.
	required int
	// Media units asked for: the images' size and quality (n is their number), a speech input's characters.
	imageSize, imageQuality string
	characters              int
	// videoSeconds and videoSize are a video job's length and size as asked (0 and "" when not).
	videoSeconds int
	videoSize    string
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// validate checks the body against the rules every upstream relies on and returns what the gateway needs from
// it: the fields every endpoint shares (model, models, stream, stream_options) here, the endpoint's own with
// ep.field. Each failure names the offending field.
func (g *Gateway) validate(ep *endpoint, body []byte) (*apiRequest, *transform.Error) {
	req := &apiRequest{}
	if e := g.validateInto(req, ep, body); e != nil {
		return nil, e
	}
	return req, nil
}

// validateInto is validate filling in req, which it overwrites, so that the caller decides where req lives.
func (g *Gateway) validateInto(req *apiRequest, ep *endpoint, body []byte) *transform.Error {
	if err := transform.CheckJSON(body); err != nil {
		return transform.BadRequestJSON(err)
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return transform.InvalidRequest("", "the request body must be a JSON object with model and "+
			strings.Join(ep.required, " and "))
	}
	*req = apiRequest{body: body, n: 1}
	var bad *transform.Error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case ep.modelField:
			if v.Type != gjson.String || v.Str == "" {
				bad = transform.InvalidRequest(k.Str, k.Str+" must be a non-empty string such as 'openai/gpt-4o-mini'")
			} else {
				bad = checkModelName(k.Str, -1, v.Str)
			}
			req.model = v.Str
		case "stream":
			if !ep.streams {
				bad = ep.field(g, req, k.Str, v)
				break
			}
			if v.Type != gjson.True && v.Type != gjson.False {
				bad = transform.InvalidRequest("stream", "stream must be a boolean")
			}
			req.stream = v.Type == gjson.True
		case "stream_options":
			if !ep.streams {
				bad = ep.field(g, req, k.Str, v)
				break
			}
			if v.Type != gjson.Null && !v.IsObject() {
				bad = transform.InvalidRequest("stream_options", "stream_options must be an object")
			}
			req.includeUsage = v.Get("include_usage").Type == gjson.True
		case "models":
			if !v.IsArray() {
				bad = transform.InvalidRequest("models", "models must be an array of model names to try in order")
				return false
			}
			i := 0
			v.ForEach(func(_, m gjson.Result) bool {
				if m.Type != gjson.String || m.Str == "" {
					bad = transform.InvalidRequest("models", "models must contain only non-empty model names")
					return false
				}
				if bad = checkModelName("models", i, m.Str); bad != nil {
					return false
				}
				req.fallbacks = append(req.fallbacks, m.Str)
				i++
				return true
			})
		default:
			bad = ep.field(g, req, k.Str, v)
		}
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	if req.required < len(ep.required) {
		return missingField(ep, root)
	}
	if req.model == "" && len(req.fallbacks) > 0 {
		req.model, req.fallbacks = req.fallbacks[0], req.fallbacks[1:]
	}
	if req.model == "" {
		if g.cfg.DefaultModel == "" {
			return transform.InvalidRequest(ep.modelField, ep.modelField+" is required: name one such as 'openai/gpt-4o-mini'")
		}
		req.model = g.cfg.DefaultModel
	}
	if !req.stream {
		req.includeUsage = false
	}
	return nil
}

// missingField is the error for the first required field of ep that the request lacks.
func missingField(ep *endpoint, root gjson.Result) *transform.Error {
	for _, f := range ep.required {
		if !root.Get(f).Exists() {
			if f == "messages" {
				return transform.InvalidRequest("messages", "messages is required: a non-empty array of message objects")
			}
			return transform.InvalidRequest(f, f+" is required")
		}
	}
	return transform.InvalidRequest("", "the request lacks a required field")
}

// chatField validates a chat completion request's own fields.
func chatField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	if key == "messages" {
		req.required++
		return validateMessages(v)
	}
	return generationField(g, req, key, v)
}

// generationField validates the fields chat and text completions share.
func generationField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "max_tokens", "max_completion_tokens":
		if v.Type == gjson.Null {
			return nil
		}
		n, ok := intValue(v)
		if !ok || n < 1 || n > g.cfg.MaxOutputTokens {
			return transform.InvalidRequest(key, fmt.Sprintf("%s must be an integer from 1 to %d", key, g.cfg.MaxOutputTokens))
		}
		if n > req.maxTokens {
			req.maxTokens = n
		}
	case "n":
		if v.Type == gjson.Null {
			return nil
		}
		n, ok := intValue(v)
		if !ok || n < 1 || n > g.cfg.MaxN {
			return transform.InvalidRequest("n", fmt.Sprintf("n must be an integer from 1 to %d (the number of choices this gateway allows)", g.cfg.MaxN))
		}
		req.n = n
	case "temperature":
		return numberIn(v, key, 0, 2)
	case "top_p":
		return numberIn(v, key, 0, 1)
	case "metadata":
		if v.Type != gjson.Null && !v.IsObject() {
			return transform.InvalidRequest("metadata", "metadata must be an object of string values")
		}
	}
	return nil
}

// completionsField validates a legacy text completion request's own fields.
func completionsField(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	if key == "prompt" {
		req.required++
		if v.Type != gjson.String && !v.IsArray() {
			return transform.InvalidRequest("prompt", "prompt must be a string, an array of strings, or token ids")
		}
		return nil
	}
	return generationField(g, req, key, v)
}

// embeddingsField validates an embeddings request's own fields.
func embeddingsField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "input":
		req.required++
		return validateInput(v)
	case "dimensions":
		if v.Type == gjson.Null {
			return nil
		}
		if n, ok := intValue(v); !ok || n < 1 {
			return transform.InvalidRequest("dimensions", "dimensions must be a positive integer")
		}
	case "encoding_format":
		if v.Type != gjson.Null && v.Str != "float" && v.Str != "base64" {
			return transform.InvalidRequest("encoding_format", `encoding_format must be "float" or "base64"`)
		}
	}
	return nil
}

// validateInput checks an embeddings input: a non-empty string, or a non-empty array of non-empty strings, of
// token ids, or of non-empty arrays of token ids.
func validateInput(v gjson.Result) *transform.Error {
	const msg = "input must be a non-empty string, an array of non-empty strings, an array of token ids or an array of token-id arrays"
	switch {
	case v.Type == gjson.String:
		if v.Str == "" {
			return transform.InvalidRequest("input", msg)
		}
		return nil
	case !v.IsArray():
		return transform.InvalidRequest("input", msg)
	}
	var bad *transform.Error
	n := 0
	v.ForEach(func(_, e gjson.Result) bool {
		n++
		switch {
		case e.Type == gjson.String && e.Str != "":
		case e.Type == gjson.Number:
		case e.IsArray() && hasElements(e):
		default:
			bad = transform.InvalidRequest("input", msg)
		}
		return bad == nil
	})
	if bad == nil && n == 0 {
		bad = transform.InvalidRequest("input", msg)
	}
	return bad
}

// moderationsField validates a moderation request's own fields.
func moderationsField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	if key == "input" {
		req.required++
		if v.Type != gjson.String && !v.IsArray() {
			return transform.InvalidRequest("input", "input must be a string, an array of strings, or an array of text and image_url parts")
		}
	}
	return nil
}

// rerankField validates a rerank request's own fields.
func rerankField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "query":
		req.required++
		if v.Type != gjson.String {
			return transform.InvalidRequest("query", "query must be a string")
		}
	case "documents":
		req.required++
		if !v.IsArray() || !hasElements(v) {
			return transform.InvalidRequest("documents", "documents must be a non-empty array of strings or objects with text")
		}
	case "top_n":
		if n, ok := intValue(v); v.Type != gjson.Null && (!ok || n < 1) {
			return transform.InvalidRequest("top_n", "top_n must be a positive integer")
		}
	}
	return nil
}

func hasElements(v gjson.Result) bool {
	found := false
	v.ForEach(func(_, _ gjson.Result) bool {
		found = true
		return false
	})
	return found
}

func validateMessages(v gjson.Result) *transform.Error {
	if !v.IsArray() {
		return transform.InvalidRequest("messages", "messages must be a non-empty array of message objects")
	}
	var bad *transform.Error
	i := 0
	v.ForEach(func(_, m gjson.Result) bool {
		if !m.IsObject() {
			param := "messages[" + strconv.Itoa(i) + "]"
			bad = transform.InvalidRequest(param, param+" must be an object with role and content")
			return false
		}
		role := m.Get("role")
		if role.Type != gjson.String || !validRoles[role.Str] {
			param := "messages[" + strconv.Itoa(i) + "]"
			bad = transform.InvalidRequest(param+".role",
				param+".role must be one of system, developer, user, assistant, tool or function")
			return false
		}
		i++
		return true
	})
	if bad == nil && i == 0 {
		bad = transform.InvalidRequest("messages", "messages must not be empty")
	}
	return bad
}

func intValue(v gjson.Result) (int, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	f := v.Float()
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, false
	}
	return int(f), true
}

func numberIn(v gjson.Result, name string, lo, hi float64) *transform.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if v.Type != gjson.Number || v.Float() < lo || v.Float() > hi {
		return &transform.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: name,
			Message: fmt.Sprintf("%s must be a number from %g to %g", name, lo, hi)}
	}
	return nil
}

// maxModelName is the longest model name accepted, in bytes.
const maxModelName = 256

// checkModelName refuses a model name that is longer than maxModelName bytes, is not valid UTF-8 or holds a
// control character: no provider serves such a name, and it would reach logs, metrics and upstream URLs. U+FFFD
// counts as invalid UTF-8, as it is what a JSON lone surrogate decodes to. index is the name's place in the
// param array, or -1 when param is the name itself. It does not allocate for a good name.
func checkModelName(param string, index int, name string) *transform.Error {
	reason := ""
	if len(name) > maxModelName {
		reason = fmt.Sprintf("is %d bytes long; model names are at most %d bytes", len(name), maxModelName)
	}
	for _, c := range name {
		if reason != "" {
			break
		}
		if c == utf8.RuneError { // an invalid byte, or a decoded lone surrogate
			reason = "is not valid UTF-8"
		} else if unicode.IsControl(c) {
			reason = fmt.Sprintf("contains the control character %U", c)
		}
	}
	if reason == "" {
		return nil
	}
	what := param
	if index >= 0 {
		what += "[" + strconv.Itoa(index) + "]"
	}
	e := transform.InvalidRequest(param, what+" "+reason+
		": send a configured model name such as 'openai/gpt-4o-mini' (GET /v1/models lists them)")
	e.Code = "invalid_model_name"
	return e
}
