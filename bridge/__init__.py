"""The Bridge (bridge.md): the data plane applications call, auto-CRUD over one env's current
release. It talks to the Hub over HTTP only and never imports ``santokit.hub``."""
