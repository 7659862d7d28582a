"""Benchmarks (make bench) and the cost model (make cost). Not tests: figures."""
