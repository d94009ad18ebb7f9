"""Building blocks shared by model kinds."""
