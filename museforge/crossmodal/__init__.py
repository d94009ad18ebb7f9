"""Words and pictures together: captioned data sets, and the models that learn from them."""
