"""Stand up affiliate-sync on a Prefect server: work pool, blocks, deployments. Idempotent.

Run from anywhere, with PREFECT_API_URL pointing at the server (e.g. http://127.0.0.1:4200/api):

    .venv/bin/python deployments/setup.py --token-from-env --smtp-from-env

1. creates the process work pool `affiliate-sync` (if missing);
2. with --token-from-env: stores $HUBSPOT_API_TOKEN in the Secret block `hubspot-api-token`
   (the flow loads it inside the run; it is never a job variable);
3. with --smtp-from-env: stores AFFILIATE_SMTP_HOST/PORT/TYPE/USERNAME/PASSWORD in the
   prefect-email EmailServerCredentials block `affiliate-sync-smtp`;
4. runs `prefect --no-prompt deploy --all` in the project directory with AFFILIATE_SYNC_DIR set
   to it, so the deployments' pull step points at this checkout;
5. prints how to start the worker and verify the install.

Nothing here prints a secret. Exit 0 on success, 1 on the first failed step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_POOL = "affiliate-sync"
TOKEN_BLOCK = "hubspot-api-token"
EMAIL_BLOCK = "affiliate-sync-smtp"


def say(message: str) -> None:
    print(f"[Affiliate Sync] setup: {message}", flush=True)


async def ensure_work_pool(name: str, pool_type: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            pool = await client.read_work_pool(name)
            say(f"work pool {name!r} exists (type {pool.type})")
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
            say(f"work pool {name!r} created (type {pool_type})")


async def save_token_block(name: str) -> None:
    from prefect.blocks.system import Secret

    token = os.environ.get("HUBSPOT_API_TOKEN", "").strip()
    if not token:
        raise SystemExit("HUBSPOT_API_TOKEN is not set: export it for --token-from-env")
    await Secret(value=token).save(name, overwrite=True)
    say(f"Secret block {name!r} saved (token ending …{token[-4:]})")


async def save_email_block(name: str) -> None:
    from prefect_email import EmailServerCredentials

    host = os.environ.get("AFFILIATE_SMTP_HOST", "").strip()
    if not host:
        raise SystemExit("AFFILIATE_SMTP_HOST is not set: export the AFFILIATE_SMTP_* variables for --smtp-from-env")
    fields: dict[str, object] = {
        "smtp_server": host,
        "smtp_type": os.environ.get("AFFILIATE_SMTP_TYPE", "STARTTLS"),
    }
    if port := os.environ.get("AFFILIATE_SMTP_PORT"):
        fields["smtp_port"] = int(port)
    if username := os.environ.get("AFFILIATE_SMTP_USERNAME"):
        fields["username"] = username
    if password := os.environ.get("AFFILIATE_SMTP_PASSWORD"):
        fields["password"] = password
    await EmailServerCredentials(**fields).save(name, overwrite=True)
    say(f"EmailServerCredentials block {name!r} saved ({host}:{fields.get('smtp_port', 'default port')}, "
        f"{fields['smtp_type']})")


def deploy(project_dir: Path, names: list[str]) -> None:
    env = {**os.environ, "AFFILIATE_SYNC_DIR": str(project_dir)}
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "--no-prompt", "deploy"]
    command += [arg for name in names for arg in ("--name", name)] if names else ["--all"]
    say(f"deploying from {project_dir / 'prefect.yaml'}: {' '.join(command[1:])}")
    result = subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"prefect deploy failed (exit {result.returncode})")
    for line in result.stdout.splitlines():
        if "successfully created" in line or "Deployment '" in line:
            say(line.strip(" │"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-pool", default=WORK_POOL)
    parser.add_argument("--pool-type", default="process", help="process (default), docker or kubernetes")
    parser.add_argument("--token-from-env", action="store_true", help=f"save $HUBSPOT_API_TOKEN as Secret {TOKEN_BLOCK!r}")
    parser.add_argument("--smtp-from-env", action="store_true", help=f"save AFFILIATE_SMTP_* as block {EMAIL_BLOCK!r}")
    parser.add_argument("--no-deploy", action="store_true", help="only the pool and the blocks")
    parser.add_argument("--name", action="append", default=[], help="deploy only this deployment (repeatable)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)

    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    if not api:
        say("PREFECT_API_URL is not set: point it at your Prefect server, e.g. "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`")
        return 1
    say(f"Prefect API {api}")

    async def blocks_and_pool() -> None:
        await ensure_work_pool(args.work_pool, args.pool_type)
        if args.token_from_env:
            await save_token_block(TOKEN_BLOCK)
        if args.smtp_from_env:
            await save_email_block(EMAIL_BLOCK)

    asyncio.run(blocks_and_pool())
    if not args.no_deploy:
        deploy(args.project_dir.resolve(), args.name)
    say("done. Next:")
    print(f"  prefect worker start --pool {args.work_pool}     # on the host that has the registry and cache\n"
          "  affiliate-sync verify-deployment                 # every check must PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
