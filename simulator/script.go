package simulator

import (
	"regexp"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// The scripted agent conversation (Config.Agent) plays the two turns of an agent that reads a file: asked
// "read notes.txt and tell me the code word" with a file-reading or command tool on offer, the first answer
// calls that tool to read notes.txt; once the tool's result is in the conversation, the answer quotes it. It
// reads the request in a format-neutral way (OpenAI chat messages, Anthropic messages, Gemini contents,
// Responses input items), after the dialect has parsed it, so it applies to every chat format.

// Names of the tool properties that hold a file path or a command, in order of preference.
var (
	pathProperties    = []string{"file_path", "path", "filepath", "filename", "file", "target_file", "absolute_path"}
	commandProperties = []string{"command", "cmd"}
)

// cwdPatterns find the working directory an agent client announces to the model: Claude Code's "Primary
// working directory: /dir", Codex's "<cwd>/dir</cwd>".
var cwdPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)working directory:\s*(/[^\s<"']*)`),
	regexp.MustCompile(`<cwd>\s*(/[^<\s]*)\s*</cwd>`),
}

// systemReminder matches the reminders clients such as Claude Code put in the user's turn beside the prompt.
var systemReminder = regexp.MustCompile(`(?s)<system-reminder>.*?</system-reminder>`)

// script applies the scripted agent conversation to an exchange its dialect has parsed from req. A
// conversation that already holds a tool result gets the quoted result as its answer; one with none, whose
// answer the dialect made a call to a tool not forced by name, gets a call to the file-reading or command
// tool on offer that reads the file the user's last prompt names. Anything else is left as the dialect
// decided.
func (ex *exchange) script(req gjson.Result) {
	if ex.counting || ex.jsonMode {
		return
	}
	conv := conversation(req)
	if result, ok := lastToolResult(conv); ok {
		if !forcedTool(req) {
			ex.tool = nil
			if ex.toolResult == "" {
				ex.toolResult = textOf(result)
			}
		}
		return
	}
	if ex.tool == nil || forcedTool(req) {
		return
	}
	file := fileNamed(lastUserText(conv))
	if file == "" {
		return
	}
	if call := readFileCall(req, file); call != nil {
		ex.tool = call
	}
}

// conversation returns the request's turns: messages (OpenAI chat, Anthropic), contents (Gemini) or input
// (Responses; a string is one user turn).
func conversation(req gjson.Result) gjson.Result {
	for _, path := range [...]string{"messages", "contents", "input"} {
		if v := req.Get(path); v.Exists() {
			return v
		}
	}
	return gjson.Result{}
}

// lastToolResult returns the content of the conversation's last tool result: an OpenAI "tool" message, an
// Anthropic tool_result block, a Gemini functionResponse part, or a Responses *_call_output item.
func lastToolResult(conv gjson.Result) (gjson.Result, bool) {
	var result gjson.Result
	found := false
	conv.ForEach(func(_, turn gjson.Result) bool {
		switch {
		case turn.Get("role").String() == "tool":
			result, found = turn.Get("content"), true
		case strings.HasSuffix(turn.Get("type").String(), "_call_output"):
			result, found = turn.Get("output"), true
		default:
			if r, ok := toolResult(turn); ok {
				result, found = r, true
			} else if r, ok := functionResponse(turn); ok {
				result, found = r, true
			}
		}
		return true
	})
	return result, found
}

// lastUserText returns the text of the conversation's last user turn that has text, without system
// reminders.
func lastUserText(conv gjson.Result) string {
	if conv.Type == gjson.String {
		return conv.Str
	}
	var text string
	conv.ForEach(func(_, turn gjson.Result) bool {
		if turn.Get("role").String() != "user" {
			return true
		}
		var b strings.Builder
		content := turn.Get("content")
		if content.Type == gjson.String {
			b.WriteString(content.Str)
		}
		for _, parts := range [...]gjson.Result{content, turn.Get("parts")} {
			parts.ForEach(func(_, p gjson.Result) bool {
				if t := p.Get("text"); t.Type == gjson.String {
					b.WriteString(t.Str)
					b.WriteByte('\n')
				}
				return true
			})
		}
		if s := strings.TrimSpace(systemReminder.ReplaceAllString(b.String(), "")); s != "" {
			text = s
		}
		return true
	})
	return text
}

// fileNamed returns the first word of text that looks like a file name (notes.txt, ./src/main.go,
// /tmp/x/notes.md): letters, digits and ._-/~ with an extension of 2 to 8 letters and digits that starts with
// a letter (so neither 3.14 nor e.g.), not a URL. Empty when there is none.
func fileNamed(text string) string {
	for _, w := range strings.Fields(text) {
		w = strings.Trim(w, "\"'`()[]{}<>,;:!?*")
		w = strings.TrimRight(w, ".")
		if looksLikeFile(w) {
			return w
		}
	}
	return ""
}

func looksLikeFile(w string) bool {
	dot := strings.LastIndexByte(w, '.')
	if ext := len(w) - dot - 1; dot < 1 || ext < 2 || ext > 8 || w[dot+1]|0x20 < 'a' || w[dot+1]|0x20 > 'z' ||
		!isAlnum(w[dot-1]) && w[dot-1] != '_' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c < 0x80 && isAlnum(c) || strings.IndexByte("._-/~", c) >= 0) {
			return false
		}
	}
	for i := dot + 1; i < len(w); i++ {
		if !isAlnum(w[i]) {
			return false
		}
	}
	return true
}

