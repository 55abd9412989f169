"""Find the JSON value in a model's text: code fences and prose around it are tolerated.

Linear in the text's length whatever its shape: fences are found with `str.find` (the first
`MAX_FENCES` blocks are tried), and the search for JSON embedded in prose tries at most
`MAX_STARTS` plausible starting points (a `{` before a key or `}`, a `[` before a value) and
stops once it has scanned a few times the text's length. (Each failed `json` decode costs time
in the error's position, so an unbounded search over a megabyte of braces is quadratic.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["clip", "extract_json"]

_STARTS = re.compile(r'\{\s*["}]|\[\s*[\[{"0-9tfn\]-]')
"""Where a JSON object or array can start: `{` before a key or `}`, `[` before a value."""
MAX_STARTS = 64
"""At most this many starting points are tried in prose."""
MAX_FENCES = 64
"""At most this many fenced blocks are tried."""
_SCAN_FACTOR = 4
"""The embedded-JSON search scans at most this many times the text's length."""


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked when cut (for error messages)."""
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more]"


def _fenced(text: str) -> Iterator[str]:
    """The bodies of the ```-fenced blocks in `text` (the language tag skipped)."""
    pos, found = 0, 0
    while found < MAX_FENCES and (start := text.find("```", pos)) != -1:
        found += 1
        body = start + 3
        line_end = text.find("\n", body)
        tag = text[body:line_end] if line_end != -1 else ""
        if line_end != -1 and len(tag) <= 20 and tag.strip().isalnum():
            body = line_end + 1  # ```json: skip the tag
        end = text.find("```", body)
        if end == -1:
            yield text[body:]  # an unclosed fence: its body runs to the end
            return
        yield text[body:end]
        pos = end + 3


def extract_json(text: str) -> Any:
    """Return the first JSON object or array in `text`.

    Raises `ValueError` naming what was wrong when none parses.
    """
    text = text.strip()
    too_deep = False
    for index, candidate in enumerate((text, *_fenced(text))):
        if index and candidate.lstrip()[:1] not in ("{", "["):
            continue  # a fenced block that holds no object or array (e.g. code)
        try:
            return json.loads(candidate)
        except RecursionError:
            too_deep = True
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    budget = _SCAN_FACTOR * len(text) + 4096
    for tries, match in enumerate(_STARTS.finditer(text)):
        if tries >= MAX_STARTS:
            break
        start = match.start()
        try:
            value, _ = decoder.raw_decode(text, start)
        except RecursionError:
            too_deep = True
            break
        except json.JSONDecodeError as exc:
            budget -= exc.pos - start + 1
            if budget < 0:
                break
            continue
        return value
    if too_deep:
        raise ValueError("the JSON in the model's output is nested too deeply to read; "
                         "keep it flat")
    raise ValueError(f"no JSON object found in the model's output: {clip(text, 120)!r}")
