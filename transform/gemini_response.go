package transform

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TranslateResponse turns a GenerateContentResponse into an OpenAI chat.completion: one choice per
// candidate (n > 1 asks Gemini for several), thoughts as reasoning_content.
func (g *Gemini) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("gemini"), err)
	}
	root := gjson.Parse(stringView(body))
	if e := root.Get("error"); e.IsObject() {
		return nil, usage.Usage{}, geminiRPCError(http.StatusBadGateway, nil, e)
	}
	c := completion{
		ID:      "chatcmpl-" + root.Get("responseId").String(),
		Created: time.Now().Unix(),
		Model:   req.ClientModel,
		Usage:   geminiUsage(root.Get("usageMetadata")),
	}
	if c.ID == "chatcmpl-" {
		c.ID = NewID("chatcmpl-")
	}
	var out, extra []byte
	n := 0
	root.Get("candidates").ForEach(func(_, cand gjson.Result) bool {
		geminiCandidate(&c, cand)
		if n == 0 {
			out = c.AppendJSON(make([]byte, 0, len(body)+256))
		} else {
			// Further candidates (n > 1): render each the same way and keep its choice, renumbered.
			index := int64(n)
			if ix := cand.Get("index"); ix.Type == gjson.Number {
				index = ix.Int()
			}
			choice := gjson.Get(stringView(c.AppendJSON(nil)), "choices.0").Raw
			extra = append(extra, `,{"index":`...)
			extra = strconv.AppendInt(extra, index, 10)
			extra = append(extra, strings.TrimPrefix(choice, `{"index":0`)...)
		}
		n++
		return true
	})
	if n == 0 {
		c.FinishReason = finishStop
		if root.Get("promptFeedback.blockReason").String() != "" {
			c.FinishReason = finishContentFilter
		}
		out = c.AppendJSON(nil)
	}
	if len(extra) > 0 {
		choices := gjson.Get(stringView(out), "choices")
		end := choices.Index + len(choices.Raw) - 1 // the closing ']'
		out = append(out[:end], append(extra, out[end:]...)...)
	}
	return out, c.Usage, nil
}

// geminiCandidateFields reads, in one pass, the fields of a Gemini candidate the translators use: its
// content's parts, its finishReason and its logprobsResult.
func geminiCandidateFields(cand gjson.Result) (parts, finish, logprobs gjson.Result) {
	cand.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			parts = v.Get("parts")
		case "finishReason":
			finish = v
		case "logprobsResult":
			logprobs = v
		}
		return true
	})
	return parts, finish, logprobs
}

// geminiCandidate fills c's content, reasoning, tool calls, finish reason and logprobs from a Gemini
// candidate, read in one pass.
func geminiCandidate(c *completion, cand gjson.Result) {
	var text, thoughts strings.Builder
	c.ToolCalls = c.ToolCalls[:0]
	parts, finish, logprobs := geminiCandidateFields(cand)
	parts.ForEach(func(_, p gjson.Result) bool {
		if fc := p.Get("functionCall"); fc.IsObject() {
			c.ToolCalls = append(c.ToolCalls, toolCall{
				ID:        geminiMintCallID(fc.Get("id").String(), p.Get("thoughtSignature").String()),
				Name:      fc.Get("name").String(),
				Arguments: geminiArgs(nil, fc.Get("args")),
			})
			return true
		}
		if t := p.Get("text"); t.Type == gjson.String {
			if p.Get("thought").Bool() {
				thoughts.WriteString(t.Str)
			} else {
				text.WriteString(t.Str)
			}
		}
		return true
	})
	c.Content, c.Reasoning = text.String(), thoughts.String()
	c.FinishReason = geminiFinishReason(finish.String(), len(c.ToolCalls) > 0)
	c.Logprobs = appendGeminiLogprobs(c.Logprobs[:0], nil, logprobs)
}

