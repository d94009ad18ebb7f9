"""What more time would bring: read from the distance a run logs at its previews."""

import json

from museforge.core.outlook import outlook, read_distances


def test_a_distance_still_falling_says_more_time_helps():
    said = outlook([(0, 1.0), (30, 0.6), (60, 0.5), (90, 0.3)])
    assert "still falling" in said and "more time should help" in said
    assert "1 at the first preview, 0.3 at the end" in said


def test_a_flat_distance_says_time_alone_changes_little():
    said = outlook([(0, 1.0), (30, 0.4), (60, 0.401), (90, 0.4)])
    assert "levelled off" in said


def test_a_rising_distance_is_not_called_level():
    said = outlook([(0, 1.0), (30, 0.2), (60, 0.2), (90, 0.25)])
    assert "rising over the last third (+25%)" in said


def test_a_slow_fall_is_called_slow_and_few_points_say_nothing():
    assert "falling slowly" in outlook([(0, 1.0), (30, 0.5), (60, 0.5), (90, 0.47)])
    assert outlook([(0, 1.0), (30, 0.5)]) is None


def test_distances_are_read_from_the_metrics_file_in_order(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [
        {"step": 5, "time": 1.0, "loss": 2.0},
        {"step": 5, "time": 1.0, "distance_to_data": 0.8},
        {"step": 10, "time": 2.5, "distance_to_data": 0.5},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_distances(path) == [(1.0, 0.8), (2.5, 0.5)]
    assert read_distances(tmp_path / "none.jsonl") == []
