"""The flow tests' world: a generated programme served by the simulator, wired through §7 variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from affiliate_sync.simulator import Dataset, SimulatorServer

TOKEN = "pat-test-4f1c9e7d-SECRET-token"


@dataclass
class Programme:
    simulator: SimulatorServer
    dataset: Dataset
    registry_path: Path
    cache_path: Path
