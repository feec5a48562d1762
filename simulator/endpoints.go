package simulator

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// jsonEndpoint answers a request that is neither chat nor streamed: body is the request, model the model its
// path names (Gemini). The error says what is wrong with the request.
type jsonEndpoint func(s *Simulator, dst, body []byte, model string) ([]byte, error)

// Embedding dimensions by model, when the request names none.
const (
	maxEmbeddingDimensions = 8192
	maxEmbeddingInputs     = 2048
	maxEmbeddingWords      = 512
)

// embeddingDimensions is the length of a model's vectors: the request's when it asks, else 3072 for
// text-embedding-3-large and gemini-embedding-*, 1536 for text-embedding-3-small and ada-002, 768 otherwise.
func embeddingDimensions(model string, requested gjson.Result) (int, error) {
	if requested.Exists() && requested.Type != gjson.Null {
		n := requested.Int()
		if requested.Type != gjson.Number || float64(n) != requested.Float() || n < 1 || n > maxEmbeddingDimensions {
			return 0, fmt.Errorf("dimensions must be an integer between 1 and %d, got %s", maxEmbeddingDimensions, requested.Raw)
		}
		return int(n), nil
	}
	switch {
	case strings.Contains(model, "text-embedding-3-large"), strings.Contains(model, "gemini-embedding"):
		return 3072, nil
	case strings.Contains(model, "text-embedding-3-small"), strings.Contains(model, "ada-002"):
		return 1536, nil
	}
	return 768, nil
}

// embed returns the unit vector of text: the normalised sum of one pseudo-random vector per word (lowercase
// letters and digits), seeded by the word, so the same text always has the same vector and texts that share
// words point in similar directions (their cosine similarity grows with the words they share).
func embed(text string, dims int) []float32 {
	acc := make([]float64, dims)
	ws := wordsOf(text)
	if len(ws) == 0 {
		ws = []string{text}
	}
	if len(ws) > maxEmbeddingWords {
		ws = ws[:maxEmbeddingWords]
	}
	for _, w := range ws {
		h := fnv.New64a()
		_, _ = h.Write([]byte(w))
		x := h.Sum64()
		for i := range acc {
			x = splitmix64(&x)
			acc[i] += float64(int64(x)) / (1 << 63)
		}
	}
	norm := 0.0
	for _, v := range acc {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		norm = 1
	}
	out := make([]float32, dims)
	for i, v := range acc {
		out[i] = float32(v / norm)
	}
	return out
}

func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// wordsOf returns the lowercase runs of letters and digits of s.
func wordsOf(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 0x80)
	})
}

// appendVector appends v as a JSON array of float32 values, or as a base64 string of its little-endian
// float32 bytes.
func appendVector(b []byte, v []float32, base64Encoded bool) []byte {
	if base64Encoded {
		raw := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, raw)
		return append(b, '"')
	}
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return append(b, ']')
}

// embeddingInputs reads an OpenAI or Ollama input: a string, an array of strings, an array of token ids, or
// an array of arrays of token ids. A token-id input is embedded as its ids written out, and counts one token
// per id.
func (s *Simulator) embeddingInputs(model string, input gjson.Result) (texts []string, tokens int, err error) {
	add := func(v gjson.Result) error {
		switch {
		case v.Type == gjson.String:
			if v.Str == "" {
				return errors.New("'$.input' is invalid: an input must not be an empty string")
			}
			texts = append(texts, v.Str)
			tokens += s.tok.Count(model, v.Str)
		case v.IsArray():
			var ids []string
			v.ForEach(func(_, id gjson.Result) bool {
				ids = append(ids, id.Raw)
				return true
			})
			if len(ids) == 0 {
				return errors.New("'$.input' is invalid: an input must not be an empty array")
			}
			texts = append(texts, strings.Join(ids, " "))
			tokens += len(ids)
		default:
			return errors.New("'$.input' is invalid: send a string, an array of strings or of token ids")
		}
		return nil
	}
	switch {
	case !input.Exists():
		return nil, 0, errors.New("you must provide an input parameter")
	case input.IsArray() && input.Get("0").Type == gjson.Number:
		err = add(input)
	case input.IsArray():
		input.ForEach(func(_, v gjson.Result) bool {
			err = add(v)
			return err == nil
		})
		if err == nil && len(texts) == 0 {
			err = errors.New("'$.input' is invalid: the input array is empty")
		}
	default:
		err = add(input)
	}
	if len(texts) > maxEmbeddingInputs {
		err = fmt.Errorf("'$.input' is invalid: at most %d inputs, got %d", maxEmbeddingInputs, len(texts))
	}
	return texts, tokens, err
}

// embeddingRequest is what the OpenAI and Ollama embeddings requests have in common.
type embeddingRequest struct {
	req    gjson.Result
	model  string
	dims   int
	texts  []string
	tokens int
}

