"""The bounds on a request's head, one definition for both servers: the Console's gunicorn
(``config/gunicorn_gateway.py``, as its ``limit_request_*`` settings) and the answer server's
uvicorn (``config/answer_protocol.py``). A request beyond them is refused before any app sees
it: 414 for the request line, 431 for the header fields.

They are gunicorn's own defaults (``gunicorn/config.py``: 100 fields, 8190 bytes a field)
except the request line, raised from gunicorn's default of 4094 bytes to its ceiling, 8190
(``MAX_REQUEST_LINE``). Measured as gunicorn measures them.
"""

from __future__ import annotations

#: Bytes of the request line, its CRLF not counted (gunicorn's ``limit_request_line``).
LIMIT_REQUEST_LINE = 8190

#: Header fields in one request (gunicorn's ``limit_request_fields``).
LIMIT_REQUEST_FIELDS = 100

#: Bytes of one header field line, its CRLF counted (gunicorn's ``limit_request_field_size``).
LIMIT_REQUEST_FIELD_SIZE = 8190

#: Bytes of the longest head the three bounds allow, request line to blank line: the answer
#: server refuses a head still unfinished beyond it without waiting for its field to end.
LIMIT_REQUEST_HEAD = LIMIT_REQUEST_LINE + 2 + LIMIT_REQUEST_FIELDS * LIMIT_REQUEST_FIELD_SIZE + 2