// forcedTool reports whether the request forces a tool by name (OpenAI and Responses tool_choice, Anthropic
// tool_choice {"type":"tool"}, Gemini allowedFunctionNames).
func forcedTool(req gjson.Result) bool {
	choice := req.Get("tool_choice")
	return choice.Get("name").Exists() || choice.Get("function.name").Exists() ||
		req.Get("toolConfig.functionCallingConfig.allowedFunctionNames.0").Exists()
}

// offeredTool is one tool a request declares, whatever the format.
type offeredTool struct {
	name   string
	schema gjson.Result
}

// offeredTools lists the request's tools: OpenAI chat {"type":"function","function":{…}}, Anthropic and
// Responses {"name":…,"input_schema"|"parameters":…}, Gemini functionDeclarations.
func offeredTools(req gjson.Result) []offeredTool {
	var tools []offeredTool
	add := func(t gjson.Result) {
		if fn := t.Get("function"); fn.IsObject() {
			t = fn
		}
		name := t.Get("name").String()
		if name == "" {
			return
		}
		schema := t.Get("input_schema")
		for _, alt := range [...]string{"parameters", "parametersJsonSchema"} {
			if !schema.Exists() {
				schema = t.Get(alt)
			}
		}
		tools = append(tools, offeredTool{name: name, schema: schema})
	}
	req.Get("tools").ForEach(func(_, t gjson.Result) bool {
		if decls := t.Get("functionDeclarations"); decls.IsArray() {
			decls.ForEach(func(_, d gjson.Result) bool { add(d); return true })
		} else {
			add(t)
		}
		return true
	})
	return tools
}

// readFileCall returns a call that reads file with one of the request's tools: a file-reading tool (its name
// says read, view, cat or open but not image, write or edit, and it has a path property) in preference to a command tool (bash, shell,
// exec, run, terminal, command, with a command property, given "cat <file>"). A relative file is made
// absolute for a file-reading tool when the conversation names the working directory. Nil when no tool fits.
func readFileCall(req gjson.Result, file string) *toolCall {
	tools := offeredTools(req)
	for _, t := range tools {
		if !nameHas(t.name, "read", "view", "cat", "open") || nameHas(t.name, "image", "write", "edit") {
			continue
		}
		if prop, ok := stringProperty(t.schema, pathProperties); ok {
			path := file
			if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "~") {
				if dir := workingDirectory(req); dir != "" {
					path = strings.TrimSuffix(dir, "/") + "/" + strings.TrimPrefix(path, "./")
				}
			}
			return scriptedCall(t, prop, transform.AppendJSONString(nil, path))
		}
	}
	for _, t := range tools {
		if !nameHas(t.name, "bash", "shell", "exec", "run", "terminal", "command") {
			continue
		}
		for _, prop := range commandProperties {
			p := propertySchema(t.schema.Get("properties"), prop)
			if !p.Exists() {
				continue
			}
			switch schemaType(p) {
			case "string":
				return scriptedCall(t, prop, transform.AppendJSONString(nil, "cat "+shellQuote(file)))
			case "array":
				v := append(transform.AppendJSONString([]byte(`["cat",`), file), ']')
				return scriptedCall(t, prop, v)
			}
		}
	}
	return nil
}

// nameHas reports whether a tool name, in lower case, contains one of the words.
func nameHas(name string, words ...string) bool {
	name = strings.ToLower(name)
	for _, w := range words {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// stringProperty returns the first of names that the schema declares as a string property.
func stringProperty(schema gjson.Result, names []string) (string, bool) {
	props := schema.Get("properties")
	for _, n := range names {
		if p := propertySchema(props, n); p.Exists() && schemaType(p) == "string" {
			return n, true
		}
	}
	return "", false
}

// scriptedCall builds a call to t whose arguments set prop to the JSON value and every other required
// property to an example valid against its schema.
func scriptedCall(t offeredTool, prop string, value []byte) *toolCall {
	args := append(transform.AppendJSONString([]byte{'{'}, prop), ':')
	args = append(args, value...)
	props := t.schema.Get("properties")
	t.schema.Get("required").ForEach(func(_, r gjson.Result) bool {
		if name := r.String(); name != prop {
			args = append(transform.AppendJSONString(append(args, ','), name), ':')
			args = appendExample(args, propertySchema(props, name), t.schema, 1)
		}
		return true
	})
	args = append(args, '}')
	return &toolCall{name: t.name, args: splitPieces(string(args))}
}

// workingDirectory returns the working directory the request's text announces, or "".
func workingDirectory(req gjson.Result) string {
	var dir string
	var walk func(v gjson.Result, depth int) bool
	walk = func(v gjson.Result, depth int) bool {
		switch {
		case v.Type == gjson.String:
			for _, re := range cwdPatterns {
				if m := re.FindStringSubmatch(v.Str); m != nil {
					dir = m[1]
					return false
				}
			}
		case depth < 8 && (v.IsArray() || v.IsObject()):
			v.ForEach(func(_, c gjson.Result) bool { return walk(c, depth+1) })
		}
		return dir == ""
	}
	for _, path := range [...]string{"system", "instructions", "systemInstruction", "messages", "contents", "input"} {
		if !walk(req.Get(path), 0) {
			break
		}
	}
	return dir
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c < 0x80 && isAlnum(c) || strings.IndexByte("._-/~+=:@%,", c) >= 0) {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
