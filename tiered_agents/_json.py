"""Find the JSON value in a model's text: code fences and prose around it are tolerated."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["extract_json"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """Return the first JSON object or array in `text`.

    Raises `ValueError` naming what was wrong when none parses.
    """
    text = text.strip()
    candidates = [text, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            return value
    preview = text[:120] + ("..." if len(text) > 120 else "")
    raise ValueError(f"no JSON object found in the model's output: {preview!r}")
