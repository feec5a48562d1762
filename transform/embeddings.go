package transform

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// embeddingTexts returns the texts of an OpenAI embeddings input for upstreams that take text only (Gemini,
// Ollama's native API): a string, or an array of strings. Token arrays are refused with 400 naming provider.
func embeddingTexts(input gjson.Result, provider string) ([]gjson.Result, error) {
	if input.Type == gjson.String {
		return []gjson.Result{input}, nil
	}
	if !input.IsArray() {
		return nil, InvalidRequest("input", "input must be a string or an array of strings")
	}
	var texts []gjson.Result
	var bad error
	input.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.String {
			bad = InvalidRequest("input", "provider '"+provider+"' embeds text only: send input as a string or an array of strings, not token ids")
			return false
		}
		texts = append(texts, v)
		return true
	})
	if bad != nil {
		return nil, bad
	}
	if len(texts) == 0 {
		return nil, InvalidRequest("input", "input must not be empty")
	}
	return texts, nil
}

// appendEmbeddingData appends one OpenAI embedding object for the float array values: the floats as the
// upstream wrote them, or, when b64 is set, their little-endian float32 bytes in standard base64 (what
// encoding_format "base64" means, and how the OpenAI SDKs decode it).
func appendEmbeddingData(dst []byte, index int, values gjson.Result, b64 bool) []byte {
	dst = append(dst, `{"object":"embedding","index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"embedding":`...)
	if !b64 {
		if values.IsArray() {
			dst = append(dst, values.Raw...)
		} else {
			dst = append(dst, "[]"...)
		}
		return append(dst, '}')
	}
	raw := make([]byte, 0, 4*256)
	values.ForEach(func(_, v gjson.Result) bool {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v.Float())))
		return true
	})
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, `"}`...)
}

// wantsBase64 reports whether an OpenAI embeddings request asked for base64 output.
func wantsBase64(body []byte) bool {
	return gjson.GetBytes(body, "encoding_format").Str == "base64"
}

// embeddingList builds OpenAI's answer to an embeddings request out of a translated upstream's vectors.
type embeddingList struct {
	out []byte
	b64 bool
	n   int
}

// newEmbeddingList starts the list for req; size is the upstream body's length, to size the buffer once.
func newEmbeddingList(req *Request, size int) *embeddingList {
	l := &embeddingList{out: make([]byte, 0, size+128), b64: wantsBase64(req.Body)}
	l.out = append(l.out, `{"object":"list","data":[`...)
	return l
}

// add appends the next vector (a float array).
func (l *embeddingList) add(values gjson.Result) {
	if l.n > 0 {
		l.out = append(l.out, ',')
	}
	l.out = appendEmbeddingData(l.out, l.n, values, l.b64)
	l.n++
}

// addEach appends every vector of the array vectors, each read at path within its element ("" for the
// element itself).
func (l *embeddingList) addEach(vectors gjson.Result, path string) {
	vectors.ForEach(func(_, e gjson.Result) bool {
		if path != "" {
			e = e.Get(path)
		}
		l.add(e)
		return true
	})
}

// finish ends the list with the client's model name and, when the upstream reported it, the usage.
func (l *embeddingList) finish(req *Request, u usage.Usage) []byte {
	out := append(l.out, `],"model":`...)
	out = AppendJSONString(out, req.ClientModel)
	if u.Known() {
		out = append(out, `,"usage":{"prompt_tokens":`...)
		out = strconv.AppendInt(out, int64(u.PromptTokens), 10)
		out = append(out, `,"total_tokens":`...)
		out = strconv.AppendInt(out, int64(u.TotalTokens), 10)
		out = append(out, '}')
	}
	return append(out, '}')
}

// reportedPrompt is the usage of an embeddings answer whose upstream reported n prompt tokens; no usage when
// n is not a number.
func reportedPrompt(n gjson.Result) usage.Usage {
	if n.Type != gjson.Number {
		return usage.Usage{}
	}
	var rep usage.Report
	return rep.Usage(usage.Usage{PromptTokens: rep.Count(n), TotalTokens: rep.Count(n), Origin: usage.Reported})
}
