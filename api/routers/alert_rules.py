"""``/v1/alert-rules``: alert rules as data. Admins and operators of the owning organisation write;
every key reads its own organisation's (admins every one). A thin shell over ``alerts.service``;
rule semantics are in docs/alerts.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts import service
from api.auth import Reader, Writer
from api.db import Conn
from api.fields import SLUG, Text
from api.pagination import Page, Paging, page
from api.problems import COMMON, Problem, responses
from firmware_contracts.vocabulary import METRIC

router = APIRouter(prefix="/v1/alert-rules", tags=["alerts"])

_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]
Severity = Literal["critical", "major", "minor", "info"]
_NUMBER = Field(default=None, allow_inf_nan=False, ge=-1e12, le=1e12)


class Names(BaseModel):
    """A rule's name in Vietnamese (first) and English."""

    model_config = ConfigDict(extra="forbid")

    vi: Text = Field(min_length=1, max_length=200)
    en: Text = Field(min_length=1, max_length=200)


class Scope(BaseModel):
    """What the rule watches: a device, asset, model, sector, area (with descendants) or organisation."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["device", "asset", "model", "sector", "area", "organisation"]
    value: Text = Field(
        min_length=1, max_length=128, description="External id, model, sector, area code or slug."
    )


class RuleBody(BaseModel):
    """The fields of a rule; which apply depends on ``kind`` (docs/alerts.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": {"vi": "Áp lực nước thấp", "en": "Low water pressure"},
                    "kind": "threshold", "severity": "major",
                    "scope": {"kind": "sector", "value": "water"},
                    "metric": "water_pressure", "operator": "below", "low": 2.0, "clear_low": 2.3,
                    "duration_s": 300,
                }
            ]
        },
    )  # fmt: skip

    name: Names
    kind: Literal["threshold", "silence", "rejection_rate"]
    severity: Severity = "major"
    scope: Scope
    subject: Literal["device", "asset", "organisation"] = Field(
        default="device", description="silence: device or asset; rejection_rate: device or organisation."
    )
    metric: str | None = Field(default=None, max_length=64, pattern=METRIC)
    operator: Literal["above", "below", "outside"] | None = None
    low: float | None = _NUMBER
    high: float | None = _NUMBER
    clear_low: float | None = _NUMBER
    clear_high: float | None = _NUMBER
    duration_s: float | None = Field(
        default=None, ge=0, le=30 * 86400, allow_inf_nan=False,
        description="threshold: how long the breach holds (default 0); silence: the silence (default 3 x "
        "the model's reporting interval).",
    )  # fmt: skip
    rate_per_hour: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_rule(self.model_dump())
        return self


def check_rule(rule: dict[str, Any]) -> None:
    """Raise ValueError unless the fields make one meaningful rule of its kind."""
    kind = rule["kind"]
    if kind == "threshold":
        if rule.get("metric") is None or rule.get("operator") is None:
            raise ValueError("a threshold rule needs metric and operator")
        if rule["subject"] != "device":
            raise ValueError("a threshold rule's subject is the device")
        low, high, clear_low, clear_high = (rule.get(k) for k in ("low", "high", "clear_low", "clear_high"))
        if rule["operator"] in ("above", "outside") and high is None:
            raise ValueError(f"operator {rule['operator']} needs high")
        if rule["operator"] in ("below", "outside") and low is None:
            raise ValueError(f"operator {rule['operator']} needs low")
        if low is not None and high is not None and rule["operator"] == "outside" and not low < high:
            raise ValueError("low must be below high")
        if clear_high is not None and high is not None and clear_high > high:
            raise ValueError("clear_high must not be above high (the clear level is inside the limit)")
        if clear_low is not None and low is not None and clear_low < low:
            raise ValueError("clear_low must not be below low (the clear level is inside the limit)")
    elif kind == "silence":
        if rule["subject"] not in ("device", "asset"):
            raise ValueError("a silence rule's subject is a device or an asset")
    elif kind == "rejection_rate":
        if rule.get("rate_per_hour") is None:
            raise ValueError("a rejection_rate rule needs rate_per_hour")
        if rule["subject"] not in ("device", "organisation"):
            raise ValueError("a rejection_rate rule's subject is a device or an organisation")


class RuleCreate(RuleBody):
    """A new rule, owned by ``organisation`` (default: the caller's)."""

    organisation: str | None = Field(default=None, pattern=SLUG, max_length=63)


