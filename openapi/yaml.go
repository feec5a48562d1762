package openapi

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// YAML returns the JSON document doc in YAML block style, keys in the same order. Every scalar keeps its
// JSON spelling: JSON strings are valid YAML double-quoted scalars, and numbers, booleans and null read the
// same in both.
func YAML(doc []byte) []byte {
	var b bytes.Buffer
	writeYAML(&b, gjson.ParseBytes(doc), 0)
	return b.Bytes()
}

func writeYAML(b *bytes.Buffer, v gjson.Result, indent int) {
	pad := strings.Repeat("  ", indent)
	switch {
	case v.IsObject():
		v.ForEach(func(k, e gjson.Result) bool {
			b.WriteString(pad)
			b.WriteString(k.Raw)
			b.WriteByte(':')
			writeValue(b, e, indent)
			return true
		})
	case v.IsArray():
		v.ForEach(func(_, e gjson.Result) bool {
			b.WriteString(pad)
			b.WriteByte('-')
			if (e.IsObject() || e.IsArray()) && !empty(e) {
				// A collection item starts on the dash's line, its other entries indented under it.
				var item bytes.Buffer
				writeYAML(&item, e, indent+1)
				b.WriteByte(' ')
				b.Write(bytes.TrimLeft(item.Bytes(), " "))
				return true
			}
			writeValue(b, e, indent)
			return true
		})
	}
}

// writeValue writes what follows a key's colon or an item's dash: a scalar or empty collection on the same
// line, a collection indented on the next lines.
func writeValue(b *bytes.Buffer, v gjson.Result, indent int) {
	if (v.IsObject() || v.IsArray()) && !empty(v) {
		b.WriteByte('\n')
		writeYAML(b, v, indent+1)
		return
	}
	b.WriteByte(' ')
	switch {
	case v.IsObject():
		b.WriteString("{}")
	case v.IsArray():
		b.WriteString("[]")
	default:
		b.WriteString(v.Raw)
	}
	b.WriteByte('\n')
}

func empty(v gjson.Result) bool {
	n := 0
	v.ForEach(func(_, _ gjson.Result) bool { n++; return false })
	return n == 0
}
