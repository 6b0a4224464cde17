"""Configuration of the monitors: section ``monitor`` (model quality, input drift, the
extractor's precision) and the time offsets its windows are given in."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator

from kgqa_cli.config import StrictModel


class KgQualityConfig(StrictModel):
    """Section ``monitor.kg``: the extractor-quality monitor."""

    min_precision: float = Field(0.7, ge=0, le=1, description="least precision of the extracted triples, estimated "
                                 "from the reviewed uniform sample")
    min_reviewed: int = Field(30, ge=1, description="fewer reviewed sample triples is 'not enough reviews', not a pass")
    confidence_z: float = Field(1.96, gt=0, description="z of the Wilson interval (1.96: 95 %)")


class DriftLimits(StrictModel):
    """Section ``monitor.drift``: how far the live questions may move from the baseline's."""

    unknown_char_rate: float = Field(0.05, ge=0, le=1, description="most share of characters the model has no id for")
    intent_js_distance: float = Field(0.5, ge=0, le=1, description="most Jensen-Shannon distance of the intent mix")
    length_change: float = Field(1.0, ge=0, description="most relative change of the mean question length")
    min_answered_share: float = Field(0.5, ge=0, le=1, description="least share of questions answered")
    max_thumbs_down_share: float = Field(0.3, ge=0, le=1, description="most share of the rated answers of the window "
                                         "that people rated 👎 (POST /feedback, the chat page)")
    min_ratings: int = Field(10, ge=1, description="fewer ratings in the window: max_thumbs_down_share is not checked")


class BaselineLimits(StrictModel):
    """Section ``monitor.baseline``: what data may set the constraints of `kgqa monitor baseline`."""

    min_rows: int = Field(
        50, ge=1, description="fewest labelled questions, of intents the model knows, a baseline is computed on"
    )


class MonitorConfig(StrictModel):
    """Section ``monitor``: the model-quality monitor."""

    start_offset: str = Field("-P8D", description="window start relative to now (ISO-8601 duration; P1Y = 365 days, "
                                                  "P1M = 30 days)")
    end_offset: str = Field("-P1D", description="window end relative to now (ISO-8601 duration)")
    min_labels: int = Field(30, ge=1, description="fewer labelled events is 'not enough ground truth', not a pass")
    threshold_margin: float = Field(
        0.05, ge=0, le=1, description="constraints allow this much below the baseline (0: Model Monitor's suggestion)"
    )
    bootstrap_samples: int = Field(30, ge=2, description="resamples for standard deviations (200+ samples)")
    drift: DriftLimits = DriftLimits()
    baseline: BaselineLimits = BaselineLimits()
    kg: KgQualityConfig = KgQualityConfig()

    @field_validator("start_offset", "end_offset")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        _offset_delta(value)
        return value


_DURATION = re.compile(
    r"^([+-])?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
# An offset is a length of time back from now, not a calendar step, so years and months have
# fixed lengths: a window of -P1M is the same 30 days whichever month it ends in.
DAYS_PER_YEAR = 365
DAYS_PER_MONTH = 30


def _shown(text: str) -> str:
    """A value for an error line, cut short: a hostile value may be any length."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _offset_delta(text: str) -> timedelta:
    """The duration ``text`` as a timedelta; ValueError when it is none (or is too long for one)."""
    stripped = text.strip()
    match = _DURATION.match(stripped)
    if not match or stripped.rstrip("T") in ("P", "-P", "+P"):
        raise ValueError(f"{_shown(text)} is not an ISO-8601 duration such as -P8D, -PT1H, -P1M or -P1Y")
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    try:
        total_days = int(years or 0) * DAYS_PER_YEAR + int(months or 0) * DAYS_PER_MONTH + int(days or 0)
        delta = timedelta(weeks=int(weeks or 0), days=total_days, hours=int(hours or 0), minutes=int(minutes or 0),
                          seconds=float(seconds or 0))
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{_shown(text)} is longer than any time window can be") from exc
    return -delta if sign == "-" else delta