class RuleUpdate(BaseModel):
    """Fields to change; the rule as a whole must stay consistent."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"severity": "critical", "duration_s": 600}]}
    )

    name: Names | None = None
    severity: Severity | None = None
    scope: Scope | None = None
    subject: Literal["device", "asset", "organisation"] | None = None
    metric: str | None = Field(default=None, max_length=64, pattern=METRIC)
    operator: Literal["above", "below", "outside"] | None = None
    low: float | None = _NUMBER
    high: float | None = _NUMBER
    clear_low: float | None = _NUMBER
    clear_high: float | None = _NUMBER
    duration_s: float | None = Field(default=None, ge=0, le=30 * 86400, allow_inf_nan=False)
    rate_per_hour: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    enabled: bool | None = None


class RulePublic(BaseModel):
    """A rule as stored."""

    id: int
    organisation: str
    name: Names
    kind: str
    severity: str
    scope: Scope
    subject: str
    metric: str | None
    operator: str | None
    low: float | None
    high: float | None
    clear_low: float | None
    clear_high: float | None
    duration_s: float | None
    rate_per_hour: float | None
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: service.RuleRow) -> RulePublic:
        """The public form of a rule row."""
        return cls(
            id=row.id, organisation=row.organisation, name=Names(vi=row.name_vi, en=row.name_en),
            kind=row.kind,
            severity=row.severity, scope=Scope(kind=row.scope_kind, value=row.scope_value),
            subject=row.subject, metric=row.metric, operator=row.operator, low=row.low, high=row.high,
            clear_low=row.clear_low, clear_high=row.clear_high, duration_s=row.duration_s,
            rate_per_hour=row.rate_per_hour, enabled=row.enabled, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


def _columns(body: dict[str, Any]) -> dict[str, Any]:
    """API fields to table columns (name -> name_vi/name_en, scope -> scope_kind/scope_value)."""
    out = {k: v for k, v in body.items() if k not in ("name", "scope", "organisation")}
    if body.get("name") is not None:
        out["name_vi"], out["name_en"] = body["name"]["vi"], body["name"]["en"]
    if body.get("scope") is not None:
        out["scope_kind"], out["scope_value"] = body["scope"]["kind"], body["scope"]["value"]
    return out


@router.get("", summary="List alert rules", responses=responses(*COMMON, "invalid-cursor", "not-found"))
async def list_rules(
    *,
    principal: Reader, conn: Conn, params: Paging,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    kind: Literal["threshold", "silence", "rejection_rate"] | None = None,
) -> Page[RulePublic]:  # fmt: skip
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_rules(
        conn,
        within=principal.within,
        organisation_id=org_id,
        kind=kind,
        after=params.after,
        limit=params.fetch,
    )
    return page(rows, params, key=lambda r: r.id, convert=RulePublic.of)


@router.post(
    "", status_code=201, summary="Create an alert rule",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)  # fmt: skip
async def create_rule(body: RuleCreate, principal: Writer, conn: Conn) -> RulePublic:
    org = await principal.owner(conn, body.organisation)
    row = await service.create_rule(
        conn, organisation_id=org.id, values=_columns(body.model_dump()), actor=principal.actor
    )
    return RulePublic.of(row)


@router.get("/{rule_id}", summary="Read an alert rule", responses=responses(*COMMON, "not-found"))
async def get_rule(rule_id: _ID, principal: Reader, conn: Conn) -> RulePublic:
    return RulePublic.of(await service.get_rule(conn, rule_id=rule_id, within=principal.within))


@router.patch(
    "/{rule_id}",
    summary="Change an alert rule",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def update_rule(rule_id: _ID, body: RuleUpdate, principal: Writer, conn: Conn) -> RulePublic:
    rule = await service.get_rule(conn, rule_id=rule_id, within=principal.within)
    principal.check_write(rule.organisation_id)
    changes = _columns(body.model_dump(exclude_unset=True))
    merged = RulePublic.of(rule).model_dump() | body.model_dump(exclude_unset=True)
    try:
        check_rule(merged)
    except ValueError as exc:
        raise Problem("validation", str(exc), errors=[{"loc": ["body"], "msg": str(exc)}]) from None
    return RulePublic.of(await service.update_rule(conn, rule=rule, values=changes, actor=principal.actor))


@router.delete(
    "/{rule_id}", status_code=204, summary="Delete an alert rule (its open alerts are resolved)",
    responses=responses(*COMMON, "not-found"),
)  # fmt: skip
async def delete_rule(rule_id: _ID, principal: Writer, conn: Conn) -> Response:
    rule = await service.get_rule(conn, rule_id=rule_id, within=principal.within)
    principal.check_write(rule.organisation_id)
    await service.delete_rule(conn, rule=rule, actor=principal.actor)
    return Response(status_code=204)
