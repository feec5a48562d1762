package transform

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader, max int) ([]string, []string, error) {
	t.Helper()
	s := NewSSEReader(r, max)
	var names, data []string
	for {
		ev, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return names, data, nil
			}
			return names, data, err
		}
		names = append(names, string(ev.Name))
		data = append(data, string(ev.Data))
	}
}

func TestSSEReaderFraming(t *testing.T) {
	cases := []struct {
		name, in string
		names    []string
		data     []string
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{"", ""}, []string{`{"a":1}`, "[DONE]"}},
		{"crlf gemini", "data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n", []string{"", ""}, []string{`{"a":1}`, `{"b":2}`}},
		{"anthropic named, padded", "event: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"   }\n\n",
			[]string{"ping", "message_stop"}, []string{`{"type": "ping"}`, `{"type":"message_stop"   }`}},
		{"comments and unknown fields", ": keep-alive\nid: 7\nretry: 10\ndata: x\n\n", []string{""}, []string{"x"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{""}, []string{"a\nb"}},
		{"no space after colon", "data:x\n\n", []string{""}, []string{"x"}},
		{"unterminated last event", "data: a\n\ndata: b", []string{"", ""}, []string{"a", "b"}},
		{"blank lines only", "\n\n\n", nil, nil},
		{"event name without data is dropped", "event: x\n\ndata: y\n\n", []string{""}, []string{"y"}},
	}
	for _, c := range cases {
		for _, reader := range []struct {
			kind string
			r    io.Reader
		}{{"whole", strings.NewReader(c.in)}, {"byte by byte", iotest.OneByteReader(strings.NewReader(c.in))}} {
			names, data, err := readAll(t, reader.r, 0)
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, reader.kind, err)
			}
			if strings.Join(names, "|") != strings.Join(c.names, "|") || strings.Join(data, "|") != strings.Join(c.data, "|") {
				t.Errorf("%s/%s: names %q data %q, want %q %q", c.name, reader.kind, names, data, c.names, c.data)
			}
		}
	}
}

func TestSSEReaderLongLines(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	_, data, err := readAll(t, iotest.HalfReader(strings.NewReader("data: "+big+"\n\ndata: after\n\n")), 0)
	if err != nil || len(data) != 2 || data[0] != big || data[1] != "after" {
		t.Fatalf("1 MiB line: err %v, %d events", err, len(data))
	}
	_, _, err = readAll(t, strings.NewReader("data: "+big+"\n\n"), 64<<10)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("a line over the limit must fail with ErrEventTooLarge, got %v", err)
	}
}

func TestSSEReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, data, err := readAll(t, io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) || len(data) != 1 {
		t.Fatalf("err %v, data %q", err, data)
	}
}
