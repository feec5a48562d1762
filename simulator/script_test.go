package simulator

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// Tools as Claude Code offers them: a first tool that is not for files, a command tool, and Read.
const agentToolsAnthropic = `"tools":[` +
	`{"name":"Agent","input_schema":{"type":"object","properties":{"prompt":{"type":"string"},"subagent_type":{"type":"string"}},"required":["prompt","subagent_type"]}},` +
	`{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}},` +
	`{"name":"Read","input_schema":{"type":"object","properties":{"file_path":{"type":"string"},"offset":{"type":"integer"}},"required":["file_path"],"additionalProperties":false}}]`

// The user's turn as Claude Code sends it: a reminder, then the prompt.
const agentPromptAnthropic = `{"role":"user","content":[{"type":"text","text":"<system-reminder>\nEnd commits with a line; see CLAUDE.md.\n</system-reminder>\n"},` +
	`{"type":"text","text":"read notes.txt and tell me the code word"}]}`

const agentSystem = `"system":[{"type":"text","text":"You are an agent."},{"type":"text","text":"# Environment\n - Primary working directory: /srv/work\n - Platform: linux"}]`

func TestAgentScriptAnthropic(t *testing.T) {
	srv := startServer(t, Config{Agent: true})
	head := `{"model":"claude-opus-5-5","max_tokens":32000,` + agentSystem + `,` + agentToolsAnthropic + `,"messages":[` + agentPromptAnthropic
	first := head + `]`
	for _, stream := range []bool{false, true} {
		body := first + `}`
		var name, input, stop string
		if stream {
			body = first + `,"stream":true}`
			for _, ev := range mustEvents(t, post(t, srv, "/v1/messages", body)) {
				d := gjson.Parse(ev.data)
				switch ev.name {
				case "content_block_start":
					if d.Get("content_block.type").String() == "tool_use" {
						name = d.Get("content_block.name").String()
					}
				case "content_block_delta":
					input += d.Get("delta.partial_json").String()
				case "message_delta":
					stop = d.Get("delta.stop_reason").String()
				}
			}
		} else {
			got := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
			name = got.Get(`content.#(type=="tool_use").name`).String()
			input = got.Get(`content.#(type=="tool_use").input`).Raw
			stop = got.Get("stop_reason").String()
		}
		if name != "Read" || gjson.Get(input, "file_path").String() != "/srv/work/notes.txt" || stop != "tool_use" {
			t.Errorf("stream %v: first answer calls %q with %s (stop %q), want Read with file_path "+
				"/srv/work/notes.txt (the prompt's file in the announced working directory)", stream, name, input, stop)
		}
		if keys := gjson.Parse(input).Map(); len(keys) != 1 {
			t.Errorf("stream %v: Read input %s, want only the required file_path", stream, input)
		}
	}

	second := head + `,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"/srv/work/notes.txt"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"     1\tThe code word is PLUM-4821."},` +
		`{"type":"text","text":"<system-reminder>Be brief.</system-reminder>"}]}]`
	got := jsonBody(t, post(t, srv, "/v1/messages", second+`}`), 200)
	if text := got.Get("content.0.text").String(); !strings.Contains(text, "PLUM-4821") || got.Get("stop_reason").String() != "end_turn" {
		t.Errorf("answer after the tool result: %s, want end_turn text quoting PLUM-4821", got.Raw)
	}
	streamed := streamText(mustEvents(t, post(t, srv, "/v1/messages", second+`,"stream":true}`)), "delta.text")
	if !strings.Contains(streamed, "The tool returned: 1 The code word is PLUM-4821.") {
		t.Errorf("streamed answer after the tool result: %q, want it to quote the result", streamed)
	}

	// A later user turn after the tool result does not start the script again: the answer quotes the result.
	third := strings.TrimSuffix(second, "]") + `,{"role":"assistant","content":"Done."},{"role":"user","content":"And again?"}]}`
	got = jsonBody(t, post(t, srv, "/v1/messages", third), 200)
	if !strings.Contains(got.Get("content.0.text").String(), "PLUM-4821") {
		t.Errorf("answer to a follow-up: %s, want the tool result quoted, not another tool call", got.Raw)
	}
}

