"""Quality gates: evaluation corpora built from real text and code, the detectors and the
drift engine scored on them, and the targets (thresholds) that the tests import."""
