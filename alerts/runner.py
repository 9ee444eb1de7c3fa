"""The alert process's composition root: ``run`` wires the evaluator, the fan-out feed and the notifier.

Owns the loops of ``hatang alerts``: one evaluation loop (fan-out messages, catch-ups, silence and
rate sweeps, rule reloads on ``NOTIFY hatang_alert_rules``, all on one connection and one task, so
the in-memory state is never shared), and one notification loop (woken by ``NOTIFY hatang_outbox``
and by its retry timer). Database errors are retried after a pause with a fresh connection and a
full reload: what matters survives in the database, so a restart (or a crash) loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import psycopg

from alerts.evaluator import Evaluator
from alerts.feed import receive
from alerts.metrics import AlertMetrics
from alerts.notifier import Notifier
from hatang.settings import Settings

log = logging.getLogger("hatang.alerts")

_RETRY_S = 2.0


async def _evaluate(
    *,
    settings: Settings, database_url: str, queue: asyncio.Queue[bytes], reconnected: asyncio.Event,
    metrics: AlertMetrics, stop: asyncio.Event,
) -> None:  # fmt: skip
    cfg = settings.alerts
    while not stop.is_set():
        try:
            async with (
                await psycopg.AsyncConnection.connect(
                    database_url, autocommit=True, application_name="hatang-alerts"
                ) as conn,
                await psycopg.AsyncConnection.connect(
                    database_url, autocommit=True, application_name="hatang-alerts-listen"
                ) as listen,
            ):
                await listen.execute("LISTEN hatang_alert_rules")
                await listen.execute("LISTEN hatang_registry")
                evaluator = Evaluator(
                    conn=conn, metrics=metrics, replay_max_s=cfg.replay_max_s,
                    last_seen_slack_s=settings.ingest.last_seen_granularity_s,
                )  # fmt: skip
                await evaluator.load()
                replayed = await evaluator.replay(time.time())
                log.info("evaluator ready", extra={"replayed": replayed})
                next_catchup = next_silence = next_rate = 0.0
                while not stop.is_set():
                    reload = False
                    async for _ in listen.notifies(timeout=0.0):
                        reload = True
                    if reload:
                        await evaluator.load()
                    if reconnected.is_set():  # the fan-out had a gap: what it missed is in the database
                        reconnected.clear()
                        next_catchup = 0.0
                    now = time.monotonic()
                    if now >= next_catchup:
                        await evaluator.catch_up()
                        next_catchup = now + cfg.catchup_interval_s
                    if now >= next_silence:
                        await evaluator.sweep_silence()
                        next_silence = now + cfg.silence_interval_s
                    if now >= next_rate:
                        await evaluator.sweep_rates()
                        next_rate = now + cfg.rate_interval_s
                    try:
                        payload = await asyncio.wait_for(queue.get(), timeout=0.5)
                    except TimeoutError:
                        continue
                    payloads = [payload]
                    while not queue.empty() and len(payloads) < 1_000:  # evaluate what has piled up at once
                        payloads.append(queue.get_nowait())
                    await evaluator.evaluate_fanout(payloads)
        except (psycopg.Error, OSError) as exc:
            log.warning("evaluator lost the database; retrying", extra={"error": str(exc)})
            await asyncio.sleep(_RETRY_S)


async def _notify(settings: Settings, database_url: str, metrics: AlertMetrics, stop: asyncio.Event) -> None:
    cfg = settings.alerts
    async with httpx.AsyncClient(follow_redirects=False) as http:
        notifier = Notifier(settings=cfg, metrics=metrics, http=http)
        while not stop.is_set():
            try:
                async with (
                    await psycopg.AsyncConnection.connect(
                        database_url, autocommit=True, application_name="hatang-alerts-notify"
                    ) as conn,
                    await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listen,
                ):
                    await listen.execute("LISTEN hatang_outbox")
                    while not stop.is_set():
                        attempted = await notifier.deliver_due(conn)
                        if attempted:
                            continue
                        # Sleep until an outbox insert, or the retry timer, whichever is first.
                        wait = min(cfg.retry_initial_s, 1.0)
                        async for _ in listen.notifies(timeout=wait, stop_after=1):
                            pass
            except (psycopg.Error, OSError) as exc:
                log.warning("notifier lost the database; retrying", extra={"error": str(exc)})
                await asyncio.sleep(_RETRY_S)


async def run(
    *, settings: Settings, database_url: str, mqtt_url: str, stop: asyncio.Event, metrics: AlertMetrics,
    evaluate: bool = True, notify: bool = True,
) -> int:  # fmt: skip
    """Run until ``stop`` is set; returns an exit code (1 if a loop died of a bug)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=10_000)
    reconnected = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    if evaluate:
        topic = f"{settings.topic_prefix}/normalized/#"
        tasks.append(asyncio.create_task(
            receive(url=mqtt_url, topic_filter=topic, queue=queue, on_connected=reconnected.set), name="feed"
        ))  # fmt: skip
        tasks.append(asyncio.create_task(
            _evaluate(
                settings=settings, database_url=database_url, queue=queue, reconnected=reconnected,
                metrics=metrics, stop=stop,
            ),
            name="evaluate",
        ))  # fmt: skip
    if notify:
        tasks.append(asyncio.create_task(_notify(settings, database_url, metrics, stop), name="notify"))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for task in tasks:
        if task.done() and not stop.is_set():
            log.error("alerts loop failed", extra={"loop": task.get_name()}, exc_info=task.exception())
            code = 1
    stop.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
    stopped.cancel()
    log.info("stopped")
    return code
