package simulator

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// responsesAPI speaks OpenAI's Responses API (POST /v1/responses), as OpenAI and Azure do: the same
// simulated answers as the other formats (text, a call to the request's first or forced function tool, JSON
// for text.format, reasoning for reasoning.effort), as a Response object or its named stream events.
type responsesAPI struct{}

func (responsesAPI) parse(ex *exchange, body []byte) error {
	if transform.CheckJSON(body) != nil {
		return errors.New("we could not parse the JSON body of your request; send a valid JSON object")
	}
	req := gjson.ParseBytes(body)
	if ex.model = req.Get("model").String(); ex.model == "" {
		return errors.New("you must provide a model parameter")
	}
	input := req.Get("input")
	if input.Type != gjson.String && !(input.IsArray() && len(input.Array()) > 0) {
		return errors.New("'input' must be a string or a non-empty array of input items")
	}
	ex.stream = req.Get("stream").Bool()
	ex.maxTokens = int(req.Get("max_output_tokens").Int())
	ex.promptTokens = ex.tok.Count(ex.model, req.Get("instructions").String()+" "+textOf(input)) + 3
	switch f := req.Get("text.format"); f.Get("type").String() {
	case "json_schema":
		ex.jsonMode = true
		ex.schema = f.Get("schema")
	case "json_object":
		ex.jsonMode = true
	}
	ex.thinking = thinkingFor(req.Get("reasoning.effort").String())
	if input.IsArray() {
		if t := last(input).Get("type").String(); t == "function_call_output" || t == "custom_tool_call_output" {
			item := last(input)
			ex.toolResult = textOf(item.Get("output"))
			return nil
		}
	}
	choice := req.Get("tool_choice")
	if choice.String() == "none" {
		return nil
	}
	var functions []string
	req.Get("tools").ForEach(func(_, t gjson.Result) bool {
		if t.Get("type").String() == "function" {
			functions = append(functions, t.Raw)
		}
		return true
	})
	tools := toolSpec{list: gjson.Parse("[" + strings.Join(functions, ",") + "]"), name: "name", schema: "parameters"}
	ex.tool = tools.pick(choice.Get("name").String())
	return nil
}

// usage is what the Responses API reports: like chat's, the answer's tokens plus the end of the message.
func (responsesAPI) usage(ex *exchange) usage.Usage { return openAI{}.usage(ex) }

// appendResponsesUsage appends a Responses usage object.
func appendResponsesUsage(b []byte, u usage.Usage) []byte {
	return transform.AppendResponsesUsage(b, u, -1)
}

// responsesIDs are the ids of one simulated response and its items.
type responsesIDs struct{ resp, reasoning, msg, call, callID string }

func newResponsesIDs() responsesIDs {
	return responsesIDs{resp: transform.NewID("resp_"), reasoning: transform.NewID("rs_"), msg: transform.NewID("msg_"),
		call: transform.NewID("fc_"), callID: transform.NewID("call_")}
}

// appendObject appends the Response object with status and output (a JSON array); usage is written when
// done.
func (d responsesAPI) appendObject(b []byte, ex *exchange, ids responsesIDs, status string, output []byte, done bool) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, ids.resp)
	b = append(b, `,"object":"response","created_at":`...)
	b = strconv.AppendInt(b, ex.created, 10)
	b = append(b, `,"status":`...)
	b = transform.AppendJSONString(b, status)
	b = append(b, `,"error":null,"incomplete_details":`...)
	if status == "incomplete" {
		b = append(b, `{"reason":"max_output_tokens"}`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, ex.model)
	b = append(b, `,"output":`...)
	b = append(b, output...)
	b = append(b, `,"parallel_tool_calls":true,"store":true,"tool_choice":"auto","tools":[],"usage":`...)
	if done && ex.k.reportUsage {
		b = appendResponsesUsage(b, d.usage(ex))
	} else {
		b = append(b, "null"...)
	}
	return append(b, `,"metadata":{}}`...)
}

func (d responsesAPI) status(ex *exchange) string {
	if ex.truncated && ex.tool == nil {
		return "incomplete"
	}
	return "completed"
}

// appendOutput appends the answer's output items, as done.
func (responsesAPI) appendOutput(b []byte, ex *exchange, ids responsesIDs) []byte {
	b = append(b, '[')
	if ex.thinking > 0 {
		b = appendReasoning(b, ids, appendThinkingJSON(nil, 0, ex.thinking))
		b = append(b, ',')
	}
	if ex.tool != nil {
		b = appendCall(b, ex, ids, "completed", string(ex.tool.appendArgs(nil)))
	} else {
		b = appendMessage(b, ids, "completed", ex.appendText(nil))
	}
	return append(b, ']')
}

