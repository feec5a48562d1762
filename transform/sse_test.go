package transform

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader, max int) ([]string, []string, error) {
	t.Helper()
	s := NewPooledSSEReader(r, max, &Buffers{})
	defer s.Release()
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

// readCounter is an upstream body whose bytes have all arrived: each Read returns as much as fits.
type readCounter struct {
	r     io.Reader
	reads int
	sizes []int
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.reads++
	c.sizes = append(c.sizes, len(p))
	return c.r.Read(p)
}

// sseBurst is n OpenAI-like chunks of about 200 bytes, then [DONE].
func sseBurst(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"+
			"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word %d\"},\"finish_reason\":null}]}\n\n", i)
	}
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// A burst (events that arrived together) is read in as few reads as reverse_proxy's 32 KiB buffer takes, and
// the lent buffer goes back once drained.
func TestSSEReaderReadsBurstsInFewReads(t *testing.T) {
	in := sseBurst(100) // about 20 KiB
	for _, c := range []struct {
		name     string
		lender   *Buffers
		maxReads int
	}{{"lent", &Buffers{}, 3}, {"no lender", nil, len(in)/smallReadSize + 2}} {
		src := &readCounter{r: strings.NewReader(in)}
		s := NewPooledSSEReader(src, 0, c.lender)
		events := 0
		for {
			ev, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(`"word %d"`, events); events < 100 && !strings.Contains(string(ev.Data), want) {
				t.Fatalf("%s: event %d is %s", c.name, events, ev.Data)
			}
			events++
		}
		if events != 101 {
			t.Fatalf("%s: %d events, want 101", c.name, events)
		}
		if src.reads > c.maxReads {
			t.Errorf("%s: %d reads of sizes %v for %d bytes, want at most %d", c.name, src.reads, src.sizes, len(in), c.maxReads)
		}
		s.Release()
		if s.r.lentOut || len(s.r.buf) != smallReadSize {
			t.Errorf("%s: the lent buffer was kept after Release", c.name)
		}
	}
}

// An upstream that trickles (a model writing tokens) never makes its stream borrow: idle streams hold only
// their own small buffer.
func TestSSEReaderTrickleHoldsSmallBuffer(t *testing.T) {
	src := iotest.OneByteReader(strings.NewReader(sseBurst(50)))
	s := NewPooledSSEReader(src, 0, &Buffers{})
	defer s.Release()
	for {
		_, err := s.Next()
		if s.r.lentOut {
			t.Fatal("a trickling stream borrowed a burst buffer")
		}
		if err != nil {
			break
		}
	}
}

// A burst buffer lent to one stream goes back when the stream has consumed it, before the stream waits for
// its upstream again.
func TestSSEReaderGivesBurstBufferBackWhenDrained(t *testing.T) {
	burst := sseBurst(40)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(burst)) // one write: the reader takes it in reads as large as it offers
		_, _ = pw.Write([]byte("data: {\"late\":1}\n\n"))
		_ = pw.Close()
	}()
	s := NewPooledSSEReader(pr, 0, &Buffers{})
	defer s.Release()
	sawLent := false
	for {
		ev, err := s.Next()
		if err != nil {
			break
		}
		sawLent = sawLent || s.r.lentOut
		if string(ev.Data) == `{"late":1}` && s.r.lentOut {
			t.Fatal("the burst buffer was still held when the stream read its next upstream write")
		}
	}
	if !sawLent {
		t.Fatal("a 8 KiB burst did not borrow a burst buffer")
	}
}