func TestAgentScriptOpenAICommandTool(t *testing.T) {
	srv := startServer(t, Config{Agent: true})
	// As Codex's tools reach a chat provider: exec_command with a required cmd string, after a tool that does not fit.
	tools := `"tools":[{"type":"function","function":{"name":"request_user_input","parameters":{"type":"object","properties":{"questions":{"type":"array","items":{"type":"string"}}},"required":["questions"]}}},` +
		`{"type":"function","function":{"name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"},"workdir":{"type":"string"},"tty":{"type":"boolean"}},"required":["cmd"]}}}]`
	msgs := `"messages":[{"role":"system","content":"You are a coding agent."},{"role":"user","content":"<environment_context><cwd>/srv/work</cwd></environment_context>"},` +
		`{"role":"user","content":"Please read 'data/notes-2.txt' and tell me the code word."}`
	for _, stream := range []bool{false, true} {
		body := `{"model":"gpt-5","stream":` + map[bool]string{false: "false", true: "true"}[stream] + `,` + tools + `,` + msgs + `]}`
		var name, args string
		if stream {
			events := mustEvents(t, post(t, srv, "/v1/chat/completions", body))
			name = streamText(events, "choices.0.delta.tool_calls.0.function.name")
			args = streamText(events, "choices.0.delta.tool_calls.0.function.arguments")
		} else {
			got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
			name = got.Get("choices.0.message.tool_calls.0.function.name").String()
			args = got.Get("choices.0.message.tool_calls.0.function.arguments").String()
		}
		if name != "exec_command" || args != `{"cmd":"cat data/notes-2.txt"}` {
			t.Errorf("stream %v: calls %q with %s, want exec_command with {\"cmd\":\"cat data/notes-2.txt\"}", stream, name, args)
		}
	}
	body := `{"model":"gpt-5",` + tools + `,` + msgs + `,{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"exec_command","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"Output:\nThe code word is FIG-77."}]}`
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
	if c := got.Get("choices.0.message.content").String(); !strings.Contains(c, "FIG-77") || got.Get("choices.0.finish_reason").String() != "stop" {
		t.Errorf("answer after the tool result: %s", got.Raw)
	}
}

func TestAgentScriptGeminiCommandArray(t *testing.T) {
	srv := startServer(t, Config{Agent: true})
	body := `{"contents":[{"role":"user","parts":[{"text":"read /etc/notes.md and tell me the code word"}]}],` +
		`"tools":[{"functionDeclarations":[{"name":"get_time","parameters":{"type":"object"}},` +
		`{"name":"shell","parametersJsonSchema":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"]}}]}]}`
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	call := got.Get("candidates.0.content.parts.0.functionCall")
	if call.Get("name").String() != "shell" || call.Get("args").Raw != `{"command":["cat","/etc/notes.md"]}` {
		t.Errorf("functionCall %s, want shell with [\"cat\",\"/etc/notes.md\"]", call.Raw)
	}
	body = `{"contents":[{"role":"user","parts":[{"text":"read /etc/notes.md"}]},{"role":"model","parts":[{"functionCall":{"name":"shell","args":{}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"shell","response":{"output":"code word: KIWI"}}}]}],` +
		`"tools":[{"functionDeclarations":[{"name":"shell","parameters":{"type":"object","properties":{"command":{"type":"string"}}}}]}]}`
	got = jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	if text := got.Get("candidates.0.content.parts.0.text").String(); !strings.Contains(text, "KIWI") {
		t.Errorf("answer after the function response: %s", got.Raw)
	}
}

// Without the agent script, or when it does not apply, the answer is the dialect's own.
func TestAgentScriptLeavesOtherRequestsAlone(t *testing.T) {
	first := `{"model":"claude-opus-5-5","max_tokens":1024,` + agentToolsAnthropic + `,"messages":[` + agentPromptAnthropic + `]`
	off := startServer(t, Config{})
	on := startServer(t, Config{Agent: true})
	cases := []struct {
		what, body, want string
		agent            bool
		header           []string
	}{
		{"agent off", first + `}`, "Agent", false, nil},
		{"agent on by the fault header", first + `}`, "Read", false, []string{FaultHeader, "agent"}},
		{"agent off by the fault header", first + `}`, "Agent", true, []string{FaultHeader, "agent=off"}},
		{"a tool forced by name", first + `,"tool_choice":{"type":"tool","name":"Bash"}}`, "Bash", true, nil},
		{"no file in the prompt", `{"model":"m","max_tokens":1024,` + agentToolsAnthropic +
			`,"messages":[{"role":"user","content":"tell me a story, e.g. about v1.2 of a tool"}]}`, "Agent", true, nil},
		{"no tool that fits", `{"model":"m","max_tokens":1024,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],` +
			`"messages":[{"role":"user","content":"read notes.txt"}]}`, "get_weather", true, nil},
	}
	for _, c := range cases {
		srv := off
		if c.agent {
			srv = on
		}
		got := jsonBody(t, post(t, srv, "/v1/messages", c.body, c.header...), 200)
		if name := got.Get(`content.#(type=="tool_use").name`).String(); name != c.want {
			t.Errorf("%s: calls %q, want %q", c.what, name, c.want)
		}
	}
	// With the script off, a follow-up after a tool result calls a tool again, as before.
	body := `{"model":"m","max_tokens":1024,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[` +
		`{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]},{"role":"assistant","content":"Sunny."},{"role":"user","content":"and tomorrow?"}]}`
	if name := jsonBody(t, post(t, off, "/v1/messages", body), 200).Get(`content.#(type=="tool_use").name`).String(); name != "get_weather" {
		t.Errorf("agent off, follow-up after a tool result: calls %q, want get_weather", name)
	}
}

