"""Frame interpolation: triplet data from real clips, the synthesis network's training, export and
evaluation (``ganstream train interp``, ``ganstream eval interp``)."""
