package sdktest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

func openAIClient(t *testing.T) openai.Client {
	t.Helper()
	srv := startSimulator(t)
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
}

// Recipe is the Go type a structured-output client parses the answer into.
type Recipe struct {
	Title       string       `json:"title"`
	Servings    int          `json:"servings"`
	Vegetarian  bool         `json:"vegetarian"`
	Cuisine     string       `json:"cuisine"`
	Ingredients []Ingredient `json:"ingredients"`
}

type Ingredient struct {
	Name  string  `json:"name"`
	Grams float64 `json:"grams"`
}

// recipeSchema is Recipe's JSON Schema in strict mode, as a schema generator would write it.
var recipeSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"title":       map[string]any{"type": "string"},
		"servings":    map[string]any{"type": "integer", "minimum": 2},
		"vegetarian":  map[string]any{"type": "boolean"},
		"cuisine":     map[string]any{"type": "string", "enum": []string{"thai", "italian"}},
		"ingredients": map[string]any{"type": "array", "minItems": 3, "items": map[string]any{"$ref": "#/$defs/Ingredient"}},
	},
	"required":             []string{"title", "servings", "vegetarian", "cuisine", "ingredients"},
	"additionalProperties": false,
	"$defs": map[string]any{"Ingredient": map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"name": map[string]any{"type": "string"}, "grams": map[string]any{"type": "number"}},
		"required":             []string{"name", "grams"},
		"additionalProperties": false,
	}},
}

func recipeParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A recipe, please.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "recipe", Schema: recipeSchema, Strict: openai.Bool(true)},
		}},
	}
}

func checkRecipe(t *testing.T, name, content string) {
	t.Helper()
	var r Recipe
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %q does not parse into Recipe: %v", name, content, err)
	}
	if r.Title == "" || r.Servings < 2 || r.Cuisine != "thai" || len(r.Ingredients) != 3 || r.Ingredients[0].Name == "" {
		t.Errorf("%s: recipe %+v does not follow the schema", name, r)
	}
}

func TestOpenAISDKStructuredOutputs(t *testing.T) {
	client := openAIClient(t)
	whole, err := client.Chat.Completions.New(context.Background(), recipeParams())
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	checkRecipe(t, "whole", whole.Choices[0].Message.Content)

	stream := client.Chat.Completions.NewStreaming(context.Background(), recipeParams())
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	checkRecipe(t, "streamed", acc.Choices[0].Message.Content)

	params := recipeParams()
	params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	obj, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("json_object: %v", err)
	}
	var anything map[string]any
	if err := json.Unmarshal([]byte(obj.Choices[0].Message.Content), &anything); err != nil {
		t.Errorf("json_object content %q: %v", obj.Choices[0].Message.Content, err)
	}
}

func TestOpenAISDKChoicesAndLogprobs(t *testing.T) {
	client := openAIClient(t)
	params := openai.ChatCompletionNewParams{
		Model:       "gpt-4o-mini",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
		N:           openai.Int(3),
		Logprobs:    openai.Bool(true),
		TopLogprobs: openai.Int(2),
	}
	whole, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	if len(whole.Choices) != 3 {
		t.Fatalf("%d choices, want 3", len(whole.Choices))
	}
	for i, c := range whole.Choices {
		if c.Index != int64(i) || wordCount(c.Message.Content) != textWords || len(c.Logprobs.Content) != textWords {
			t.Errorf("choice %d: index %d, content %q, %d logprobs", i, c.Index, c.Message.Content, len(c.Logprobs.Content))
		}
		for _, lp := range c.Logprobs.Content {
			if lp.Logprob >= 0 || len(lp.TopLogprobs) != 2 || lp.TopLogprobs[0].Token != lp.Token {
				t.Errorf("choice %d: logprob %+v", i, lp)
			}
		}
	}
	if whole.Choices[0].Message.Content == whole.Choices[1].Message.Content {
		t.Errorf("choices are the same: %q", whole.Choices[0].Message.Content)
	}
	if whole.Usage.CompletionTokens != 3*(textWords+1) {
		t.Errorf("completion_tokens %d, want %d", whole.Usage.CompletionTokens, 3*(textWords+1))
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Choices) != 3 {
		t.Fatalf("streamed %d choices, want 3", len(acc.Choices))
	}
	for i, c := range acc.Choices {
		if c.Message.Content != whole.Choices[i].Message.Content || len(c.Logprobs.Content) != textWords {
			t.Errorf("streamed choice %d %q with %d logprobs, want %q", i, c.Message.Content, len(c.Logprobs.Content),
				whole.Choices[i].Message.Content)
		}
	}
	if acc.Usage.CompletionTokens != whole.Usage.CompletionTokens {
		t.Errorf("streamed usage %+v", acc.Usage)
	}
}

