package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// chatRequest is what validation learned about a chat completion request, read in one pass with gjson.
type chatRequest struct {
	body         []byte
	model        string
	fallbacks    []string
	stream       bool
	includeUsage bool
	maxTokens    int
	// n is the number of choices asked for: 1 unless the request sets n.
	n int
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// validate checks the body against the rules every upstream relies on and returns what the gateway needs from
// it. Each failure names the offending field.
func (g *Gateway) validate(body []byte) (*chatRequest, *transform.Error) {
	if err := transform.CheckJSON(body); err != nil {
		return nil, transform.BadRequestJSON(err)
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, transform.InvalidRequest("", "the request body must be a JSON object with model and messages")
	}
	req := &chatRequest{body: body, n: 1}
	var bad *transform.Error
	sawMessages := false
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if v.Type != gjson.String || v.Str == "" {
				bad = transform.InvalidRequest("model", "model must be a non-empty string such as 'openai/gpt-4o-mini'")
			} else {
				bad = checkModelName("model", -1, v.Str)
			}
			req.model = v.Str
		case "messages":
			sawMessages = true
			bad = validateMessages(v)
		case "stream":
			if v.Type != gjson.True && v.Type != gjson.False {
				bad = transform.InvalidRequest("stream", "stream must be a boolean")
			}
			req.stream = v.Type == gjson.True
		case "stream_options":
			if v.Type != gjson.Null && !v.IsObject() {
				bad = transform.InvalidRequest("stream_options", "stream_options must be an object")
			}
			req.includeUsage = v.Get("include_usage").Type == gjson.True
		case "max_tokens", "max_completion_tokens":
			if v.Type == gjson.Null {
				return true
			}
			n, ok := intValue(v)
			if !ok || n < 1 || n > g.cfg.MaxOutputTokens {
				bad = transform.InvalidRequest(k.Str, fmt.Sprintf("%s must be an integer from 1 to %d", k.Str, g.cfg.MaxOutputTokens))
			}
			if n > req.maxTokens {
				req.maxTokens = n
			}
		case "n":
			if v.Type == gjson.Null {
				return true
			}
			n, ok := intValue(v)
			if !ok || n < 1 || n > g.cfg.MaxN {
				bad = transform.InvalidRequest("n", fmt.Sprintf("n must be an integer from 1 to %d (the number of choices this gateway allows)", g.cfg.MaxN))
			}
			req.n = n
		case "temperature":
			bad = numberIn(v, k.Str, 0, 2)
		case "top_p":
			bad = numberIn(v, k.Str, 0, 1)
		case "metadata":
			if v.Type != gjson.Null && !v.IsObject() {
				bad = transform.InvalidRequest("metadata", "metadata must be an object of string values")
			}
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
		}
		return bad == nil
	})
	if bad != nil {
		return nil, bad
	}
	if !sawMessages {
		return nil, transform.InvalidRequest("messages", "messages is required: a non-empty array of message objects")
	}
	if req.model == "" && len(req.fallbacks) > 0 {
		req.model, req.fallbacks = req.fallbacks[0], req.fallbacks[1:]
	}
	if req.model == "" {
		if g.cfg.DefaultModel == "" {
			return nil, transform.InvalidRequest("model", "model is required: name one such as 'openai/gpt-4o-mini'")
		}
		req.model = g.cfg.DefaultModel
	}
	if !req.stream {
		req.includeUsage = false
	}
	return req, nil
}

func validateMessages(v gjson.Result) *transform.Error {
	if !v.IsArray() {
		return transform.InvalidRequest("messages", "messages must be a non-empty array of message objects")
	}
	var bad *transform.Error
	i := 0
	v.ForEach(func(_, m gjson.Result) bool {
		param := "messages[" + strconv.Itoa(i) + "]"
		if !m.IsObject() {
			bad = transform.InvalidRequest(param, param+" must be an object with role and content")
			return false
		}
		role := m.Get("role")
		if role.Type != gjson.String || !validRoles[role.Str] {
			bad = transform.InvalidRequest(param+".role",
				param+".role must be one of system, developer, user, assistant, tool")
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
