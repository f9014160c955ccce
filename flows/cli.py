"""`affiliate-sync`: the operator's command line. Every command that syncs runs the Prefect flow."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from affiliate_sync.errors import AffiliateSyncError, error_code_of
from affiliate_sync.report import SyncReport

app = typer.Typer(
    name="affiliate-sync",
    help="Affiliate partner sync: HubSpot → MRR and levels → registry and dashboard cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"[Affiliate Sync] error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute and show what would change; write nothing."),
    force: bool = typer.Option(False, "--force", help="Run even within the cooldown after the last sync."),
) -> None:
    """Run the sync flow once (exit 0 on success or skip, 1 on error)."""
    from flows.sync import affiliate_hubspot_sync

    state = affiliate_hubspot_sync(dry_run=dry_run, force=force, return_state=True)
    if state.is_completed():
        result = state.result(raise_on_failure=False)
        if isinstance(result, SyncReport):
            typer.echo(f"[Affiliate Sync] ok: {result.one_line()}; cache {result.cache_path}")
        else:
            typer.echo(f"[Affiliate Sync] {state.name.lower()}: {state.message or 'nothing to do'}")
        return
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        fail(f"[{error_code_of(error)}] {error}")
    fail(f"run ended {state.name}: {state.message}")


@app.command()
def demo(
    directory: Path = typer.Option(Path("demo-data"), "--dir", help="Where the demo registry and cache go."),
    partners: int = typer.Option(300, "--partners", min=1, max=5000, help="Active partners to generate."),
    seed: int = typer.Option(1, "--seed", help="Seed of the data generator."),
) -> None:
    """Run the real sync flow against the bundled HubSpot simulator and print a summary."""
    from flows.demo import describe, run_demo

    directory = directory.absolute()
    typer.echo(f"[Affiliate Sync] demo: simulating a HubSpot portal with {partners} active partners…")
    cache = run_demo(directory, partners=partners, seed=seed)
    for line in describe(cache, directory / "affiliate_hubspot_cache.json"):
        typer.echo(line)


from flows import operate_commands  # noqa: E402  (health, verify-deployment: issue 3)

app.command("health")(operate_commands.health)
app.command("verify-deployment")(operate_commands.verify_deployment)

from flows import tool_commands  # noqa: E402  (diagnose, validate, maintenance: issue 4)

app.command("diagnose")(tool_commands.diagnose)
app.command("validate")(tool_commands.validate)
app.command("backfill-beginner")(tool_commands.backfill_beginner)
app.add_typer(tool_commands.hubspot_app, name="hubspot")


def main() -> None:
    try:
        app()
    except AffiliateSyncError as exc:
        typer.echo(f"[Affiliate Sync] error: [{exc.code}] {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
