package simulator

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// exchange is one request and the answer the simulator decided to give it.
type exchange struct {
	k            knobs
	model        string
	stream       bool
	includeUsage bool // OpenAI: stream_options.include_usage
	maxTokens    int  // the request's cap on completion tokens; 0 when none
	promptTokens int
	created      int64
	counting     bool // the request is for a token-counting endpoint
	tok          *usage.Tokenizer

	// Filled by the dialect's parse.
	tool        *toolCall    // the answer is a call to this tool
	schema      gjson.Result // structured output: the answer is JSON valid against this schema
	jsonMode    bool         // structured output: the answer is a JSON object (schema may be empty)
	toolResult  string       // the conversation ends with this tool result: the answer quotes it
	choices     int          // number of choices (OpenAI n, Gemini candidateCount); 0 or 1 is one
	logprobs    bool         // the answer carries log probabilities
	topLogprobs int          // and this many alternatives per token
	thinking    int          // words of thinking (reasoning) before the answer; 0 for none

	// Filled by plan for a text answer.
	text      []string // the answer's pieces when it is not the stock words (JSON, a quoted tool result)
	words     int      // pieces (words) sent
	truncated bool     // maxTokens cut the answer short
}

// toolCall is a simulated call to the request's first (or forced) tool.
type toolCall struct {
	name string
	// args are the fragments of the arguments JSON object, each counted as one completion token and streamed
	// as one delta.
	args []string
}

// plan decides the text of the answer and its length; body is the request, for the scripted agent
// conversation (see script).
func (ex *exchange) plan(body []byte) {
	if ex.k.agent {
		ex.script(gjson.ParseBytes(body))
	}
	ex.words = ex.k.completionTokens
	switch {
	case ex.jsonMode:
		var js []byte
		if ex.schema.Exists() {
			js = appendExample(nil, ex.schema, ex.schema, 0)
		} else {
			js = append(appendWords([]byte(`{"answer":"`), 0, ex.k.completionTokens), `"}`...)
		}
		ex.text = splitPieces(string(js))
		ex.words = len(ex.text)
	case ex.toolResult != "":
		ex.text = strings.SplitAfter("The tool returned: "+ex.toolResult, " ")
		ex.words = len(ex.text)
	}
	if ex.maxTokens > 0 && ex.maxTokens < ex.thinking+ex.words {
		ex.thinking = min(ex.thinking, ex.maxTokens/2)
		ex.words = ex.maxTokens - ex.thinking
		ex.truncated = true
	}
}

// nChoices is the number of choices of the answer.
func (ex *exchange) nChoices() int { return max(ex.choices, 1) }

// completionTokens is the number of tokens of one choice of the answer, thinking included.
func (ex *exchange) completionTokens() int {
	if ex.tool != nil {
		return len(ex.tool.args) + ex.thinking
	}
	return ex.words + ex.thinking
}

// appendText appends the whole text answer of choice 0 as a JSON string, quotes included.
func (ex *exchange) appendText(dst []byte) []byte { return ex.appendPiecesJSON(dst, 0, 0, ex.words) }

// appendPiecesJSON appends, as a JSON string with its quotes, pieces from to from+n-1 of choice c's answer.
// The stock words of choice c after the first are taken c*choiceShift words further in the list, so choices
// differ.
func (ex *exchange) appendPiecesJSON(dst []byte, c, from, n int) []byte {
	if ex.text == nil {
		return append(appendWordsShifted(append(dst, '"'), c*choiceShift, from, n), '"')
	}
	return transform.AppendJSONString(dst, strings.Join(ex.text[from:from+n], ""))
}

// piece returns piece i of choice c's answer, unquoted.
func (ex *exchange) piece(c, i int) string {
	if ex.text != nil {
		return ex.text[i]
	}
	if i == 0 {
		return words[0]
	}
	return " " + words[(i+c*choiceShift)%len(words)]
}

// appendThinkingJSON appends thinking words from to from+n-1 as a JSON string with its quotes.
func appendThinkingJSON(dst []byte, from, n int) []byte {
	dst = append(dst, '"')
	for i := from; i < from+n; i++ {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, thinkingWords[i%len(thinkingWords)]...)
	}
	return append(dst, '"')
}

// thinkingFor is the length of the thinking for an effort named as OpenAI's reasoning_effort or Anthropic's
// output_config.effort; 0 for none.
func thinkingFor(effort string) int {
	switch strings.ToLower(effort) {
	case "", "none":
		return 0
	case "minimal":
		return 4
	case "low":
		return 8
	case "high", "xhigh", "max":
		return 32
	}
	return 16
}

