from museforge.bench.audio import format_table, run_audio_bench
from tests.conftest import TINY_SOUND


def test_the_audio_bench_compares_ours_with_plainer_vaes(
    tones_folder, gan_model, tmp_path, monkeypatch
):
    from museforge.bench import audio

    real_speed = audio.visualise_speed
    monkeypatch.setattr(audio, "visualise_speed", lambda m, w: real_speed(m, w, seconds=1.0))
    results = run_audio_bench(
        4.0,
        tmp_path,
        data=f"folder:{tones_folder}",
        eval_n=10,
        progress=False,
        model=TINY_SOUND,
        picture_model=gan_model,
    )
    assert results["visualise"]["frames"] == 24
    ours, plain = results["models"]["ours"], results["models"]["plain"]
    assert ours["steps"] > 0 and plain["steps"] > 0
    assert ours["ms_per_audio_second"] > 0
    assert set(results["targets"]) == {
        "pitch_accuracy_at_least_0.9",
        "1_s_of_audio_under_50_ms",
        "30_s_720p_visualisation_under_60_s",
    }
    table = format_table(results)
    assert all(f"| {name} |" in table for name in ("ours", "spectrogram", "plain"))
    assert plain["family_as_asked"] is not None
