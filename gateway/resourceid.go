package gateway

import (
	"encoding/base64"
	"strings"
)

// Resources that live at a provider (stored responses, video jobs, ...) are read, polled and deleted later
// by id. The id the gateway hands out names the provider that holds the resource, so a later request reaches
// the same provider without any state in the gateway:
//
//	<upstream prefix>_aigw<provider name, base64url without padding>.<upstream id>
//
// e.g. "resp_abc123" held by provider "openai" becomes "resp_aigwb3BlbmFp.resp_abc123". The upstream's own
// prefix ("resp", "video", ...) is kept first, so clients that look at it keep working.
const resourceIDMarker = "_aigw"

// wrapResourceID returns the id the client sees for the upstream resource id held by provider.
func wrapResourceID(provider, id string) string {
	prefix, _, ok := strings.Cut(id, "_")
	if !ok || prefix == "" || strings.Contains(prefix, ".") {
		prefix = "aigw"
	}
	return prefix + resourceIDMarker + base64.RawURLEncoding.EncodeToString([]byte(provider)) + "." + id
}

// unwrapResourceID splits an id made by wrapResourceID into the provider's name and the upstream's id; ok is
// false for any other string (an id the gateway did not hand out, or one a client altered).
func unwrapResourceID(s string) (provider, id string, ok bool) {
	i := strings.Index(s, resourceIDMarker)
	if i <= 0 {
		return "", "", false
	}
	enc, id, found := strings.Cut(s[i+len(resourceIDMarker):], ".")
	if !found || enc == "" || id == "" {
		return "", "", false
	}
	p, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(p) == 0 {
		return "", "", false
	}
	return string(p), id, true
}