// parseEmbedding reads an embeddings request's model, dimensions and input; noModel is the error for a
// request without a model, in the API's own words.
func (s *Simulator) parseEmbedding(body []byte, noModel string) (embeddingRequest, error) {
	var e embeddingRequest
	var err error
	if e.req, err = parseObject(body); err != nil {
		return e, err
	}
	if e.model = e.req.Get("model").String(); e.model == "" {
		return e, errors.New(noModel)
	}
	if e.dims, err = embeddingDimensions(e.model, e.req.Get("dimensions")); err != nil {
		return e, err
	}
	e.texts, e.tokens, err = s.embeddingInputs(e.model, e.req.Get("input"))
	return e, err
}

// serveEmbeddings answers POST */embeddings as OpenAI does.
func serveEmbeddings(s *Simulator, b, body []byte, _ string) ([]byte, error) {
	e, err := s.parseEmbedding(body, "you must provide a model parameter")
	if err != nil {
		return nil, err
	}
	format := e.req.Get("encoding_format").String()
	if format != "" && format != "float" && format != "base64" {
		return nil, fmt.Errorf("encoding_format must be \"float\" or \"base64\", got %q", format)
	}
	model, dims, texts, tokens := e.model, e.dims, e.texts, e.tokens
	b = append(b, `{"object":"list","data":[`...)
	for i, text := range texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		b = appendVector(b, embed(text, dims), format == "base64")
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = transform.AppendJSONString(b, model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	return append(b, "}}"...), nil
}

// serveOllamaEmbed answers Ollama's POST /api/embed.
func serveOllamaEmbed(s *Simulator, b, body []byte, _ string) ([]byte, error) {
	e, err := s.parseEmbedding(body, "model is required")
	if err != nil {
		return nil, err
	}
	model, dims, texts, tokens := e.model, e.dims, e.texts, e.tokens
	b = append(b, `{"model":`...)
	b = transform.AppendJSONString(b, model)
	b = append(b, `,"embeddings":[`...)
	for i, text := range texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendVector(b, embed(text, dims), false)
	}
	b = append(b, `],"total_duration":1000000,"load_duration":0,"prompt_eval_count":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	return append(b, '}'), nil
}

// geminiEmbedding reads one EmbedContentRequest and appends its {"values":[…]}.
func geminiEmbedding(b []byte, req gjson.Result, model string, where string) ([]byte, error) {
	var text strings.Builder
	req.Get("content.parts").ForEach(func(_, part gjson.Result) bool {
		if t := part.Get("text"); t.Type == gjson.String {
			if text.Len() > 0 {
				text.WriteByte('\n')
			}
			text.WriteString(t.Str)
		}
		return true
	})
	if text.Len() == 0 {
		return nil, fmt.Errorf("* %scontent: contents is not specified (send content.parts with text)", where)
	}
	if m := strings.TrimPrefix(req.Get("model").String(), "models/"); m != "" {
		model = m
	}
	dims, err := embeddingDimensions(model, req.Get("outputDimensionality"))
	if err != nil {
		return nil, fmt.Errorf("* %soutputDimensionality: %v", where, err)
	}
	b = append(b, `{"values":`...)
	b = appendVector(b, embed(text.String(), dims), false)
	return append(b, '}'), nil
}

// serveGeminiEmbed answers Gemini's POST */models/{model}:embedContent.
func serveGeminiEmbed(_ *Simulator, b, body []byte, model string) ([]byte, error) {
	req, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	b = append(b, `{"embedding":`...)
	if b, err = geminiEmbedding(b, req, model, "EmbedContentRequest."); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// serveGeminiBatchEmbed answers Gemini's POST */models/{model}:batchEmbedContents.
func serveGeminiBatchEmbed(_ *Simulator, b, body []byte, model string) ([]byte, error) {
	req, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	requests := req.Get("requests")
	if !requests.IsArray() || len(requests.Array()) == 0 {
		return nil, errors.New("* BatchEmbedContentsRequest.requests: requests is not specified")
	}
	b = append(b, `{"embeddings":[`...)
	i := 0
	requests.ForEach(func(_, r gjson.Result) bool {
		if i > 0 {
			b = append(b, ',')
		}
		b, err = geminiEmbedding(b, r, model, fmt.Sprintf("BatchEmbedContentsRequest.requests[%d].", i))
		i++
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return append(b, "]}"...), nil
}

// moderationCategories are OpenAI's moderation categories, in its order.
var moderationCategories = [...]string{
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
	"violence/graphic",
}

// moderationTriggers are the words (matched whole, case-insensitively) that make the simulated moderations
// endpoint flag an input, and the categories each flags. Every other input is not flagged, with small scores.
var moderationTriggers = map[string][]string{
	"idiot":    {"harassment"},
	"threaten": {"harassment", "harassment/threatening"},
	"hate":     {"hate"},
	"steal":    {"illicit"},
	"bomb":     {"illicit", "illicit/violent", "violence"},
	"suicide":  {"self-harm", "self-harm/intent"},
	"nsfw":     {"sexual"},
	"kill":     {"violence"},
	"gore":     {"violence", "violence/graphic"},
}

// serveModerations answers POST */moderations as OpenAI's omni-moderation does: one result per input string
// (a list of text and image parts is one input).
func serveModerations(_ *Simulator, b, body []byte, _ string) ([]byte, error) {
	req, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	model := req.Get("model").String()
	if model == "" {
		model = "omni-moderation-latest"
	}
	input := req.Get("input")
	var inputs []string
	images := false
	switch {
	case input.Type == gjson.String:
		inputs = []string{input.Str}
	case input.IsArray() && input.Get("0").IsObject():
		var text []string
		input.ForEach(func(_, part gjson.Result) bool {
			switch part.Get("type").String() {
			case "text":
				text = append(text, part.Get("text").String())
			case "image_url":
				images = true
			}
			return true
		})
		inputs = []string{strings.Join(text, " ")}
	case input.IsArray():
		input.ForEach(func(_, v gjson.Result) bool {
			inputs = append(inputs, v.String())
			return true
		})
	}
	if len(inputs) == 0 {
		return nil, errors.New("you must provide an input parameter (a string, an array of strings, or of text and image_url parts)")
	}

	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("modr-"))
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, model)
	b = append(b, `,"results":[`...)
	for i, text := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		hit := map[string]bool{}
		for _, w := range wordsOf(text) {
			for _, c := range moderationTriggers[w] {
				hit[c] = true
			}
		}
		b = append(b, `{"flagged":`...)
		b = strconv.AppendBool(b, len(hit) > 0)
		b = append(b, `,"categories":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = transform.AppendJSONString(b, c)
			b = strconv.AppendBool(append(b, ':'), hit[c])
		}
		b = append(b, `},"category_scores":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = transform.AppendJSONString(b, c)
			b = append(b, ':')
			score := 1e-6 + float64(hashOf(text+c)%1000)*1e-6
			if hit[c] {
				score = 0.9 + float64(hashOf(text+c)%900)*1e-4
			}
			b = strconv.AppendFloat(b, score, 'g', 6, 64)
		}
		b = append(b, `},"category_applied_input_types":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = transform.AppendJSONString(b, c)
			b = append(b, `:["text"`...)
			if images && (c == "self-harm" || c == "self-harm/intent" || c == "self-harm/instructions" ||
				c == "sexual" || c == "violence" || c == "violence/graphic") {
				b = append(b, `,"image"`...)
			}
			b = append(b, ']')
		}
		b = append(b, "}}"...)
	}
	return append(b, "]}"...), nil
}

func hashOf(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// serveRerank answers POST */rerank in the shape Cohere v2, Jina and vLLM share: results sorted by
// relevance_score, highest first. A document's score grows with the share of the query's distinct words it
// contains (from about 0.02 with none to about 0.97 with all), plus a small deterministic tie-breaker.
// top_n (0 for all) cuts the list; each result carries its document unless return_documents is false.
func serveRerank(s *Simulator, b, body []byte, _ string) ([]byte, error) {
	req, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	model := req.Get("model").String()
	if model == "" {
		return nil, errors.New("you must provide a model parameter")
	}
	query := req.Get("query").String()
	if query == "" {
		return nil, errors.New("query must be a non-empty string")
	}
	var docs []string
	req.Get("documents").ForEach(func(_, d gjson.Result) bool {
		if t := d.Get("text"); d.IsObject() && t.Exists() {
			docs = append(docs, t.String())
		} else {
			docs = append(docs, d.String())
		}
		return true
	})
	if len(docs) == 0 {
		return nil, errors.New("documents must be a non-empty array")
	}
	queryWords := map[string]bool{}
	for _, w := range wordsOf(query) {
		queryWords[w] = true
	}
	type result struct {
		index int
		score float64
	}
	results := make([]result, len(docs))
	tokens := s.tok.Count(model, query) * len(docs)
	for i, d := range docs {
		shared := map[string]bool{}
		for _, w := range wordsOf(d) {
			if queryWords[w] {
				shared[w] = true
			}
		}
		overlap := 0.0
		if len(queryWords) > 0 {
			overlap = float64(len(shared)) / float64(len(queryWords))
		}
		score := 0.02 + 0.95*overlap + float64(hashOf(query+"\x00"+d)%1000)*1e-5
		results[i] = result{index: i, score: math.Round(score*1e6) / 1e6}
		tokens += s.tok.Count(model, d)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].score > results[j].score })
	if n := int(req.Get("top_n").Int()); n > 0 && n < len(results) {
		results = results[:n]
	}
	withDocs := req.Get("return_documents").Type != gjson.False

	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, transform.NewID("rerank-"))
	b = append(b, `,"model":`...)
	b = transform.AppendJSONString(b, model)
	b = append(b, `,"results":[`...)
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(r.index), 10)
		b = append(b, `,"relevance_score":`...)
		b = strconv.AppendFloat(b, r.score, 'f', -1, 64)
		if withDocs {
			b = append(b, `,"document":{"text":`...)
			b = transform.AppendJSONString(b, docs[r.index])
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, `],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `},"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`...)
	return b, nil
}

// parseObject checks that body is a JSON object and parses it.
func parseObject(body []byte) (gjson.Result, error) {
	if transform.CheckJSON(body) != nil || !gjson.ParseBytes(body).IsObject() {
		return gjson.Result{}, errors.New("we could not parse the JSON body of your request; send a valid JSON object")
	}
	return gjson.ParseBytes(body), nil
}
