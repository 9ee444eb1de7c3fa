"""Scaling ingest down without loss: ``hatang ingest --leave`` drains a departed replica's session.

A shared-subscription member that went away keeps receiving its share into its persistent session
(Mosquitto never hands it to the others, mosquitto#2662; EMQX drops it when the session expires,
emqx/emqx#12257). ``--leave`` resumes that session, unsubscribes it, stores what was queued and exits.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import orjson
import pytest

from tests.plugins.ingest import (
    IngestFleet,
    Workers,
    check_exactly_once,
    pack_load,
    publish,
    wait_rows,
)

pytestmark = pytest.mark.slow


def test_leave_drains_a_departed_replica_and_the_group_carries_on(
    ingest_fleet: IngestFleet, workers: Workers
) -> None:
    load = pack_load(ingest_fleet, readings=20_000, per_pack=50)
    first, second = load.messages[:200], load.messages[200:]
    stays = workers.start("w1", batch_size="2000")
    goes = workers.start("w2", batch_size="2000")
    goes.proc.send_signal(signal.SIGTERM)  # scaled down: drained, but its session stays subscribed
    assert goes.proc.wait(timeout=60) == 0

    # Every message acknowledged by the broker: the member that stayed gets its share, the departed
    # member's share waits in its session (shown below by the batches the leaving run stores).
    publish(workers.stack.mqtt_url, first)

    leave = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "ingest", "--leave", "--quiet-s", "1"],
        env=goes.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert leave.returncode == 0, leave.stdout[-3000:]
    assert '"msg":"unsubscribed"' in leave.stdout
    assert '"msg":"left the group: the session is drained"' in leave.stdout
    # It stored batches itself: the departed session really held messages (w2's share).
    stopped = [orjson.loads(line) for line in leave.stdout.splitlines() if '"msg":"stopped"' in line]
    assert stopped[-1]["batches"] >= 1
    assert wait_rows(ingest_fleet.db_url, 200 * 50) == 200 * 50  # nothing stranded any more

    # The departed session no longer takes a share: everything published now lands through w1.
    publish(workers.stack.mqtt_url, second)
    assert wait_rows(ingest_fleet.db_url, load.expected, timeout=90) == load.expected
    check_exactly_once(ingest_fleet.db_url, load)
    assert stays.proc.poll() is None
