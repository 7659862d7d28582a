"""Per-function settings: each function reads exactly its variables, validated at cold start."""

from __future__ import annotations

import pytest

from csv_dmap import config, runtime
from csv_dmap.errors import ConfigurationError
from local_runner.template import load_template
from tests.deploy.functions import handler_module

# the function folder -> the settings model its handler loads (written here, not read from the code)
MODELS: dict[str, type[config.EnvSettings]] = {
    "worker": config.WorkerSettings,
    "validate_input": config.ValidateSettings,
    "concurrency_calculator": config.PlanSettings,
    "error_aggregator": config.AggregateSettings,
    "daily_report": config.ReportSettings,
    "start_run": config.StartRunSettings,
    "run_status": config.RunStatusSettings,
    "schema_migrator": config.MigratorSettings,
}
# variables of the Lambda runtime and of Powertools, read by them rather than by our models
PLATFORM = ("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN_")


def _environments() -> dict[str, set[str]]:
    resources = load_template()["Resources"]
    globals_env = set(load_template()["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    out = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        folder = props["CodeUri"].strip("/").split("/")[-1]
        out[folder] = globals_env | set((props.get("Environment") or {}).get("Variables", {}))
    return out


def test_every_function_of_the_template_has_a_settings_model():
    assert set(_environments()) == set(MODELS)


@pytest.mark.parametrize("folder", sorted(MODELS))
def test_a_function_is_given_only_the_variables_its_model_reads(folder):
    given = _environments()[folder]
    unread = {name for name in given if not name.startswith(PLATFORM)} - MODELS[folder].aliases()
    assert unread == set(), f"{folder} is given {sorted(unread)} which its settings never read"


@pytest.mark.parametrize("folder", sorted(MODELS))
def test_every_required_setting_of_a_function_is_provided_by_the_template(folder):
    model = MODELS[folder]
    required = {f.alias for f in model.model_fields.values() if f.is_required()}
    assert required <= _environments()[folder]


def test_the_variable_nothing_read_is_given_to_no_function():
    # INPUT_BUCKET (and STAGE) were in Globals for every function, and no code read them
    every_alias = set().union(*(m.aliases() for m in MODELS.values()))
    assert "INPUT_BUCKET" not in every_alias and "STAGE" not in every_alias
    assert all("INPUT_BUCKET" not in env and "STAGE" not in env for env in _environments().values())


def test_models_hold_only_their_functions_fields():
    assert "unknown_user_policy" not in config.PlanSettings.model_fields
    assert "audit_table_name" not in config.ReportSettings.model_fields  # the aggregator repairs audit items
    assert "database_url" not in config.ReportSettings.model_fields
    assert config.DatabaseSettings.aliases() <= config.WorkerSettings.aliases()
    assert config.MigratorSettings.aliases() == config.DatabaseSettings.aliases()
    assert config.StartRunSettings.aliases() == {"STATE_MACHINE_ARN"}


def test_a_wrong_value_is_one_line_naming_the_variable_and_what_is_wrong():
    with pytest.raises(ConfigurationError) as caught:
        config.WorkerSettings.from_env({"AUDIT_TTL_DAYS": "half a year"})
    message = str(caught.value)
    assert (
        message
        == "WorkerSettings: AUDIT_TTL_DAYS='half a year': Input should be a valid integer, unable to parse string as an integer"
    )
    assert "\n" not in message and caught.value.__cause__ is None


def test_a_value_out_of_range_and_a_bad_choice_are_named_too():
    with pytest.raises(
        ConfigurationError, match=r"^PlanSettings: MAX_ITEMS_PER_BATCH='0': Input should be greater than or equal to 1$"
    ):
        config.PlanSettings.from_env({"MAX_ITEMS_PER_BATCH": "0"})
    with pytest.raises(
        ConfigurationError,
        match=r"^WorkerSettings: UNKNOWN_USER_POLICY='IGNORE': Input should be 'FAIL' or 'CREATE'$",
    ):
        config.WorkerSettings.from_env({"UNKNOWN_USER_POLICY": "IGNORE"})
    with pytest.raises(ConfigurationError, match=r"^WorkerSettings: [A-Z_]+='[A-Za-z]+': .* \(and 1 more\)$"):
        config.WorkerSettings.from_env({"UNKNOWN_USER_POLICY": "IGNORE", "DB_PORT": "x"})


def test_empty_values_mean_not_set_and_other_functions_variables_are_ignored():
    settings = config.ReportSettings.from_env({"RESULTS_BUCKET": "", "MAX_INPUT_BYTES": "nonsense"})
    assert settings.results_bucket is None and settings.report_timezone == "Asia/Tokyo"


def test_a_misconfigured_function_fails_when_its_module_loads(monkeypatch):
    monkeypatch.setenv("TOLERATED_FAILURE_PERCENTAGE", "101")
    runtime.reset()
    try:
        with pytest.raises(ConfigurationError, match=r"^AggregateSettings: TOLERATED_FAILURE_PERCENTAGE='101': "):
            handler_module("error_aggregator")
        handler_module("daily_report")  # a function that does not read it is not concerned
    finally:
        monkeypatch.undo()
        runtime.reset()


def test_loaded_settings_are_cached_until_reset(monkeypatch):
    monkeypatch.setenv("REPORT_TIMEZONE", "UTC")
    runtime.reset()
    try:
        first = config.load(config.ReportSettings)
        monkeypatch.setenv("REPORT_TIMEZONE", "Europe/Paris")
        assert config.load(config.ReportSettings) is first and first.report_timezone == "UTC"  # a warm container
        runtime.reset()
        assert config.load(config.ReportSettings).report_timezone == "Europe/Paris"
    finally:
        monkeypatch.undo()
        runtime.reset()


def test_a_misconfigured_migrator_still_loads_and_its_request_fails_with_the_one_line(monkeypatch):
    # a custom resource that dies at import never answers CloudFormation: the migrator fails the request instead
    monkeypatch.setenv("DB_PORT", "not-a-port")
    runtime.reset()
    try:
        app = handler_module("schema_migrator")
        with pytest.raises(ConfigurationError, match=r"^MigratorSettings: DB_PORT='not-a-port': "):
            app.migrate(None)
    finally:
        monkeypatch.undo()
        runtime.reset()
