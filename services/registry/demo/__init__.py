"""Demo data: a deterministic synthetic dataset of the two regions, and loading it.

:mod:`.dataset` generates (no I/O); :mod:`.loading` loads the demo through the domain functions,
so every record also emits its event; :mod:`.bulk` writes national-scale data for benchmarks
straight into the tables.
"""

from .dataset import DemoDataset, generate
from .loading import demo_organizations, load

__all__ = ["DemoDataset", "demo_organizations", "generate", "load"]
