"""Code shared by the two product apps, parametrised by a :class:`ProductProfile`.

Each app still has its own database, settings, templates look and process.
"""
