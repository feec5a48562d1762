package transform

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ EmbeddingsDialect = (*Bedrock)(nil)

// BuildEmbeddings translates an OpenAI embeddings request into an InvokeModel request for Bedrock's embedding
// models: Amazon Titan Text Embeddings (amazon.titan-embed-*: one text per request, dimensions passed
// through) and Cohere Embed (cohere.embed-*: texts with input_type, default search_document). Other models
// are refused with a 400.
func (b *Bedrock) BuildEmbeddings(req *Request) (*Outgoing, error) {
	model, err := bedrockModelPath(req.Model)
	if err != nil {
		return nil, err
	}
	root := gjson.Parse(stringView(req.Body))
	texts, err := embeddingTexts(root.Get("input"), req.provider("bedrock"))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(req.Body)+64)
	switch {
	case strings.Contains(req.Model, "titan-embed"):
		if len(texts) != 1 {
			return nil, InvalidRequest("input", "Amazon Titan embedding models embed one text per request: send input as one string")
		}
		out = append(out, `{"inputText":`...)
		out = append(out, texts[0].Raw...)
		if d := root.Get("dimensions"); d.Type == gjson.Number {
			out = append(out, `,"dimensions":`...)
			out = append(out, d.Raw...)
		}
	case strings.Contains(req.Model, "cohere.embed"):
		out = append(out, `{"texts":[`...)
		for i, t := range texts {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, t.Raw...)
		}
		inputType := "search_document"
		if t := root.Get("input_type"); t.Type == gjson.String && t.Str != "" {
			inputType = t.Str
		}
		out = append(out, `],"input_type":`...)
		out = AppendJSONString(out, inputType)
	default:
		return nil, InvalidRequest("model", "Bedrock embeddings are served for Amazon Titan (amazon.titan-embed-*) and Cohere Embed (cohere.embed-*) models")
	}
	return &Outgoing{Path: "/model/" + model + "/invoke", Body: append(out, '}')}, nil
}

// TranslateEmbeddings turns Titan's {"embedding":[…],"inputTextTokenCount":N} or Cohere's
// {"embeddings":[[…]]} (or {"embeddings":{"float":[[…]]}}) into OpenAI's list.
func (b *Bedrock) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("bedrock"), err)
	}
	root := gjson.ParseBytes(body)
	l := newEmbeddingList(req, len(body))
	var u usage.Usage
	if e := root.Get("embedding"); e.IsArray() {
		l.add(e)
		u = reportedPrompt(root.Get("inputTextTokenCount"))
	} else {
		embs := root.Get("embeddings")
		if embs.IsObject() {
			embs = embs.Get("float")
		}
		if !embs.IsArray() {
			return nil, usage.Usage{}, badUpstream("provider '" + req.provider("bedrock") + "' answered without embeddings")
		}
		l.addEach(embs, "")
	}
	return l.finish(req, u), u, nil
}
