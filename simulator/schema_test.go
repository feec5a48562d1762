package simulator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// validate checks value against the parts of JSON Schema the simulator claims to honour; it returns the
// first violation, or "" when value is valid.
func validate(value, schema, root gjson.Result, path string) string {
	if ref := propertySchema(schema, "$ref"); ref.Exists() {
		return validate(value, resolveRef(root, ref.String()), root, path)
	}
	if c := schema.Get("const"); c.Exists() && c.Raw != value.Raw {
		return fmt.Sprintf("%s: %s is not the const %s", path, value.Raw, c.Raw)
	}
	if enum := schema.Get("enum"); enum.IsArray() {
		found := false
		enum.ForEach(func(_, e gjson.Result) bool {
			found = e.Raw == value.Raw
			return !found
		})
		if !found {
			return fmt.Sprintf("%s: %s is not in the enum %s", path, value.Raw, enum.Raw)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts := schema.Get(key); alts.IsArray() {
			ok := false
			alts.ForEach(func(_, alt gjson.Result) bool {
				ok = validate(value, alt, root, path) == ""
				return !ok
			})
			if !ok {
				return fmt.Sprintf("%s: %s matches no %s variant", path, value.Raw, key)
			}
		}
	}
	types := schema.Get("type")
	if types.Exists() {
		ok := false
		types.ForEach(func(_, typ gjson.Result) bool {
			ok = hasType(value, strings.ToLower(typ.String()))
			return !ok
		})
		if !ok {
			return fmt.Sprintf("%s: %s is not of type %s", path, value.Raw, types.Raw)
		}
	}
	switch {
	case value.IsObject():
		var msg string
		schema.Get("required").ForEach(func(_, req gjson.Result) bool {
			if !propertySchema(value, req.String()).Exists() {
				msg = fmt.Sprintf("%s: required %s missing", path, req.String())
			}
			return msg == ""
		})
		if msg != "" {
			return msg
		}
		value.ForEach(func(k, v gjson.Result) bool {
			prop := propertySchema(schema.Get("properties"), k.String())
			if !prop.Exists() {
				if schema.Get("additionalProperties").Type == gjson.False {
					msg = fmt.Sprintf("%s: property %s not allowed", path, k.String())
					return false
				}
				prop = schema.Get("additionalProperties")
			}
			msg = validate(v, prop, root, path+"."+k.String())
			return msg == ""
		})
		return msg
	case value.IsArray():
		n := len(value.Array())
		if m := schema.Get("minItems"); m.Exists() && int64(n) < m.Int() {
			return fmt.Sprintf("%s: %d items, want at least %d", path, n, m.Int())
		}
		if m := schema.Get("maxItems"); m.Exists() && int64(n) > m.Int() {
			return fmt.Sprintf("%s: %d items, want at most %d", path, n, m.Int())
		}
		var msg string
		value.ForEach(func(i, v gjson.Result) bool {
			msg = validate(v, schema.Get("items"), root, fmt.Sprintf("%s[%d]", path, i.Int()))
			return msg == ""
		})
		return msg
	case value.Type == gjson.Number:
		if m := schema.Get("minimum"); m.Exists() && value.Float() < m.Float() {
			return fmt.Sprintf("%s: %s below minimum %s", path, value.Raw, m.Raw)
		}
		if m := schema.Get("maximum"); m.Exists() && value.Float() > m.Float() {
			return fmt.Sprintf("%s: %s above maximum %s", path, value.Raw, m.Raw)
		}
		if m := schema.Get("exclusiveMinimum"); m.Type == gjson.Number && value.Float() <= m.Float() {
			return fmt.Sprintf("%s: %s not above %s", path, value.Raw, m.Raw)
		}
		if m := schema.Get("exclusiveMaximum"); m.Type == gjson.Number && value.Float() >= m.Float() {
			return fmt.Sprintf("%s: %s not below %s", path, value.Raw, m.Raw)
		}
	case value.Type == gjson.String:
		if m := schema.Get("minLength"); m.Exists() && int64(len(value.Str)) < m.Int() {
			return fmt.Sprintf("%s: %q shorter than %d", path, value.Str, m.Int())
		}
		if m := schema.Get("maxLength"); m.Exists() && int64(len(value.Str)) > m.Int() {
			return fmt.Sprintf("%s: %q longer than %d", path, value.Str, m.Int())
		}
	}
	return ""
}

func hasType(v gjson.Result, typ string) bool {
	switch typ {
	case "object":
		return v.IsObject()
	case "array":
		return v.IsArray()
	case "string":
		return v.Type == gjson.String
	case "number":
		return v.Type == gjson.Number
	case "integer":
		return v.Type == gjson.Number && v.Float() == float64(int64(v.Float()))
	case "boolean":
		return v.Type == gjson.True || v.Type == gjson.False
	case "null":
		return v.Type == gjson.Null
	}
	return true
}

// mustValidate fails the test unless value is JSON valid against schema.
func mustValidate(t *testing.T, what, value, schema string) {
	t.Helper()
	if !gjson.Valid(value) {
		t.Fatalf("%s: %s is not JSON", what, value)
	}
	s := gjson.Parse(schema)
	if msg := validate(gjson.Parse(value), s, s, "$"); msg != "" {
		t.Errorf("%s: %s does not validate: %s", what, value, msg)
	}
}

// recipeSchema exercises most of what appendExample honours.
const recipeSchema = `{"type":"object","properties":{` +
	`"title":{"type":"string","minLength":10,"maxLength":40},` +
	`"servings":{"type":"integer","minimum":2,"maximum":12},` +
	`"rating":{"type":"number","exclusiveMinimum":4,"exclusiveMaximum":5},` +
	`"vegetarian":{"type":"boolean"},` +
	`"cuisine":{"type":"string","enum":["italian","thai"]},` +
	`"kind":{"const":"recipe"},` +
	`"published":{"type":"string","format":"date-time"},` +
	`"notes":{"type":["string","null"]},` +
	`"ingredients":{"type":"array","minItems":2,"items":{"$ref":"#/$defs/ingredient"}},` +
	`"steps":{"type":"array","items":{"type":"object","properties":{"text":{"type":"string"},"minutes":{"type":"integer"}},"required":["text","minutes"],"additionalProperties":false}},` +
	`"source":{"anyOf":[{"type":"null"},{"type":"object","properties":{"url":{"type":"string","format":"uri"}},"required":["url"]}]},` +
	`"tags":{"type":"array","maxItems":0,"items":{"type":"string"}},` +
	`"extra":{"type":"object","additionalProperties":{"type":"integer"},"minProperties":1}` +
	`},"required":["title","servings","ingredients","steps"],"additionalProperties":false,` +
	`"$defs":{"ingredient":{"type":"object","properties":{"name":{"type":"string"},"grams":{"type":"number","minimum":0.5},"parent":{"$ref":"#/$defs/ingredient"}},"required":["name","grams"]}}}`

func TestSchemaExamplesValidate(t *testing.T) {
	schemas := map[string]string{
		"recipe":         recipeSchema,
		"empty":          `{}`,
		"bare object":    `{"type":"object"}`,
		"gemini openapi": `{"type":"OBJECT","properties":{"name":{"type":"STRING"},"count":{"type":"INTEGER"},"tags":{"type":"ARRAY","items":{"type":"STRING","enum":["a","b"]}}},"required":["name"]}`,
		"array root":     `{"type":"array","items":{"type":"integer","minimum":-3,"maximum":-1}}`,
		"recursive":      `{"$ref":"#/definitions/node","definitions":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/definitions/node"}}},"required":["children"]}}}`,
		"inferred":       `{"properties":{"a":{"items":{"type":"boolean"}}},"required":["a","b"]}`,
	}
	for name, schema := range schemas {
		got := string(appendExample(nil, gjson.Parse(schema), gjson.Parse(schema), 0))
		mustValidate(t, name, got, schema)
	}
	got := gjson.Parse(string(appendExample(nil, gjson.Parse(recipeSchema), gjson.Parse(recipeSchema), 0)))
	for path, want := range map[string]string{
		"servings": "2", "cuisine": `"italian"`, "kind": `"recipe"`, "published": `"2025-01-01T12:00:00Z"`,
		"ingredients.#": "2", "ingredients.0.grams": "1", "tags": "[]", "source.url": `"https://example.com/"`,
		"title": `"samplexxxx"`, "rating": "4.5",
	} {
		if got.Get(path).Raw != want {
			t.Errorf("%s = %s, want %s (in %s)", path, got.Get(path).Raw, want, got.Raw)
		}
	}
}

func TestSplitPieces(t *testing.T) {
	got := splitPieces(`{"name":"sample","n":12}`)
	want := []string{`{"`, `name":"`, `sample","`, `n":`, `12}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pieces %q, want %q", got, want)
	}
}
