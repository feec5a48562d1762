package transform

import (
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var (
	_ EmbeddingsDialect = (*Cohere)(nil)
	_ RerankDialect     = (*Cohere)(nil)
)

// BuildEmbeddings translates an OpenAI embeddings request into a v2 embed request: texts, float
// embedding_types (base64 output is made from the floats), dimensions as output_dimension, and the client's
// input_type (Cohere's v3+ models require one; default search_document).
func (c *Cohere) BuildEmbeddings(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	input := root.Get("input")
	if _, err := embeddingTexts(input, req.provider("cohere")); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(req.Body)+96)
	out = append(out, `{"model":`...)
	out = AppendJSONString(out, req.Model)
	out = append(out, `,"texts":`...)
	if input.Type == gjson.String {
		out = append(out, '[')
		out = append(out, input.Raw...)
		out = append(out, ']')
	} else {
		out = append(out, input.Raw...)
	}
	inputType := "search_document"
	if t := root.Get("input_type"); t.Type == gjson.String && t.Str != "" {
		inputType = t.Str
	}
	out = append(out, `,"input_type":`...)
	out = AppendJSONString(out, inputType)
	out = append(out, `,"embedding_types":["float"]`...)
	if d := root.Get("dimensions"); d.Type == gjson.Number {
		out = append(out, `,"output_dimension":`...)
		out = append(out, d.Raw...)
	}
	return &Outgoing{Path: "/v2/embed", Body: append(out, '}')}, nil
}

// TranslateEmbeddings turns {"embeddings":{"float":[[…]]},"meta":{"billed_units":{"input_tokens":N}}} into
// OpenAI's list.
func (c *Cohere) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("cohere"), err)
	}
	root := gjson.ParseBytes(body)
	embs := root.Get("embeddings.float")
	if !embs.IsArray() {
		return nil, usage.Usage{}, badUpstream("provider '" + req.provider("cohere") + "' answered without float embeddings")
	}
	l := newEmbeddingList(req, len(body))
	l.addEach(embs, "")
	u := reportedPrompt(root.Get("meta.billed_units.input_tokens"))
	return l.finish(req, u), u, nil
}

// BuildRerank sends the rerank request (already Cohere v2's shape) to /v2/rerank with model rewritten.
func (c *Cohere) BuildRerank(req *Request) (*Outgoing, error) {
	body, err := sjson.SetBytes(req.Body, "model", req.Model)
	if err != nil {
		return nil, InvalidRequest("model", "the request body could not take the model name")
	}
	return &Outgoing{Path: "/v2/rerank", Body: body}, nil
}

// TranslateRerank keeps Cohere's answer (the shape the rerank endpoint returns) as it is.
func (c *Cohere) TranslateRerank(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("cohere"), err)
	}
	return body, usage.Usage{}, nil
}
