"""What everything else stands on: the registry of datasets and models, the config, the
data, the SE-CNN itself, its checkpoints and inference. Imports nothing above it."""
