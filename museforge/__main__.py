"""``python -m museforge`` is the CLI (used by torchrun, which needs a module or script)."""

from museforge.cli import main

main()
