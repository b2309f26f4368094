"""`christmas-tasks serve`: the edge on uvicorn. The settings are checked here first, so a mistyped one fails at once
naming it (exit 2), before any worker starts; each worker then builds the app from the same environment.

uvicorn's access log is off: a request line carries the unsubscribe link's address and token. The edge writes its own
line per refusal and per forward (`christmas_tasks.edge`), naming the sender and the reason, never a secret or body.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from christmas_tasks.entrypoints.edge.config import EdgeSettings

APP = "christmas_tasks.entrypoints.edge.app:from_environment"


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with the edge's own logger beside it, one line per record on standard error."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["christmas_tasks.edge"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["formatters"]["default"]["fmt"] = "%(asctime)s %(levelprefix)s %(message)s"
    return config


def serve(env: Mapping[str, str], host: str | None = None, port: int | None = None, workers: int = 1) -> int:
    settings = EdgeSettings.from_env(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    import uvicorn

    uvicorn.run(
        APP,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=max(1, workers),
        access_log=False,
        server_header=False,
        log_config=log_config(),
    )
    return 0
