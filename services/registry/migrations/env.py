from setka_runtime.migrations import run_env
from setka_runtime.tables import plumbing_metadata

from services.registry.models import metadata

run_env([plumbing_metadata, metadata])