func TestOpenAISDKReasoning(t *testing.T) {
	client := openAIClient(t)
	whole, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:           "deepseek-reasoner",
		Messages:        []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Think.")},
		ReasoningEffort: shared.ReasoningEffortHigh,
	})
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	reasoning := whole.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()
	if reasoning == "" || whole.Usage.CompletionTokensDetails.ReasoningTokens != 32 {
		t.Errorf("reasoning_content %s, usage %s", reasoning, whole.Usage.RawJSON())
	}
}

func TestOpenAISDKEmbeddings(t *testing.T) {
	client := openAIClient(t)
	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		res, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
			Model:          openai.EmbeddingModelTextEmbedding3Small,
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the cat sat", "a dog ran"}},
			EncodingFormat: format,
		})
		if err != nil {
			t.Fatalf("%s: Embeddings.New: %v", format, err)
		}
		if len(res.Data) != 2 || len(res.Data[0].Embedding) != 1536 || res.Data[1].Index != 1 {
			t.Fatalf("%s: %d embeddings of %d values", format, len(res.Data), len(res.Data[0].Embedding))
		}
		if res.Usage.PromptTokens <= 0 || res.Usage.TotalTokens != res.Usage.PromptTokens {
			t.Errorf("%s: usage %+v", format, res.Usage)
		}
	}
	res, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model:      openai.EmbeddingModelTextEmbedding3Large,
		Input:      openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		Dimensions: openai.Int(512),
	})
	if err != nil || len(res.Data[0].Embedding) != 512 {
		t.Fatalf("dimensions 512: %v", err)
	}
}

func TestOpenAISDKCompletions(t *testing.T) {
	client := openAIClient(t)
	params := openai.CompletionNewParams{
		Model:  openai.CompletionNewParamsModelGPT3_5TurboInstruct,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say this is a test")},
	}
	whole, err := client.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("Completions.New: %v", err)
	}
	if len(whole.Choices) != 1 || wordCount(whole.Choices[0].Text) != textWords || whole.Choices[0].FinishReason != "stop" ||
		whole.Usage.CompletionTokens != textWords || whole.Usage.PromptTokens <= 0 {
		t.Errorf("completion %s", whole.RawJSON())
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Completions.NewStreaming(context.Background(), params)
	var text strings.Builder
	var usage openai.CompletionUsage
	for stream.Next() {
		chunk := stream.Current()
		for _, c := range chunk.Choices {
			text.WriteString(c.Text)
		}
		if chunk.Usage.TotalTokens > 0 {
			usage = chunk.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if text.String() != whole.Choices[0].Text || usage.CompletionTokens != textWords {
		t.Errorf("streamed %q with usage %+v, want %q", text.String(), usage, whole.Choices[0].Text)
	}
}

func TestOpenAISDKModerations(t *testing.T) {
	client := openAIClient(t)
	res, err := client.Moderations.New(context.Background(), openai.ModerationNewParams{
		Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"I will kill it", "hello"}},
		Model: openai.ModerationModelOmniModerationLatest,
	})
	if err != nil {
		t.Fatalf("Moderations.New: %v", err)
	}
	if len(res.Results) != 2 || !res.Results[0].Flagged || !res.Results[0].Categories.Violence ||
		res.Results[0].CategoryScores.Violence < 0.9 || res.Results[1].Flagged {
		t.Errorf("results %s", res.RawJSON())
	}
}
