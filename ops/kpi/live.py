"""KPI rules evaluated live while ``ops monitor watch`` ingests a process's metrics.

While the run goes on, a reading is held to the rule's bounds, and to its trend only where
the earlier runs reported the same step (a value at step 3 is compared with their values at
step 3, never with their final values). The whole rule is judged once more on the run's
final values when it ends."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence

from ops.config.observe import KpiRule
from ops.kpi.history import RunRecord, metric_key
from ops.kpi.ingest import Reading
from ops.kpi.rules import Verdict, evaluate, references
from ops.monitor.alerts import AlertEvent


class LiveKpi:
    """Feeds readings into the run's record and raises an alert when a rule starts (or
    stops) failing for a metric; the reference comes from earlier runs of the same job."""

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
        steps = {metric_key(r.name, r.tags or None): r.step for r in readings}
        for rule in self.rules:
            bounds_only = rule.model_copy(update={"trend": None})
            for key in sorted(k for k in steps if fnmatch.fnmatchcase(k, rule.metric)):
                live_rule = rule if steps[key] is not None else bounds_only
                events += self._transition(rule, key, self._judge(live_rule, key, steps[key]))
        return events

    def finish(self, exit_status: int | None) -> list[AlertEvent]:
        """The run's final values judged by the whole rules; the exit status recorded."""
        self.record.exit_status = exit_status
        events = []
        for rule in self.rules:
            keys = (k for k in self.record.metrics if fnmatch.fnmatchcase(k, rule.metric))
            for key in sorted(keys):
                events += self._transition(rule, key, self._judge(rule, key, None))
        return events

    def _judge(self, rule: KpiRule, key: str, step: float | None) -> Verdict:
        earlier = references(self.earlier, self.record, key)
        return evaluate(rule, key, self.record, earlier, at_step=step)

    def _transition(self, rule: KpiRule, key: str, verdict: Verdict) -> list[AlertEvent]:
        state = (rule.name, key)
        if verdict.status == "alert" and state not in self.failing:
            self.failing.add(state)
            return [self._event(rule, "firing", verdict)]
        if verdict.status == "pass" and state in self.failing:
            self.failing.discard(state)
            return [self._event(rule, "resolved", verdict)]
        return []

    @staticmethod
    def _event(rule: KpiRule, state: str, verdict: Verdict) -> AlertEvent:
        return AlertEvent(
            f"kpi:{rule.name}", state, time.time(), verdict.value or 0.0, verdict.describe()
        )
