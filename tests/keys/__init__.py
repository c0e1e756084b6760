"""Tests of gateway.keys: the shared key directory and the JWKS."""
