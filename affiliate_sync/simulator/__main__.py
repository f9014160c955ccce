"""`python -m affiliate_sync.simulator`: serve generated data until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE
from affiliate_sync.simulator.config import DEFAULT_TOKEN
from affiliate_sync.simulator.generator import generate, reference_load, write_registry
from affiliate_sync.simulator.server import SimulatorServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m affiliate_sync.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--partners", type=int, default=300, help="active partners to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token to accept")
    parser.add_argument("--registry-out", type=Path, help="write the matching registry file here")
    parser.add_argument("--registry-shape", choices=("list", "dict", "wrapped"), default="list")
    parser.add_argument("--partner-object-type", default=DEFAULT_PARTNER_OBJECT_TYPE)
    parser.add_argument("--reference", action="store_true", help="serve the reference load instead")
    parser.add_argument("--big", action="store_true", help="with --reference: one partner past 10,000 contacts")
    parser.add_argument("--no-rate-limits", action="store_true", help="never answer 429 on its own")
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    if args.reference:
        dataset = reference_load(seed=args.seed, big=args.big)
    else:
        n = max(args.partners, 1)
        dataset = generate(
            seed=args.seed,
            n_active=n,
            n_inactive=max(n // 10, 1),
            n_pending=max(n // 20, 1),
            contacts_attributed=n * 20,
            contacts_unattributed=n * 10,
            deals=n * 5,
            partner_object_type=args.partner_object_type,
        )
    dataset.partner_object_type = args.partner_object_type
    server = SimulatorServer(
        token=args.token,
        port=args.port,
        rate_limits=not args.no_rate_limits,
        partner_object_type=args.partner_object_type,
        dataset=dataset,
    )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    server.start()
    if args.registry_out:
        write_registry(args.registry_out, dataset, shape=args.registry_shape)
        print(f"registry: {args.registry_out}", flush=True)
    print(f"HubSpot simulator on {server.url}: {dataset.summary()}", flush=True)
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
