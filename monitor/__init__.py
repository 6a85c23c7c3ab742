"""canary-monitor: an output-quality canary for LLM serving fleets."""

from __future__ import annotations

__version__ = "0.1.0"
