"""The operator API of the Hub, one module per resource (hub.md §3)."""
