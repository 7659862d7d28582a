"""The project harness of csv-dmap: runs statemachine/definition.asl.json (through the
generic ``asl_runner``) with the functions of template.yaml in-process, AWS APIs served
by moto and the database on SQLite or any SQLAlchemy URL."""

# The region and account every local stand-in (moto, ARNs, contexts) uses.
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
