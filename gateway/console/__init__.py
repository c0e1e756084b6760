"""The Console's pages: thin views over gateway.identity and gateway.products."""
