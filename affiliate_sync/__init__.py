"""affiliate-sync domain package: HubSpot client, money and levels, registry and cache I/O.

Nothing in this package imports Prefect, so every rule here is testable without a server.
"""

__version__ = "0.1.0"
