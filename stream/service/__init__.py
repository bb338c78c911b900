"""The multi-camera service: a config file, shared batched engines, recording, restream, control API."""
