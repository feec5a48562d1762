package simulator

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// openAI speaks OpenAI Chat Completions, as OpenAI, vLLM and Ollama's /v1 do.
type openAI struct{}

func (openAI) parse(ex *exchange, body []byte) error {
	if transform.CheckJSON(body) != nil {
		return errors.New("we could not parse the JSON body of your request; send a valid JSON object")
	}
	req := gjson.ParseBytes(body)
	if ex.model = req.Get("model").String(); ex.model == "" {
		return errors.New("you must provide a model parameter")
	}
	messages := req.Get("messages")
	if !messages.IsArray() || len(messages.Array()) == 0 {
		return errors.New("'messages' must be a non-empty array")
	}
	ex.stream = req.Get("stream").Bool()
	ex.includeUsage = ex.stream && req.Get("stream_options.include_usage").Bool()
	ex.maxTokens = int(req.Get("max_completion_tokens").Int())
	if ex.maxTokens <= 0 {
		ex.maxTokens = int(req.Get("max_tokens").Int())
	}
	ex.promptTokens = ex.tok.CountPrompt(ex.model, body)

	parseOpenAIExtras(ex, req)

	choice := req.Get("tool_choice")
	if lastMsg := last(messages); lastMsg.Get("role").String() == "tool" {
		ex.toolResult = textOf(lastMsg.Get("content"))
		return nil
	}
	if choice.String() == "none" {
		return nil
	}
	tools := toolSpec{list: req.Get("tools"), name: "function.name", schema: "function.parameters"}
	ex.tool = tools.pick(choice.Get("function.name").String())
	return nil
}

// parseOpenAIExtras reads response_format, n, logprobs, top_logprobs and reasoning_effort.
func parseOpenAIExtras(ex *exchange, req gjson.Result) {
	switch rf := req.Get("response_format"); rf.Get("type").String() {
	case "json_schema":
		ex.jsonMode = true
		ex.schema = rf.Get("json_schema.schema")
	case "json_object":
		ex.jsonMode = true
	}
	ex.choices = int(min(max(req.Get("n").Int(), 1), 128))
	ex.logprobs = req.Get("logprobs").Bool()
	ex.topLogprobs = int(min(max(req.Get("top_logprobs").Int(), 0), 20))
	ex.thinking = thinkingFor(req.Get("reasoning_effort").String())
}

func (openAI) finishReason(ex *exchange) string {
	switch {
	case ex.tool != nil:
		return "tool_calls"
	case ex.truncated:
		return "length"
	}
	return "stop"
}

// usage is what OpenAI would report: the prompt by the chat formula, and for each choice the answer's
// tokens, its thinking, and the one that ends the message (absent when max_tokens cut the answer).
func (openAI) usage(ex *exchange) usage.Usage {
	c := ex.completionTokens()
	if ex.tool == nil && !ex.truncated {
		c++
	}
	c *= ex.nChoices()
	return usage.Usage{PromptTokens: ex.promptTokens, CompletionTokens: c, TotalTokens: ex.promptTokens + c,
		ReasoningTokens: ex.thinking * ex.nChoices(), Origin: usage.Reported}
}

