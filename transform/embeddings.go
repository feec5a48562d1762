package transform

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
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
