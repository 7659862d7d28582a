"""csv-dmap shared layer: models, configuration, observability and data access
used by every function of the application."""

__version__ = "0.1.0"
