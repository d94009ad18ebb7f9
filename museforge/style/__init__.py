"""Neural style transfer and texture design."""
