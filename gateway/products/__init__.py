"""What the gateway knows about products and how it talks to them: the product
table, path normalisation, the API client, the switcher, email propagation.
"""
