package simulator

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// streamText concatenates a field of every event's data.
func streamText(events []event, path string) string {
	var b strings.Builder
	for _, ev := range events {
		if ev.data != "[DONE]" {
			b.WriteString(gjson.Get(ev.data, path).String())
		}
	}
	return b.String()
}

func TestOpenAIStructuredOutputs(t *testing.T) {
	srv := startServer(t, Config{})
	for _, stream := range []bool{false, true} {
		streamed := ""
		if stream {
			streamed = `"stream":true,`
		}
		body := `{"model":"gpt-4o-mini",` + streamed + `"messages":[{"role":"user","content":"A recipe."}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"recipe","strict":true,"schema":` + recipeSchema + `}}}`
		var content string
		if stream {
			content = streamText(mustEvents(t, post(t, srv, "/v1/chat/completions", body)), "choices.0.delta.content")
		} else {
			got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
			content = got.Get("choices.0.message.content").String()
			if got.Get("choices.0.finish_reason").String() != "stop" {
				t.Errorf("finish_reason %s", got.Get("choices.0.finish_reason").Raw)
			}
		}
		mustValidate(t, "json_schema content", content, recipeSchema)

		body = `{"model":"gpt-4o-mini",` + streamed + `"messages":[{"role":"user","content":"JSON please."}],"response_format":{"type":"json_object"}}`
		if stream {
			content = streamText(mustEvents(t, post(t, srv, "/v1/chat/completions", body)), "choices.0.delta.content")
		} else {
			content = jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200).Get("choices.0.message.content").String()
		}
		if !gjson.Valid(content) || !gjson.Parse(content).IsObject() || gjson.Get(content, "answer").String() != storyWords(DefaultCompletionTokens) {
			t.Errorf("json_object content %s, want {\"answer\": the story}", content)
		}
	}
}

func TestAnthropicStructuredOutputs(t *testing.T) {
	srv := startServer(t, Config{})
	for _, field := range []string{`"output_config":{"format":{"type":"json_schema","schema":` + recipeSchema + `}}`,
		`"output_format":{"type":"json_schema","schema":` + recipeSchema + `}`} {
		body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"A recipe."}],` + field + `}`
		got := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
		mustValidate(t, "text", got.Get("content.0.text").String(), recipeSchema)
		streamed := mustEvents(t, post(t, srv, "/v1/messages", strings.Replace(body, "{", `{"stream":true,`, 1)))
		mustValidate(t, "streamed text", streamText(streamed, "delta.text"), recipeSchema)
	}
}

func TestGeminiStructuredOutputs(t *testing.T) {
	srv := startServer(t, Config{})
	openAPI := `{"type":"OBJECT","properties":{"name":{"type":"STRING"},"count":{"type":"INTEGER","minimum":3}},"required":["name","count"]}`
	for _, cfg := range []struct{ field, schema string }{
		{`"responseJsonSchema":` + recipeSchema, recipeSchema},
		{`"responseSchema":` + openAPI, openAPI},
	} {
		body := `{"contents":[{"role":"user","parts":[{"text":"JSON"}]}],"generationConfig":{"responseMimeType":"application/json",` + cfg.field + `}}`
		got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
		mustValidate(t, "text", got.Get("candidates.0.content.parts.0.text").String(), cfg.schema)
		events := mustEvents(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body))
		mustValidate(t, "streamed text", streamText(events, "candidates.0.content.parts.0.text"), cfg.schema)
	}
}

func TestToolArgumentsFitSchema(t *testing.T) {
	srv := startServer(t, Config{})
	tool := recipeSchema
	cases := []struct{ path, body, args string }{
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"save","parameters":` + tool + `}}]}`,
			"choices.0.message.tool_calls.0.function.arguments"},
		{"/v1/messages", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"save","input_schema":` + tool + `}]}`,
			"content.0.input"},
		{"/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"save","parametersJsonSchema":` + tool + `}]}]}`,
			"candidates.0.content.parts.0.functionCall.args"},
	}
	for _, c := range cases {
		got := jsonBody(t, post(t, srv, c.path, c.body), 200)
		args := got.Get(c.args)
		if args.Type == gjson.String {
			mustValidate(t, c.path, args.Str, tool)
		} else {
			mustValidate(t, c.path, args.Raw, tool)
		}
	}
}

