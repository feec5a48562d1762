package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckJSONDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"flat object", []byte(`{"a":1}`), nil},
		{"at the limit", nest(MaxJSONDepth), nil},
		{"one over", nest(MaxJSONDepth + 1), errJSONTooDeep},
		{"mixed objects and arrays over", []byte(strings.Repeat(`{"a":[`, MaxJSONDepth/2+1) + "1" + strings.Repeat("]}", MaxJSONDepth/2+1)), errJSONTooDeep},
		{"brackets inside strings do not count", []byte(`{"a":"` + strings.Repeat("[{", 10000) + `"}`), nil},
		{"escaped quote keeps the string open", []byte(`{"a":"\"` + strings.Repeat("[", 1000) + `"}`), nil},
		{"unbalanced opener only", bytes.Repeat([]byte("["), 6_000_000), errJSONTooDeep},
		{"invalid but shallow", []byte(`{not json}`), errJSONInvalid},
		{"unterminated string", []byte(`{"a":"`), errJSONInvalid},
		{"empty", nil, errJSONInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CheckJSON(c.body); !errors.Is(got, c.want) {
				t.Fatalf("CheckJSON = %v, want %v", got, c.want)
			}
		})
	}
}

// A body at any size of nesting is refused in constant memory: the scan allocates nothing.
func TestCheckJSONDeepAllocatesNothing(t *testing.T) {
	body := bytes.Repeat([]byte("["), 4<<20)
	allocs := testing.AllocsPerRun(3, func() {
		if CheckJSON(body) == nil {
			t.Fatal("accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per check of a 4 MiB deep body, want 0", allocs)
	}
}

func BenchmarkCheckJSON(b *testing.B) {
	body := []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello in French, please, and then explain why."}],"stream":true,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = CheckJSON(body)
	}
}

// FuzzCheckJSON checks the single-pass validator against encoding/json on everything within the depth limit,
// and that the top-level members it reports are exactly the object's.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2.5e-3,"x\u00e9\n",true,false,null,{}]`, `{"a":{"b":[]},"c":"\"}"}`, ` -0.1E+2 `,
		`{"a":1,}`, `[01]`, `"\x"`, `{"a" 1}`, `[1 2]`, `1.`, `-`, `"\ud800"`, "\"\x1f\"", `{"k":"` + strings.Repeat("é", 9) + `"}`} {
		f.Add([]byte(s))
	}
	f.Add(openAIStreamBody(1, "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		members := map[string]string{}
		err := scanJSON(b, func(key []byte, start, end int) {
			// Keyed as a JSON decoder reads the key (escapes decoded, invalid UTF-8 as U+FFFD).
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) != nil {
				k = string(key)
			}
			members[k] = string(b[start:end])
		})
		if !depthWithin(b, MaxJSONDepth) {
			if CheckJSON(b) != errJSONTooDeep {
				t.Fatalf("too deep, CheckJSON = %v", CheckJSON(b))
			}
			return
		}
		if (err == nil) != json.Valid(b) {
			t.Fatalf("scanJSON = %v, json.Valid = %v for %q", err, json.Valid(b), b)
		}
		var obj map[string]json.RawMessage
		if err != nil || json.Unmarshal(b, &obj) != nil {
			return
		}
		for k, v := range obj {
			if members[k] != string(v) && !strings.ContainsAny(string(v), "\t\n\r ") {
				t.Fatalf("member %q = %q, want %q", k, members[k], v)
			}
		}
	})
}
