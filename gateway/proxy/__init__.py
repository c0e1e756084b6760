"""The built-in reverse proxy, one module per step of a proxied request."""
