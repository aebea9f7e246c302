"""What the conformance tests that use a provider SDK's request types as the oracle share."""

from __future__ import annotations

from typing import Any


def materialized(value: Any) -> Any:
    """A validated value with pydantic's lazy iterables walked (which validates them) into lists: pydantic checks
    Iterable fields only as they are read, so a bad item deep in a body fails the check only this way."""
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if value is None or isinstance(value, str | bytes | int | float):
        return value
    return [materialized(item) for item in value]


def dropped(sent: Any, kept: Any, path: str = "") -> set[str]:
    """The keys of `sent` that validation dropped (pydantic ignores keys a TypedDict does not declare)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        missing = {f"{path}{key}" for key in sent if key not in kept}
        return missing.union(*(dropped(sent[key], kept[key], f"{path}{key}.") for key in sent if key in kept))
    if isinstance(sent, list) and isinstance(kept, list):
        return set().union(
            *(dropped(a, b, f"{path}{i}.") for i, (a, b) in enumerate(zip(sent, kept, strict=True)))
        )
    return set()
