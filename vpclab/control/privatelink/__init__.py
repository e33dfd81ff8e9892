"""PrivateLink (EC2 API): endpoint services and their permissions, endpoints, connections, notifications."""
