"""The scheduler role (``hatang scheduler``): the platform's periodic jobs, run by one leader.

Several replicas may run; one leads at a time, chosen by a PostgreSQL session advisory lock held on a
connection of its own (``leader``). The others wait and take over within ``poll_s`` when the
leader's connection goes away. Every run is recorded in ``scheduler_runs`` and the next run of a
job is due ``interval`` after the last recorded start, whoever started it, so a takeover neither
repeats nor skips an interval. ``jobs`` builds the job list for the TimescaleDB edition found at start.
"""

from hatang.scheduler.jobs import Job, build_jobs
from hatang.scheduler.leader import LOCK_KEY, Scheduler
from hatang.scheduler.metrics import SchedulerMetrics

__all__ = ["LOCK_KEY", "Job", "Scheduler", "SchedulerMetrics", "build_jobs"]
