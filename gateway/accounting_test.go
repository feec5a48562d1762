package gateway

import (
	"encoding/json"
	"testing"
)

// setUsageCost puts the cost inside the usage object, keeps everything else, and replaces a cost the
// upstream already reported.
func TestSetUsageCost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"id":"a","usage":{"prompt_tokens":1,"total_tokens":1},"x":[1]}`, `{"id":"a","usage":{"prompt_tokens":1,"total_tokens":1,"cost":0.0000126},"x":[1]}`},
		{`{"usage":{ }}`, `{"usage":{ "cost":0.0000126}}`},
		{`{"usage":{"cost":1,"total_tokens":1}}`, `{"usage":{"cost":0.0000126,"total_tokens":1}}`},
		{`{"usage": {"a":{"cost":2}} }`, `{"usage": {"a":{"cost":2},"cost":0.0000126} }`},
		{`{"id":"a"}`, `{"id":"a","usage":{"cost":0.0000126}}`},
	} {
		got := string(setUsageCost([]byte(c.in), 0.0000126))
		if got != c.want || !json.Valid([]byte(got)) {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
}
