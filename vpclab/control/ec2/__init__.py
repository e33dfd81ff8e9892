"""EC2 API areas: regions, the default VPC, VPC networking, security groups, instances, images, key pairs."""
