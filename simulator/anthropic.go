package simulator

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// anthropic speaks the Anthropic Messages API.
type anthropic struct{}

func (anthropic) parse(ex *exchange, body []byte) error {
	if transform.CheckJSON(body) != nil {
		return errors.New("invalid request: the body is not valid JSON")
	}
	req := gjson.ParseBytes(body)
	if ex.model = req.Get("model").String(); ex.model == "" {
		return errors.New("model: Field required")
	}
	if ex.maxTokens = int(req.Get("max_tokens").Int()); ex.maxTokens < 1 && !ex.counting {
		return errors.New("max_tokens: Field required (an integer of at least 1)")
	}
	messages := req.Get("messages")
	if !messages.IsArray() || len(messages.Array()) == 0 {
		return errors.New("messages: at least one message is required")
	}
	ex.stream = req.Get("stream").Bool()
	ex.promptTokens = estimateTokens(req.Get("system"), messages, req.Get("tools"))

	format := req.Get("output_config.format")
	if !format.Exists() {
		format = req.Get("output_format") // the structured-outputs beta's name
	}
	if format.Get("type").String() == "json_schema" {
		ex.jsonMode = true
		ex.schema = format.Get("schema")
	}
	switch thinking := req.Get("thinking"); thinking.Get("type").String() {
	case "enabled":
		ex.thinking = 16
		if budget := int(thinking.Get("budget_tokens").Int()); budget > 0 {
			ex.thinking = min(ex.thinking, budget)
		}
	case "adaptive":
		ex.thinking = thinkingFor(req.Get("output_config.effort").String())
		if ex.thinking == 0 {
			ex.thinking = 16
		}
	}

	choice := req.Get("tool_choice")
	if result, ok := toolResult(last(messages)); ok {
		ex.toolResult = textOf(result)
		return nil
	}
	if choice.Get("type").String() == "none" {
		return nil
	}
	tools := toolSpec{list: req.Get("tools"), name: "name", schema: "input_schema"}
	ex.tool = tools.pick(choice.Get("name").String())
	return nil
}

// toolResult returns the content of the last tool_result block of a message, if it has one.
func toolResult(m gjson.Result) (gjson.Result, bool) {
	var content gjson.Result
	found := false
	m.Get("content").ForEach(func(_, block gjson.Result) bool {
		if block.Get("type").String() == "tool_result" {
			content, found = block.Get("content"), true
		}
		return true
	})
	return content, found
}

func (anthropic) stopReason(ex *exchange) string {
	switch {
	case ex.tool != nil:
		return "tool_use"
	case ex.truncated:
		return "max_tokens"
	}
	return "end_turn"
}

// appendUsage appends a usage object; output is the output tokens so far.
func (anthropic) appendUsage(b []byte, ex *exchange, output int) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(ex.promptTokens), 10)
	b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(output), 10)
	return append(b, '}')
}

// signature is the simulated signature of a thinking block: opaque base64, as Anthropic's are.
func signature() string {
	var sig [64]byte
	_, _ = rand.Read(sig[:])
	return base64.StdEncoding.EncodeToString(sig[:])
}

