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

	cfg := req.Get("generationConfig")
	if strings.HasPrefix(cfg.Get("responseMimeType").String(), "application/json") {
		ex.jsonMode = true
		ex.schema = cfg.Get("responseJsonSchema")
		if !ex.schema.Exists() {
			ex.schema = cfg.Get("responseSchema")
		}
	}
	ex.choices = int(min(max(cfg.Get("candidateCount").Int(), 1), 8))
	ex.logprobs = cfg.Get("responseLogprobs").Bool()
	ex.topLogprobs = int(min(max(cfg.Get("logprobs").Int(), 0), 20))
	if thinking := cfg.Get("thinkingConfig"); thinking.Get("includeThoughts").Bool() {
		ex.thinking = 16
		if level := thinking.Get("thinkingLevel"); level.Exists() {
			ex.thinking = thinkingFor(level.String())
		}
		if budget := thinking.Get("thinkingBudget"); budget.Exists() && budget.Int() >= 0 {
			ex.thinking = min(ex.thinking, int(budget.Int()))
		}
	}

	calling := req.Get("toolConfig.functionCallingConfig")
	if response, ok := functionResponse(last(contents)); ok {
		ex.toolResult = textOf(response)
		return nil
	}
	if strings.EqualFold(calling.Get("mode").String(), "NONE") {
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

// functionResponse returns the response of the last functionResponse part of a content, if it has one.
func functionResponse(c gjson.Result) (gjson.Result, bool) {
	var response gjson.Result
	found := false
	c.Get("parts").ForEach(func(_, part gjson.Result) bool {
		if fr := part.Get("functionResponse"); fr.Exists() {
			response, found = fr.Get("response"), true
		}
		return true
	})
	return response, found
}

func (gemini) finishReason(ex *exchange) string {
	if ex.truncated && ex.tool == nil {
		return "MAX_TOKENS"
	}
	return "STOP"
}

// geminiChunk is what one GenerateContentResponse carries for each candidate.
type geminiChunk struct {
	// parts appends the parts of candidate c.
	parts func(b []byte, c int) []byte
	// lpFrom and lpN are the answer pieces the chunk carries, for logprobsResult; lpN 0 for none.
	lpFrom, lpN int
	final       bool // add the finish reason
	// thoughts and generated are the thinking and answer tokens of one candidate so far.
	thoughts, generated int
}

// appendCandidates appends one GenerateContentResponse.
func (d gemini) appendCandidates(b []byte, ex *exchange, ch geminiChunk, responseID string) []byte {
	b = append(b, `{"candidates":[`...)
	for c := 0; c < ex.nChoices(); c++ {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"content":{"parts":[`...)
		b = ch.parts(b, c)
		b = append(b, `],"role":"model"}`...)
		if ch.final {
			b = append(b, `,"finishReason":`...)
			b = transform.AppendJSONString(b, d.finishReason(ex))
		}
		if ex.logprobs && ch.lpN > 0 {
			b = d.appendLogprobs(b, ex, c, ch.lpFrom, ch.lpN)
		}
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	if ex.k.reportUsage {
		n := ex.nChoices()
		b = append(b, `,"usageMetadata":{"promptTokenCount":`...)
		b = strconv.AppendInt(b, int64(ex.promptTokens), 10)
		b = append(b, `,"candidatesTokenCount":`...)
		b = strconv.AppendInt(b, int64(ch.generated*n), 10)
		if ch.thoughts > 0 {
			b = append(b, `,"thoughtsTokenCount":`...)
			b = strconv.AppendInt(b, int64(ch.thoughts*n), 10)
		}
		b = append(b, `,"totalTokenCount":`...)
		b = strconv.AppendInt(b, int64(ex.promptTokens+(ch.generated+ch.thoughts)*n), 10)
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

// appendLogprobs appends avgLogprobs and logprobsResult for pieces from to from+n-1 of candidate c.
func (gemini) appendLogprobs(b []byte, ex *exchange, c, from, n int) []byte {
	sum := 0.0
	for i := from; i < from+n; i++ {
		sum += tokenLogprob(c, i)
	}
	b = append(b, `,"avgLogprobs":`...)
	b = strconv.AppendFloat(b, sum/float64(n), 'f', -1, 64)
	b = append(b, `,"logprobsResult":{"topCandidates":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = append(b, `{"candidates":[`...)
		tok, lp := ex.piece(c, i), tokenLogprob(c, i)
		for j := 0; j < max(ex.topLogprobs, 1); j++ {
			if j > 0 {
				b = append(b, ',')
			}
			alt, altLP := alternative(tok, lp, i, j)
			b = appendGeminiLogprob(b, alt, altLP)
		}
		b = append(b, "]}"...)
	}
	b = append(b, `],"chosenCandidates":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = appendGeminiLogprob(b, ex.piece(c, i), tokenLogprob(c, i))
	}
	return append(b, "]}"...)
}

func appendGeminiLogprob(b []byte, tok string, lp float64) []byte {
	b = append(b, `{"token":`...)
	b = transform.AppendJSONString(b, tok)
	b = append(b, `,"logProbability":`...)
	b = strconv.AppendFloat(b, lp, 'f', -1, 64)
	return append(b, '}')
}

// functionCallPart appends the part of a function call; Gemini 3 models add a thought signature.
func (gemini) functionCallPart(b []byte, ex *exchange) []byte {
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

// thoughtPart appends a part of thinking words from to from+n-1.
func thoughtPart(b []byte, from, n int) []byte {
	return append(appendThinkingJSON(append(b, `{"text":`...), from, n), `,"thought":true}`...)
}

func (d gemini) appendResponse(b []byte, ex *exchange) []byte {
	ch := geminiChunk{final: true, thoughts: ex.thinking, generated: ex.completionTokens() - ex.thinking}
	ch.parts = func(b []byte, c int) []byte {
		if ex.thinking > 0 {
			b = append(thoughtPart(b, 0, ex.thinking), ',')
		}
		if ex.tool != nil {
			return d.functionCallPart(b, ex)
		}
		return append(ex.appendPiecesJSON(append(b, `{"text":`...), c, 0, ex.words), '}')
	}
	if ex.tool == nil {
		ch.lpN = ex.words
	}
	return d.appendCandidates(b, ex, ch, newResponseID())
}

func (d gemini) stream(st *streamer, ex *exchange) error {
	id := newResponseID()
	for i := 0; i < ex.thinking; i += ex.k.chunkTokens {
		n := min(ex.k.chunkTokens, ex.thinking-i)
		if err := st.pace(n); err != nil {
			return err
		}
		ch := geminiChunk{thoughts: i + n}
		ch.parts = func(b []byte, _ int) []byte { return thoughtPart(b, i, n) }
		if err := st.send(d.appendCandidates(st.begin(""), ex, ch, id)); err != nil {
			return err
		}
	}
	if ex.tool != nil {
		if err := st.pace(len(ex.tool.args)); err != nil {
			return err
		}
		ch := geminiChunk{final: true, thoughts: ex.thinking, generated: len(ex.tool.args)}
		ch.parts = func(b []byte, _ int) []byte { return d.functionCallPart(b, ex) }
		return st.send(d.appendCandidates(st.begin(""), ex, ch, id))
	}
	for i := 0; i < ex.words; i += ex.k.chunkTokens {
		n := min(ex.k.chunkTokens, ex.words-i)
		if err := st.pace(n); err != nil {
			return err
		}
		ch := geminiChunk{lpFrom: i, lpN: n, final: i+n == ex.words, thoughts: ex.thinking, generated: i + n}
		ch.parts = func(b []byte, c int) []byte {
			return append(ex.appendPiecesJSON(append(b, `{"text":`...), c, i, n), '}')
		}
		if err := st.send(d.appendCandidates(st.begin(""), ex, ch, id)); err != nil {
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
