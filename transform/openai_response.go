package transform

import (
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TranslateResponse keeps the upstream's bytes and only replaces model with the client-facing name.
func (o *OpenAI) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider(o.name()), err)
	}
	if e := errorAnswer(body); e != nil {
		return nil, usage.Usage{}, e
	}
	out := spliceModel(nil, body, req.ClientModel)
	u, _ := parseOpenAIUsage(gjson.Get(stringView(body), "usage")) // usage keeps no string of body
	return out, u, nil
}

// spliceModel appends data to dst with the value of its top-level "model" replaced by model, without decoding
// anything else.
func spliceModel(dst, data []byte, model string) []byte {
	m := gjson.Get(stringView(data), "model") // only its position is used
	if !m.Exists() || m.Index <= 0 {
		return append(dst, data...)
	}
	dst = append(dst, data[:m.Index]...)
	dst = AppendJSONString(dst, model)
	return append(dst, data[m.Index+len(m.Raw):]...)
}

// parseOpenAIUsage reads an OpenAI usage object. ok is false when v is absent or null.
func parseOpenAIUsage(v gjson.Result) (usage.Usage, bool) {
	if !v.IsObject() {
		return usage.Usage{}, false
	}
	u := usage.Usage{Origin: usage.Reported}
	var rep usage.Report
	v.ForEach(func(k, val gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			u.PromptTokens = rep.Count(val)
		case "completion_tokens":
			u.CompletionTokens = rep.Count(val)
		case "total_tokens":
			u.TotalTokens = rep.Count(val)
		case "prompt_tokens_details":
			u.CachedTokens = rep.Count(val.Get("cached_tokens"))
		case "completion_tokens_details":
			u.ReasoningTokens = rep.Count(val.Get("reasoning_tokens"))
		}
		return true
	})
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u), true
}
