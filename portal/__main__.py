"""``python -m portal``: serve the workspace (``PORTAL_*`` settings)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import PortalSettings


def main() -> None:
    settings = PortalSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False
    )


if __name__ == "__main__":
    main()