func appendReasoning(b []byte, ids responsesIDs, summary []byte) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, ids.reasoning)
	b = append(b, `,"type":"reasoning","summary":[`...)
	if summary != nil {
		b = append(b, `{"type":"summary_text","text":`...)
		b = append(append(b, summary...), '}')
	}
	return append(b, "]}"...)
}

// appendMessage appends a message item; text is a JSON string literal, nil for an item not yet begun.
func appendMessage(b []byte, ids responsesIDs, status string, text []byte) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, ids.msg)
	b = append(b, `,"type":"message","status":`...)
	b = transform.AppendJSONString(b, status)
	b = append(b, `,"role":"assistant","content":[`...)
	if text != nil {
		b = appendTextPart(b, text)
	}
	return append(b, "]}"...)
}

func appendTextPart(b, text []byte) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = append(b, text...)
	return append(b, `,"annotations":[],"logprobs":[]}`...)
}

func appendCall(b []byte, ex *exchange, ids responsesIDs, status, args string) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, ids.call)
	b = append(b, `,"type":"function_call","status":`...)
	b = transform.AppendJSONString(b, status)
	b = append(b, `,"arguments":`...)
	b = transform.AppendJSONString(b, args)
	b = append(b, `,"call_id":`...)
	b = transform.AppendJSONString(b, ids.callID)
	b = append(b, `,"name":`...)
	b = transform.AppendJSONString(b, ex.tool.name)
	return append(b, '}')
}

func (d responsesAPI) appendResponse(b []byte, ex *exchange) []byte {
	ids := newResponsesIDs()
	return d.appendObject(b, ex, ids, d.status(ex), d.appendOutput(nil, ex, ids), true)
}

// responsesEvents writes one stream's events, numbering them.
type responsesEvents struct {
	st  *streamer
	seq int
}

// event begins an event of type name: {"type":name,"sequence_number":n
func (e *responsesEvents) event(name string) []byte {
	b := append(e.st.begin(name), `{"type":`...)
	b = transform.AppendJSONString(b, name)
	b = append(b, `,"sequence_number":`...)
	b = strconv.AppendInt(b, int64(e.seq), 10)
	e.seq++
	return b
}

func (e *responsesEvents) send(b []byte) error { return e.st.send(append(b, '}')) }

// item appends the item fields of an item event: item_id and output_index.
func item(b []byte, id string, index int) []byte {
	b = append(b, `,"item_id":`...)
	b = transform.AppendJSONString(b, id)
	b = append(b, `,"output_index":`...)
	return strconv.AppendInt(b, int64(index), 10)
}

func (d responsesAPI) stream(st *streamer, ex *exchange) error {
	ids := newResponsesIDs()
	e := &responsesEvents{st: st}
	for _, name := range [...]string{"response.created", "response.in_progress"} {
		b := append(e.event(name), `,"response":`...)
		if err := e.send(d.appendObject(b, ex, ids, "in_progress", []byte("[]"), false)); err != nil {
			return err
		}
	}
	index := 0
	if ex.thinking > 0 {
		if err := d.streamReasoning(e, ex, ids); err != nil {
			return err
		}
		index++
	}
	var err error
	if ex.tool != nil {
		err = d.streamCall(e, ex, ids, index)
	} else {
		err = d.streamText(e, ex, ids, index)
	}
	if err != nil {
		return err
	}
	name := "response.completed"
	if d.status(ex) == "incomplete" {
		name = "response.incomplete"
	}
	b := append(e.event(name), `,"response":`...)
	return e.send(d.appendObject(b, ex, ids, d.status(ex), d.appendOutput(nil, ex, ids), true))
}

