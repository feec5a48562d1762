package transform

import (
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

var _ EmbeddingsDialect = (*Ollama)(nil)

// BuildEmbeddings translates an OpenAI embeddings request into an Ollama /api/embed request: input (a string
// or strings; token ids are refused), dimensions, and the configured keep_alive.
func (o *Ollama) BuildEmbeddings(req *Request) (*Outgoing, error) {
	root := gjson.Parse(stringView(req.Body))
	input := root.Get("input")
	if _, err := embeddingTexts(input, req.provider("ollama")); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(req.Body)+64)
	out = append(out, `{"model":`...)
	out = AppendJSONString(out, req.Model)
	out = append(out, `,"input":`...)
	out = append(out, input.Raw...)
	if d := root.Get("dimensions"); d.Type == gjson.Number {
		out = append(out, `,"dimensions":`...)
		out = append(out, d.Raw...)
	}
	if o.opts.KeepAlive != "" {
		out = append(out, `,"keep_alive":`...)
		out = AppendJSONString(out, o.opts.KeepAlive)
	}
	out = append(out, '}')
	return &Outgoing{Path: "/api/embed", Body: out}, nil
}

// TranslateEmbeddings turns {"embeddings":[[…]],"prompt_eval_count":N} into OpenAI's list, floats or base64
// as the request asked, with prompt_eval_count as usage.
func (o *Ollama) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("ollama"), err)
	}
	root := gjson.ParseBytes(body)
	embs := root.Get("embeddings")
	if !embs.IsArray() {
		return nil, usage.Usage{}, badUpstream("provider '" + req.provider("ollama") + "' answered without embeddings")
	}
	l := newEmbeddingList(req, len(body))
	l.addEach(embs, "")
	u := reportedPrompt(root.Get("prompt_eval_count"))
	return l.finish(req, u), u, nil
}
