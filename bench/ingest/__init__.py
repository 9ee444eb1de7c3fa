"""``hatang bench ingest``: the ingest worker end to end, beside its two ceilings, in one run.

In a scratch database on the configured server (created, migrated, filled with a fleet and dropped
by the run) and under a topic prefix of its own on the configured broker: (a) raw binary COPY of the
pack phase's readings straight into ``readings`` (same hypertable, same indexes, ingest-sized
transactions); (b) a bare subscriber (the same MQTT adapter, QoS 1, acks in batches, no decoding, no
database) draining the single-reading messages, and beside it (b') aiomqtt as shipped (its message
iterator, acknowledging on arrival) draining the same messages; (c) ``hatang ingest`` as a real
process draining the same single-reading messages, then 50-record SenML packs; (d) latency from a
reading's time (= its publish time) to its arrival on the fan-out, which follows the commit, at a
fixed offered 5,000 messages/s. For (b) and (c) the messages are queued in the broker for the
subscriber's persistent session first and the drain is timed, so the publisher never sets the pace.
(b) and (b') run with the interpreter settings the worker runs with
(:func:`ingest.runner.tune_interpreter`). With the local stack, the CPU time of the subscriber or
worker, Mosquitto and PostgreSQL is read per phase (:mod:`bench.cpu`) and turned into what the
machine allows (:func:`cpu_budget`). Prints a table, then one JSON object as its last line.

Modules: ``run`` (the command, the order of the phases, the figures), ``scratch`` (the scratch
database, fleet and topic prefix), ``load`` (fleet, publisher, payloads), ``ceilings`` (phases a, b,
b'), ``worker`` (the worker under test), ``latency`` (phase d), ``figures`` (pure arithmetic). A new
phase is a function in ``run`` (or a module of its own) called from :func:`measure`, with its
figures added in :func:`run.figures`.
"""

from bench.ingest.figures import cpu_budget
from bench.ingest.run import measure, register

__all__ = ["cpu_budget", "measure", "register"]
