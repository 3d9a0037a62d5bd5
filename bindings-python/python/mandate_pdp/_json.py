"""JSON in and out of the native module: compact UTF-8 bytes in, dicts out."""

from __future__ import annotations

import json
from typing import Any, Union

Document = Union[dict, str, bytes, bytearray, memoryview]


def dumps(value: Any) -> bytes:
    # NaN and Infinity come out as bare words, which the core refuses as malformed (a deny).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def to_bytes(doc: Document) -> bytes:
    if isinstance(doc, (bytes, bytearray, memoryview)):
        return bytes(doc)
    if isinstance(doc, str):
        return doc.encode()
    return dumps(doc)


def loads(data: bytes) -> Any:
    return json.loads(data)
