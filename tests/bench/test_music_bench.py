from museforge.bench.music import harmonisation_line


def test_harmonisation_line_names_rules_veto_raw_and_bach():
    harm = {
        "rules": True,
        "voice_leading": {"total": 0.0},
        "voice_leading_raw": {"total": 13.66},
        "voice_leading_bach": {"total": 2.401},
        "veto": {"removed_mass": 0.0412, "dead_ends": 0.0, "draws": 10},
    }
    line = harmonisation_line(harm)
    assert "0.0 voice-leading errors per 100 chords with the rules" in line
    assert "removed 4.1% of the model's probability" in line
    assert "13.7 raw" in line and "Bach 2.40" in line
    plain = harmonisation_line({**harm, "rules": False})
    assert "with the rules" not in plain and "removed" not in plain
