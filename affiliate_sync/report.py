"""What one sync did, for the run summary artifact, the CLI and the logs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from affiliate_sync.attribution import Attribution
from affiliate_sync.errors import HubSpotRejectedError
from affiliate_sync.hubspot import ClientStats
from affiliate_sync.money import PartnerMrr
from affiliate_sync.registry import Registry, RegistryWriteResult
from affiliate_sync.writeback import WriteBackResult


class LevelMove(BaseModel):
    partner_id: str
    name: str
    old_level: str | None
    new_level: str
    won_deals_in_window: int


class SyncReport(BaseModel):
    """The figures ops look at after a run; amounts in EUR as decimal strings."""

    dry_run: bool = False
    partners: int = 0
    leads: int = 0
    deals: int = 0
    won_deals: int = 0
    total_mrr: Decimal = Decimal("0.00")
    active_mrr: Decimal = Decimal("0.00")
    paused_mrr: Decimal = Decimal("0.00")
    cancelled_mrr: Decimal = Decimal("0.00")
    api_calls: int = 0
    rate_limited_429s: int = 0
    duration_seconds: float = 0.0
    level_moves: list[LevelMove] = Field(default_factory=list)
    without_hubspot_record: list[str] = Field(default_factory=list)
    hubspot_write_failures: dict[str, str] = Field(default_factory=dict)
    hubspot_changes: int = 0
    registry_changes: int = 0
    unknown_partner_ids: int = 0
    cache_path: str = ""

    def add_money(self, mrr: Mapping[str, PartnerMrr]) -> None:
        for row in mrr.values():
            self.won_deals += row.total_deals
            self.total_mrr += row.total_mrr
            self.active_mrr += row.active_mrr
            self.paused_mrr += row.paused_mrr
            self.cancelled_mrr += row.cancelled_mrr

    def table_rows(self) -> list[dict[str, Any]]:
        """Rows for the summary table artifact: one metric per row."""
        rows = [
            ("mode", "dry run (nothing written)" if self.dry_run else "live"),
            ("active partners", self.partners),
            ("leads (contacts)", self.leads),
            ("deals", self.deals),
            ("won deals", self.won_deals),
            ("total MRR share (EUR)", f"{self.total_mrr:.2f}"),
            ("active MRR share (EUR)", f"{self.active_mrr:.2f}"),
            ("paused MRR share (EUR)", f"{self.paused_mrr:.2f}"),
            ("cancelled MRR share (EUR)", f"{self.cancelled_mrr:.2f}"),
            ("level changes", len(self.level_moves)),
            ("HubSpot records changed", self.hubspot_changes),
            ("partners without HubSpot record", len(self.without_hubspot_record)),
            ("HubSpot write failures", len(self.hubspot_write_failures)),
            ("registry entries changed", self.registry_changes),
            ("HubSpot API calls", self.api_calls),
            ("429s absorbed", self.rate_limited_429s),
            ("duration (s)", f"{self.duration_seconds:.1f}"),
        ]
        return [{"metric": metric, "value": str(value)} for metric, value in rows]

    def level_changes_markdown(self) -> str:
        title = "# Level changes" + (" (dry run: not written)" if self.dry_run else "")
        if not self.level_moves:
            return f"{title}\n\nNo partner changed level."
        lines = [title, "", "| partner | name | from | to | won deals in window |", "|---|---|---|---|---|"]
        for move in sorted(self.level_moves, key=lambda m: m.partner_id):
            name = move.name.replace("|", "\\|")
            lines.append(
                f"| {move.partner_id} | {name} | {move.old_level or '—'} | {move.new_level} | {move.won_deals_in_window} |"
            )
        if self.without_hubspot_record:
            lines += ["", "## Partners without a HubSpot record", ""]
            lines += [f"- {pid}" for pid in self.without_hubspot_record]
        if self.hubspot_write_failures:
            lines += ["", "## HubSpot write failures", ""]
            lines += [f"- {pid}: {why}" for pid, why in sorted(self.hubspot_write_failures.items())]
        return "\n".join(lines)

    def one_line(self) -> str:
        return (
            f"{'dry run: ' if self.dry_run else ''}{self.partners} partners, {self.leads} leads, "
            f"{self.deals} deals, total MRR share {self.total_mrr:.2f} EUR, "
            f"{len(self.level_moves)} level changes, {self.api_calls} API calls, "
            f"{self.rate_limited_429s} 429s, {self.duration_seconds:.1f} s"
        )

    def raise_for_rejections(self) -> None:
        """Fail the run (after cache and registry are written) when HubSpot refused updates."""
        if self.hubspot_write_failures:
            examples = "; ".join(f"{pid}: {why}" for pid, why in sorted(self.hubspot_write_failures.items())[:5])
            raise HubSpotRejectedError(
                f"HubSpot refused the level update for {len(self.hubspot_write_failures)} partner(s) "
                f"(cache and registry were written): {examples}"
            )


def build_report(
    *,
    registry: Registry,
    leads: Attribution,
    deals: Attribution,
    mrr: Mapping[str, PartnerMrr],
    pushed: WriteBackResult,
    written: RegistryWriteResult,
    api: ClientStats,
    dry_run: bool,
    cache_path: Path,
    duration_seconds: float,
) -> SyncReport:
    """Assemble the run's figures from what each stage returned."""
    report = SyncReport(
        dry_run=dry_run,
        partners=len(registry.active),
        leads=leads.record_count,
        deals=deals.record_count,
        level_moves=[
            LevelMove(partner_id=p.partner_id, name=p.name, old_level=p.level, new_level=mrr[p.partner_id].level,
                      won_deals_in_window=mrr[p.partner_id].won_deals_in_window)
            for p in registry.active
            if p.level != mrr[p.partner_id].level
        ],
        without_hubspot_record=pushed.without_record,
        hubspot_write_failures=pushed.failed,
        hubspot_changes=len(pushed.hubspot_changes),
        registry_changes=len(written.changed),
        unknown_partner_ids=len(leads.unknown_ids | deals.unknown_ids),
        api_calls=api.total_calls,
        rate_limited_429s=api.total_rate_limited,
        duration_seconds=duration_seconds,
        cache_path=str(cache_path),
    )
    report.add_money(mrr)
    return report