func TestFileNamed(t *testing.T) {
	for text, want := range map[string]string{
		"read notes.txt and tell me the code word":        "notes.txt",
		"Read ./src/main.go. Then a.c":                    "./src/main.go",
		"open (config.yaml), please":                      "config.yaml",
		"see https://example.com/a.html or e.g. v1.2 now": "",
		"what is 3.14 and 1.5x, i.e. e.g.":                "",
		"the file is ~/.bashrc":                           "",
		"read ~/notes.txt":                                "~/notes.txt",
	} {
		if got := fileNamed(text); got != want {
			t.Errorf("fileNamed(%q) = %q, want %q", text, got, want)
		}
	}
}

// The script reads Responses requests too (input items, flat function tools, *_call_output items), as Codex
// sends them: the developer and environment items first, custom and built-in tools beside the functions.
func TestAgentScriptResponsesShape(t *testing.T) {
	const head = `{"model":"gpt-5.5","stream":true,"store":false,"include":["reasoning.encrypted_content"],"tools":[` +
		`{"type":"function","name":"request_user_input","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}},` +
		`{"type":"function","name":"view_image","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},` +
		`{"type":"function","name":"exec_command","strict":false,"parameters":{"type":"object","properties":{"cmd":{"type":"string"},"tty":{"type":"boolean"}},"required":["cmd"],"additionalProperties":false}},` +
		`{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},{"type":"web_search"}],` +
		`"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are a coding agent; see AGENTS.md."}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>/srv/work</cwd>\n</environment_context>"}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"read notes.txt and tell me the code word"}]}`
	ex := &exchange{k: knobs{agent: true}, tool: &toolCall{name: "request_user_input"}}
	ex.script(gjson.Parse(head + `]}`))
	if ex.tool == nil || ex.tool.name != "exec_command" || string(ex.tool.appendArgs(nil)) != `{"cmd":"cat notes.txt"}` {
		t.Fatalf("first turn: tool %+v, want exec_command with {\"cmd\":\"cat notes.txt\"}", ex.tool)
	}
	ex = &exchange{k: knobs{agent: true}, tool: &toolCall{name: "request_user_input"}}
	ex.script(gjson.Parse(head + `,{"type":"function_call","call_id":"c1","name":"exec_command","arguments":"{\"cmd\":\"cat notes.txt\"}"},` +
		`{"type":"function_call_output","call_id":"c1","output":"Process exited with code 0\nOutput:\nThe code word is FIG-9."}]}`))
	if ex.tool != nil || !strings.Contains(ex.toolResult, "FIG-9") {
		t.Fatalf("after the function_call_output: tool %+v, toolResult %q, want a text quoting FIG-9", ex.tool, ex.toolResult)
	}
}

func TestAgentScriptResponsesAPI(t *testing.T) {
	srv := startServer(t, Config{Agent: true})
	head := `{"model":"gpt-5.5","store":false,"tools":[` +
		`{"type":"function","name":"view_image","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},` +
		`{"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},` +
		`{"type":"custom","name":"apply_patch","format":{"type":"grammar"}},{"type":"web_search"}],` +
		`"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"read notes.txt and tell me the code word"}]}`
	for _, stream := range []bool{false, true} {
		var call gjson.Result
		if stream {
			for _, ev := range mustEvents(t, post(t, srv, "/v1/responses", head+`],"stream":true}`)) {
				if d := gjson.Parse(ev.data); ev.name == "response.output_item.done" && d.Get("item.type").Str == "function_call" {
					call = d.Get("item")
				}
			}
		} else {
			call = jsonBody(t, post(t, srv, "/v1/responses", head+`]}`), 200).Get(`output.#(type=="function_call")`)
		}
		if call.Get("name").Str != "exec_command" || call.Get("arguments").Str != `{"cmd":"cat notes.txt"}` {
			t.Errorf("stream %v: function_call %s, want exec_command with {\"cmd\":\"cat notes.txt\"}", stream, call.Raw)
		}
	}
	got := jsonBody(t, post(t, srv, "/v1/responses", head+`,{"type":"function_call","call_id":"call_1","name":"exec_command","arguments":"{}"},`+
		`{"type":"function_call_output","call_id":"call_1","output":"Output:\nThe code word is FIG-9."}]}`), 200)
	if text := got.Get(`output.#(type=="message").content.0.text`).Str; !strings.Contains(text, "FIG-9") {
		t.Errorf("answer after the function_call_output: %s", got.Get("output").Raw)
	}
}
