package sdktest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

func geminiClient(t *testing.T, key string) *genai.Client {
	t.Helper()
	srv := startSimulator(t)
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL},
	})
	if err != nil {
		t.Fatalf("genai.NewClient: %v", err)
	}
	return client
}

// weatherTools declares get_weather with a genai.Schema (sent as parameters) and get_forecast with a JSON
// Schema (sent as parametersJsonSchema), the two ways the SDK sends a declaration. forced, when set, is the
// only function the model may call.
func weatherTools(forced string) *genai.GenerateContentConfig {
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name: "get_weather",
		Parameters: &genai.Schema{
			Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{
				"location": {Type: genai.TypeString},
				"unit":     {Type: genai.TypeString, Enum: []string{"celsius", "fahrenheit"}},
				"days":     {Type: genai.TypeInteger},
			},
			Required: []string{"location", "unit", "days"},
		},
	}, {
		Name: "get_forecast",
		ParametersJsonSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
			"required":   []string{"location", "days"},
		},
	}}}}}
	if forced != "" {
		cfg.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{
			Mode: genai.FunctionCallingConfigModeAny, AllowedFunctionNames: []string{forced},
		}}
	}
	return cfg
}

// collect runs a streamed request and returns its chunks.
func collect(t *testing.T, client *genai.Client, model string, contents []*genai.Content, cfg *genai.GenerateContentConfig) []*genai.GenerateContentResponse {
	t.Helper()
	var chunks []*genai.GenerateContentResponse
	for chunk, err := range client.Models.GenerateContentStream(context.Background(), model, contents, cfg) {
		if err != nil {
			t.Fatalf("GenerateContentStream chunk %d: %v", len(chunks), err)
		}
		chunks = append(chunks, chunk)
	}
	if len(chunks) == 0 {
		t.Fatal("GenerateContentStream yielded no chunk")
	}
	return chunks
}

func TestGeminiSDKText(t *testing.T) {
	client := geminiClient(t, testKey)
	prompt := genai.Text("Tell me a story.")
	cfg := &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("You are terse.", genai.RoleUser)}
	whole, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", prompt, cfg)
	if err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if got := wordCount(whole.Text()); got != textWords {
		t.Errorf("text %q has %d words, want %d", whole.Text(), got, textWords)
	}
	if len(whole.Candidates) != 1 || whole.Candidates[0].FinishReason != genai.FinishReasonStop ||
		whole.Candidates[0].Content.Role != genai.RoleModel {
		t.Errorf("candidates = %+v, want one model candidate finished with STOP", whole.Candidates)
	}
	u := whole.UsageMetadata
	if u == nil || u.CandidatesTokenCount != textWords || u.PromptTokenCount <= 0 ||
		u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount {
		t.Fatalf("usageMetadata = %+v, want %d candidate tokens, some prompt tokens and their sum", u, textWords)
	}
	if whole.ModelVersion != "gemini-2.5-flash" || whole.ResponseID == "" {
		t.Errorf("modelVersion %q, responseId %q; want the model and an id", whole.ModelVersion, whole.ResponseID)
	}

	chunks := collect(t, client, "gemini-2.5-flash", prompt, cfg)
	var text strings.Builder
	for _, c := range chunks {
		text.WriteString(c.Text())
	}
	if text.String() != whole.Text() {
		t.Errorf("streamed text %q, want %q", text.String(), whole.Text())
	}
	if len(chunks) < 2 {
		t.Errorf("got %d chunks, want the text in several", len(chunks))
	}
	final := chunks[len(chunks)-1]
	if final.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("final chunk finishReason %q, want STOP", final.Candidates[0].FinishReason)
	}
	if fu := final.UsageMetadata; fu == nil || fu.CandidatesTokenCount != u.CandidatesTokenCount ||
		fu.PromptTokenCount != u.PromptTokenCount || fu.TotalTokenCount != u.TotalTokenCount {
		t.Errorf("final chunk usageMetadata = %+v, want the non-streamed %+v", fu, u)
	}
}

func TestGeminiSDKMaxTokens(t *testing.T) {
	client := geminiClient(t, testKey)
	cfg := &genai.GenerateContentConfig{MaxOutputTokens: 3}
	whole, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Hi"), cfg)
	if err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if wordCount(whole.Text()) != 3 || whole.Candidates[0].FinishReason != genai.FinishReasonMaxTokens {
		t.Errorf("answer %q finished with %q, want 3 words and MAX_TOKENS", whole.Text(), whole.Candidates[0].FinishReason)
	}
}

