"""Design and games: sprites and portraits from game art, palettes, sprite sheets."""
