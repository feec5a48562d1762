package transform

import "github.com/aibackend/caddy-ai-gateway/usage"

var _ EmbeddingsDialect = (*OpenAI)(nil)

// BuildEmbeddings passes the client's embeddings request through with model rewritten: input (string, array,
// token arrays), dimensions and encoding_format reach the upstream as the client sent them.
func (o *OpenAI) BuildEmbeddings(req *Request) (*Outgoing, error) {
	return o.build(req, "/embeddings")
}

// TranslateEmbeddings keeps the upstream's bytes (float arrays or base64 strings) with model replaced.
func (o *OpenAI) TranslateEmbeddings(req *Request, body []byte) ([]byte, usage.Usage, error) {
	return o.TranslateResponse(req, body)
}