func (d openAI) appendResponse(b []byte, ex *exchange) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("chatcmpl-"))
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, ex.created, 10)
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"choices":[`...)
	for c := 0; c < ex.nChoices(); c++ {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		if ex.tool != nil {
			b = append(b, `null,"tool_calls":[{"id":`...)
			b = transform.AppendJSONString(b, transform.NewID("call_"))
			b = append(b, `,"type":"function","function":{"name":`...)
			b = transform.AppendJSONString(b, ex.tool.name)
			b = append(b, `,"arguments":`...)
			b = transform.AppendJSONString(b, string(ex.tool.appendArgs(nil)))
			b = append(b, `}}]`...)
		} else {
			b = ex.appendPiecesJSON(b, c, 0, ex.words)
		}
		if ex.thinking > 0 {
			b = append(b, `,"reasoning_content":`...)
			b = appendThinkingJSON(b, 0, ex.thinking)
		}
		b = append(b, `,"refusal":null,"annotations":[]},"logprobs":`...)
		b = d.appendLogprobs(b, ex, c, 0, ex.words)
		b = append(b, `,"finish_reason":`...)
		b = transform.AppendJSONString(b, d.finishReason(ex))
		b = append(b, '}')
	}
	b = append(b, ']')
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.usage(ex).AppendJSON(b, -1)
	}
	return append(b, `,"service_tier":"default","system_fingerprint":"fp_simulator"}`...)
}

// appendLogprobs appends the logprobs of pieces from to from+n-1 of choice c, or null when the request did
// not ask for them or the answer is a tool call.
func (openAI) appendLogprobs(b []byte, ex *exchange, c, from, n int) []byte {
	if !ex.logprobs || ex.tool != nil {
		return append(b, "null"...)
	}
	b = append(b, `{"content":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		tok := ex.piece(c, i)
		lp := tokenLogprob(c, i)
		b = appendTokenLogprob(b, tok, lp)
		b = append(b[:len(b)-1], `,"top_logprobs":[`...)
		for j := 0; j < ex.topLogprobs; j++ {
			if j > 0 {
				b = append(b, ',')
			}
			alt, altLP := alternative(tok, lp, i, j)
			b = appendTokenLogprob(b, alt, altLP)
		}
		b = append(b, "]}"...)
	}
	return append(b, `],"refusal":null}`...)
}

// appendTokenLogprob appends {"token","logprob","bytes"}.
func appendTokenLogprob(b []byte, tok string, lp float64) []byte {
	b = append(b, `{"token":`...)
	b = transform.AppendJSONString(b, tok)
	b = append(b, `,"logprob":`...)
	b = strconv.AppendFloat(b, lp, 'f', -1, 64)
	b = append(b, `,"bytes":[`...)
	for k := 0; k < len(tok); k++ {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(tok[k]), 10)
	}
	return append(b, "]}"...)
}

// tokenLogprob is the log probability of piece i of choice c: between -0.01 and -0.23, deterministic.
func tokenLogprob(c, i int) float64 {
	return -float64((i*7+c*13)%17+1) * 0.0125
}

// alternative is the j-th most likely token at a position whose chosen token is tok with logprob lp: tok
// itself first, then stock words less and less likely.
func alternative(tok string, lp float64, i, j int) (string, float64) {
	if j == 0 {
		return tok, lp
	}
	alt := words[(i+j*5)%len(words)]
	if strings.HasPrefix(tok, " ") {
		alt = " " + alt
	}
	if alt == tok {
		alt += "s"
	}
	return alt, math.Round((lp-1.1*float64(j)-0.37)*1e4) / 1e4
}

// chunkHead returns the start of every chunk of a stream, up to the choice's index.
func chunkHead(id string, ex *exchange) []byte {
	h := append([]byte(nil), `{"id":`...)
	h = transform.AppendJSONString(h, id)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, ex.created, 10)
	h = append(h, `,"model":`...)
	h = transform.AppendJSONString(h, ex.model)
	return append(h, `,"system_fingerprint":"fp_simulator","choices":[{"index":`...)
}

