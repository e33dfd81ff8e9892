"""STS: who the caller is."""
