"""Recordings uploaded to the studio: checked by decoding them (not by their names), capped
by size and length, kept under the format they really are, and usable where a verb reads
any recording (encode) but not as a note's timbre."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient

from museforge.errors import InputError
from museforge.studio import uploads
from museforge.studio.app import StudioConfig, create_app
from museforge.studio.uploads import check_sound_bytes

TOKEN = "sound-upload-token-0123456789"
AUTH = {"X-Museforge-Token": TOKEN}


def _tone(seconds: float = 0.5, rate: int = 8000, fmt: str = "WAV", loud: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    wave = (loud * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    buf = io.BytesIO()
    soundfile.write(buf, wave, rate, format=fmt)
    return buf.getvalue()


def test_a_recording_is_kept_under_the_format_it_really_is() -> None:
    assert check_sound_bytes("tone.wav", _tone()) == ".wav"
    assert check_sound_bytes("tone.wav", _tone(fmt="FLAC")) == ".flac"  # bytes, not the name
    assert check_sound_bytes("tone", _tone(fmt="OGG")) == ".ogg"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "cannot be decoded as audio"),
        (b"", "cannot be decoded as audio"),
        (_tone(loud=0.0), "silent"),
    ],
)
def test_what_is_not_a_usable_recording_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words) as err:
        check_sound_bytes("clip.wav", data)
    assert "clip.wav" in str(err.value) and "\n" not in str(err.value)


def test_recordings_are_capped_by_length_and_size(monkeypatch) -> None:
    monkeypatch.setattr(uploads, "MAX_SOUND_UPLOAD_SECONDS", 1.0)
    with pytest.raises(InputError, match=r"2 s long; uploads take at most 1 s"):
        check_sound_bytes("long.wav", _tone(seconds=2.0))
    monkeypatch.setattr(uploads, "MAX_SOUND_UPLOAD_BYTES", 1000)
    with pytest.raises(InputError, match="larger than 1,000 bytes"):
        check_sound_bytes("big.wav", _tone())


def test_the_upload_route_keeps_a_recording_the_verbs_can_read(tmp_path) -> None:
    config = StudioConfig(tmp_path / "gallery", tmp_path / "models", port=8765, token=TOKEN)
    with TestClient(create_app(config), base_url="http://127.0.0.1:8765") as client:
        files = {"file": ("voice.flac", _tone(fmt="FLAC"), "audio/flac")}
        assert client.post("/api/uploads/sound", files=files).status_code == 401
        ok = client.post("/api/uploads/sound", files=files, headers=AUTH)
        assert ok.status_code == 200, ok.text
        ref = ok.json()["id"]
        ws = client.app.state.workspace
        path = ws.sound_path(ref)
        assert path.suffix == ".flac" and soundfile.info(str(path)).frames == 4000
        with pytest.raises(InputError, match="no uploaded picture"):
            ws.picture_path(ref)  # a recording is not a picture
        bad = {"file": ("notes.wav", b"RIFF....WAVEfmt nothing", "audio/wav")}
        refused = client.post("/api/uploads/sound", files=bad, headers=AUTH)
        assert refused.status_code == 400 and "notes.wav" in refused.json()["error"]
        assert sorted(p.suffix for p in ws.uploads_dir.iterdir()) == [".flac"]  # nothing else


MODELS = Path(__file__).resolve().parents[2] / "models"


def _wait(client: TestClient, job: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = client.get(f"/api/jobs/{job}").json()
        if state["state"] in {"done", "failed", "cancelled", "interrupted"}:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not finish: {state}")


def test_an_uploaded_recording_is_seen_as_a_video_in_the_gallery(tmp_path) -> None:
    config = StudioConfig(tmp_path / "gallery", MODELS, port=8765, token=TOKEN)
    with TestClient(create_app(config), base_url="http://127.0.0.1:8765") as client:
        files = {"file": ("beat.wav", _tone(seconds=1.0, rate=22050), "audio/wav")}
        ref = client.post("/api/uploads/sound", files=files, headers=AUTH).json()["id"]
        body = {"music": ref, "model": "mnist-gan", "fps": 6, "size": "64x36", "seed": 4}
        refused = [
            ({**body, "model": "verse-poet"}, "visualise draws with a picture model"),
            ({**body, "model": "nobody"}, "no model called 'nobody'"),
            ({**body, "music": "upload:0123abcd"}, "no uploaded music or recording"),
            ({**body, "size": "65x36"}, "size must be even"),
        ]
        for bad, words in refused:
            answer = client.post("/api/visualise", json=bad, headers=AUTH)
            assert answer.status_code in (400, 404) and words in answer.json()["error"], bad
        assert client.post("/api/visualise", json=body).status_code == 401
        job = client.post("/api/visualise", json=body, headers=AUTH).json()["job"]
        state = _wait(client, job)
        assert state["state"] == "done", state
        (art,) = state["result"]["ids"]
        item = client.get(f"/api/gallery/{art}").json()
        assert item["modality"] == "video" and item["companions"] == ["poster"]
        assert item["provenance"]["args"]["seed"] == 4 and item["provenance"]["frames"] == 6
        video = client.get(f"/api/gallery/{art}/file")
        assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
        part = client.get(f"/api/gallery/{art}/file", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100  # the player can seek
        thumb = client.get(f"/api/gallery/{art}/thumb")
        assert thumb.headers["content-type"] == "image/png"
        remix = client.get(f"/api/gallery/{art}/remix")
        assert remix.status_code == 400 and "is a video" in remix.json()["error"]
