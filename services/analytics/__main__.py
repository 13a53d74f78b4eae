from setka_runtime.cli import main

from .app import ENTRY

main(ENTRY)
