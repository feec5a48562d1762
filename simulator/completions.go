package simulator

import (
	"errors"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// completions speaks OpenAI's legacy text completions (POST */completions), as vLLM and Ollama still serve
// them: one choice per prompt and per n, with logprobs in the legacy shape, streamed or not. Errors and
// headers are OpenAI's.
type completions struct{ openAI }

func (completions) parse(ex *exchange, body []byte) error {
	req, err := parseObject(body)
	if err != nil {
		return err
	}
	if ex.model = req.Get("model").String(); ex.model == "" {
		return errors.New("you must provide a model parameter")
	}
	prompt := req.Get("prompt")
	prompts := 0
	switch {
	case prompt.Type == gjson.String:
		prompts = 1
		ex.promptTokens = ex.tok.Count(ex.model, prompt.Str)
	case prompt.IsArray() && prompt.Get("0").Type == gjson.Number:
		prompts = 1
		ex.promptTokens = len(prompt.Array())
	case prompt.IsArray():
		prompt.ForEach(func(_, p gjson.Result) bool {
			prompts++
			if p.IsArray() {
				ex.promptTokens += len(p.Array())
			} else {
				ex.promptTokens += ex.tok.Count(ex.model, p.String())
			}
			return true
		})
	}
	if prompts == 0 {
		return errors.New("you must provide a prompt parameter (a string, an array of strings or of token ids)")
	}
	n := int(min(max(req.Get("n").Int(), 1), 128))
	ex.choices = min(prompts*n, 128)
	ex.stream = req.Get("stream").Bool()
	ex.includeUsage = ex.stream && req.Get("stream_options.include_usage").Bool()
	ex.maxTokens = int(req.Get("max_tokens").Int())
	if lp := req.Get("logprobs"); lp.Type == gjson.Number {
		ex.logprobs = true
		ex.topLogprobs = int(min(max(lp.Int(), 0), 5))
	}
	return nil
}

func (completions) usage(ex *exchange) usage.Usage {
	c := ex.words * ex.nChoices()
	return usage.Usage{PromptTokens: ex.promptTokens, CompletionTokens: c, TotalTokens: ex.promptTokens + c,
		Origin: usage.Reported}
}

func (d completions) finishReason(ex *exchange) string {
	if ex.truncated {
		return "length"
	}
	return "stop"
}

// appendLogprobs appends the legacy logprobs of pieces from to from+n-1 of choice c, whose text starts at
// byte offset, or null.
func (completions) appendLogprobs(b []byte, ex *exchange, c, from, n, offset int) []byte {
	if !ex.logprobs {
		return append(b, "null"...)
	}
	b = append(b, `{"tokens":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = transform.AppendJSONString(b, ex.piece(c, i))
	}
	b = append(b, `],"token_logprobs":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, tokenLogprob(c, i), 'f', -1, 64)
	}
	b = append(b, `],"top_logprobs":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = append(b, '{')
		tok, lp := ex.piece(c, i), tokenLogprob(c, i)
		for j := 0; j < max(ex.topLogprobs, 1); j++ {
			if j > 0 {
				b = append(b, ',')
			}
			alt, altLP := alternative(tok, lp, i, j)
			b = transform.AppendJSONString(b, alt)
			b = strconv.AppendFloat(append(b, ':'), altLP, 'f', -1, 64)
		}
		b = append(b, '}')
	}
	b = append(b, `],"text_offset":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(offset), 10)
		offset += len(ex.piece(c, i))
	}
	return append(b, "]}"...)
}

func (completions) head(b []byte, id string, ex *exchange) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, id)
	b = append(b, `,"object":"text_completion","created":`...)
	b = strconv.AppendInt(b, ex.created, 10)
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, ex.model)
	return append(b, `,"system_fingerprint":"fp_simulator","choices":[`...)
}

func (d completions) appendResponse(b []byte, ex *exchange) []byte {
	b = d.head(b, transform.NewID("cmpl-"), ex)
	for c := 0; c < ex.nChoices(); c++ {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"text":`...)
		b = ex.appendPiecesJSON(b, c, 0, ex.words)
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, `,"logprobs":`...)
		b = d.appendLogprobs(b, ex, c, 0, ex.words, 0)
		b = append(b, `,"finish_reason":`...)
		b = transform.AppendJSONString(b, d.finishReason(ex))
		b = append(b, '}')
	}
	b = append(b, ']')
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.usage(ex).AppendJSON(b, -1)
	}
	return append(b, '}')
}

func (d completions) stream(st *streamer, ex *exchange) error {
	id := transform.NewID("cmpl-")
	n := ex.nChoices()
	offsets := make([]int, n)
	for i := 0; i < ex.words; i += ex.k.chunkTokens {
		k := min(ex.k.chunkTokens, ex.words-i)
		if err := st.pace(k * n); err != nil {
			return err
		}
		for c := 0; c < n; c++ {
			b := append(d.head(st.begin(""), id, ex), `{"text":`...)
			b = ex.appendPiecesJSON(b, c, i, k)
			b = append(b, `,"index":`...)
			b = strconv.AppendInt(b, int64(c), 10)
			b = append(b, `,"logprobs":`...)
			b = d.appendLogprobs(b, ex, c, i, k, offsets[c])
			for j := i; j < i+k; j++ {
				offsets[c] += len(ex.piece(c, j))
			}
			if err := st.send(append(b, `,"finish_reason":null}]}`...)); err != nil {
				return err
			}
		}
	}
	for c := 0; c < n; c++ {
		b := append(d.head(st.begin(""), id, ex), `{"text":"","index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = transform.AppendJSONString(b, d.finishReason(ex))
		if err := st.send(append(b, "}]}"...)); err != nil {
			return err
		}
	}
	if ex.includeUsage && ex.k.reportUsage {
		b := append(d.head(st.begin(""), id, ex), `],"usage":`...)
		b = d.usage(ex).AppendJSON(b, -1)
		if err := st.send(append(b, '}')); err != nil {
			return err
		}
	}
	return st.send(append(st.begin(""), "[DONE]"...))
}
