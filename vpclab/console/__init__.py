"""vpclab's web console: AWS console pages that are clients of the AWS operations (see README.md)."""
