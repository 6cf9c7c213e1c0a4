"""Container entry point: `python -m rvlocal.backend.serve backend|sink [--port N]`.

Runs uvicorn with every line as JSON (start-up and errors included) and no uvicorn access
log: the app's middleware writes access lines that carry the route template and the trace.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from prometheus_client import disable_created_metrics

from rvlocal.backend.logs import uvicorn_log_config

APPS = {
    "backend": ("rvlocal.backend.app:create_app", 8000, "receipt-vault-backend"),
    "sink": ("rvlocal.backend.sink:create_app", 9099, "rvlocal-alert-sink"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rvlocal.backend.serve")
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    factory, port, service = APPS[args.app]
    # `_created` series would double every counter and histogram in Prometheus for nothing.
    disable_created_metrics()
    uvicorn.run(factory, factory=True, host=args.host, port=args.port or port, access_log=False,
                log_config=uvicorn_log_config(os.environ.get("RV_SERVICE", service)))


if __name__ == "__main__":
    main()
