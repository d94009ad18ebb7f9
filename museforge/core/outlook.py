"""What more training time would bring, read from a run's own progress signal.

Tasks that can measure how far their outputs are from the data (lower is closer) log it
at each preview as ``distance_to_data``. At the end of a run the last value is compared
with the value a third of the run earlier: still falling clearly means more time pays,
flat means the overall look will change little, rising means more time may not help. The
distance sees colour and composition more than small details, so a flat distance does not
rule out sharper details with more time.
"""

from __future__ import annotations

import json
from pathlib import Path

KEY = "distance_to_data"
STILL_FALLING, FLAT = 0.10, 0.03  # relative fall over the last third of the run


def read_distances(metrics_file: Path) -> list[tuple[float, float]]:
    """(seconds, distance) pairs logged in a run's metrics file, in order."""
    if not metrics_file.is_file():
        return []
    points = []
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if KEY in record:
            points.append((float(record.get("time", 0.0)), float(record[KEY])))
    return points


def outlook(points: list[tuple[float, float]]) -> str | None:
    """One sentence on the trend of ``points`` (None with fewer than three)."""
    if len(points) < 3:
        return None
    end_time, last = points[-1]
    first = points[0][1]
    mark = end_time * 2 / 3
    _, then = min(points[:-1], key=lambda p: abs(p[0] - mark))
    fall = (then - last) / then if then > 0 else 0.0
    trend = (
        f"distance to the training pictures {first:.3g} at the first preview, {last:.3g} at the end"
    )
    if fall >= STILL_FALLING:
        return (
            f"{trend}, still falling ({fall:.0%} over the last third): more time should "
            "help (--resume with a larger --time-budget goes on from here)"
        )
    if fall < -FLAT:
        return (
            f"{trend}, rising over the last third (+{-fall:.0%}): more time may not help; "
            "the previews show whether the pictures got worse"
        )
    if fall <= FLAT:
        return (
            f"{trend}, levelled off over the last third: the overall look will change "
            "little with more time (details may still sharpen)"
        )
    return f"{trend}, falling slowly ({fall:.0%} over the last third): more time helps a little"
