package simulator

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// maxSchemaDepth bounds the nesting of a generated value, so recursive schemas ($ref to an ancestor) end.
const maxSchemaDepth = 12

// optionalDepth is the nesting from which optional properties are left out and arrays that may be empty
// are, so that recursive schemas end with a value that still validates.
const optionalDepth = 3

// appendExample appends a deterministic JSON value that validates against schema, a JSON Schema (or the
// OpenAPI subset Gemini's responseSchema and parameters take, types in capitals). root is the document that
// "#/…" references resolve against.
//
// What it honours: type (the first that is not "null" of a list), const, enum (its first value), $ref to
// "#/…" ($defs, definitions), anyOf/oneOf (the first variant that is not null), allOf (its first member),
// properties (required ones first in the order of required, then the rest in order, except deeper than
// optionalDepth), required names with no property schema, minProperties, items, minItems/maxItems (one item
// unless they say otherwise, none deeper than optionalDepth if none may do), string formats (date, date-time, time, email, uri, uuid), minLength/maxLength, and
// minimum/maximum (exclusive too) for numbers and integers. Strings are "sample", numbers and integers 1,
// booleans true. It ignores pattern and multipleOf.
func appendExample(dst []byte, schema, root gjson.Result, depth int) []byte {
	for i := 0; i < maxSchemaDepth; i++ {
		ref := propertySchema(schema, "$ref")
		if !ref.Exists() {
			break
		}
		schema = resolveRef(root, ref.String())
	}
	if c := schema.Get("const"); c.Exists() {
		return append(dst, c.Raw...)
	}
	if first := schema.Get("enum.0"); first.Exists() {
		return append(dst, first.Raw...)
	}
	for _, key := range [...]string{"anyOf", "oneOf"} {
		if v := schema.Get(key); v.IsArray() {
			chosen := v.Get("0")
			v.ForEach(func(_, alt gjson.Result) bool {
				if schemaType(alt) != "null" {
					chosen = alt
					return false
				}
				return true
			})
			return appendExample(dst, chosen, root, depth+1)
		}
	}
	if v := schema.Get("allOf.0"); v.Exists() && !schema.Get("properties").Exists() && !schema.Get("type").Exists() {
		return appendExample(dst, v, root, depth+1)
	}

	switch schemaType(schema) {
	case "object":
		return appendObjectExample(dst, schema, root, depth)
	case "array":
		n := 1
		if m := schema.Get("minItems"); m.Exists() && m.Int() > 1 {
			n = int(min(m.Int(), 64))
		}
		if m := schema.Get("maxItems"); m.Exists() && m.Int() < int64(n) {
			n = int(max(m.Int(), 0))
		}
		if depth >= maxSchemaDepth || depth >= optionalDepth && schema.Get("minItems").Int() == 0 {
			n = 0
		}
		dst = append(dst, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendExample(dst, schema.Get("items"), root, depth+1)
		}
		return append(dst, ']')
	case "integer":
		return append(dst, exampleNumber(schema, true)...)
	case "number":
		return append(dst, exampleNumber(schema, false)...)
	case "boolean":
		return append(dst, "true"...)
	case "null":
		return append(dst, "null"...)
	}
	return transform.AppendJSONString(dst, exampleString(schema))
}

func appendObjectExample(dst []byte, schema, root gjson.Result, depth int) []byte {
	dst = append(dst, '{')
	if depth >= maxSchemaDepth {
		return append(dst, '}')
	}
	props := schema.Get("properties")
	seen := map[string]bool{}
	n := 0
	add := func(key string, prop gjson.Result) {
		if seen[key] {
			return
		}
		seen[key] = true
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = transform.AppendJSONString(dst, key)
		dst = append(dst, ':')
		if !prop.Exists() {
			prop = schema.Get("additionalProperties")
		}
		dst = appendExample(dst, prop, root, depth+1)
	}
	schema.Get("required").ForEach(func(_, req gjson.Result) bool {
		add(req.String(), propertySchema(props, req.String()))
		return true
	})
	if depth < optionalDepth {
		props.ForEach(func(k, v gjson.Result) bool {
			add(k.String(), v)
			return true
		})
	}
	for i := n; i < int(min(schema.Get("minProperties").Int(), 16)); i++ {
		add("key"+strconv.Itoa(i+1), gjson.Result{})
	}
	return append(dst, '}')
}

// schemaType is the lowercase type of a schema, inferred from its keywords when it names none.
func schemaType(schema gjson.Result) string {
	typ := schema.Get("type")
	if typ.IsArray() {
		chosen := ""
		typ.ForEach(func(_, t gjson.Result) bool {
			if chosen == "" || strings.EqualFold(chosen, "null") {
				chosen = t.String()
			}
			return true
		})
		return strings.ToLower(chosen)
	}
	if typ.Exists() {
		return strings.ToLower(typ.String())
	}
	switch {
	case schema.Get("properties").Exists() || schema.Get("required").Exists():
		return "object"
	case schema.Get("items").Exists():
		return "array"
	}
	return "string"
}

func exampleNumber(schema gjson.Result, integer bool) string {
	v := 1.0
	step := 0.5
	if integer {
		step = 1
	}
	if m := schema.Get("minimum"); m.Exists() && v < m.Float() {
		v = m.Float()
	}
	if m := schema.Get("exclusiveMinimum"); m.Type == gjson.Number && v <= m.Float() {
		v = m.Float() + step
	}
	if m := schema.Get("maximum"); m.Exists() && v > m.Float() {
		v = m.Float()
	}
	if m := schema.Get("exclusiveMaximum"); m.Type == gjson.Number && v >= m.Float() {
		v = m.Float() - step
	}
	if integer {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func exampleString(schema gjson.Result) string {
	s := "sample"
	switch strings.ToLower(schema.Get("format").String()) {
	case "date":
		s = "2025-01-01"
	case "date-time":
		s = "2025-01-01T12:00:00Z"
	case "time":
		s = "12:00:00"
	case "email":
		s = "user@example.com"
	case "uri", "url":
		s = "https://example.com/"
	case "uuid":
		s = "00000000-0000-4000-8000-000000000000"
	}
	if m := int(min(schema.Get("minLength").Int(), 4096)); len(s) < m {
		s += strings.Repeat("x", m-len(s))
	}
	if m := schema.Get("maxLength"); m.Exists() && int(m.Int()) < len(s) {
		s = s[:max(m.Int(), 0)]
	}
	return s
}

// resolveRef returns the schema a "#/…" JSON pointer names in root; an unknown reference is an empty schema.
func resolveRef(root gjson.Result, ref string) gjson.Result {
	if !strings.HasPrefix(ref, "#") {
		return gjson.Result{}
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "#"), "/")
	if ref == "" {
		return root
	}
	cur := root
	for _, tok := range strings.Split(ref, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		next := propertySchema(cur, tok)
		if !next.Exists() && cur.IsArray() {
			if i, err := strconv.Atoi(tok); err == nil {
				next = cur.Get(strconv.Itoa(i))
			}
		}
		cur = next
	}
	return cur
}

// splitPieces cuts s into the pieces a text answer is streamed and counted in: each piece starts where a run
// of letters or digits starts, and holds what follows up to the next such run.
func splitPieces(s string) []string {
	var pieces []string
	start := 0
	for i := 1; i < len(s); i++ {
		if isAlnum(s[i]) && !isAlnum(s[i-1]) && i > start {
			pieces = append(pieces, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		pieces = append(pieces, s[start:])
	}
	return pieces
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80
}
