"""The JSON schema of scenario files, generated from :class:`~flopbill.scenario.schema.Scenario`.

``python -m flopbill.scenario.jsonschema > schemas/scenario.schema.json`` regenerates the file; a test
checks it is up to date.
"""

from __future__ import annotations

import json
import sys

from flopbill.scenario.schema import Scenario


def scenario_json_schema() -> str:
    """Return the scenario JSON schema as indented JSON text (trailing newline)."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "flopbill scenario"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(scenario_json_schema())
