package transform

import (
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ EmbeddingsDialect = (*Vertex)(nil)

// BuildEmbeddings translates an OpenAI embeddings request into Vertex AI's :predict on a Google text
// embedding model: one instance per text (with the client's task_type, if any), dimensions as
// outputDimensionality.
func (v *Vertex) BuildEmbeddings(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	texts, err := embeddingTexts(root.Get("input"), req.provider("vertex"))
	if err != nil {
		return nil, err
	}
	path, err := v.modelPath("google", req.Model)
	if err != nil {
		return nil, err
	}
	task := root.Get("task_type")
	out := make([]byte, 0, len(req.Body)+64)
	out = append(out, `{"instances":[`...)
	for i, t := range texts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"content":`...)
		out = append(out, t.Raw...)
		if task.Type == gjson.String && task.Str != "" {
			out = append(out, `,"task_type":`...)
			out = AppendJSONString(out, task.Str)
		}
		out = append(out, '}')
	}
	out = append(out, ']')
	if d := root.Get("dimensions"); d.Type == gjson.Number {
		out = append(out, `,"parameters":{"outputDimensionality":`...)
		out = append(out, d.Raw...)
		out = append(out, '}')
	}
	return &Outgoing{Path: path + ":predict", Body: append(out, '}')}, nil
}

// TranslateEmbeddings turns {"predictions":[{"embeddings":{"values":[…],"statistics":{"token_count":N}}}]}
// into OpenAI's list, the token counts summed as usage.
func (v *Vertex) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("vertex"), err)
	}
	preds := gjson.GetBytes(body, "predictions")
	if !preds.IsArray() {
		return nil, usage.Usage{}, badUpstream("provider '" + req.provider("vertex") + "' answered without predictions")
	}
	l := newEmbeddingList(req, len(body))
	var rep usage.Report
	tokens, counted := 0, true
	preds.ForEach(func(_, p gjson.Result) bool {
		l.add(p.Get("embeddings.values"))
		if n := p.Get("embeddings.statistics.token_count"); n.Exists() {
			tokens += rep.Count(n)
		} else {
			counted = false
		}
		return true
	})
	var u usage.Usage
	if counted && l.n > 0 {
		u = rep.Usage(usage.Usage{PromptTokens: tokens, TotalTokens: tokens, Origin: usage.Reported})
	}
	return l.finish(req, u), u, nil
}
