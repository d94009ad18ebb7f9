# museforge: `make run` (set up, then the main job) and `make test` (set up, then the tests).
# Works on a fresh Debian machine as root; no GPU needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the features need: the built-in poem corpora and a word list (text), the
# browser the studio's end-to-end tests drive through Playwright, and FluidSynth with the General MIDI
# soundfont for music audio (without them music falls back to a built-in synth); colour
# emoji with their CLDR names, Open Clip Art and a CJK font (captioned pictures; Chinese in
# the browser); Battle for Wesnoth's unit art (sprites and portraits), fonts for the glyphs
# set and potrace for SVG outlines of set type.
DEB_PACKAGES := fortunes fortunes-zh wamerican chromium fluidsynth fluid-soundfont-gm \
	fonts-noto-color-emoji unicode-cldr-core openclipart-png fonts-noto-cjk \
	wesnoth-1.16-data potrace fonts-noto-core fonts-dejavu-core fonts-dejavu-extra fonts-liberation \
	fonts-lato lilypond

.PHONY: install system-deps run test bench clean

install: system-deps $(STAMP)

$(STAMP): pyproject.toml
	@# Debian's python3 ships venv separately.
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU wheel on local disk, never a multi-GB CUDA download.
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

# The demo fills the gallery with a first few artworks; then the studio opens on
# 127.0.0.1 and prints its address with the launch token (Ctrl-C stops it).
run: install
	$(BIN)/museforge demo
	$(BIN)/museforge studio

test: install
	$(BIN)/ruff check museforge tests
	$(BIN)/ruff format --check museforge tests
	$(BIN)/python -m pytest

bench: install
	$(BIN)/museforge bench image --budget 5m --json bench-results/image.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
