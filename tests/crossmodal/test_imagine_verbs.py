"""Text-to-image pictures get the image verbs (breed, mutate, project) and "more X", with
their words in every provenance; guidance and negative prompts are sentence arithmetic;
the caption words are recorded at training time and unseen words of a prompt are named."""

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from museforge.core.artifact import load_artifact
from museforge.core.latent import decode_latent
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.crossmodal import data
from museforge.crossmodal.prompts import guided, neutral_sentence, on_sphere
from museforge.crossmodal.vocabulary import caption_vocabulary, unseen_words
from museforge.gallery.provenance import read_png_provenance, save_png
from museforge.studio.app import StudioConfig, create_app

RED = "a small red star top left on white"
BLUE = "a large blue circle in the centre on black"


@pytest.fixture(scope="module")
def trained(shapes, encoder, tmp_path_factory):
    """A model trained for 2 steps (on 64 pictures), in a models folder of its own."""
    recipe = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "arch": "gan", "g_width": 8, "d_width": 8},
        run={"steps": 2, "batch_size": 8},
    )
    out = tmp_path_factory.mktemp("models") / "words"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
        train_from_recipe(recipe, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def loaded(trained):
    model = load_artifact(trained)
    # Two steps leave the sentence's fusion layers near their zero start, so pictures would
    # barely depend on the words; random fusion weights make every change of words visible.
    gen = torch.Generator().manual_seed(0)
    for name, p in model.model.generator.named_parameters():
        if "fuse" in name and name.endswith("net.2.weight"):
            p.data = torch.randn(p.shape, generator=gen) * 0.5
    return model


def _saved(result, folder):
    paths = []
    for art in result.artworks:
        paths.append(save_png(folder / f"{art.name}.png", art.image, art.provenance))
    return paths


def _pixels(art):
    return art.image.tobytes()


def test_the_manifest_records_the_caption_words_and_their_mean(loaded, shapes):
    info = loaded.manifest["data"]
    words = info["vocabulary"]["words"]
    assert {"red", "star", "gradient"} <= set(words["en"])
    assert "红色" in words["zh"] and len(words["zh"][0]) == 2  # Chinese: character pairs
    assert info["vocabulary"]["distinct"]["en"] == len(words["en"])  # none capped here
    assert decode_latent(info["mean_sentence"]).numel() == loaded.model.cfg.encoder_config.embed_dim


def test_vocabulary_counts_and_unseen_spans():
    vocab = caption_vocabulary([{"en": "a red star, a red heart", "zh": "红色星星"}])
    assert vocab["words"]["en"][:2] == ["a", "red"]  # commonest first
    assert unseen_words("A red Dragon and a star", vocab) == ["dragon", "and"]
    assert unseen_words("红色龙猫", vocab) == ["龙猫"]  # unseen characters named together
    # New pairs where known words meet ("色星", "星红") are not words the model never saw.
    assert unseen_words("红色星星红色", vocab) == [] and unseen_words("龙", vocab) == ["龙"]
    assert unseen_words("anything", {}) == []  # models trained before: nothing said


def test_imagine_names_unseen_words_and_says_nothing_for_known_ones(loaded):
    known = call_verb(loaded, "imagine", prompt=RED, n=1)
    assert known.message is None
    assert known.artworks[0].provenance["prompt"] == RED
    odd = call_verb(loaded, "imagine", prompt="a red dragon", n=1)
    assert "the model never saw: 'dragon'" in odd.message
    old = load_artifact(loaded.path)
    del old.manifest["data"]["vocabulary"]
    assert call_verb(old, "imagine", prompt="a red dragon", n=1).message is None


def test_guidance_one_is_the_plain_prompt_and_a_negative_prompt_changes_the_picture(loaded):
    plain = call_verb(loaded, "imagine", prompt=RED, n=2, seed=3)
    one = call_verb(loaded, "imagine", prompt=RED, n=2, seed=3, guidance=1, negative="blue")
    assert [_pixels(a) for a in plain.artworks] == [_pixels(a) for a in one.artworks]
    assert "no weight" in one.message
    away = call_verb(loaded, "imagine", prompt=RED, n=2, seed=3, negative="a red star")
    assert _pixels(away.artworks[0]) != _pixels(plain.artworks[0])
    steered = decode_latent(away.artworks[0].provenance["sentence"])
    assert steered.norm().item() == pytest.approx(steered.numel() ** 0.5, rel=1e-4)
    push = call_verb(loaded, "imagine", prompt=RED, n=1, seed=3, guidance=2)
    s = decode_latent(plain.artworks[0].provenance["sentence"])
    expected = guided(s, neutral_sentence(loaded), 2.0)  # no negative: away from the mean
    assert torch.allclose(expected, on_sphere(2 * s - neutral_sentence(loaded)))
    assert torch.allclose(decode_latent(push.artworks[0].provenance["sentence"]), expected)


def test_breed_blends_the_words_of_parents_of_different_prompts(loaded, tmp_path):
    a = _saved(call_verb(loaded, "imagine", prompt=RED, n=1, seed=1), tmp_path)[0]
    b = _saved(call_verb(loaded, "imagine", prompt=BLUE, n=1, seed=2), tmp_path)[0]
    kids = call_verb(loaded, "breed", parents=[a, b], children=3, seed=5)
    s_a, s_b = (decode_latent(read_png_provenance(p)["sentence"]) for p in (a, b))
    for art in kids.artworks:
        prov = art.provenance
        assert [p["file"] for p in prov["parents"]] == [a.name, b.name]
        assert set(prov["prompt"].split(" / ")) == {RED, BLUE}
        assert {p["prompt"] for p in prov["prompts"]} == {RED, BLUE}
        s = decode_latent(prov["sentence"])
        assert s.norm().item() == pytest.approx(s.numel() ** 0.5, rel=1e-4)
        assert torch.dot(s, s_a) > torch.dot(s_b, s_a) and torch.dot(s, s_b) > torch.dot(s_a, s_b)
    again = call_verb(loaded, "breed", parents=[a, b], children=3, seed=5)
    assert [_pixels(x) for x in kids.artworks] == [_pixels(x) for x in again.artworks]
    # Children of parents of one prompt keep that prompt exactly.
    same = _saved(call_verb(loaded, "imagine", prompt=RED, n=2, seed=9), tmp_path)
    kid = call_verb(loaded, "breed", parents=same, children=1).artworks[0].provenance
    assert kid["prompt"] == RED and "prompts" not in kid
    assert kid["sentence"] == read_png_provenance(same[0])["sentence"]


def test_pictures_made_before_sentences_were_recorded_breed_from_their_prompt(loaded, tmp_path):
    art = call_verb(loaded, "imagine", prompt=RED, n=1, seed=1).artworks[0]
    recorded = art.provenance.pop("sentence")
    art.provenance.pop("prompt")
    old = save_png(tmp_path / "old.png", art.image, art.provenance)
    kid = call_verb(loaded, "mutate", parent=old, amount=0.0).artworks[0].provenance
    assert kid["sentence"] == recorded and kid["prompt"] == RED


def test_mutate_keeps_the_words_or_takes_new_ones(loaded, tmp_path):
    parent = _saved(call_verb(loaded, "imagine", prompt=RED, n=1, seed=1), tmp_path)[0]
    before = read_png_provenance(parent)
    moved = call_verb(loaded, "mutate", parent=parent, direction=1, amount=2.0, frames=3)
    assert len(moved.artworks) == 3
    prov = moved.artworks[-1].provenance
    assert prov["sentence"] == before["sentence"] and prov["prompt"] == RED
    assert prov["latent"] != before["latent"] and prov["parents"][0]["file"] == parent.name
    reworded = call_verb(loaded, "mutate", parent=parent, amount=0.0, prompt=BLUE).artworks[0]
    assert reworded.provenance["prompt"] == BLUE
    assert reworded.provenance["latent"] == before["latent"]
    assert reworded.provenance["sentence"] != before["sentence"]


def test_project_fits_latent_and_words_to_a_picture(loaded, tmp_path):
    picture = tmp_path / "mine.png"
    call_verb(loaded, "imagine", prompt=BLUE, n=1, seed=7).artworks[0].image.save(picture)
    found = call_verb(loaded, "project", image=picture, steps=15)
    assert found.data["mse_end"] < found.data["mse_start"]
    assert "pixel error" in found.message and "the average caption" in found.message
    prov = found.artworks[0].provenance
    assert prov["source"]["file"] == "mine.png" and prov["prompt"] is None
    assert found.data["words_moved"] > 0
    worded = call_verb(loaded, "project", image=picture, steps=2, prompt=BLUE)
    assert worded.artworks[0].provenance["prompt"] == BLUE
    # A projected picture breeds like any other (its fitted words are recorded).
    (path,) = _saved(found, tmp_path)
    assert call_verb(loaded, "breed", parents=[path, path], children=1).artworks


def test_more_pushes_the_words_towards_other_words_and_keeps_the_latent(loaded, tmp_path):
    parent = _saved(call_verb(loaded, "imagine", prompt=RED, n=1, seed=1), tmp_path)[0]
    before = read_png_provenance(parent)
    more = call_verb(loaded, "condition", parent=parent, words="blue", amount=1.0)
    prov = more.artworks[0].provenance
    assert prov["latent"] == before["latent"] and prov["sentence"] != before["sentence"]
    assert prov["prompt"] == RED and prov["more"] == {"words": "blue", "amount": 1.0}
    assert prov["parents"][0]["file"] == parent.name
    assert _pixels(more.artworks[0]) != _pixels(
        call_verb(loaded, "mutate", parent=parent, amount=0.0).artworks[0]
    )
    s = decode_latent(before["sentence"])
    direction = loaded.model.sentences(["blue"])[0] - neutral_sentence(loaded)
    expected = on_sphere(s + 1.0 * direction)
    assert torch.allclose(decode_latent(prov["sentence"]), expected, atol=1e-5)
    sweep = call_verb(loaded, "condition", parent=parent, words="unicorns", amount=2, frames=3)
    assert [a.provenance["offset"] for a in sweep.artworks] == [-2.0, 0.0, 2.0]
    assert sweep.artworks[1].provenance["sentence"] == before["sentence"]
    assert "never saw: 'unicorns'" in sweep.message


def test_pictures_of_another_model_are_refused(loaded, tmp_path):
    art = call_verb(loaded, "imagine", prompt=RED, n=1).artworks[0]
    art.provenance["model"] = {"sha256": "0" * 64}
    other = save_png(tmp_path / "other.png", art.image, art.provenance)
    with pytest.raises(Exception, match="not by this model"):
        call_verb(loaded, "condition", parent=other, words="blue")


def test_the_studio_serves_a_models_vocabulary(trained, tmp_path):
    config = StudioConfig(tmp_path / "gallery", trained.parent, port=8765, token="t" * 24)
    with TestClient(create_app(config), base_url="http://127.0.0.1:8765") as client:
        got = client.get(f"/api/models/{trained.name}/vocabulary").json()
        assert "red" in got["words"]["en"] and got["complete"] == {"en": True, "zh": True}
        missing = client.get("/api/models/nothing-here/vocabulary")
        assert missing.status_code == 404 and "no model called" in missing.text


@pytest.mark.slow
def test_the_studio_marks_unseen_words_and_pushes_words_in_breed(trained, tmp_path, monkeypatch):
    """In Chromium: Create's prompt box shows the language, marks unseen words and offers the
    model's words; Breed's "more …" redraws a picture with more of some words."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.studio.server import StudioServer

    monkeypatch.setenv("MUSEFORGE_TEST_MODELS", str(trained.parent))
    server = StudioServer(tmp_path / "gallery", tmp_path / "studio.log", "t" * 24)
    server.start()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page()
            sync_api.expect.set_options(timeout=30_000)
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(server.launch_url)
            page.wait_for_selector("body.ready")
            page.goto(page.url.split("#")[0] + "#create")
            page.get_by_test_id("create-model").select_option(trained.name)
            page.get_by_test_id("create-verb").select_option("imagine")
            box = page.locator("[data-field=prompt]")
            page.locator("#field-prompt").fill("a red dragon on bl")
            sync_api.expect(box.locator("mark.unseen")).to_have_text(["dragon", "bl"])
            sync_api.expect(box.get_by_test_id("prompt-language")).to_have_text("English")
            box.get_by_test_id("prompt-suggestion").filter(has_text="black").click()
            assert page.locator("#field-prompt").input_value() == "a red dragon on black "
            page.locator("#field-prompt").fill("白色背景上有一个红色龙")
            sync_api.expect(box.get_by_test_id("prompt-language")).to_have_text("Chinese")
            sync_api.expect(box.locator("mark.unseen")).to_have_text(["龙"])
            page.locator("#field-prompt").fill(RED)
            page.locator("#field-n").fill("1")
            page.get_by_test_id("create-submit").click()
            sync_api.expect(page.get_by_test_id("create-status")).to_have_text("done")

            page.goto(page.url.split("#")[0] + "#breed")
            page.get_by_test_id("breed-parent").first.click()
            page.locator("#more-words").fill("blue")
            page.locator("#more-amount").fill("1")
            page.locator("#more-amount").dispatch_event("change")
            sync_api.expect(page.get_by_test_id("more-status")).to_have_text("done")
            made = page.get_by_test_id("more-result").get_attribute("data-id")
            prov = server.api(f"/api/gallery/{made}")["provenance"]
            assert prov["more"] == {"words": "blue", "amount": 1.0} and prov["prompt"] == RED
            browser.close()
            assert not errors, errors
    finally:
        server.stop()


@pytest.mark.slow  # a flow draws slowly on a CPU: about 40 s here
def test_a_flow_model_takes_the_same_verbs(shapes, encoder, tmp_path):
    """The flow is guided by its velocities (a negative prompt is its ``against``); its
    latent is a noise picture, whose mutation directions are sought in a slice of it."""
    recipe = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "arch": "flow", "flow_width": 8, "sample_steps": 2},
        run={"steps": 2, "batch_size": 8},
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
        train_from_recipe(recipe, out=tmp_path / "flow", progress=False)
    flow = load_artifact(tmp_path / "flow")
    assert flow.manifest["data"]["vocabulary"]["words"]["en"]
    plain = call_verb(flow, "imagine", prompt=RED, n=1, seed=1, guidance=1)
    same = call_verb(flow, "imagine", prompt=RED, n=1, seed=1, guidance=1, negative="blue")
    assert _pixels(plain.artworks[0]) == _pixels(same.artworks[0])
    seen, draw_flow = [], flow.model.generate

    def spy(z, sentence, guidance=None, against=None):
        seen.append((guidance, against))
        return draw_flow(z, sentence, guidance=guidance, against=against)

    flow.model.generate = spy
    call_verb(flow, "imagine", prompt=RED, n=2, seed=1, guidance=3, negative="blue")
    assert seen[-1][0] == 3.0
    assert torch.equal(seen[-1][1], flow.model.sentences(["blue"]).expand(2, -1))
    call_verb(flow, "imagine", prompt=RED, n=1)
    assert seen[-1] == (None, None)  # the model's own guidance, away from no words
    flow.model.generate = draw_flow
    a, b = _saved(call_verb(flow, "imagine", prompt=RED, n=2, seed=2), tmp_path)
    assert call_verb(flow, "breed", parents=[a, b], children=1).artworks[0].provenance["parents"]
    moved = call_verb(flow, "mutate", parent=a, amount=3.0).artworks[0].provenance
    assert moved["latent"] != read_png_provenance(a)["latent"]
    assert call_verb(flow, "condition", parent=a, words="blue").artworks[0].provenance["more"]
    assert call_verb(flow, "project", image=a, steps=1).data["steps"] == 1


def test_a_songs_lyrics_are_drawn_when_they_are_sung(loaded, tmp_path):
    import av
    import mido

    from museforge.crossmodal.visualise import visualisation

    midi = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: a beat is 0.5 s
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("lyrics", text=RED + "\r", time=0))
    for i, pitch in enumerate((60, 64, 67, 72)):
        if i == 2:
            track.append(mido.MetaMessage("lyrics", text=BLUE, time=0))
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    midi.save(str(tmp_path / "song.mid"))
    # No prompts: a text-to-image model takes the song's own words, each from its time.
    result = visualisation(loaded, tmp_path / "song.mid", fps=4, size=(32, 18))
    (video,) = [p for p in result.write_to(tmp_path / "out") if p.suffix == ".mp4"]
    assert result.made["prompts"] == [[0.0, RED], [1.0, BLUE]]
    with av.open(str(video)) as box:
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    assert len(frames) == result.made["frames"] >= 8