func TestGeminiSDKFunctionCall(t *testing.T) {
	client := geminiClient(t, testKey)
	for _, tc := range []struct{ forced, name, args string }{
		{"", "get_weather", weatherArgs},
		{"get_forecast", "get_forecast", `{"location":"sample","days":1}`},
	} {
		prompt := genai.Text("Weather in Paris?")
		whole, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", prompt, weatherTools(tc.forced))
		if err != nil {
			t.Fatalf("GenerateContent: %v", err)
		}
		chunks := collect(t, client, "gemini-2.5-flash", prompt, weatherTools(tc.forced))
		final := chunks[len(chunks)-1]
		for what, resp := range map[string]*genai.GenerateContentResponse{"whole": whole, "streamed": final} {
			calls := resp.FunctionCalls()
			if len(calls) != 1 || calls[0].Name != tc.name {
				t.Fatalf("%s: function calls %+v, want one call to %s", what, calls, tc.name)
			}
			assertJSON(t, what+" "+tc.name+" args", calls[0].Args, tc.args)
			if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
				t.Errorf("%s: finishReason %q, want STOP", what, resp.Candidates[0].FinishReason)
			}
			if u := resp.UsageMetadata; u == nil || u.CandidatesTokenCount <= 0 || u.PromptTokenCount <= 0 {
				t.Errorf("%s: usageMetadata = %+v, want prompt and candidate tokens", what, u)
			}
		}
	}
}

// TestGeminiSDKThoughtSignature runs a two-turn tool conversation with a Gemini 3 model: the SDK must carry
// the call's thought signature back, and the simulator, like Gemini 3, rejects the history without it.
func TestGeminiSDKThoughtSignature(t *testing.T) {
	client := geminiClient(t, testKey)
	const model = "gemini-3-pro-preview"
	prompt := genai.NewContentFromText("Weather in Paris?", genai.RoleUser)
	first, err := client.Models.GenerateContent(context.Background(), model, []*genai.Content{prompt}, weatherTools(""))
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	call := first.Candidates[0].Content
	if len(call.Parts) != 1 || call.Parts[0].FunctionCall == nil || len(call.Parts[0].ThoughtSignature) == 0 {
		t.Fatalf("first turn parts = %+v, want a function call with a thought signature", call.Parts)
	}
	result := genai.NewContentFromParts([]*genai.Part{
		genai.NewPartFromFunctionResponse("get_weather", map[string]any{"temperature": 21}),
	}, genai.RoleUser)

	second, err := client.Models.GenerateContent(context.Background(), model, []*genai.Content{prompt, call, result}, weatherTools(""))
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if second.Text() == "" || len(second.FunctionCalls()) != 0 {
		t.Errorf("second turn = %+v, want a text answer", second.Candidates[0].Content.Parts)
	}

	unsigned := *call.Parts[0]
	unsigned.ThoughtSignature = nil
	stripped := genai.NewContentFromParts([]*genai.Part{&unsigned}, genai.RoleModel)
	_, err = client.Models.GenerateContent(context.Background(), model, []*genai.Content{prompt, stripped, result}, weatherTools(""))
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusBadRequest || !strings.Contains(apiErr.Message, "thought_signature") {
		t.Errorf("history without the signature: error %v, want a 400 APIError about thought_signature", err)
	}
}

func TestGeminiSDKCountTokens(t *testing.T) {
	client := geminiClient(t, testKey)
	prompt := genai.Text("Tell me a story.")
	count, err := client.Models.CountTokens(context.Background(), "gemini-2.5-flash", prompt, nil)
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	whole, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", prompt, nil)
	if err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if count.TotalTokens != whole.UsageMetadata.PromptTokenCount {
		t.Errorf("countTokens = %d, want the promptTokenCount the answer reports, %d",
			count.TotalTokens, whole.UsageMetadata.PromptTokenCount)
	}
}

func TestGeminiSDKError(t *testing.T) {
	client := geminiClient(t, testKey)
	cfg := &genai.GenerateContentConfig{HTTPOptions: &genai.HTTPOptions{
		Headers: http.Header{simulator.FaultHeader: {"status=429, retry_after=2s"}},
	}}
	_, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Hi"), cfg)
	assertRateLimited(t, "GenerateContent", err)

	var streamErr error
	for chunk, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("Hi"), cfg) {
		if err == nil {
			t.Fatalf("GenerateContentStream yielded a chunk from a failed request: %+v", chunk)
		}
		streamErr = err
		break
	}
	assertRateLimited(t, "GenerateContentStream", streamErr)

	bad := geminiClient(t, "wrong")
	_, err = bad.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Hi"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusUnauthorized || apiErr.Status != "UNAUTHENTICATED" {
		t.Errorf("wrong key: error %v, want APIError 401 UNAUTHENTICATED", err)
	}
}

func TestGeminiSDKCutStream(t *testing.T) {
	client := geminiClient(t, testKey)
	cfg := &genai.GenerateContentConfig{HTTPOptions: &genai.HTTPOptions{
		Headers: http.Header{simulator.FaultHeader: {"cut_after=2"}},
	}}
	chunks, failed := 0, false
	for _, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("Hi"), cfg) {
		if err != nil {
			failed = true
			break
		}
		chunks++
	}
	if chunks != 2 || !failed {
		t.Errorf("a stream cut after 2 events gave %d chunks and error %v, want 2 chunks then an error", chunks, failed)
	}
}

