"""Single-machine runner of csv-dmap: runs statemachine/definition.asl.json with
the functions of template.yaml in-process, AWS APIs served by moto and the
database on SQLite or any SQLAlchemy URL (DESIGN.md section 5)."""

# The region and account every local stand-in (moto, ARNs, contexts) uses.
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
