"""Benchmarks (make bench), the cost model (make cost) and the capacity model (make capacity). Not tests: figures.

Like every part of the project, it imports the layer (``csv_dmap``) from the editable install
(``make install``: ``pip install -e .``). Nothing in ``bench`` imports the test suite."""
