package cloudfake

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// ClaudeUsage is the usage of every Message the fakes' Claude models answer: prompt cache reads and writes
// included, as a cached Claude Code turn reports them.
const ClaudeUsage = `{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":3000,"output_tokens":7}`

// ClaudeThinking and ClaudeSignature are the thinking block a fake Claude model sends first when the request
// turns thinking on; a client must send both back unchanged with the tool result of the same turn.
const (
	ClaudeThinking  = "The user wants the weather. I should call get_weather for Paris."
	ClaudeSignature = "EqQBCkYIBxgCKkBnX3Y0dGhpc2lzYWZha2VzaWduYXR1cmVmb3J0ZXN0cw+/=="
)

// ClaudeMessage is a fake Claude model's answer (an Anthropic Message) to a Messages request body: a
// thinking block when thinking is enabled, then a tool_use of the first tool when the request offers tools
// and its last message is not a tool result, else text (quoting the tool result when there is one).
func ClaudeMessage(req []byte, id, model, greeting string) []byte {
	root := gjson.ParseBytes(req)
	msg := `{"id":` + jsonString(id) + `,"type":"message","role":"assistant","model":` + jsonString(model) +
		`,"content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":` + ClaudeUsage + `}`
	var blocks []string
	if root.Get("thinking.type").Str == "enabled" {
		blocks = append(blocks, `{"type":"thinking","thinking":`+jsonString(ClaudeThinking)+`,"signature":`+jsonString(ClaudeSignature)+`}`)
	}
	msgs := root.Get("messages").Array()
	var result string
	if len(msgs) > 0 {
		msgs[len(msgs)-1].Get("content").ForEach(func(_, b gjson.Result) bool {
			if b.Get("type").Str == "tool_result" {
				result = b.Get("content").String()
				if c := b.Get("content.0.text"); c.Exists() {
					result = c.Str
				}
			}
			return true
		})
	}
	stop := "end_turn"
	switch name := root.Get("tools.0.name"); {
	case name.Exists() && result == "":
		stop = "tool_use"
		blocks = append(blocks, `{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":`+jsonString(name.Str)+`,"input":{"city":"Paris"}}`)
	case result != "":
		blocks = append(blocks, `{"type":"text","text":`+jsonString("The tool said: "+result)+`}`)
	default:
		blocks = append(blocks, `{"type":"text","text":`+jsonString(greeting)+`}`)
	}
	msg, _ = sjson.Set(msg, "stop_reason", stop)
	msg, _ = sjson.SetRaw(msg, "content", "["+strings.Join(blocks, ",")+"]")
	return []byte(msg)
}

// ClaudeEvents cuts a Message into the Anthropic stream events that send it: message_start (with the input
// side of the usage), each block's content_block_start, deltas (text and thinking in pieces of a few bytes,
// the signature in one signature_delta, tool inputs as JSON fragments) and content_block_stop, message_delta
// with the stop reason and output tokens, and message_stop.
func ClaudeEvents(message []byte) []string {
	m := gjson.ParseBytes(message)
	start, _ := sjson.SetRaw(m.Raw, "content", "[]")
	start, _ = sjson.SetRaw(start, "stop_reason", "null")
	start, _ = sjson.Set(start, "usage.output_tokens", 1)
	evs := []string{`{"type":"message_start","message":` + start + `}`}
	m.Get("content").ForEach(func(k, b gjson.Result) bool {
		i := k.Int()
		switch b.Get("type").Str {
		case "text":
			evs = append(evs, fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, i))
			for _, p := range pieces(b.Get("text").Str, 12) {
				evs = append(evs, fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%s}}`, i, jsonString(p)))
			}
		case "thinking":
			evs = append(evs, fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":"","signature":""}}`, i))
			for _, p := range pieces(b.Get("thinking").Str, 12) {
				evs = append(evs, fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"thinking_delta","thinking":%s}}`, i, jsonString(p)))
			}
			evs = append(evs, fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"signature_delta","signature":%s}}`, i, jsonString(b.Get("signature").Str)))
		case "tool_use":
			evs = append(evs, fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%s,"name":%s,"input":{}}}`,
				i, jsonString(b.Get("id").Str), jsonString(b.Get("name").Str)))
			for _, p := range pieces(b.Get("input").Raw, 8) {
				evs = append(evs, fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, i, jsonString(p)))
			}
		}
		evs = append(evs, fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, i))
		return true
	})
	evs = append(evs, fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%s,"stop_sequence":null},"usage":{"output_tokens":%d}}`,
		jsonString(m.Get("stop_reason").Str), m.Get("usage.output_tokens").Int()))
	return append(evs, `{"type":"message_stop"}`)
}
