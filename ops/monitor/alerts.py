"""Alert rules with duration and hysteresis, and the sinks that hear about them."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ops.config.observe import AlertRule
from ops.netpolicy import decide

log = logging.getLogger("proofyard.monitor")


def metric_value(sample: dict[str, Any], path: str) -> float | None:
    """The number at a dotted path of a sample (``disk./`` reads key ``/`` of ``disk``)."""
    value: Any = sample
    head, _, rest = path.partition(".")
    parts = [head, rest] if head in ("disk", "kpi") and rest else path.split(".")
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return float(value) if isinstance(value, int | float) else None


@dataclass
class AlertEvent:
    rule: str
    state: str  # "firing" or "resolved"
    time: float
    value: float
    message: str


@dataclass
class _RuleState:
    breached_since: float | None = None
    firing: bool = False


@dataclass
class AlertEngine:
    rules: Sequence[AlertRule]
    states: dict[str, _RuleState] = field(default_factory=dict)

    def evaluate(self, sample: dict[str, Any]) -> list[AlertEvent]:
        events = []
        now = float(sample.get("time", 0.0))
        for rule in self.rules:
            value = metric_value(sample, rule.metric)
            if value is None:
                continue
            state = self.states.setdefault(rule.name, _RuleState())
            bound = rule.above if rule.above is not None else rule.below
            beyond = value > bound if rule.above is not None else value < bound
            back = (
                value <= bound - rule.hysteresis
                if rule.above is not None
                else value >= bound + rule.hysteresis
            )
            sense = ">" if rule.above is not None else "<"
            if beyond:
                state.breached_since = (
                    state.breached_since if state.breached_since is not None else now
                )
                if not state.firing and now - state.breached_since >= rule.for_s:
                    state.firing = True
                    events.append(
                        AlertEvent(
                            rule.name,
                            "firing",
                            now,
                            value,
                            f"{rule.metric} = {value:g} {sense} {bound:g} "
                            f"for {now - state.breached_since:.0f} s",
                        )
                    )
            else:
                state.breached_since = None
                if state.firing and back:
                    state.firing = False
                    events.append(
                        AlertEvent(
                            rule.name,
                            "resolved",
                            now,
                            value,
                            f"{rule.metric} = {value:g} back within "
                            f"{bound:g} (hysteresis {rule.hysteresis:g})",
                        )
                    )
        return events


class Sinks:
    """Deliver alert events: log, an in-memory report list, an HTTP webhook (JSON POST)."""

    def __init__(
        self,
        kinds: Sequence[str],
        webhook: str | None = None,
        allow_hosts: Sequence[str] = (),
        timeout_s: float = 5.0,
    ) -> None:
        self.kinds = set(kinds)
        self.webhook = webhook
        self.allow_hosts = list(allow_hosts)
        self.timeout_s = timeout_s
        self.reported: list[AlertEvent] = []
        self.errors: list[str] = []

    def deliver(self, event: AlertEvent) -> None:
        if "log" in self.kinds:
            (log.warning if event.state == "firing" else log.info)(
                "alert %s %s: %s", event.rule, event.state, event.message
            )
        if "report" in self.kinds:
            self.reported.append(event)
        if "webhook" in self.kinds and self.webhook:
            self._post(event)

    def _post(self, event: AlertEvent) -> None:
        decision = decide(urlsplit(self.webhook).hostname or "", self.allow_hosts)
        if not decision.allowed:
            self._error(f"webhook {self.webhook}: {decision.reason}")
            return
        body = json.dumps(event.__dict__).encode()
        request = urllib.request.Request(
            self.webhook, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except OSError as exc:  # URLError is an OSError: a dead sink must not stop sampling
            self._error(f"webhook {self.webhook}: {exc}")

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            log.error("%s", message)
