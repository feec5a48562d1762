package transform

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"
)

// MaxJSONDepth is the deepest nesting of arrays and objects the gateway reads, in requests and in upstream
// answers alike. No real chat request or answer comes near it (tool schemas nest a dozen levels at most); the
// JSON parsers recurse once per level, so an unbounded depth would let one body exhaust the stack or the heap.
const MaxJSONDepth = 128

// Errors of CheckJSON.
var (
	errJSONTooDeep = errors.New("JSON nested more than " + strconv.Itoa(MaxJSONDepth) + " levels deep")
	errJSONInvalid = errors.New("not valid JSON")
)

// CheckJSON reports whether b is one valid JSON value nested at most MaxJSONDepth levels deep, in one pass
// over b with constant memory and no recursion. A body that is both invalid and too deep is errJSONTooDeep.
// Every body and stream event the gateway parses goes through here first.
func CheckJSON(b []byte) error {
	return scanJSON(b, nil)
}

// depthWithin reports whether the brackets of b outside string literals never nest deeper than max. It does
// not validate: unbalanced or stray brackets are left for the validator.
func depthWithin(b []byte, max int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string literal, escapes included; an unterminated one ends the scan.
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			if depth > max {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// BadRequestJSON is the client's 400 for a request body that CheckJSON refused.
func BadRequestJSON(err error) *Error {
	if errors.Is(err, errJSONTooDeep) {
		return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "json_too_deep",
			Message: "the request body nests arrays and objects more than " + strconv.Itoa(MaxJSONDepth) +
				" levels deep: flatten it"}
	}
	return InvalidRequest("", "the request body is not valid JSON: send a JSON object")
}

// badUpstreamJSON is the 502 for an upstream answer that CheckJSON refused.
func badUpstreamJSON(provider string, err error) *Error {
	return badUpstream("provider '" + provider + "' answered with a body the gateway cannot read: " + err.Error())
}

// requestObject checks a client's request body as CheckJSON does and returns it parsed, as a view of body;
// a body that is not a JSON object is a 400.
func requestObject(body []byte) (gjson.Result, error) {
	if err := CheckJSON(body); err != nil {
		return gjson.Result{}, BadRequestJSON(err)
	}
	root := gjson.Parse(stringView(body))
	if !root.IsObject() {
		return gjson.Result{}, InvalidRequest("", "the request body must be a JSON object")
	}
	return root, nil
}
