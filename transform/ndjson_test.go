package transform

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNDJSONReader(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	in := "{\"a\":1}\n\n  \r\n{\"b\":\"" + big + "\"}\r\n{\"c\":3}"
	r := newNDJSONReader(iotest.OneByteReader(strings.NewReader(in)), 0)
	var got []string
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ev.Data))
	}
	if len(got) != 3 || got[0] != `{"a":1}` || got[1] != `{"b":"`+big+`"}` || got[2] != `{"c":3}` {
		t.Fatalf("%d lines: %.40q", len(got), got)
	}
	if _, err := newNDJSONReader(strings.NewReader(big+"\n"), 1024).Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("a line over the limit: %v", err)
	}
}
