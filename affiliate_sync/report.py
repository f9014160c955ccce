"""What one sync did, for the run summary artifact, the CLI and the logs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from affiliate_sync.money import PartnerMrr


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
