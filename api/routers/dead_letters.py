"""``/v1/dead-letters``: rejected messages, listed and replayed after a fix. Admins only.

A thin shell over ``ingest.deadletters``: listing filters by reason, device and time with cursor
pagination; a replay runs the stored payload through ingest's own normalise-and-store path now and
records ``replayed_at`` and ``replay_result`` on the letter (and an audit entry).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.auth import Admin
from api.db import Conn
from api.pagination import Page, Paging, page
from api.problems import COMMON, Problem, responses
from firmware_contracts import Limits
from ingest import DeadLetterRow, ReplayError, ReplayOutcome, list_dead_letters, replay_dead_letters
from registry.audit import record

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]


class DeadLetterPublic(BaseModel):
    """One rejected message (or record of a pack): where it came from, why, and the raw bytes."""

    id: int
    received_at: datetime
    topic: str
    device: str | None = Field(description="External id of the device, when the registry knew it.")
    reason: str = Field(description="Reason code (docs/contracts.md and docs/ingest.md list them).")
    message: str
    record: int | None = Field(description="Index of the SenML record at fault, if one.")
    payload_base64: str = Field(description="The payload exactly as received, base64.")
    payload_size: int
    replayed_at: datetime | None
    replay_result: str | None

    @classmethod
    def of(cls, row: DeadLetterRow) -> DeadLetterPublic:
        """The public form of a dead-letter row."""
        return cls(
            id=row.id, received_at=row.received_at, topic=row.topic, device=row.device, reason=row.reason,
            message=row.message, record=row.record, payload_base64=base64.b64encode(row.payload).decode(),
            payload_size=len(row.payload), replayed_at=row.replayed_at, replay_result=row.replay_result,
        )  # fmt: skip


class ReplayRequest(BaseModel):
    """The dead letters to replay, in one transaction."""

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=1000)


class ReplayResultPublic(BaseModel):
    """What replaying one dead letter did."""

    id: int
    stored: int = Field(description="Readings newly stored.")
    duplicates: int = Field(description="Readings already stored (an earlier replay), skipped.")
    rejected: list[list[str]] = Field(description="[reason, message] of what was rejected again.")
    result: str = Field(description="The summary recorded as the letter's replay_result.")

    @classmethod
    def of(cls, outcome: ReplayOutcome) -> ReplayResultPublic:
        """The public form of a replay outcome."""
        return cls(
            id=outcome.id, stored=outcome.stored, duplicates=outcome.duplicates,
            rejected=[list(pair) for pair in outcome.rejected], result=outcome.result,
        )  # fmt: skip


@router.get("", summary="List dead letters, newest first", responses=responses(*COMMON, "invalid-cursor"))
async def list_letters(
    *,
    principal: Admin,
    conn: Conn,
    params: Paging,
    reason: Annotated[str | None, Query(max_length=50)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    replayed: bool | None = None,
) -> Page[DeadLetterPublic]:
    rows = await list_dead_letters(
        conn, reason=reason, device=device, since=since, until=until, replayed=replayed,
        before=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=DeadLetterPublic.of)


async def _replay(request: Request, principal: Admin, conn: Conn, ids: list[int]) -> list[ReplayResultPublic]:
    settings = request.app.state.settings
    limits = Limits.of(settings.contracts)
    try:
        async with conn.transaction():
            prefix = settings.topic_prefix
            outcomes = await replay_dead_letters(conn, ids=ids, topic_prefix=prefix, limits=limits)
            for outcome in outcomes:
                await record(
                    conn, actor=principal.actor, action="replay", entity="dead_letter",
                    entity_id=str(outcome.id), organisation_id=None, detail={"result": outcome.result},
                )  # fmt: skip
    except ReplayError as exc:
        raise Problem("not-found", str(exc)) from None
    return [ReplayResultPublic.of(outcome) for outcome in outcomes]


@router.post(
    "/replay", summary="Replay dead letters through ingest now", responses=responses(*COMMON, "not-found")
)
async def replay_letters(
    request: Request, body: ReplayRequest, principal: Admin, conn: Conn
) -> list[ReplayResultPublic]:
    return await _replay(request, principal, conn, sorted(set(body.ids)))


@router.post(
    "/{letter_id}/replay", summary="Replay one dead letter through ingest now",
    responses=responses(*COMMON, "not-found"),
)  # fmt: skip
async def replay_letter(request: Request, letter_id: _ID, principal: Admin, conn: Conn) -> ReplayResultPublic:
    return (await _replay(request, principal, conn, [letter_id]))[0]
