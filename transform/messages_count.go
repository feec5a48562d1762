package transform

import (
	"strconv"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// CountMessagesTokens is the gateway's own count of a Messages request's input tokens (POST
// /v1/messages/count_tokens, or the input of a /v1/messages request) for model ("provider/model"): the
// request is translated as MessagesToChat does and its prompt counted as for chat (system, messages, tool
// calls and results, images, tools and the output format). It is exact only where the tokenizer knows the
// model (see usage.Tokenizer.Origin); for other models it is an estimate, never a constant.
func CountMessagesTokens(t *usage.Tokenizer, model string, body []byte) (int, error) {
	chat, err := messagesToChat(body, false)
	if err != nil {
		return 0, err
	}
	return t.CountPrompt(model, chat), nil
}

// ValidateMessages checks that a Messages or count_tokens request can be translated for a provider served
// through chat (max_tokens is not required): a 400 *Error naming the field when not.
func ValidateMessages(body []byte) error {
	_, err := messagesToChat(body, false)
	return err
}

// AppendCountTokens appends the count_tokens answer {"input_tokens":n}.
func AppendCountTokens(dst []byte, n int) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '}')
}
