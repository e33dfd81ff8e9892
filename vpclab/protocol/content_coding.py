"""Request bodies sent with a `Content-Encoding`: decoded here, within the size limit.

AWS SDKs may gzip a request body (botocore's request compression); nothing else sends an
encoding to the query and EC2 protocols. The HTTP server passes bodies through as sent,
so that an encoding it does not know, or a body that is not what its header says, is an
AWS error here rather than a plain-text page from the HTTP library. Decompression stops
at the body limit: a small gzip bomb cannot grow into gigabytes.
"""
from __future__ import annotations

import zlib

from .errors import AwsError, InvalidQueryParameter

#: zlib window bits per encoding (gzip header, zlib header).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode(body: bytes, content_encoding: str, limit: int) -> bytes:
    """`body` with every coding of `content_encoding` undone (last applied first)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in _WBITS:
            raise InvalidQueryParameter(
                f"Content-Encoding '{coding}' is not supported: send the body as it is, or gzip it")
        body = _inflate(body, coding, limit)
    return body


def _inflate(body: bytes, coding: str, limit: int) -> bytes:
    inflater = zlib.decompressobj(_WBITS[coding])
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) <= limit and not inflater.unconsumed_tail:
            out += inflater.flush()
    except zlib.error as exc:
        raise InvalidQueryParameter(
            f"The request body is not {coding} data as its Content-Encoding says ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise AwsError(f"The request body is larger than {limit} bytes once decoded",
                       code="RequestEntityTooLarge", status=413)
    if not inflater.eof:
        raise InvalidQueryParameter(f"The request body ends in the middle of its {coding} data")
    return out