// appendGeminiLogprobs appends OpenAI's logprobs object for a candidate's logprobsResult,
// {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}…]}…],"refusal":null}:
// one entry per chosenCandidates token, with the topCandidates of the same decoding step as its
// top_logprobs ([] when Gemini sent none). bytes are the token's UTF-8 bytes. A logProbability Gemini left
// out is 0 (proto3 JSON omits zero values); one that is not a number (-Infinity is sent as a string) is
// -9999.0, the value OpenAI gives tokens too unlikely to represent. Nothing is appended when there are no
// chosen tokens, so the caller renders null. tops, when not nil, is scratch space for the steps'
// topCandidates, kept between calls so that a stream does not allocate per event.
func appendGeminiLogprobs(dst []byte, tops *[]gjson.Result, lr gjson.Result) []byte {
	chosen := lr.Get("chosenCandidates")
	if !chosen.IsArray() {
		return dst
	}
	start := len(dst)
	if tops == nil {
		tops = new([]gjson.Result)
	}
	steps := (*tops)[:0]
	lr.Get("topCandidates").ForEach(func(_, t gjson.Result) bool {
		steps = append(steps, t)
		return true
	})
	*tops = steps
	dst = append(dst, `{"content":[`...)
	n := 0
	chosen.ForEach(func(_, c gjson.Result) bool {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendGeminiTokenLogprob(dst, c)
		dst = append(dst[:len(dst)-1], `,"top_logprobs":[`...) // reopen the entry
		if n < len(steps) {
			k := 0
			steps[n].Get("candidates").ForEach(func(_, tc gjson.Result) bool {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = appendGeminiTokenLogprob(dst, tc)
				k++
				return true
			})
		}
		dst = append(dst, "]}"...)
		n++
		return true
	})
	clear(steps) // keep no pointers into the event past the call
	if n == 0 {
		return dst[:start]
	}
	return append(dst, `],"refusal":null}`...)
}

// appendGeminiTokenLogprob appends {"token","logprob","bytes"} for a Gemini token candidate.
func appendGeminiTokenLogprob(dst []byte, c gjson.Result) []byte {
	var tok string
	lp := "0"
	c.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "token":
			tok = v.String()
		case "logProbability":
			if v.Type == gjson.Number {
				lp = v.Raw
			} else {
				lp = "-9999.0"
			}
		}
		return true
	})
	dst = append(dst, `{"token":`...)
	dst = AppendJSONString(dst, tok)
	dst = append(dst, `,"logprob":`...)
	dst = append(dst, lp...)
	dst = append(dst, `,"bytes":[`...)
	for i := 0; i < len(tok); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(tok[i]), 10)
	}
	return append(dst, "]}"...)
}

// geminiArgs appends a function call's args as compact JSON object text ("{}" when absent).
func geminiArgs(dst []byte, args gjson.Result) []byte {
	if !args.IsObject() {
		return append(dst, "{}"...)
	}
	return compactJSON(dst, bytesView(args.Raw))
}

// geminiFinishReason maps a Gemini finishReason to OpenAI's finish_reason. STOP (and an unspecified reason)
// becomes tool_calls when the candidate produced a function call, as Gemini reports STOP for those.
func geminiFinishReason(reason string, sawCall bool) string {
	switch reason {
	case "STOP", "", "FINISH_REASON_UNSPECIFIED":
		if sawCall {
			return finishToolCalls
		}
		return finishStop
	case "MAX_TOKENS":
		return finishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER":
		return finishContentFilter
	}
	return finishStop
}

// geminiUsage maps usageMetadata: prompt = prompt + toolUsePrompt, completion = candidates + thoughts,
// reasoning = thoughts, cached = cachedContent.
func geminiUsage(m gjson.Result) usage.Usage {
	if !m.IsObject() {
		return usage.Usage{}
	}
	var prompt, candidates, thoughts, toolUse, cached, total int
	var rep usage.Report
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "promptTokenCount":
			prompt = rep.Count(v)
		case "candidatesTokenCount":
			candidates = rep.Count(v)
		case "thoughtsTokenCount":
			thoughts = rep.Count(v)
		case "toolUsePromptTokenCount":
			toolUse = rep.Count(v)
		case "cachedContentTokenCount":
			cached = rep.Count(v)
		case "totalTokenCount":
			total = rep.Count(v)
		}
		return true
	})
	u := usage.Usage{
		PromptTokens:     prompt + toolUse,
		CompletionTokens: candidates + thoughts,
		CachedTokens:     cached,
		ReasoningTokens:  thoughts,
		TotalTokens:      total,
		Origin:           usage.Reported,
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return rep.Usage(u)
}
