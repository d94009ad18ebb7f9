"""The spine shared by every modality: artifacts, registry, trainer, data, devices, seeds."""
