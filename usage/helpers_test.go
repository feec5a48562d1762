package usage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const fixtureDir = "../testdata/fixtures"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sseData returns the data of every event in an OpenAI SSE body, [DONE] excluded. (transform's SSEReader
// cannot be used here: transform imports usage.)
func sseData(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, line := range bytes.Split(body, []byte("\n")) {
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data: "))
		if ok && string(data) != "[DONE]" {
			out = append(out, data)
		}
	}
	return out
}

// corpus is mixed text for exactness tests and benchmarks: every recorded fixture (JSON, SSE, NDJSON), this
// package's Go source, and non-English text with multi-byte characters.
func corpus(t testing.TB) string {
	t.Helper()
	var sb strings.Builder
	for _, pattern := range []string{fixtureDir + "/*/*", "*.go"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(b) {
				continue // binary recordings (Bedrock's event streams) are no text to count
			}
			sb.Write(b)
		}
	}
	sb.WriteString("Ça coûte 3,50 €. Größe: 12 345 678! Привет, мир. 日本語のテキスト、句読点。 😀 emoji\t\ttabs  \n\n" +
		"it's they're I'LL can't   multiple   spaces\r\n\u00a0nbsp \u3000ideographic 123456789 x=y+z; a.b/c\n")
	return sb.String()
}
