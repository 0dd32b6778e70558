"""The API's OpenAPI document as shipped in ``schemas/openapi.json``.

Regenerate after changing an endpoint: ``python -m flopbill.web.openapi > schemas/openapi.json``
(a test fails while the shipped copy is out of date).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document of :func:`flopbill.web.create_app`."""
    from flopbill.web.app import create_app

    return create_app().openapi()


def openapi_text() -> str:
    """Return the document as the shipped file holds it (indented, sorted keys, final newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_text())
