"""The gateway's federation engine: the supergraph, query plans, their execution."""
