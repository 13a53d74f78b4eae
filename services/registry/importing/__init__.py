"""The operator's import of organizations, educators and network memberships from CSV and XLSX.

:mod:`.reading` opens files (formats, encodings, separators), :mod:`.mapping` turns headers and
cell words into our fields, :mod:`.apply` upserts rows through the domain functions,
:mod:`.engine` runs them in atomic chunks, :mod:`.cli` is the ``import`` command.
"""