// appendArgs appends the whole arguments JSON object of the tool call.
func (t *toolCall) appendArgs(dst []byte) []byte {
	for _, a := range t.args {
		dst = append(dst, a...)
	}
	return dst
}

// newToolCall builds a call to the tool whose JSON Schema is schema, with arguments that validate against
// it (see appendExample).
func newToolCall(name string, schema gjson.Result) *toolCall {
	t := &toolCall{name: name}
	if !schema.Exists() {
		t.args = []string{"{}"}
		return t
	}
	t.args = splitPieces(string(appendExample(nil, schema, schema, 0)))
	return t
}

// textOf returns the text of a message's content: a string, or the texts of its parts (OpenAI "text",
// Anthropic text blocks and tool_result contents), or the raw JSON of anything else, whitespace collapsed and
// cut to 300 bytes.
func textOf(content gjson.Result) string {
	var b strings.Builder
	var walk func(v gjson.Result, depth int)
	walk = func(v gjson.Result, depth int) {
		switch {
		case v.Type == gjson.String:
			b.WriteString(v.Str)
			b.WriteByte(' ')
		case v.IsArray() && depth < 4:
			v.ForEach(func(_, p gjson.Result) bool {
				switch {
				case p.Get("text").Type == gjson.String:
					walk(p.Get("text"), depth+1)
				case p.Get("content").Exists():
					walk(p.Get("content"), depth+1)
				default:
					walk(p, depth+1)
				}
				return true
			})
		case v.Exists():
			b.WriteString(v.Raw)
			b.WriteByte(' ')
		}
	}
	walk(content, 0)
	s := strings.Join(strings.Fields(b.String()), " ")
	if len(s) > 300 {
		s = s[:300]
		for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
			s = s[:len(s)-1]
		}
		if len(s) > 0 && s[len(s)-1] >= 0x80 {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	if s == "" {
		s = "nothing"
	}
	return s
}

func propertySchema(props gjson.Result, key string) gjson.Result {
	var found gjson.Result
	props.ForEach(func(k, v gjson.Result) bool {
		if k.String() == key {
			found = v
			return false
		}
		return true
	})
	return found
}

// toolSpec is where a dialect keeps its tool definitions.
type toolSpec struct {
	list   gjson.Result // the array of tools
	name   string       // path of a tool's name inside one tool
	schema string       // path of a tool's JSON Schema inside one tool (first that exists)
	alt    string       // alternative schema path; may be empty
}

// pick returns a call to the tool named forced, or to the first tool when forced is empty or unknown.
func (s toolSpec) pick(forced string) *toolCall {
	var chosen, first gjson.Result
	s.list.ForEach(func(_, tool gjson.Result) bool {
		if !first.Exists() {
			first = tool
		}
		if forced == "" || tool.Get(s.name).String() == forced {
			chosen = tool
			return false
		}
		return true
	})
	if !chosen.Exists() {
		chosen = first
	}
	if !chosen.Exists() {
		return nil
	}
	schema := chosen.Get(s.schema)
	if !schema.Exists() && s.alt != "" {
		schema = chosen.Get(s.alt)
	}
	return newToolCall(chosen.Get(s.name).String(), schema)
}

// estimateTokens is the simulator's prompt-token estimate: 3 per message plus a quarter of the bytes of
// every string in it, plus 3.
func estimateTokens(messages ...gjson.Result) int {
	n := 3
	for _, list := range messages {
		if list.IsArray() {
			list.ForEach(func(_, m gjson.Result) bool {
				n += 3 + (stringBytes(m, 0)+3)/4
				return true
			})
		} else if list.Exists() {
			n += (stringBytes(list, 0) + 3) / 4
		}
	}
	return n
}

// stringBytes sums the lengths of the strings in v, to a bounded depth.
func stringBytes(v gjson.Result, depth int) int {
	switch {
	case v.Type == gjson.String:
		return len(v.Str)
	case depth > 16 || !(v.IsArray() || v.IsObject()):
		return 0
	}
	n := 0
	v.ForEach(func(_, c gjson.Result) bool {
		n += stringBytes(c, depth+1)
		return true
	})
	return n
}

// last returns the last element of an array.
func last(list gjson.Result) gjson.Result {
	var l gjson.Result
	list.ForEach(func(_, v gjson.Result) bool {
		l = v
		return true
	})
	return l
}
