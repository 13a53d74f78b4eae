from setka_runtime.deferred import deferred_metadata
from setka_runtime.migrations import run_env
from setka_runtime.tables import plumbing_metadata

from services.events.models import metadata
from services.events.notifications import models as _notifications  # noqa: F401  (its tables)

run_env([plumbing_metadata, deferred_metadata, metadata])
