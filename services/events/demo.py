"""placeholder"""

from setka_runtime.db import Database


async def load_when_ready(db: Database) -> None:
    return None