func TestAnswerQuotesToolResult(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"21 C and sunny"}]}]}]}`
	got := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
	if text := got.Get("content.0.text").String(); text != "The tool returned: 21 C and sunny" {
		t.Errorf("text %q", text)
	}
	if got.Get("usage.output_tokens").Int() != 7 {
		t.Errorf("output_tokens %d, want one per word", got.Get("usage.output_tokens").Int())
	}
}

func TestOpenAIChoices(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5})
	body := `{"model":"m","n":3,"messages":[{"role":"user","content":"x"}]}`
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
	choices := got.Get("choices").Array()
	if len(choices) != 3 {
		t.Fatalf("%d choices: %s", len(choices), got.Raw)
	}
	seen := map[string]bool{}
	for i, c := range choices {
		if c.Get("index").Int() != int64(i) || c.Get("finish_reason").String() != "stop" {
			t.Errorf("choice %d: %s", i, c.Raw)
		}
		seen[c.Get("message.content").String()] = true
	}
	if len(seen) != 3 {
		t.Errorf("choices are not distinct: %v", seen)
	}
	if got.Get("usage.completion_tokens").Int() != 3*6 {
		t.Errorf("completion_tokens %d, want 3 choices of 5 words and an end token", got.Get("usage.completion_tokens").Int())
	}

	events := mustEvents(t, post(t, srv, "/v1/chat/completions", strings.Replace(body, "{", `{"stream":true,"stream_options":{"include_usage":true},`, 1)))
	texts := make([]strings.Builder, 3)
	finished := 0
	for _, ev := range events {
		c := gjson.Get(ev.data, "choices.0")
		if !c.Exists() {
			continue
		}
		texts[c.Get("index").Int()].WriteString(c.Get("delta.content").String())
		if c.Get("finish_reason").String() == "stop" {
			finished++
		}
	}
	for i, c := range choices {
		if texts[i].String() != c.Get("message.content").String() {
			t.Errorf("streamed choice %d %q, want %q", i, texts[i].String(), c.Get("message.content").String())
		}
	}
	if finished != 3 || gjson.Get(events[len(events)-2].data, "usage.completion_tokens").Int() != 18 {
		t.Errorf("%d finish chunks, usage %s", finished, events[len(events)-2].data)
	}
}

func TestGeminiCandidates(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 4})
	body := `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"candidateCount":2}}`
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	if got.Get("candidates.#").Int() != 2 || got.Get("candidates.1.index").Int() != 1 ||
		got.Get("candidates.0.content.parts.0.text").String() == got.Get("candidates.1.content.parts.0.text").String() {
		t.Errorf("candidates %s", got.Get("candidates").Raw)
	}
	if got.Get("usageMetadata.candidatesTokenCount").Int() != 8 {
		t.Errorf("usage %s", got.Get("usageMetadata").Raw)
	}
	events := mustEvents(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body))
	if text := streamText(events, "candidates.1.content.parts.0.text"); text != got.Get("candidates.1.content.parts.0.text").String() {
		t.Errorf("streamed candidate 1 %q", text)
	}
}

func TestOpenAILogprobs(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 6, ChunkTokens: 2})
	body := `{"model":"m","logprobs":true,"top_logprobs":3,"messages":[{"role":"user","content":"x"}]}`
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
	content := got.Get("choices.0.logprobs.content").Array()
	if len(content) != 6 {
		t.Fatalf("%d logprobs: %s", len(content), got.Get("choices.0.logprobs").Raw)
	}
	var joined strings.Builder
	for _, tok := range content {
		joined.WriteString(tok.Get("token").String())
		top := tok.Get("top_logprobs").Array()
		if len(top) != 3 || top[0].Get("token").String() != tok.Get("token").String() ||
			!(tok.Get("logprob").Float() < 0) || !(top[1].Get("logprob").Float() < top[0].Get("logprob").Float()) ||
			len(tok.Get("bytes").Array()) != len(tok.Get("token").String()) {
			t.Errorf("token logprob %s", tok.Raw)
		}
	}
	if joined.String() != got.Get("choices.0.message.content").String() {
		t.Errorf("tokens %q do not make the content %q", joined.String(), got.Get("choices.0.message.content").String())
	}
	events := mustEvents(t, post(t, srv, "/v1/chat/completions", strings.Replace(body, "{", `{"stream":true,`, 1)))
	n := 0
	for _, ev := range events {
		n += len(gjson.Get(ev.data, "choices.0.logprobs.content").Array())
	}
	if n != 6 {
		t.Errorf("streamed %d token logprobs, want 6", n)
	}
	plain := jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody), 200)
	if plain.Get("choices.0.logprobs").Type != gjson.Null {
		t.Errorf("logprobs without asking: %s", plain.Get("choices.0.logprobs").Raw)
	}
}

func TestGeminiLogprobs(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5})
	body := `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"responseLogprobs":true,"logprobs":2}}`
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	c := got.Get("candidates.0")
	if c.Get("logprobsResult.chosenCandidates.#").Int() != 5 || c.Get("logprobsResult.topCandidates.#").Int() != 5 ||
		c.Get("logprobsResult.topCandidates.0.candidates.#").Int() != 2 || !(c.Get("avgLogprobs").Float() < 0) {
		t.Errorf("candidate %s", c.Raw)
	}
}

func TestOpenAIReasoning(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5})
	body := `{"model":"deepseek-reasoner","reasoning_effort":"low","messages":[{"role":"user","content":"x"}]}`
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
	reasoning := got.Get("choices.0.message.reasoning_content").String()
	if len(strings.Fields(reasoning)) != 8 || got.Get("usage.completion_tokens_details.reasoning_tokens").Int() != 8 ||
		got.Get("usage.completion_tokens").Int() != 8+5+1 {
		t.Errorf("reasoning %q, usage %s", reasoning, got.Get("usage").Raw)
	}
	events := mustEvents(t, post(t, srv, "/v1/chat/completions", strings.Replace(body, "{", `{"stream":true,`, 1)))
	if streamed := streamText(events, "choices.0.delta.reasoning_content"); streamed != reasoning {
		t.Errorf("streamed reasoning %q, want %q", streamed, reasoning)
	}
	firstContent := -1
	lastReasoning := -1
	for i, ev := range events {
		if gjson.Get(ev.data, "choices.0.delta.reasoning_content").Exists() {
			lastReasoning = i
		}
		if c := gjson.Get(ev.data, "choices.0.delta.content").String(); c != "" && firstContent < 0 {
			firstContent = i
		}
	}
	if lastReasoning < 0 || firstContent < lastReasoning {
		t.Errorf("reasoning must come before the content (last reasoning %d, first content %d)", lastReasoning, firstContent)
	}
	plain := jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody), 200)
	if plain.Get("choices.0.message.reasoning_content").Exists() {
		t.Errorf("reasoning without asking: %s", plain.Raw)
	}
}

func TestAnthropicThinking(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5})
	body := `{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}`
	got := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
	if got.Get("content.0.type").String() != "thinking" || got.Get("content.0.signature").String() == "" ||
		got.Get("content.1.type").String() != "text" || got.Get("usage.output_tokens").Int() != 16+5 {
		t.Errorf("message %s", got.Raw)
	}
	events := mustEvents(t, post(t, srv, "/v1/messages", strings.Replace(body, "{", `{"stream":true,`, 1)))
	var thinking, text strings.Builder
	signatures := 0
	for _, ev := range events {
		d := gjson.Parse(ev.data)
		switch d.Get("delta.type").String() {
		case "thinking_delta":
			thinking.WriteString(d.Get("delta.thinking").String())
			if d.Get("index").Int() != 0 {
				t.Errorf("thinking delta in block %d", d.Get("index").Int())
			}
		case "signature_delta":
			signatures++
		case "text_delta":
			text.WriteString(d.Get("delta.text").String())
			if d.Get("index").Int() != 1 {
				t.Errorf("text delta in block %d", d.Get("index").Int())
			}
		}
	}
	if thinking.String() != got.Get("content.0.thinking").String() || signatures != 1 || text.String() != storyWords(5) {
		t.Errorf("streamed thinking %q, %d signatures, text %q", thinking.String(), signatures, text.String())
	}
}

func TestGeminiThoughts(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5})
	body := `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":10}}}`
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	parts := got.Get("candidates.0.content.parts")
	if !parts.Get("0.thought").Bool() || len(strings.Fields(parts.Get("0.text").String())) != 10 ||
		parts.Get("1.text").String() != storyWords(5) || got.Get("usageMetadata.thoughtsTokenCount").Int() != 10 {
		t.Errorf("response %s", got.Raw)
	}
	events := mustEvents(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body))
	if !gjson.Get(events[0].data, "candidates.0.content.parts.0.thought").Bool() {
		t.Errorf("first chunk is not a thought: %s", events[0].data)
	}
}
