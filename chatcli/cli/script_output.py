"""Answers shaped for scripts: `-x/--extract` (a code block without its fences) and `--schema` (JSON that
validates). The jsonschema package is imported only on the --schema path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chatcli.core.errors import ChatError, UsageError
from chatcli.render.code_blocks import code_blocks

MAX_SCHEMA_BYTES = 1024 * 1024
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def extract_block(answer: str, last: bool) -> str:
    """The first (or last) fenced code block of the answer, without its fences; ChatError when there is none."""
    blocks = code_blocks(answer)
    if not blocks:
        raise ChatError("the answer has no fenced code block to extract")
    return blocks[-1] if last else blocks[0]


def load_schema(value: str) -> tuple[dict[str, Any], str]:
    """A JSON schema given as JSON text or as a file holding it, checked, with a name for the request."""
    name = "answer"
    if value.lstrip().startswith("{"):
        text, where = value, "--schema"
    else:
        path = Path(value)
        where = f"schema file {value!r}"
        from chatcli.storage.files import read_user_file

        raw = read_user_file(path, MAX_SCHEMA_BYTES, where, fix="give a file or JSON text")
        text = raw.decode("utf-8", "replace")
        name = _NAME.sub("_", path.stem)[:64] or name
    try:
        schema = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{where} is not valid JSON ({error})") from None
    if not isinstance(schema, dict):
        raise UsageError(f"{where} must be a JSON object (a JSON schema)")
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as error:
        raise UsageError(f"{where} is not a valid JSON schema: {error.message}") from None
    return schema, name


def response_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """OpenAI's structured-output request option for `schema`."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def validated_json(answer: str, schema: dict[str, Any]) -> Any:
    """The answer's JSON (a lone fenced block around it is allowed), or ChatError naming the first violation."""
    text = answer.strip()
    blocks = code_blocks(text) if text.startswith(("```", "~~~")) else []
    try:
        data = json.loads(blocks[0] if len(blocks) == 1 else text)
    except ValueError as error:
        raise ChatError(f"the answer is not JSON ({error})") from None
    from jsonschema import validators
    from jsonschema.exceptions import best_match

    validator = validators.validator_for(schema)(schema)
    violation = best_match(validator.iter_errors(data))
    if violation is not None:
        where = violation.json_path
        raise ChatError(f"the answer does not match the schema at {where}: {violation.message[:300]}")
    return data
