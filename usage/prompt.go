package usage

import "github.com/tidwall/gjson"

// Chat-format overhead (the OpenAI cookbook's formula): every message costs 3 tokens beyond
// its role and content, a name 1 more, and the reply is primed with 3 tokens (2 for reasoning models).
const (
	tokensPerMessage        = 3
	tokensPerName           = 1
	replyPrimer             = 3
	reasoningReplyPrimer    = 2
	toolCallMessageOverhead = toolCallTokens
)

// CountPrompt returns the prompt tokens of body, an OpenAI chat completion request, for model. It is exact
// for OpenAI models (see Origin) when the request has neither tools nor response_format; those add hidden
// text to the prompt that is estimated here by counting their JSON. Images are estimated as described at
// imageTokens. Bodies that are not JSON count as 0.
func (t *Tokenizer) CountPrompt(model string, body []byte) int {
	enc, _ := t.encoderFor(model)
	req := gjson.Parse(unsafeString(body))
	total := 0
	req.Get("messages").ForEach(func(_, msg gjson.Result) bool {
		total += tokensPerMessage + enc.countText(msg.Get("role").String())
		total += countPromptContent(enc, msg.Get("content"))
		if name := msg.Get("name"); name.Type == gjson.String {
			total += enc.countText(name.Str) + tokensPerName
		}
		msg.Get("tool_calls").ForEach(func(_, call gjson.Result) bool {
			fn := call.Get("function")
			total += enc.countText(fn.Get("name").String()) + enc.countText(fn.Get("arguments").String()) +
				toolCallMessageOverhead
			return true
		})
		return true
	})
	if isReasoningModel(model) {
		total += reasoningReplyPrimer
	} else {
		total += replyPrimer
	}
	for _, field := range [...]string{"tools", "functions"} {
		if v := req.Get(field); v.IsArray() {
			total += enc.countText(v.Raw)
		}
	}
	if rf := req.Get("response_format"); rf.IsObject() && rf.Get("type").String() != "text" {
		total += enc.countText(rf.Raw)
	}
	return total
}

// countPromptContent counts a request message's content: a string, or parts whose text is concatenated with
// no separator and whose images are estimated.
func countPromptContent(enc *encoder, content gjson.Result) int {
	if !content.IsArray() {
		return countContent(enc, content)
	}
	images := 0
	content.ForEach(func(_, part gjson.Result) bool {
		if part.Get("type").String() == "image_url" {
			images += imageTokens(part.Get("image_url"))
		}
		return true
	})
	return countContent(enc, content) + images
}
