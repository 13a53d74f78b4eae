"""Benchmarks of the registry: they measure and print ratios against a reference measured in the
same run on the same data; they assert nothing about timings and are not part of ``make test``.
"""