// sendChunk sends one chunk of choice c: delta is its delta object; logprobs its logprobs (nil for null);
// finish its finish reason (empty for null).
func sendChunk(st *streamer, head []byte, c int, delta []byte, logprobs []byte, finish string) error {
	b := append(st.begin(""), head...)
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, `,"delta":`...)
	b = append(b, delta...)
	b = append(b, `,"logprobs":`...)
	if logprobs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, logprobs...)
	}
	b = append(b, `,"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = transform.AppendJSONString(b, finish)
	}
	return st.send(append(b, "}]}"...))
}

func (d openAI) stream(st *streamer, ex *exchange) error {
	id := transform.NewID("chatcmpl-")
	head := chunkHead(id, ex)
	n := ex.nChoices()
	for c := 0; c < n; c++ {
		if err := sendChunk(st, head, c, []byte(`{"role":"assistant","content":""}`), nil, ""); err != nil {
			return err
		}
	}
	var delta, lps []byte
	for i := 0; i < ex.thinking; i += ex.k.chunkTokens {
		k := min(ex.k.chunkTokens, ex.thinking-i)
		if err := st.pace(k * n); err != nil {
			return err
		}
		for c := 0; c < n; c++ {
			delta = append(appendThinkingJSON(append(delta[:0], `{"reasoning_content":`...), i, k), '}')
			if err := sendChunk(st, head, c, delta, nil, ""); err != nil {
				return err
			}
		}
	}
	if ex.tool != nil {
		for c := 0; c < n; c++ {
			delta = append(delta[:0], `{"tool_calls":[{"index":0,"id":`...)
			delta = transform.AppendJSONString(delta, transform.NewID("call_"))
			delta = append(delta, `,"type":"function","function":{"name":`...)
			delta = transform.AppendJSONString(delta, ex.tool.name)
			delta = append(delta, `,"arguments":""}}]}`...)
			if err := sendChunk(st, head, c, delta, nil, ""); err != nil {
				return err
			}
		}
		for _, a := range ex.tool.args {
			if err := st.pace(n); err != nil {
				return err
			}
			for c := 0; c < n; c++ {
				delta = append(delta[:0], `{"tool_calls":[{"index":0,"function":{"arguments":`...)
				delta = transform.AppendJSONString(delta, a)
				delta = append(delta, "}}]}"...)
				if err := sendChunk(st, head, c, delta, nil, ""); err != nil {
					return err
				}
			}
		}
	} else {
		for i := 0; i < ex.words; i += ex.k.chunkTokens {
			k := min(ex.k.chunkTokens, ex.words-i)
			if err := st.pace(k * n); err != nil {
				return err
			}
			for c := 0; c < n; c++ {
				delta = append(ex.appendPiecesJSON(append(delta[:0], `{"content":`...), c, i, k), '}')
				lps = nil
				if ex.logprobs {
					lps = d.appendLogprobs(lps[:0], ex, c, i, k)
				}
				if err := sendChunk(st, head, c, delta, lps, ""); err != nil {
					return err
				}
			}
		}
	}
	for c := 0; c < n; c++ {
		if err := sendChunk(st, head, c, []byte("{}"), nil, d.finishReason(ex)); err != nil {
			return err
		}
	}
	if ex.includeUsage && ex.k.reportUsage {
		b := append(st.begin(""), `{"id":`...)
		b = transform.AppendJSONString(b, id)
		b = append(b, `,"object":"chat.completion.chunk","created":`...)
		b = strconv.AppendInt(b, ex.created, 10)
		b = append(b, `,"model":`...)
		b = transform.AppendJSONString(b, ex.model)
		b = append(b, `,"system_fingerprint":"fp_simulator","choices":[],"usage":`...)
		b = d.usage(ex).AppendJSON(b, -1)
		if err := st.send(append(b, '}')); err != nil {
			return err
		}
	}
	return st.send(append(st.begin(""), "[DONE]"...))
}

func (openAI) appendError(b []byte, status int, message string, _ time.Duration) []byte {
	code := ""
	switch status {
	case http.StatusUnauthorized:
		code = "invalid_api_key"
	case http.StatusNotFound:
		code = "not_found"
	case http.StatusTooManyRequests:
		code = "rate_limit_exceeded"
	case http.StatusServiceUnavailable:
		code = "server_is_overloaded"
	}
	return transform.NewError(status, transform.TypeForStatus(status), code, message).AppendJSON(b)
}

func (openAI) appendCount(b []byte, promptTokens int) []byte {
	return append(strconv.AppendInt(append(b, `{"prompt_tokens":`...), int64(promptTokens), 10), '}')
}

func (openAI) setHeaders(h http.Header) {
	h.Set("X-Request-Id", transform.NewID("req_"))
	h.Set("Openai-Version", "2020-10-01")
}