func assertRateLimited(t *testing.T, what string, err error) {
	t.Helper()
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: error %v (%T), want genai.APIError", what, err, err)
	}
	if apiErr.Code != http.StatusTooManyRequests || apiErr.Status != "RESOURCE_EXHAUSTED" {
		t.Errorf("%s: code %d status %q, want 429 RESOURCE_EXHAUSTED", what, apiErr.Code, apiErr.Status)
	}
	if len(apiErr.Details) != 1 || apiErr.Details[0]["@type"] != "type.googleapis.com/google.rpc.RetryInfo" ||
		apiErr.Details[0]["retryDelay"] != "2s" {
		t.Errorf("%s: details %v, want RetryInfo with retryDelay 2s", what, apiErr.Details)
	}
}

func TestGeminiSDKStructuredOutputs(t *testing.T) {
	client := geminiClient(t, testKey)
	schemas := map[string]*genai.GenerateContentConfig{
		"responseJsonSchema": {ResponseMIMEType: "application/json", ResponseJsonSchema: recipeSchema},
		"responseSchema": {ResponseMIMEType: "application/json", ResponseSchema: &genai.Schema{
			Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{
				"title":       {Type: genai.TypeString},
				"servings":    {Type: genai.TypeInteger, Minimum: genai.Ptr(2.0)},
				"vegetarian":  {Type: genai.TypeBoolean},
				"cuisine":     {Type: genai.TypeString, Enum: []string{"thai", "italian"}},
				"ingredients": {Type: genai.TypeArray, MinItems: genai.Ptr[int64](3), Items: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"name": {Type: genai.TypeString}, "grams": {Type: genai.TypeNumber}}, Required: []string{"name", "grams"}}},
			},
			Required: []string{"title", "servings", "vegetarian", "cuisine", "ingredients"},
		}},
	}
	for name, cfg := range schemas {
		whole, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("A recipe."), cfg)
		if err != nil {
			t.Fatalf("%s: GenerateContent: %v", name, err)
		}
		checkRecipe(t, name, whole.Text())
		var text strings.Builder
		for _, chunk := range collect(t, client, "gemini-2.5-flash", genai.Text("A recipe."), cfg) {
			text.WriteString(chunk.Text())
		}
		checkRecipe(t, name+" streamed", text.String())
	}
}

func TestGeminiSDKThoughtsCandidatesLogprobs(t *testing.T) {
	client := geminiClient(t, testKey)
	cfg := &genai.GenerateContentConfig{
		CandidateCount:   2,
		ResponseLogprobs: true,
		Logprobs:         genai.Ptr[int32](3),
		ThinkingConfig:   &genai.ThinkingConfig{IncludeThoughts: true},
	}
	res, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Think."), cfg)
	if err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if len(res.Candidates) != 2 {
		t.Fatalf("%d candidates, want 2", len(res.Candidates))
	}
	for i, c := range res.Candidates {
		parts := c.Content.Parts
		if int(c.Index) != i || len(parts) != 2 || !parts[0].Thought || parts[1].Thought || wordCount(parts[1].Text) != textWords {
			t.Errorf("candidate %d: index %d, parts %+v", i, c.Index, parts)
		}
		if c.LogprobsResult == nil || len(c.LogprobsResult.ChosenCandidates) != textWords ||
			len(c.LogprobsResult.TopCandidates[0].Candidates) != 3 || c.AvgLogprobs >= 0 {
			t.Errorf("candidate %d: logprobs %+v, avg %v", i, c.LogprobsResult, c.AvgLogprobs)
		}
	}
	if res.UsageMetadata.ThoughtsTokenCount != 2*16 || res.UsageMetadata.CandidatesTokenCount != 2*textWords {
		t.Errorf("usage %+v", res.UsageMetadata)
	}
}

func TestGeminiSDKEmbeddings(t *testing.T) {
	client := geminiClient(t, testKey)
	res, err := client.Models.EmbedContent(context.Background(), "gemini-embedding-001",
		[]*genai.Content{genai.NewContentFromText("the cat sat", genai.RoleUser), genai.NewContentFromText("a dog ran", genai.RoleUser)},
		&genai.EmbedContentConfig{OutputDimensionality: genai.Ptr[int32](768)})
	if err != nil {
		t.Fatalf("EmbedContent: %v", err)
	}
	if len(res.Embeddings) != 2 || len(res.Embeddings[0].Values) != 768 || len(res.Embeddings[1].Values) != 768 {
		t.Fatalf("%d embeddings", len(res.Embeddings))
	}
	res, err = client.Models.EmbedContent(context.Background(), "gemini-embedding-001", genai.Text("hello"), nil)
	if err != nil || len(res.Embeddings) != 1 || len(res.Embeddings[0].Values) != 3072 {
		t.Fatalf("default dimensions: %v", err)
	}
}
