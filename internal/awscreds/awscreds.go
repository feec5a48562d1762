// Package awscreds finds AWS credentials the way the AWS SDKs' default chain starts: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default"), then container
// credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, as ECS, EKS Pod Identity and App Runner
// provide them) and the EC2 instance role (IMDSv2). It uses the small credential packages of aws-sdk-go-v2
// rather than its config package, which would add several megabytes (SSO, STS and friends) to the binary.
package awscreds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Chain returns the default chain as one cached provider: each Retrieve tries the sources in order and
// keeps the first that answers, refreshed by the cache before it expires.
func Chain() aws.CredentialsProvider {
	return aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		if c, ok := fromEnv(); ok {
			return c, nil
		}
		if c, ok, err := fromSharedFile(); ok || err != nil {
			return c, err
		}
		if p := containerProvider(); p != nil {
			return p.Retrieve(ctx)
		}
		return instanceRole().Retrieve(ctx)
	}))
}

// Static returns a provider of fixed credentials; it fails when the key id or the secret is empty.
func Static(accessKeyID, secretAccessKey, sessionToken string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		if accessKeyID == "" || secretAccessKey == "" {
			return aws.Credentials{}, errors.New("the configured access_key_id or secret_access_key is empty (an unset placeholder?)")
		}
		return aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, SessionToken: sessionToken,
			Source: "caddy-ai-gateway config"}, nil
	})
}

func fromEnv() (aws.Credentials, bool) {
	id := os.Getenv("AWS_ACCESS_KEY_ID")
	if id == "" {
		id = os.Getenv("AWS_ACCESS_KEY")
	}
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY")
	if secret == "" {
		secret = os.Getenv("AWS_SECRET_KEY")
	}
	if id == "" || secret == "" {
		return aws.Credentials{}, false
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
		Source: "environment"}, true
}

// fromSharedFile reads the profile's static keys from the shared credentials file. A missing file or
// profile is not an error (the chain goes on); a profile without both keys is.
func fromSharedFile() (aws.Credentials, bool, error) {
	path := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return aws.Credentials{}, false, nil
		}
		path = filepath.Join(home, ".aws", "credentials")
	}
	profile := os.Getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	f, err := os.Open(path)
	if err != nil {
		return aws.Credentials{}, false, nil
	}
	defer f.Close()
	vals, found, err := readProfile(f, profile)
	if err != nil || !found {
		return aws.Credentials{}, false, err
	}
	c := aws.Credentials{AccessKeyID: vals["aws_access_key_id"], SecretAccessKey: vals["aws_secret_access_key"],
		SessionToken: vals["aws_session_token"], Source: "shared credentials file"}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, false, fmt.Errorf("profile %q of %s has no aws_access_key_id and aws_secret_access_key", profile, path)
	}
	return c, true, nil
}

// readProfile returns the key = value pairs of one [profile] section of an INI file.
func readProfile(f *os.File, profile string) (map[string]string, bool, error) {
	vals := map[string]string{}
	in, found := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			name := strings.TrimSpace(strings.TrimPrefix(line[1:len(line)-1], "profile "))
			in = name == profile
			found = found || in
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && in {
			vals[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, err
	}
	return vals, found, nil
}

var errNoCredentials = errors.New("no AWS credentials found: set access_key_id and secret_access_key (or api_key), the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables, a shared credentials profile, or run with a container or instance role")
