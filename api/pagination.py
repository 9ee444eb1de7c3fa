"""Cursor pagination: opaque cursors over an integer keyset, and the ``Page`` envelope.

A list endpoint takes ``limit`` and ``cursor`` (``PageParams``), asks its query for ``limit + 1`` rows
after ``params.after``, and returns ``page(items, params, key=...)``: at most ``limit`` items and a
``next_cursor`` when there are more. Cursors encode the last key seen; they stay valid while rows are
added (keyset, not offset). A cursor this API did not issue is a 400 ``invalid-cursor`` problem.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from api.problems import Problem

T = TypeVar("T")
S = TypeVar("S")

_PREFIX = "k1:"


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next (null on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page.")


def encode_cursor(key: int) -> str:
    """The opaque cursor after ``key``."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The key a cursor encodes (``invalid-cursor`` problem if it is not one of ours)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        key = int(text.removeprefix(_PREFIX))
        if not -(2**63) <= key < 2**63:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem("invalid-cursor", "the cursor is not one this API issued") from None
    return key


@dataclass(frozen=True, slots=True)
class PageParams:
    """``limit`` (bounded by settings) and the key to continue after."""

    limit: int
    after: int | None

    @property
    def fetch(self) -> int:
        """Rows to ask the query for: one more than the page, to know whether another follows."""
        return self.limit + 1


def _params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Items per page.")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    api = request.app.state.settings.api
    size = min(limit or api.page_limit, api.max_page_limit)
    return PageParams(limit=size, after=decode_cursor(cursor) if cursor else None)


#: A route parameter ``params: Paging`` receives the page parameters.
Paging = Annotated[PageParams, Depends(_params)]


def page(
    rows: Sequence[S], params: PageParams, *, key: Callable[[S], int], convert: Callable[[S], T]
) -> Page[T]:
    """The page of ``rows`` (fetched with ``params.fetch``), converted, with the next cursor."""
    more = len(rows) > params.limit
    shown = rows[: params.limit]
    return Page[T](
        items=[convert(row) for row in shown],
        next_cursor=encode_cursor(key(shown[-1])) if more and shown else None,
    )
