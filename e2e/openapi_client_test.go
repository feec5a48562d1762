package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oapiCodegen is the generator the test makes a client with, run by version with `go run`: it is never a
// dependency of the module.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// generatedClientMain calls the quickstart through the client oapi-codegen generated from the document the
// quickstart served: the model list, one model, and a chat completion with its typed answer.
const generatedClientMain = `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"generatedclient/gateway"
)

func main() {
	ctx := context.Background()
	auth := gateway.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+os.Args[2])
		return nil
	})
	c, err := gateway.NewClientWithResponses(os.Args[1], auth)
	if err != nil {
		panic(err)
	}
	models, err := c.GetModelsWithResponse(ctx)
	if err != nil || models.JSON200 == nil {
		panic(fmt.Sprintf("GET /models: %v %s", err, models.Body))
	}
	fmt.Println("models:", len(models.JSON200.Data))
	one, err := c.GetModelsModelWithResponse(ctx, "openai/gpt-4o-mini")
	if err != nil || one.JSON200 == nil {
		panic(fmt.Sprintf("GET /models/{model}: %v", err))
	}
	fmt.Println("model:", one.JSON200.Id)

	var model gateway.Model
	if err := model.FromModel0("openai/gpt-4o-mini"); err != nil {
		panic(err)
	}
	var content gateway.ChatMessage_Content
	if err := content.FromChatMessageContent0("Hello!"); err != nil {
		panic(err)
	}
	chat, err := c.PostChatCompletionsWithResponse(ctx, gateway.ChatCompletionRequest{
		Model:    &model,
		Messages: []gateway.ChatMessage{{Role: gateway.ChatMessageRoleUser, Content: &content}},
	})
	if err != nil || chat.JSON200 == nil {
		panic(fmt.Sprintf("POST /chat/completions: %v %d %s", err, chat.StatusCode(), chat.Body))
	}
	fmt.Println("answer:", *chat.JSON200.Choices[0].Message.Content)
	fmt.Println("total_tokens:", chat.JSON200.Usage.TotalTokens)

	bad, err := c.GetModelsModelWithResponse(ctx, "nobody/nothing")
	if err != nil {
		panic(err)
	}
	fmt.Println("unknown model:", bad.StatusCode(), bad.JSONDefault != nil || bad.JSON404 != nil)
}
`

// TestGeneratedClientCallsTheQuickstart generates a Go client from the OpenAPI document the quickstart
// serves, with oapi-codegen, and calls the quickstart with it.
func TestGeneratedClientCallsTheQuickstart(t *testing.T) {
	requireE2E(t)
	qs := startQuickstart(t)
	req, _ := http.NewRequest(http.MethodGet, qs.url("/v1/openapi.json"), nil)
	req.Header.Set("Authorization", "Bearer "+quickstartKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json = %d %s", resp.StatusCode, doc)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "gateway"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{"openapi.json": string(doc), "main.go": generatedClientMain,
		"go.mod": "module generatedclient\n\ngo 1.26\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOFLAGS=-mod=mod", "GOWORK=off"}
	gen := runExample(t, dir, env, "go", "run", oapiCodegen, "-generate", "types,client", "-package", "gateway",
		"-o", filepath.Join("gateway", "gateway.go"), "openapi.json")
	if strings.TrimSpace(gen) != "" {
		t.Logf("oapi-codegen: %s", gen)
	}
	runExample(t, dir, env, "go", "mod", "tidy")
	out := runExample(t, dir, env, "go", "run", ".", qs.url("/v1"), quickstartKey)
	for _, want := range []string{"model: openai/gpt-4o-mini", "answer: ", "total_tokens: ", "unknown model: 404 true"} {
		if !strings.Contains(out, want) {
			t.Errorf("the generated client's program printed no %q:\n%s", want, out)
		}
	}
}
