package simulator

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// gemini speaks the Gemini API's generateContent and streamGenerateContent.
type gemini struct{}

func (gemini) parse(ex *exchange, body []byte) error {
	if transform.CheckJSON(body) != nil {
		return errors.New("Invalid JSON payload received. The body is not valid JSON.")
	}
	req := gjson.ParseBytes(body)
	contents := req.Get("contents")
	if !contents.IsArray() || len(contents.Array()) == 0 {
		return errors.New("* GenerateContentRequest.contents: contents is not specified")
	}
	if err := checkThoughtSignatures(ex.model, contents); err != nil {
		return err
	}
	ex.maxTokens = int(req.Get("generationConfig.maxOutputTokens").Int())
	ex.promptTokens = estimateTokens(req.Get("systemInstruction"), contents, req.Get("tools"))

	calling := req.Get("toolConfig.functionCallingConfig")
	if strings.EqualFold(calling.Get("mode").String(), "NONE") || isFunctionResponse(last(contents)) {
		return nil
	}
	var declarations gjson.Result
	req.Get("tools").ForEach(func(_, tool gjson.Result) bool {
		declarations = tool.Get("functionDeclarations")
		return !declarations.Exists()
	})
	tools := toolSpec{list: declarations, name: "name", schema: "parametersJsonSchema", alt: "parameters"}
	ex.tool = tools.pick(calling.Get("allowedFunctionNames.0").String())
	return nil
}

// checkThoughtSignatures rejects, as Gemini 3 does, a history whose model turns carry a function call
// without the thought signature the model sent with it (only the first call of a turn carries one).
func checkThoughtSignatures(model string, contents gjson.Result) error {
	if !strings.HasPrefix(model, "gemini-3") {
		return nil
	}
	var err error
	contents.ForEach(func(i, content gjson.Result) bool {
		if content.Get("role").String() != "model" {
			return true
		}
		content.Get("parts").ForEach(func(j, part gjson.Result) bool {
			if !part.Get("functionCall").Exists() {
				return true
			}
			if part.Get("thoughtSignature").String() == "" {
				err = fmt.Errorf("Function call is missing a thought_signature in functionCall parts. This is "+
					"required for tools to work correctly, and missing thought_signature may lead to degraded "+
					"model performance. Additional data, function call `default_api:%s` , position %d. Please "+
					"refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
					part.Get("functionCall.name").String(), i.Int()+1)
			}
			return false
		})
		return err == nil
	})
	return err
}

// isFunctionResponse reports whether a content carries function responses.
func isFunctionResponse(c gjson.Result) bool {
	found := false
	c.Get("parts").ForEach(func(_, part gjson.Result) bool {
		found = part.Get("functionResponse").Exists()
		return !found
	})
	return found
}

func (gemini) finishReason(ex *exchange) string {
	if ex.truncated && ex.tool == nil {
		return "MAX_TOKENS"
	}
	return "STOP"
}

// appendCandidate appends one GenerateContentResponse. part is the JSON of its single part; final adds the
// finish reason; generated is the number of completion tokens so far.
func (d gemini) appendCandidate(b []byte, ex *exchange, part func([]byte) []byte, final bool, generated int, responseID string) []byte {
	b = append(b, `{"candidates":[{"content":{"parts":[`...)
	b = part(b)
	b = append(b, `],"role":"model"}`...)
	if final {
		b = append(b, `,"finishReason":`...)
		b = transform.AppendJSONString(b, d.finishReason(ex))
	}
	b = append(b, `,"index":0}]`...)
	if ex.k.reportUsage {
		b = append(b, `,"usageMetadata":{"promptTokenCount":`...)
		b = strconv.AppendInt(b, int64(ex.promptTokens), 10)
		b = append(b, `,"candidatesTokenCount":`...)
		b = strconv.AppendInt(b, int64(generated), 10)
		b = append(b, `,"totalTokenCount":`...)
		b = strconv.AppendInt(b, int64(ex.promptTokens+generated), 10)
		b = append(b, `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":`...)
		b = strconv.AppendInt(b, int64(ex.promptTokens), 10)
		b = append(b, `}]}`...)
	}
	b = append(b, `,"modelVersion":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"responseId":`...)
	b = transform.AppendJSONString(b, responseID)
	return append(b, '}')
}

// functionCallPart returns the part of a function call; Gemini 3 models add a thought signature.
func (gemini) functionCallPart(ex *exchange) func([]byte) []byte {
	return func(b []byte) []byte {
		b = append(b, `{"functionCall":{"name":`...)
		b = transform.AppendJSONString(b, ex.tool.name)
		b = append(b, `,"args":`...)
		b = ex.tool.appendArgs(b)
		b = append(b, '}')
		if strings.HasPrefix(ex.model, "gemini-3") {
			var sig [48]byte
			_, _ = rand.Read(sig[:])
			b = append(b, `,"thoughtSignature":"`...)
			b = base64.StdEncoding.AppendEncode(b, sig[:])
			b = append(b, '"')
		}
		return append(b, '}')
	}
}

func (d gemini) appendResponse(b []byte, ex *exchange) []byte {
	if ex.tool != nil {
		return d.appendCandidate(b, ex, d.functionCallPart(ex), true, ex.completionTokens(), newResponseID())
	}
	text := func(b []byte) []byte { return append(ex.appendText(append(b, `{"text":"`...)), `"}`...) }
	return d.appendCandidate(b, ex, text, true, ex.words, newResponseID())
}

func (d gemini) stream(st *streamer, ex *exchange) error {
	id := newResponseID()
	if ex.tool != nil {
		if err := st.pace(ex.completionTokens()); err != nil {
			return err
		}
		return st.send(d.appendCandidate(st.begin(""), ex, d.functionCallPart(ex), true, ex.completionTokens(), id))
	}
	for i := 0; i < ex.words; i += ex.k.chunkTokens {
		n := min(ex.k.chunkTokens, ex.words-i)
		if err := st.pace(n); err != nil {
			return err
		}
		text := func(b []byte) []byte { return append(appendWords(append(b, `{"text":"`...), i, n), `"}`...) }
		if err := st.send(d.appendCandidate(st.begin(""), ex, text, i+n == ex.words, i+n, id)); err != nil {
			return err
		}
	}
	return nil
}

func newResponseID() string { return transform.NewID("")[:22] }

func (gemini) appendError(b []byte, status int, message string, retryAfter time.Duration) []byte {
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = transform.AppendJSONString(b, message)
	b = append(b, `,"status":`...)
	b = transform.AppendJSONString(b, geminiStatus(status))
	if status == http.StatusTooManyRequests && retryAfter > 0 {
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"`...)
		b = strconv.AppendFloat(b, retryAfter.Seconds(), 'f', -1, 64)
		b = append(b, `s"}]`...)
	}
	return append(b, "}}"...)
}

func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

func (gemini) appendCount(b []byte, promptTokens int) []byte {
	return append(strconv.AppendInt(append(b, `{"totalTokens":`...), int64(promptTokens), 10), '}')
}

func (gemini) setHeaders(http.Header) {}
