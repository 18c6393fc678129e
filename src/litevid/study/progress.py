"""What a running study shows: a live table on a terminal, one line per finished job when piped,
and the ``litevid study status`` table (states, times, what is left)."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..utils.console import is_terminal, literal, make_console
from .plan import Plan, StudyJob
from .state import STATES, JobState, StudyDir, estimate_left_s

__all__ = ["StudyMonitor", "format_duration", "status_table"]

_COLORS = {"done": "green", "running": "cyan", "failed": "red", "pending": "dim"}
_LIVE_ROWS = 18  # rows of the live table (running first, then failures, then the latest done)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _counts(states: list[JobState]) -> dict[str, int]:
    return {s: sum(x.state == s for x in states) for s in STATES}


def counts_line(states: list[JobState], parallel: int = 1) -> str:
    c = _counts(states)
    left = estimate_left_s(states, parallel)
    eta = ("" if not c["running"] + c["pending"] else
           f"; about {format_duration(left)} left" if left is not None else
           "; time left: known once a job of each kind has finished")
    return (f"{c['done']} done, {c['running']} running, {c['failed']} failed, {c['pending']} "
            f"pending of {len(states)} jobs{eta}")


def status_table(states: list[JobState], title: str, rows: list[JobState] | None = None) -> Any:
    from rich.table import Table

    table = Table(title=literal(title), title_justify="left")
    for col in ("job", "kind", "model", "dataset / mode", "device", "state", "time", "result"):
        table.add_column(col, overflow="fold")
    for s in rows if rows is not None else states:
        j = s.job
        color = _COLORS[s.state]
        table.add_row(j.id, j.kind, literal(j.model), literal(j.what), literal(j.device),
                      f"[{color}]{s.state}[/{color}]", format_duration(s.wall_s),
                      literal(s.detail))
    return table


class StudyMonitor:
    """Progress of ``litevid study run`` (see the module docstring).

    Args:
        study, plan: the study.
        todo: the jobs this run executes (the count and the live table are about them).
        parallel: jobs at once (for the time-left estimate).
        live: a live table (default: when stdout is a terminal).
    """

    def __init__(self, study: StudyDir, plan: Plan, todo: list[StudyJob], *, parallel: int = 1,
                 live: bool | None = None) -> None:
        self.study, self.plan, self.todo, self.parallel = study, plan, todo, parallel
        self.live = is_terminal() if live is None else live
        self.finished_n = 0
        self._live: Any = None
        self._last = 0.0

    def __enter__(self) -> StudyMonitor:
        if self.live:
            from rich.live import Live

            self._live = Live(self._render(), console=make_console(), refresh_per_second=2)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)

    def _render(self) -> Any:
        from rich.console import Group

        states = [self.study.state(j) for j in self.todo]
        order = {"running": 0, "failed": 1, "done": 2, "pending": 3}
        newest = sorted(states, key=lambda s: (s.record or {}).get("finished") or "", reverse=True)
        shown = sorted(newest, key=lambda s: order[s.state])  # stable: latest done first
        title = f"litevid study {self.plan.name}: " + counts_line(states, self.parallel)
        return Group(status_table(states, title, shown[:_LIVE_ROWS]))

    def _line(self, text: str) -> None:
        if self._live is not None:
            return
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def started(self, job: StudyJob) -> None:
        self.tick()

    def finished(self, state: JobState) -> None:
        self.finished_n += 1
        word = "done" if state.state == "done" else state.state.upper()
        self._line(f"[{self.finished_n}/{len(self.todo)}] {state.job.label()}: {word}: "
                   f"{state.detail} ({format_duration(state.wall_s)}) [job {state.job.id}]")
        self.tick(force=True)

    def skipped(self, job: StudyJob, why: str) -> None:
        self.finished_n += 1
        self._line(f"[{self.finished_n}/{len(self.todo)}] {job.label()}: skipped: {why}")

    def tick(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._last > 0.5:
            self._last = now
            self._live.update(self._render())
