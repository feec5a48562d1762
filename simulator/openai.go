package simulator

import (
	"errors"
	"net/http"
	"strconv"
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

	choice := req.Get("tool_choice")
	if choice.String() == "none" || last(messages).Get("role").String() == "tool" {
		return nil
	}
	tools := toolSpec{list: req.Get("tools"), name: "function.name", schema: "function.parameters"}
	ex.tool = tools.pick(choice.Get("function.name").String())
	return nil
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

// usage is what OpenAI would report: the prompt by the chat formula, and the answer's tokens plus the one
// that ends the message (absent when max_tokens cut the answer).
func (openAI) usage(ex *exchange) usage.Usage {
	c := ex.completionTokens()
	if ex.tool == nil && !ex.truncated {
		c++
	}
	return usage.Usage{PromptTokens: ex.promptTokens, CompletionTokens: c, TotalTokens: ex.promptTokens + c,
		Origin: usage.Reported}
}

func (d openAI) appendResponse(b []byte, ex *exchange) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("chatcmpl-"))
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, ex.created, 10)
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if ex.tool != nil {
		b = append(b, `null,"tool_calls":[{"id":`...)
		b = transform.AppendJSONString(b, transform.NewID("call_"))
		b = append(b, `,"type":"function","function":{"name":`...)
		b = transform.AppendJSONString(b, ex.tool.name)
		b = append(b, `,"arguments":`...)
		b = transform.AppendJSONString(b, string(ex.tool.appendArgs(nil)))
		b = append(b, `}}]`...)
	} else {
		b = append(b, '"')
		b = ex.appendText(b)
		b = append(b, '"')
	}
	b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":`...)
	b = transform.AppendJSONString(b, d.finishReason(ex))
	b = append(b, '}', ']')
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.usage(ex).AppendJSON(b, -1)
	}
	return append(b, `,"service_tier":"default","system_fingerprint":"fp_simulator"}`...)
}

func (d openAI) stream(st *streamer, ex *exchange) error {
	id := transform.NewID("chatcmpl-")
	cb := transform.NewChunkBuilder(id, ex.created, ex.model)
	if err := st.send(append(st.begin(""), cb.Role()...)); err != nil {
		return err
	}
	if ex.tool != nil {
		if err := st.send(append(st.begin(""), cb.ToolCallStart(0, transform.NewID("call_"), ex.tool.name, nil)...)); err != nil {
			return err
		}
		var frag []byte
		for _, a := range ex.tool.args {
			if err := st.pace(1); err != nil {
				return err
			}
			frag = transform.AppendJSONString(frag[:0], a)
			if err := st.send(append(st.begin(""), cb.ToolCallArgs(0, frag)...)); err != nil {
				return err
			}
		}
	} else {
		var text []byte
		for i := 0; i < ex.words; i += ex.k.chunkTokens {
			n := min(ex.k.chunkTokens, ex.words-i)
			if err := st.pace(n); err != nil {
				return err
			}
			text = append(appendWords(append(text[:0], '"'), i, n), '"')
			if err := st.send(append(st.begin(""), cb.Content(text)...)); err != nil {
				return err
			}
		}
	}
	if err := st.send(append(st.begin(""), cb.Finish(d.finishReason(ex))...)); err != nil {
		return err
	}
	if ex.includeUsage && ex.k.reportUsage {
		b := append(st.begin(""), `{"id":`...)
		b = transform.AppendJSONString(b, id)
		b = append(b, `,"object":"chat.completion.chunk","created":`...)
		b = strconv.AppendInt(b, ex.created, 10)
		b = append(b, `,"model":`...)
		b = transform.AppendJSONString(b, ex.model)
		b = append(b, `,"choices":[],"usage":`...)
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
