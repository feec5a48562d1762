package transform

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ EmbeddingsDialect = (*Gemini)(nil)

// BuildEmbeddings translates an OpenAI embeddings request into a Gemini batchEmbedContents request: one
// embedContent request per input text, dimensions as outputDimensionality. Token-id inputs are refused.
func (g *Gemini) BuildEmbeddings(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	texts, err := embeddingTexts(root.Get("input"), req.provider("gemini"))
	if err != nil {
		return nil, err
	}
	seg, err := pathSegment("model", req.Model)
	if err != nil {
		return nil, err
	}
	dims := root.Get("dimensions")
	out := make([]byte, 0, len(req.Body)+64*len(texts))
	out = append(out, `{"requests":[`...)
	for i, t := range texts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"model":`...)
		out = AppendJSONString(out, "models/"+req.Model)
		out = append(out, `,"content":{"parts":[{"text":`...)
		out = append(out, t.Raw...)
		out = append(out, `}]}`...)
		if dims.Type == gjson.Number {
			out = append(out, `,"outputDimensionality":`...)
			out = strconv.AppendInt(out, dims.Int(), 10)
		}
		out = append(out, '}')
	}
	out = append(out, "]}"...)
	return &Outgoing{Path: "/models/" + seg + ":batchEmbedContents", Body: out}, nil
}

// TranslateEmbeddings turns {"embeddings":[{"values":[…]},…]} into OpenAI's list, floats or base64 as the
// request asked. Gemini reports no usage: the gateway counts the input.
func (g *Gemini) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("gemini"), err)
	}
	embs := gjson.GetBytes(body, "embeddings")
	if !embs.IsArray() {
		return nil, usage.Usage{}, badUpstream("provider '" + req.provider("gemini") + "' answered without embeddings")
	}
	l := newEmbeddingList(req, len(body))
	l.addEach(embs, "values")
	return l.finish(req, usage.Usage{}), usage.Usage{}, nil
}
