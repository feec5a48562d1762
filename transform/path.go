package transform

import (
	"net/url"
	"strings"
)

// pathSegment returns name escaped as one segment of an upstream URL path. A name that could change which
// path the upstream serves (empty, "." or "..", or holding a slash, a backslash or a control character) is a
// 400 naming param: escaping alone would leave dot segments, and some servers unescape %2F before routing.
func pathSegment(param, name string) (string, error) {
	bad := name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`)
	for i := 0; i < len(name) && !bad; i++ {
		bad = name[i] < 0x20 || name[i] == 0x7f
	}
	if bad {
		return "", InvalidRequest(param, param+" must be a plain name to be used in the upstream's URL: not empty, "+
			"'.' or '..', and without '/', '\\' or control characters")
	}
	return url.PathEscape(name), nil
}
