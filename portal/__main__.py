"""``python -m portal``: serve the workspace (``PORTAL_*`` settings)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import PortalSettings


def main() -> None:
    settings = PortalSettings()
    app = create_app(settings)
    level = settings.log_level.lower()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=level, access_log=False)


if __name__ == "__main__":
    main()
