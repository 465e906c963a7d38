"""The schema of what is observed over time: the resource monitor and its alerts, per-test
limits, and KPI rules and scores."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ops.config.section import Section


class AlertRule(Section):
    """Fires when ``metric`` stays beyond its bound for ``for_s`` seconds; clears once it
    is back by ``hysteresis``. Metrics are dotted paths into a sample: cpu.total,
    memory.percent, swap.percent, load.1m, disk./, process.rss_mb, process.cpu_percent,
    or a KPI name (kpi.NAME)."""

    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    for_s: float = Field(0.0, ge=0)
    hysteresis: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from ops.monitor.metrics import unknown_metric

        problem = unknown_metric(value)
        if problem:
            raise ValueError(problem)
        return value


class Limits(Section):
    memory_mb: float | None = Field(None, gt=0, description="Peak RSS of the test's process.")
    cpu_s: float | None = Field(None, gt=0, description="CPU time of the test's process.")
    wall_s: float | None = Field(None, gt=0)


class MonitorConfig(Section):
    """The resource monitor (``--monitor``, ``python -m ops monitor``)."""

    enabled: bool = Field(False, description="Monitor every pytest session (also --monitor).")
    interval_s: float = Field(1.0, ge=0.05, le=3600)
    keep_runs: int = Field(10, ge=1, le=10_000, description="Runs kept under reports/monitor.")
    max_age_days: float | None = Field(
        None, gt=0, description="Runs older than this are removed too (beside keep_runs)."
    )
    top_processes: int = Field(
        5, ge=0, le=100, description="The machine's busiest processes listed by CPU and memory."
    )
    disk_paths: list[str] = Field(default_factory=lambda: ["/"])
    gpu: bool = True
    alerts: list[AlertRule] = Field(default_factory=list)
    sinks: list[Literal["log", "report", "webhook"]] = Field(
        default_factory=lambda: ["log", "report"]
    )
    webhook: str | None = Field(None, pattern=r"^https?://", description="JSON POST target.")
    fail_on_alert: bool = False
    limits: Limits = Field(default_factory=Limits, description="Defaults of @pytest.mark.limits.")
    prometheus_textfile: str | None = Field(None, description="Also export the last sample.")

    @model_validator(mode="after")
    def _watched_disks(self) -> MonitorConfig:
        for rule in self.alerts:
            head, _, path = rule.metric.partition(".")
            if head == "disk" and path not in self.disk_paths:
                raise ValueError(
                    f"alert {rule.name}: {rule.metric} reads disk {path!r}, which is not in "
                    f"monitor.disk_paths ({', '.join(self.disk_paths)})"
                )
        return self


class TrendRule(Section):
    """Against earlier runs: ``median`` compares the value with their median; ``slope``
    fits a least-squares line through them and the current run and bounds its slope per
    run, relative to their mean (a slow drift the median lags behind)."""

    method: Literal["median", "slope"] = "median"
    runs: int = Field(20, ge=1, le=10_000, description="At most this many earlier runs...")
    days: float = Field(7.0, gt=0, description="...within this many days before the run.")
    max_worse: float = Field(
        0.15, ge=0, description="Allowed relative change for the worse (slope: per run)."
    )
    higher_is_better: bool = True


class Bands(Section):
    """Status bands: green from ``green``, amber from ``amber``, red beyond (an alert)."""

    green: float
    amber: float
    higher_is_better: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if (self.green < self.amber) if self.higher_is_better else (self.green > self.amber):
            worse = "below" if self.higher_is_better else "above"
            raise ValueError(f"amber ({self.amber:g}) must be {worse} green ({self.green:g})")
        return self


class SuccessRate(Section):
    """The mean of the metric (1 success, 0 failure) over the job's last ``runs`` runs,
    the current one and crashed ones included, must be at least ``min``."""

    runs: int = Field(20, ge=1, le=10_000)
    min: float = Field(ge=0, le=1)


class KpiRule(Section):
    """A rule on every metric whose key (``name{tag=value,...}``) matches ``metric``;
    with ``at_least``, one rule on all of them together."""

    name: str
    metric: str = Field(description="fnmatch pattern over metric keys.")
    min: float | None = None
    max: float | None = None
    trend: TrendRule | None = None
    bands: Bands | None = None
    rate: SuccessRate | None = None
    at_least: int | None = Field(
        None,
        ge=1,
        description="At least this many matching metrics of the run are non-zero "
        "(at least N of M steps succeeded).",
    )

    @model_validator(mode="after")
    def _something_to_judge(self) -> KpiRule:
        judged = (self.min, self.max, self.trend, self.bands, self.rate, self.at_least)
        if all(part is None for part in judged):
            raise ValueError("give at least one of min, max, trend, bands, rate or at_least")
        if self.at_least is not None and any(
            part is not None for part in (self.trend, self.bands, self.rate)
        ):
            raise ValueError("at_least judges the metrics together: no trend, bands or rate")
        return self


class KpiScore(Section):
    """A derived metric: the weighted mean of its parts (each part the mean of the
    metrics its pattern matches), in every run that has all of them."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    parts: dict[str, float] = Field(min_length=1, description="pattern: weight (> 0).")

    @field_validator("parts")
    @classmethod
    def _positive(cls, parts: dict[str, float]) -> dict[str, float]:
        bad = [pattern for pattern, weight in parts.items() if weight <= 0]
        if bad:
            raise ValueError(f"weights must be positive: {', '.join(bad)}")
        return parts


class KpiConfig(Section):
    """Application metrics: history, rules, and what a watched process reports."""

    history_dir: str = Field(".proofyard/kpi", description="One file per run (target-relative).")
    record: bool = Field(True, description="Add every pytest run's metrics to the history.")
    keep_runs: int = Field(200, ge=1, le=100_000)
    max_age_days: float = Field(90.0, gt=0)
    rules: list[KpiRule] = Field(default_factory=list)
    scores: list[KpiScore] = Field(default_factory=list, description="Weighted roll-ups.")
    metrics_file: str | None = Field(None, description="JSON lines a watched process appends.")
    metrics_url: str | None = Field(
        None, pattern=r"^https?://", description="Prometheus text endpoint on loopback."
    )
