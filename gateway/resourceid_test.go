package gateway

import "testing"

func TestResourceIDRoundTrip(t *testing.T) {
	for _, c := range []struct{ provider, id, wantPrefix string }{
		{"openai", "resp_abc123", "resp_aigw"},
		{"my-vllm", "video_68d7512d07848190b3", "video_aigw"},
		{"gemini", "models/veo-3/operations/xyz", "aigw_aigw"},
		{"azure", "abc", "aigw_aigw"},
	} {
		w := wrapResourceID(c.provider, c.id)
		if len(w) < len(c.wantPrefix) || w[:len(c.wantPrefix)] != c.wantPrefix {
			t.Errorf("wrapResourceID(%q, %q) = %q, want prefix %q", c.provider, c.id, w, c.wantPrefix)
		}
		p, id, ok := unwrapResourceID(w)
		if !ok || p != c.provider || id != c.id {
			t.Errorf("unwrapResourceID(%q) = %q, %q, %v; want %q, %q", w, p, id, ok, c.provider, c.id)
		}
	}
	for _, s := range []string{"", "resp_abc", "_aigwb3BlbmFp.x", "resp_aigw!!.x", "resp_aigwb3BlbmFp.", "resp_aigw.x"} {
		if p, id, ok := unwrapResourceID(s); ok {
			t.Errorf("unwrapResourceID(%q) = %q, %q, true; want not ok", s, p, id)
		}
	}
}
