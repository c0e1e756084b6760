"""Tests of gateway.products: linking (with the switcher and product-login hand-off) and
email propagation."""
