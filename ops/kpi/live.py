"""KPI rules evaluated live while ``ops monitor watch`` ingests a process's metrics."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence

from ops.config.schema import KpiRule
from ops.kpi.history import RunRecord
from ops.kpi.ingest import Reading
from ops.kpi.rules import evaluate
from ops.monitor.alerts import AlertEvent


class LiveKpi:
    """Feeds readings into the run's record and raises an alert when a rule starts (or
    stops) failing for a metric; the reference comes from earlier runs only."""

    def __init__(
        self, rules: Sequence[KpiRule], earlier: list[RunRecord], record: RunRecord
    ) -> None:
        self.rules = list(rules)
        self.earlier = earlier
        self.record = record
        self.failing: set[tuple[str, str]] = set()

    def feed(self, readings: Sequence[Reading]) -> list[AlertEvent]:
        events = []
        for reading in readings:
            self.record.add(reading.name, reading.value, reading.step, reading.tags or None)
        touched = {key for key in self.record.metrics}
        for rule in self.rules:
            for key in sorted(k for k in touched if fnmatch.fnmatchcase(k, rule.metric)):
                verdict = evaluate(rule, key, self.record, self.earlier)
                state = (rule.name, key)
                if verdict.status == "alert" and state not in self.failing:
                    self.failing.add(state)
                    events.append(
                        AlertEvent(
                            f"kpi:{rule.name}",
                            "firing",
                            time.time(),
                            verdict.value or 0.0,
                            verdict.describe(),
                        )
                    )
                elif verdict.status == "pass" and state in self.failing:
                    self.failing.discard(state)
                    events.append(
                        AlertEvent(
                            f"kpi:{rule.name}",
                            "resolved",
                            time.time(),
                            verdict.value or 0.0,
                            verdict.describe(),
                        )
                    )
        return events
