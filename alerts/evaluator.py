"""The evaluator: committed readings and silence in, alert openings and resolutions out.

Owns :class:`Evaluator`. It holds the rule and device indexes and each (rule, device)'s threshold
state (``alerts.core.State``) in memory, fed by
* the ingest fan-out (``<prefix>/normalized/#``, published only after commit: committed data only);
* a replay of ``readings`` at start (the longest hold back, so a restart rebuilds held breaches);
* a catch-up from ``latest_readings`` every ``catchup_interval_s`` (the fan-out is QoS 0);
* sweeps of ``device_seen.last_seen`` (silence) and ``dead_letters`` (rejection rates).
Decisions become database transitions (``alerts.lifecycle``), which are idempotent: the database,
not this memory, decides whether an alert is already open, so several evaluators may run at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from alerts import queries, transitions
from alerts.core import Decision, State, over_rate, step
from alerts.lifecycle import Subject, open_alert, resolve_open
from alerts.metrics import AlertMetrics
from alerts.series import Series
from alerts.subjects import Device, Rule, RuleIndex
from alerts.transitions import Opening

log = logging.getLogger("hatang.alerts")

# Catch-ups re-read this much before the newest time already seen: a batch that commits late may
# hold readings older than one seen from a batch committed before it.
_CATCHUP_OVERLAP_S = 120.0


# A decision to act on: (open or resolve, rule, device, breach start, value, its batch's commit time).
_Action = tuple[Decision, Rule, Device, float, float, float | None]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass
class Evaluator:
    """One process's evaluation state over one database connection (autocommit)."""

    conn: psycopg.AsyncConnection[Any]
    metrics: AlertMetrics
    replay_max_s: float = 86400.0
    # Ingest writes last_seen only when it moved by this much (HATANG_INGEST__LAST_SEEN_GRANULARITY_S):
    # between two writes the sweep takes the newest committed reading's time from latest_readings,
    # at most this far past last_seen (queries.silent_candidates).
    last_seen_slack_s: float = 0.0
    index: RuleIndex = field(default_factory=RuleIndex)
    devices: dict[int, Device] = field(default_factory=dict)
    by_external: dict[str, Device] = field(default_factory=dict)
    states: dict[tuple[int, int], State] = field(default_factory=dict)
    rules: dict[int, Rule] = field(default_factory=dict)
    by_scope: dict[tuple[str, str], list[Device]] = field(default_factory=dict)
    # Each (device, metric) seen, by device id and by external id (the fan-out names devices so);
    # rebuilt after a reload, keeping the newest time seen of each in ``newest``.
    series: dict[tuple[int, str], Series] = field(default_factory=dict)
    by_name: dict[tuple[str, str], Series] = field(default_factory=dict)
    newest: dict[tuple[int, str], float] = field(default_factory=dict)
    watermark: float = 0.0  # newest reading time evaluated (epoch s)

    async def load(self) -> None:
        """(Re)load rules, devices and open alerts; keep the states of rules that still exist."""
        rules = await queries.load_rules(self.conn)
        devices = await queries.load_devices(self.conn)
        opened = await queries.open_alerts(self.conn)
        self.rules = {r.id: r for r in rules}
        self.index = RuleIndex.of(rules)
        self.devices = {d.id: d for d in devices}
        self.by_external = {d.external_id: d for d in devices}
        self.by_scope = {}
        for device in devices:
            for scope in device.scopes():
                self.by_scope.setdefault(scope, []).append(device)
        states = {key: s for key, s in self.states.items() if key[0] in self.rules}
        open_now = {(rule, subject) for rule, kind, subject in opened if kind == "device"}
        for key in open_now:
            old = states.get(key, State())
            states[key] = State(last_time=old.last_time, breach_since=old.breach_since, open=True)
        # A state open here but not in the database was resolved by hand (or by another evaluator,
        # which saw the same clearing reading this one will): it stays open here until a reading
        # clears the condition, so a hand-resolved alert is not opened again while the breach lasts.
        self.states = states
        for series_key, series in self.series.items():
            self.newest[series_key] = series.newest
        self.series, self.by_name = {}, {}
        for kind in ("threshold", "silence", "rejection_rate"):
            self.metrics.rules.labels(kind).set(sum(1 for r in rules if r.kind == kind))
        log.info("rules loaded", extra={"rules": len(rules), "devices": len(devices), "open": len(opened)})

    async def replay(self, now: float) -> int:
        """Feed the committed readings of the longest hold (bounded) back: the state after a start."""
        if not self.index.metrics:
            self.watermark = now
            return 0
        span = min(self.index.max_hold_s + _CATCHUP_OVERLAP_S, self.replay_max_s)
        rows = await queries.recent_readings(
            self.conn, metrics=sorted(self.index.metrics), since=_utc(now - span)
        )
        await self.evaluate(rows, source="replay")
        self.watermark = max(self.watermark, now - _CATCHUP_OVERLAP_S)
        return len(rows)

    async def catch_up(self) -> int:
        """Evaluate what ``latest_readings`` holds beyond what the fan-out delivered."""
        if not self.index.metrics:
            return 0
        since = _utc(self.watermark - _CATCHUP_OVERLAP_S) if self.watermark else _utc(0)
        rows = await queries.latest(self.conn, metrics=sorted(self.index.metrics), since=since)
        await self.evaluate(rows, source="catchup")
        return len(rows)

    def _series(self, device: Device, metric: str) -> Series:
        """The series of ``device``'s ``metric``, built the first time one of its readings arrives."""
        rules = self.index.threshold_rules(device, metric)
        series = Series(
            device=device, rules=[(r, r.threshold) for r in rules],
            newest=self.newest.get((device.id, metric), -math.inf),
        )  # fmt: skip
        series.active = any((r.id, device.id) in self.states for r in rules)
        self.series[(device.id, metric)] = self.by_name[(device.external_id, metric)] = series
        return series

    async def evaluate_fanout(self, payloads: Iterable[bytes]) -> None:
        """Evaluate fan-out messages (columnar JSON, one per committed batch slice); act on them.

        The hot path of ``hatang alerts``: a reading costs a dictionary lookup and a few
        comparisons unless it breaks a rule or one of its rules holds a state (``alerts.series``).
        """
        actions: list[_Action] = []
        seen = evaluated = 0
        by_name, by_external = self.by_name, self.by_external
        for payload in payloads:
            try:
                doc = orjson.loads(payload)
                committed = doc.get("committed")  # absent from an older worker's messages
                if not isinstance(committed, int | float):
                    committed = None
                times = doc["time"]
                columns = zip(doc["device"], doc["metric"], times, doc["value"], strict=True)
                seen += len(times)
                for external, metric, t, value in columns:
                    series = by_name.get((external, metric))
                    if series is None:
                        device = by_external.get(external)
                        if device is None:
                            continue
                        series = self._series(device, metric)
                    # Only readings newer than the newest seen of the series count: a redelivery,
                    # a catch-up overlap or a late reading changes nothing.
                    if t <= series.newest:
                        continue
                    series.newest = t
                    evaluated += len(series.rules)
                    if series.active or not series.low <= value <= series.high:
                        self._step(series, float(t), float(value), committed, actions)
                if times:
                    self.watermark = max(self.watermark, *times)
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                log.warning("undecodable fan-out message skipped", extra={"bytes": len(payload)})
        self.metrics.readings.labels("fanout").inc(seen)
        self.metrics.evaluations.labels("threshold").inc(evaluated)
        await self._act(actions)

    async def evaluate(self, rows: Iterable[tuple[int, str, float, float]], *, source: str) -> None:
        """Run committed readings (device id, metric, time, value) through the threshold rules that
        cover them; act on the decisions (the replay and the catch-ups)."""
        actions: list[_Action] = []
        seen = evaluated = 0
        newest = self.watermark
        for device_id, metric, t, value in rows:
            seen += 1
            newest = max(newest, t)
            series = self.series.get((device_id, metric))
            if series is None:
                device = self.devices.get(device_id)
                if device is None:
                    continue
                series = self._series(device, metric)
            if t <= series.newest:
                continue
            series.newest = t
            evaluated += len(series.rules)
            if series.active or not series.low <= value <= series.high:
                self._step(series, t, value, None, actions)
        self.watermark = newest
        self.metrics.readings.labels(source).inc(seen)
        self.metrics.evaluations.labels("threshold").inc(evaluated)
        await self._act(actions)

    def _step(
        self, series: Series, t: float, value: float, committed: float | None, actions: list[_Action]
    ) -> None:
        """One reading through each rule of its series (``alerts.core.step``); decisions to ``actions``."""
        states, device = self.states, series.device
        active = False
        for rule, threshold in series.rules:
            key = (rule.id, device.id)
            state = states.get(key)
            if state is None:
                # The common case, kept cheap: nothing pending or open and no breach now.
                if not math.isfinite(value) or not threshold.breaches(value):
                    continue
                state = State()
            state, decision = step(threshold, state, t, value)
            if state.open or state.breach_since is not None:
                states[key] = state
                active = True
            else:
                states.pop(key, None)
            if decision is not Decision.NONE:
                actions.append((decision, rule, device, state.breach_since or t, value, committed))
        series.active = active

    async def _act(self, actions: list[_Action]) -> None:
        """Open or resolve the alerts :meth:`evaluate` decided on, all in one transaction.

        Each (rule, device)'s decisions keep their order: its k-th decision goes in the k-th round of
        set-based statements (``alerts.transitions``), so an open, a resolve and an open again in one
        batch reach the database in that order. Nearly every batch is one round; most have none.
        """
        if not actions:
            return
        rounds: list[dict[tuple[int, int], _Action]] = []
        seen: dict[tuple[int, int], int] = {}
        for action in actions:
            key = (action[1].id, action[2].id)
            k = seen[key] = seen.get(key, -1) + 1
            if k == len(rounds):
                rounds.append({})
            rounds[k][key] = action
        done: list[tuple[Decision, int, _Action]] = []
        async with self.conn.transaction():
            for batch in rounds:
                keys = sorted(batch)  # key order: two evaluators lock alerts in one order
                opens = [
                    Opening(rule_id=rule.id, subject=_device_subject(device), since=_utc(since), value=value,
                            committed=None if committed is None else _utc(committed))
                    for decision, rule, device, since, value, committed in (batch[k] for k in keys)
                    if decision is Decision.OPEN
                ]  # fmt: skip
                resolves = [k for k in keys if batch[k][0] is Decision.RESOLVE]
                opened, resolved = await transitions.apply(self.conn, opens=opens, resolves=resolves)
                done += [(Decision.OPEN, alert, batch[(r, d)]) for alert, r, d in opened]
                done += [(Decision.RESOLVE, alert, batch[(r, d)]) for alert, r, d in resolved]
        now = time.time()
        for decision, alert, (_, rule, device, since, _, _) in done:
            extra = {"alert": alert, "rule": rule.id, "device": device.external_id}
            if decision is Decision.OPEN:
                self.metrics.opened.labels("threshold").inc()
                self.metrics.lag.observe(max(0.0, now - since))
                log.info("alert opened", extra=extra)
            else:
                self.metrics.resolved.labels("threshold").inc()
                log.info("alert resolved", extra=extra)

    async def sweep_silence(self) -> None:
        """Open silence alerts for subjects quiet beyond their duration; resolve those heard again."""
        rules = self.index.silence
        if not rules:
            return
        durations = [r.silence_s(d) for r in rules for d in self._covered(r)]
        if not durations:
            return
        now, quiet = await queries.silent_candidates(
            self.conn, quiet_for_s=min(durations), newest_within_s=max(durations) + self.last_seen_slack_s,
            slack_s=self.last_seen_slack_s,
        )  # fmt: skip
        silent_now: dict[tuple[int, str, int], tuple[Subject, float]] = {}
        for rule in rules:
            self.metrics.evaluations.labels("silence").inc()
            assets: dict[int, list[Device]] = {}
            for device in self._covered(rule):
                if rule.subject == "asset":
                    if device.asset_id is not None:
                        assets.setdefault(device.asset_id, []).append(device)
                    continue
                heard = quiet.get(device.id)
                if heard is not None and now - heard > rule.silence_s(device):
                    silent_now[(rule.id, "device", device.id)] = (_device_subject(device), heard)
            for asset_id, fitted in assets.items():
                # An asset is silent when none of its fitting devices delivered within the duration.
                heards = [quiet.get(d.id) for d in fitted]
                if all(
                    h is not None and now - h > rule.silence_s(d)
                    for h, d in zip(heards, fitted, strict=True)
                ):
                    first = fitted[0]
                    subject = Subject(
                        kind="asset", id=asset_id, sector=first.sector, area_id=first.area_id, lat=first.lat,
                        lon=first.lon,
                    )  # fmt: skip
                    silent_now[(rule.id, "asset", asset_id)] = (
                        subject,
                        max(h for h in heards if h is not None),
                    )
        await self._reconcile("silence", silent_now)

    async def sweep_rates(self) -> None:
        """Open rejection-rate alerts over their limit; resolve those back under it."""
        rules = self.index.rate
        if not rules:
            return
        counts = await queries.rejections_last_hour(self.conn)
        over: dict[tuple[int, str, int], tuple[Subject, float]] = {}
        now = time.time()
        for rule in rules:
            self.metrics.evaluations.labels("rejection_rate").inc()
            limit = rule.rate_per_hour or 0.0
            covered = self._covered(rule)
            if rule.subject == "organisation":
                total = sum(counts.get(d.id, 0) for d in covered)
                if over_rate(total, limit):
                    subject = Subject(kind="organisation", id=rule.organisation_id)
                    over[(rule.id, "organisation", rule.organisation_id)] = (subject, now)
                continue
            for device in covered:
                if over_rate(counts.get(device.id, 0), limit):
                    over[(rule.id, "device", device.id)] = (_device_subject(device), now)
        await self._reconcile("rejection_rate", over, values=counts)

    async def _reconcile(
        self,
        kind: str,
        wanted: dict[tuple[int, str, int], tuple[Subject, float]],
        values: dict[int, int] | None = None,
    ) -> None:
        """Make the open alerts of ``kind``'s rules exactly ``wanted``: open the missing, resolve the rest."""
        opened = {
            key for key in await queries.open_alerts(self.conn)
            if key[0] in self.rules and self.rules[key[0]].kind == kind
        }  # fmt: skip
        for key, (subject, since) in wanted.items():
            if key in opened:
                continue
            value = (
                float(values.get(subject.id, 0)) if values is not None and subject.kind == "device" else None
            )
            alert = await open_alert(
                self.conn, rule_id=key[0], subject=subject, since=_utc(since), value=value
            )
            if alert is not None:
                self.metrics.opened.labels(kind).inc()
                log.info(
                    "alert opened", extra={"alert": alert, "rule": key[0], "subject": f"{key[1]}:{key[2]}"}
                )
        for rule_id, subject_kind, subject_id in opened - set(wanted):
            alert = await resolve_open(
                self.conn, rule_id=rule_id, subject_kind=subject_kind, subject_id=subject_id
            )
            if alert is not None:
                self.metrics.resolved.labels(kind).inc()
                log.info("alert resolved", extra={"alert": alert, "rule": rule_id})

    def _covered(self, rule: Rule) -> list[Device]:
        devices = self.by_scope.get((rule.scope_kind, rule.scope_value), [])
        return [d for d in devices if d.organisation_id == rule.organisation_id]


def _device_subject(device: Device) -> Subject:
    return Subject(
        kind="device",
        id=device.id,
        sector=device.sector,
        area_id=device.area_id,
        lat=device.lat,
        lon=device.lon,
    )
