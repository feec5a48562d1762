package awscreds

import (
	"context"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// containerHost is the link-local address ECS serves AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on.
const containerHost = "http://169.254.170.2"

// containerProvider returns the container credentials endpoint's provider, nil when the environment names
// none. The authorization token comes from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every
// refresh, as EKS Pod Identity rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
func containerProvider() aws.CredentialsProvider {
	uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		uri = containerHost + rel
	}
	if uri == "" {
		return nil
	}
	return endpointcreds.New(uri, func(o *endpointcreds.Options) {
		if file := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(file)
				return strings.TrimSpace(string(b)), err
			})
			return
		}
		o.AuthorizationToken = os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	})
}

// instanceRole returns the EC2 instance role's provider (IMDSv2), or one that fails when
// AWS_EC2_METADATA_DISABLED is true.
func instanceRole() aws.CredentialsProvider {
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errNoCredentials
		})
	}
	return ec2rolecreds.New()
}
