"""A HubSpot CRM v3 simulator: real HTTP on 127.0.0.1, HubSpot's limits, injectable faults.

    from affiliate_sync.simulator import SimulatorServer, reference_load, write_registry

    with SimulatorServer(token="t", dataset=reference_load()) as sim:
        sim.inject(kind="status", status=503, endpoint="search", count=2)
        ...  # point HUBSPOT_BASE_URL at sim.url
"""

from affiliate_sync.simulator.config import DEFAULT_TOKEN, RateLimitConfig, SearchLimits, SimulatorConfig
from affiliate_sync.simulator.faults import ArmedFault, Fault, FaultBook
from affiliate_sync.simulator.generator import (
    CUSTOM_PIPELINE_ID,
    CUSTOM_WON_STAGE_ID,
    Dataset,
    generate,
    load_into,
    reference_load,
    write_registry,
)
from affiliate_sync.simulator.server import SimulatorServer
from affiliate_sync.simulator.stats import Stats
from affiliate_sync.simulator.store import Record, Store

__all__ = [
    "CUSTOM_PIPELINE_ID",
    "CUSTOM_WON_STAGE_ID",
    "DEFAULT_TOKEN",
    "ArmedFault",
    "Dataset",
    "Fault",
    "FaultBook",
    "RateLimitConfig",
    "Record",
    "SearchLimits",
    "SimulatorConfig",
    "SimulatorServer",
    "Stats",
    "Store",
    "generate",
    "load_into",
    "reference_load",
    "write_registry",
]
