package awscreds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// clearEnv empties every variable the chain reads, for one test.
func clearEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// The chain takes the environment first, then the shared credentials file's profile, then the container
// endpoint (with its authorization token), and without any of them fails saying what to set.
func TestChain(t *testing.T) {
	ctx := context.Background()
	clearEnv(t)
	if _, err := Chain().Retrieve(ctx); err == nil {
		t.Fatal("credentials without any source")
	}

	file := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(file, []byte("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[profile ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=s2\naws_session_token=tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_PROFILE", "ci")
	c, err := Chain().Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKIDCI" || c.SecretAccessKey != "s2" || c.SessionToken != "tok" {
		t.Errorf("shared file profile ci: %+v %v", c, err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "senv")
	if c, err := Chain().Retrieve(ctx); err != nil || c.AccessKeyID != "AKIDENV" {
		t.Errorf("environment first: %+v %v", c, err)
	}

	clearEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "pod-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"sc","Token":"tc","Expiration":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("pod-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
	if c, err := Chain().Retrieve(ctx); err != nil || c.AccessKeyID != "ASIACONTAINER" || c.SessionToken != "tc" {
		t.Errorf("container credentials: %+v %v", c, err)
	}
}

func TestStaticRefusesEmpty(t *testing.T) {
	if _, err := Static("", "x", "").Retrieve(context.Background()); err == nil {
		t.Error("an empty access key id was accepted")
	}
	if c, err := Static("AKID", "s", "t").Retrieve(context.Background()); err != nil || c.SessionToken != "t" {
		t.Errorf("%+v %v", c, err)
	}
}
