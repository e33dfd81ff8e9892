"""CloudFormation: stacks whose resources are made through the same AWS operations a user calls."""
