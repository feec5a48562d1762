package integration

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"
)

// endpointsGateway starts the gateway in front of a fake OpenAI-compatible server (embeddings replay the
// recording; completions, streamed or not, and moderations are scripted) and a fake Gemini answering
// batchEmbedContents, and returns an openai-go client for it.
func endpointsGateway(t *testing.T) openai.Client {
	oai := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/embeddings") && gjson.GetBytes(body, "encoding_format").Str == "base64":
			w.Header().Set("Content-Type", "application/json")
			vec := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.75))
			fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":%q}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}}`,
				base64.StdEncoding.EncodeToString(vec))
		case strings.HasSuffix(r.URL.Path, "/embeddings"):
			replayJSON(t, http.StatusOK, "openai/embeddings.json")(w, r, body)
		case strings.HasSuffix(r.URL.Path, "/completions") && gjson.GetBytes(body, "stream").Bool():
			w.Header().Set("Content-Type", "text/event-stream")
			for _, text := range []string{"Hello", " there"} {
				fmt.Fprintf(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"text\":%q,\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n", text)
			}
			io.WriteString(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n")
			io.WriteString(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":2,\"total_tokens\":4}}\n\n")
			io.WriteString(w, "data: [DONE]\n\n")
		case strings.HasSuffix(r.URL.Path, "/completions"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"cmpl-2","object":"text_completion","created":1,"model":"m","choices":[{"text":"Hello there","index":0,"logprobs":null,"finish_reason":"stop"}]}`)
		case strings.HasSuffix(r.URL.Path, "/moderations"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"modr-1","model":"omni-moderation-latest","results":[{"flagged":true,"categories":{"violence":true},"category_scores":{"violence":0.9}}]}`)
		default:
			http.NotFound(w, r)
		}
	})
	gem := newUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"embeddings":[{"values":[0.5,-0.25,1]}]}`)
	})
	s := startGateway(t, providerBlock("openai", "openai", oai.URL+"/v1")+providerBlock("google", "gemini", gem.URL+"/v1beta")+
		providerBlock("anthropic", "anthropic", oai.URL))
	return openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
}

func TestSDKEmbeddings(t *testing.T) {
	client := endpointsGateway(t)
	ctx := context.Background()
	for _, model := range []string{"openai/text-embedding-3-small", "google/gemini-embedding-001"} {
		res, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"Hello world"}}, Dimensions: openai.Int(3)})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if len(res.Data) != 1 || len(res.Data[0].Embedding) == 0 || res.Model != model || res.Usage.PromptTokens <= 0 ||
			res.Usage.TotalTokens != res.Usage.PromptTokens {
			t.Errorf("%s: %d vectors, model %q, usage %+v", model, len(res.Data), res.Model, res.Usage)
		}
		// base64, decoded the way the SDKs do: little-endian float32.
		var raw struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
		}
		err = client.Post(ctx, "embeddings", map[string]any{"model": model, "input": "hi", "encoding_format": "base64"}, &raw)
		if err != nil || len(raw.Data) != 1 {
			t.Fatalf("%s base64: %v %+v", model, err, raw)
		}
		b, err := base64.StdEncoding.DecodeString(raw.Data[0].Embedding)
		if err != nil || len(b) == 0 || len(b)%4 != 0 {
			t.Fatalf("%s base64: %v %d bytes", model, err, len(b))
		}
		if first := math.Float32frombits(binary.LittleEndian.Uint32(b)); first != 0.75 && first != 0.5 {
			t.Errorf("%s base64: first value %v", model, first)
		}
	}
	_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "anthropic/claude-x",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "unsupported_endpoint" {
		t.Errorf("embeddings from Anthropic: %v, want a 400 unsupported_endpoint", err)
	}
}

func TestSDKCompletions(t *testing.T) {
	client := endpointsGateway(t)
	ctx := context.Background()
	res, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "openai/gpt-3.5-turbo-instruct",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || res.Choices[0].Text != "Hello there" || res.Usage.CompletionTokens <= 0 || res.Model != "openai/gpt-3.5-turbo-instruct" {
		t.Errorf("completion %+v", res)
	}
	stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{Model: "openai/gpt-3.5-turbo-instruct",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hello")}})
	text, usage := "", int64(0)
	for stream.Next() {
		c := stream.Current()
		for _, ch := range c.Choices {
			text += ch.Text
		}
		if c.Usage.TotalTokens > 0 {
			usage = c.Usage.TotalTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text != "Hello there" {
		t.Errorf("streamed text %q", text)
	}
	_ = usage // the SDK asks for no usage chunk here; the gateway records it either way
}

func TestSDKModerations(t *testing.T) {
	client := endpointsGateway(t)
	res, err := client.Moderations.New(context.Background(), openai.ModerationNewParams{Model: "openai/omni-moderation-latest",
		Input: openai.ModerationNewParamsInputUnion{OfString: openai.String("something violent")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || !res.Results[0].Flagged || res.Model != "openai/omni-moderation-latest" {
		t.Errorf("moderation %+v", res)
	}
}
