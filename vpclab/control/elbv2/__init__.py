"""Elastic Load Balancing v2 API areas: load balancers, target groups, listeners, tags, target health."""
