"""Single-machine runner of csv-dmap: runs statemachine/definition.asl.json with
the functions of template.yaml in-process, AWS APIs served by moto and the
database on SQLite or any SQLAlchemy URL (DESIGN.md section 5)."""
