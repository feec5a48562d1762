package cloudfake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/google"
)

// Google's own OAuth2 library gets a token from the fake token endpoint for a service account key, and the
// API accepts it; an unknown, a forged or an expired token is refused with 401 as Google refuses it.
func TestVertexFakeTokens(t *testing.T) {
	fake := &Vertex{Project: "p", Location: "global", ClientEmail: "sa@p.iam.gserviceaccount.com", TokenLifetime: 2 * time.Second}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	fake.TokenURL = srv.URL + "/token"
	sa, key := NewServiceAccount(fake.ClientEmail, "p", fake.TokenURL)
	fake.Key = &key.PublicKey
	cfg, err := google.JWTConfigFromJSON(sa, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatalf("Google's library could not get a token from the fake: %v", err)
	}
	call := func(token string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
			strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := call(tok.AccessToken); s != 200 {
		t.Fatalf("issued token refused: %d", s)
	}
	if s := call("ya29.forged"); s != 401 {
		t.Errorf("forged token: %d", s)
	}
	forged, _ := NewServiceAccount(fake.ClientEmail, "p", fake.TokenURL)
	other, _ := google.JWTConfigFromJSON(forged, "https://www.googleapis.com/auth/cloud-platform")
	if _, err := other.TokenSource(context.Background()).Token(); err == nil {
		t.Error("a token was issued for an assertion signed with another key")
	}
	time.Sleep(2100 * time.Millisecond)
	if s := call(tok.AccessToken); s != 401 {
		t.Errorf("expired token: %d", s)
	}
}
