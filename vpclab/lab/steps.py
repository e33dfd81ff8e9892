"""Recording and showing a lab's steps: what was called, what came back, how long it took.

A step is named as the seed lab names it ("Step 1.2"); the recorder times it, keeps the
AWS call and ids, and shows it live (Rich) or collects it for `--json`. A failing step
keeps the AWS error code so the person (or CI) sees exactly what went wrong.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from rich.console import Console
from rich.table import Table


@dataclass
class StepRecord:
    step: str
    title: str
    call: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    outcome: str = "ok"  # ok | expected-error | failed
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class LabFailed(Exception):
    def __init__(self, record: StepRecord):
        super().__init__(f"{record.step} {record.title}: {record.detail}")
        self.record = record


class Recorder:
    """Runs steps, times them, and shows them (unless quiet, for --json)."""

    def __init__(self, console: Console | None, started: float | None = None):
        self.console = console
        self.records: list[StepRecord] = []
        self.started = started or time.monotonic()

    @contextmanager
    def step(self, step: str, title: str, call: str = "") -> Iterator[StepRecord]:
        record = StepRecord(step, title, call)
        t0 = time.monotonic()
        try:
            yield record
        except ClientError as err:
            record.outcome = "failed"
            error = err.response.get("Error", {})
            record.detail = f"{error.get('Code')}: {error.get('Message')}"
            raise LabFailed(record) from err
        except WaiterError as err:
            record.outcome = "failed"
            # botocore keeps a waiter's name and reason in `kwargs`, not as attributes
            code = err.last_response.get("Error", {}).get("Code", "")
            record.detail = f"waiter {err.kwargs['name']}: {code or err.kwargs['reason']}"
            raise LabFailed(record) from err
        except LabFailed:
            raise
        except Exception as err:
            record.outcome = "failed"
            record.detail = record.detail or f"{type(err).__name__}: {err}"
            raise LabFailed(record) from err
        finally:
            record.seconds = round(time.monotonic() - t0, 3)
            self.records.append(record)
            self._show(record)

    def wait(self, message: str, fn: Callable[[], Any]) -> Any:
        """Run a blocking wait with a live spinner."""
        if self.console is None:
            return fn()
        with self.console.status(f"[cyan]{message}…", spinner="dots"):
            return fn()

    def _show(self, r: StepRecord) -> None:
        if self.console is None:
            return
        mark = {"ok": "[green]✓[/]", "expected-error": "[yellow]✓ refused as expected[/]",
                "failed": "[red]✗[/]"}[r.outcome]
        ids = "  ".join(f"[dim]{k}=[/]{v}" for k, v in r.ids.items())
        self.console.print(f"[bold]{r.step:<9}[/] {r.title}  {mark}  [dim]{r.seconds:.2f}s[/]")
        if r.call:
            self.console.print(f"          [dim]{r.call}[/]  {ids}")
        elif ids:
            self.console.print(f"          {ids}")
        if r.detail:
            style = "red" if r.outcome == "failed" else "dim"
            self.console.print(f"          [{style}]{r.detail}[/]")

    def summary(self) -> Table:
        table = Table(title="vpclab PrivateLink lab", show_lines=False)
        table.add_column("step")
        table.add_column("what")
        table.add_column("outcome")
        table.add_column("seconds", justify="right")
        for r in self.records:
            table.add_row(r.step, r.title, r.outcome, f"{r.seconds:.2f}")
        table.add_row("", "[bold]total[/]", "", f"[bold]{time.monotonic() - self.started:.2f}[/]")
        return table