func (responsesAPI) streamReasoning(e *responsesEvents, ex *exchange, ids responsesIDs) error {
	b := append(e.event("response.output_item.added"), `,"output_index":0,"item":`...)
	if err := e.send(appendReasoning(b, ids, nil)); err != nil {
		return err
	}
	b = item(e.event("response.reasoning_summary_part.added"), ids.reasoning, 0)
	if err := e.send(append(b, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)); err != nil {
		return err
	}
	for i := 0; i < ex.thinking; i += ex.k.chunkTokens {
		k := min(ex.k.chunkTokens, ex.thinking-i)
		if err := e.st.pace(k); err != nil {
			return err
		}
		b = item(e.event("response.reasoning_summary_text.delta"), ids.reasoning, 0)
		b = appendThinkingJSON(append(b, `,"summary_index":0,"delta":`...), i, k)
		if err := e.send(b); err != nil {
			return err
		}
	}
	text := appendThinkingJSON(nil, 0, ex.thinking)
	b = item(e.event("response.reasoning_summary_text.done"), ids.reasoning, 0)
	if err := e.send(append(append(b, `,"summary_index":0,"text":`...), text...)); err != nil {
		return err
	}
	b = item(e.event("response.reasoning_summary_part.done"), ids.reasoning, 0)
	b = append(append(b, `,"summary_index":0,"part":{"type":"summary_text","text":`...), text...)
	if err := e.send(append(b, '}')); err != nil {
		return err
	}
	b = append(e.event("response.output_item.done"), `,"output_index":0,"item":`...)
	return e.send(appendReasoning(b, ids, text))
}

func (responsesAPI) streamText(e *responsesEvents, ex *exchange, ids responsesIDs, index int) error {
	b := append(e.event("response.output_item.added"), `,"output_index":`...)
	b = append(strconv.AppendInt(b, int64(index), 10), `,"item":`...)
	if err := e.send(appendMessage(b, ids, "in_progress", nil)); err != nil {
		return err
	}
	b = item(e.event("response.content_part.added"), ids.msg, index)
	if err := e.send(appendTextPart(append(b, `,"content_index":0,"part":`...), []byte(`""`))); err != nil {
		return err
	}
	for i := 0; i < ex.words; i += ex.k.chunkTokens {
		k := min(ex.k.chunkTokens, ex.words-i)
		if err := e.st.pace(k); err != nil {
			return err
		}
		b = item(e.event("response.output_text.delta"), ids.msg, index)
		b = ex.appendPiecesJSON(append(b, `,"content_index":0,"delta":`...), 0, i, k)
		if err := e.send(append(b, `,"logprobs":[]`...)); err != nil {
			return err
		}
	}
	text := ex.appendText(nil)
	b = item(e.event("response.output_text.done"), ids.msg, index)
	if err := e.send(append(append(append(b, `,"content_index":0,"text":`...), text...), `,"logprobs":[]`...)); err != nil {
		return err
	}
	b = item(e.event("response.content_part.done"), ids.msg, index)
	if err := e.send(appendTextPart(append(b, `,"content_index":0,"part":`...), text)); err != nil {
		return err
	}
	b = append(e.event("response.output_item.done"), `,"output_index":`...)
	b = append(strconv.AppendInt(b, int64(index), 10), `,"item":`...)
	return e.send(appendMessage(b, ids, "completed", text))
}

func (responsesAPI) streamCall(e *responsesEvents, ex *exchange, ids responsesIDs, index int) error {
	b := append(e.event("response.output_item.added"), `,"output_index":`...)
	b = append(strconv.AppendInt(b, int64(index), 10), `,"item":`...)
	if err := e.send(appendCall(b, ex, ids, "in_progress", "")); err != nil {
		return err
	}
	for _, a := range ex.tool.args {
		if err := e.st.pace(1); err != nil {
			return err
		}
		b = item(e.event("response.function_call_arguments.delta"), ids.call, index)
		b = transform.AppendJSONString(append(b, `,"delta":`...), a)
		if err := e.send(b); err != nil {
			return err
		}
	}
	args := string(ex.tool.appendArgs(nil))
	b = item(e.event("response.function_call_arguments.done"), ids.call, index)
	if err := e.send(transform.AppendJSONString(append(b, `,"arguments":`...), args)); err != nil {
		return err
	}
	b = append(e.event("response.output_item.done"), `,"output_index":`...)
	b = append(strconv.AppendInt(b, int64(index), 10), `,"item":`...)
	return e.send(appendCall(b, ex, ids, "completed", args))
}

func (responsesAPI) appendError(b []byte, status int, message string, retryAfter time.Duration) []byte {
	return openAI{}.appendError(b, status, message, retryAfter)
}

func (responsesAPI) appendCount(b []byte, promptTokens int) []byte {
	b = append(b, `{"object":"response.input_tokens","input_tokens":`...)
	return append(strconv.AppendInt(b, int64(promptTokens), 10), '}')
}

func (responsesAPI) setHeaders(h http.Header) { openAI{}.setHeaders(h) }
