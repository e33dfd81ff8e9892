"""What every control-plane area shares: ids, lookups, filters, tags, lifecycle steps, delete dependents."""