func (d anthropic) appendResponse(b []byte, ex *exchange) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("msg_"))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"content":[`...)
	if ex.thinking > 0 {
		b = append(b, `{"type":"thinking","thinking":`...)
		b = appendThinkingJSON(b, 0, ex.thinking)
		b = append(b, `,"signature":`...)
		b = transform.AppendJSONString(b, signature())
		b = append(b, `},`...)
	}
	if ex.tool != nil {
		b = append(b, `{"type":"tool_use","id":`...)
		b = transform.AppendJSONString(b, transform.NewID("toolu_"))
		b = append(b, `,"name":`...)
		b = transform.AppendJSONString(b, ex.tool.name)
		b = append(b, `,"input":`...)
		b = ex.tool.appendArgs(b)
		b = append(b, '}')
	} else {
		b = append(b, `{"type":"text","text":`...)
		b = ex.appendText(b)
		b = append(b, `}`...)
	}
	b = append(b, `],"stop_reason":`...)
	b = transform.AppendJSONString(b, d.stopReason(ex))
	b = append(b, `,"stop_sequence":null`...)
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.appendUsage(b, ex, ex.completionTokens())
	}
	return append(b, '}')
}

func (d anthropic) stream(st *streamer, ex *exchange) error {
	b := append(st.begin("message_start"), `{"type":"message_start","message":{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("msg_"))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null`...)
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.appendUsage(b, ex, 1)
	}
	if err := st.send(append(b, "}}"...)); err != nil {
		return err
	}

	index := 0
	var value []byte
	if ex.thinking > 0 {
		b = append(st.begin("content_block_start"), `{"type":"content_block_start","index":0,"content_block":`...)
		if err := st.send(append(b, `{"type":"thinking","thinking":"","signature":""}}`...)); err != nil {
			return err
		}
		for i := 0; i < ex.thinking; i += ex.k.chunkTokens {
			n := min(ex.k.chunkTokens, ex.thinking-i)
			if err := st.pace(n); err != nil {
				return err
			}
			if err := d.sendDelta(st, 0, "thinking_delta", "thinking", appendThinkingJSON(value[:0], i, n)); err != nil {
				return err
			}
		}
		value = transform.AppendJSONString(value[:0], signature())
		if err := d.sendDelta(st, 0, "signature_delta", "signature", value); err != nil {
			return err
		}
		if err := st.send(append(st.begin("content_block_stop"), `{"type":"content_block_stop","index":0}`...)); err != nil {
			return err
		}
		index = 1
	}

	b = append(st.begin("content_block_start"), `{"type":"content_block_start","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"content_block":`...)
	if ex.tool != nil {
		b = append(b, `{"type":"tool_use","id":`...)
		b = transform.AppendJSONString(b, transform.NewID("toolu_"))
		b = append(b, `,"name":`...)
		b = transform.AppendJSONString(b, ex.tool.name)
		b = append(b, `,"input":{}}}`...)
	} else {
		b = append(b, `{"type":"text","text":""}}`...)
	}
	if err := st.send(b); err != nil {
		return err
	}
	if err := st.send(append(st.begin("ping"), `{"type": "ping"}`...)); err != nil {
		return err
	}

	if ex.tool != nil {
		if err := d.sendDelta(st, index, "input_json_delta", "partial_json", []byte(`""`)); err != nil {
			return err
		}
		for _, a := range ex.tool.args {
			if err := st.pace(1); err != nil {
				return err
			}
			if err := d.sendDelta(st, index, "input_json_delta", "partial_json", transform.AppendJSONString(value[:0], a)); err != nil {
				return err
			}
		}
	} else {
		for i := 0; i < ex.words; i += ex.k.chunkTokens {
			n := min(ex.k.chunkTokens, ex.words-i)
			if err := st.pace(n); err != nil {
				return err
			}
			value = ex.appendPiecesJSON(value[:0], 0, i, n)
			if err := d.sendDelta(st, index, "text_delta", "text", value); err != nil {
				return err
			}
		}
	}
	b = append(st.begin("content_block_stop"), `{"type":"content_block_stop","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	if err := st.send(append(b, '}')); err != nil {
		return err
	}

	b = append(st.begin("message_delta"), `{"type":"message_delta","delta":{"stop_reason":`...)
	b = transform.AppendJSONString(b, d.stopReason(ex))
	b = append(b, `,"stop_sequence":null}`...)
	if ex.k.reportUsage {
		b = append(b, `,"usage":`...)
		b = d.appendUsage(b, ex, ex.completionTokens())
	}
	if err := st.send(append(b, '}')); err != nil {
		return err
	}
	return st.send(append(st.begin("message_stop"), `{"type":"message_stop"}`...))
}

// sendDelta sends a content_block_delta of block index; value is a JSON string, quotes included.
func (anthropic) sendDelta(st *streamer, index int, typ, field string, value []byte) error {
	b := append(st.begin("content_block_delta"), `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"delta":{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","`...)
	b = append(b, field...)
	b = append(b, `":`...)
	b = append(b, value...)
	return st.send(append(b, "}}"...))
}

func (anthropic) appendError(b []byte, status int, message string, _ time.Duration) []byte {
	b = append(b, `{"type":"error","error":{"type":`...)
	b = transform.AppendJSONString(b, anthropicErrorType(status))
	b = append(b, `,"message":`...)
	b = transform.AppendJSONString(b, message)
	b = append(b, `},"request_id":`...)
	b = transform.AppendJSONString(b, transform.NewID("req_"))
	return append(b, '}')
}

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func (anthropic) appendCount(b []byte, promptTokens int) []byte {
	return append(strconv.AppendInt(append(b, `{"input_tokens":`...), int64(promptTokens), 10), '}')
}

func (anthropic) setHeaders(h http.Header) {
	h.Set("Request-Id", transform.NewID("req_"))
}
