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

	// Filled by the dialect's parse when the answer is a tool call.
	tool *toolCall

	// Filled by plan for a text answer.
	words     int
	truncated bool // maxTokens cut the answer short
}

// toolCall is a simulated call to the request's first (or forced) tool.
type toolCall struct {
	name string
	// args are the fragments of the arguments JSON object, each counted as one completion token and streamed
	// as one delta.
	args []string
}

// plan decides the length of a text answer.
func (ex *exchange) plan() {
	ex.words = ex.k.completionTokens
	if ex.maxTokens > 0 && ex.maxTokens < ex.words {
		ex.words = ex.maxTokens
		ex.truncated = true
	}
}

// completionTokens is the number of tokens the answer is reported to have.
func (ex *exchange) completionTokens() int {
	if ex.tool != nil {
		return len(ex.tool.args)
	}
	return ex.words
}

// appendText appends the whole text answer.
func (ex *exchange) appendText(dst []byte) []byte { return appendWords(dst, 0, ex.words) }

// appendArgs appends the whole arguments JSON object of the tool call.
func (t *toolCall) appendArgs(dst []byte) []byte {
	for _, a := range t.args {
		dst = append(dst, a...)
	}
	return dst
}

// newToolCall builds a call to the tool whose JSON Schema is schema, with a small arguments object holding
// one example value per required property.
func newToolCall(name string, schema gjson.Result) *toolCall {
	t := &toolCall{name: name}
	required := schema.Get("required").Array()
	if len(required) == 0 {
		t.args = []string{"{}"}
		return t
	}
	props := schema.Get("properties")
	sep := `{"`
	for _, req := range required {
		key := req.String()
		quoted := string(transform.AppendJSONString(nil, key))
		t.args = append(t.args, sep, quoted[1:len(quoted)-1])
		value, isString := exampleValue(propertySchema(props, key))
		if isString {
			t.args = append(t.args, `":"`, value)
			sep = `","`
		} else {
			t.args = append(t.args, `":`, value)
			sep = `,"`
		}
	}
	if sep == `","` {
		t.args = append(t.args, `"}`)
	} else {
		t.args = append(t.args, `}`)
	}
	return t
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

// exampleValue returns a value for a property: the first of its enum, else one chosen by its type. A string
// value is returned without its quotes.
func exampleValue(prop gjson.Result) (value string, isString bool) {
	if first := prop.Get("enum.0"); first.Exists() {
		if first.Type == gjson.String {
			quoted := string(transform.AppendJSONString(nil, first.String()))
			return quoted[1 : len(quoted)-1], true
		}
		return first.Raw, false
	}
	typ := prop.Get("type")
	if typ.IsArray() {
		typ = typ.Get("0")
	}
	switch strings.ToLower(typ.String()) {
	case "integer", "number":
		return "1", false
	case "boolean":
		return "true", false
	case "array":
		return "[]", false
	case "object":
		return "{}", false
	case "null":
		return "null", false
	}
	return "sample", true
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
