"""The validation rules of `load_environment`, called directly (no process start needed)."""

import pytest

from chatdesk.config.env import (
    DEV_ENCRYPTION_KEY,
    DEV_SECRET_KEY,
    E_DEBUG,
    E_DEV_FEATURE,
    E_HOSTS,
    E_INVALID,
    E_LOCAL_URL,
    E_MISSING,
    E_SQLITE,
    E_WEAK_SECRET,
    load_environment,
    mask,
    mask_url,
)
from tests.config.helpers import (
    FERNET_KEY,
    PRODUCTION_DEFAULTS,
    REQUIRED_IN_PRODUCTION,
    VALID_PRODUCTION,
)


def codes(environment):
    return [(p.code, p.variable) for p in environment.problems]


def test_production_with_development_defaults_reports_every_missing_variable_at_once():
    environment = load_environment(PRODUCTION_DEFAULTS)

    missing = {p.variable for p in environment.problems if p.code == E_MISSING}
    assert missing == set(REQUIRED_IN_PRODUCTION)
    assert (E_DEV_FEATURE, "EMAIL_PROVIDER") in codes(environment)
    assert environment.blocking == environment.problems
    for problem in environment.problems:
        assert problem.fix, problem
        assert problem.variable in problem.render()


def test_fully_valid_production_environment_has_no_problem():
    environment = load_environment(VALID_PRODUCTION)

    assert environment.problems == []
    assert environment.settings.is_production
    assert environment.settings.debug is False


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DEBUG": "true"}, (E_DEBUG, "DEBUG")),
        ({"SECRET_KEY": "Zq8vN3kLw9Xr2Tf7Yp4H"}, (E_WEAK_SECRET, "SECRET_KEY")),
        ({"SECRET_KEY": DEV_SECRET_KEY}, (E_WEAK_SECRET, "SECRET_KEY")),
        (
            {"SECRET_KEY": "Zq8vN3kLw9Xr2Tf7Yp4Hm6Jc1Bd5Gs0Ua8Ke3Wn7Rx2-test-Vy9Lq4Pt6Mh1Cj5Fb"},
            (E_WEAK_SECRET, "SECRET_KEY"),
        ),
        ({"SECRET_KEY": "a" * 60}, (E_WEAK_SECRET, "SECRET_KEY")),
        ({"APP_BASE_URL": "http://crm.example.com"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://localhost"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://127.0.0.2"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://[::1]:8443"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://foo.local"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://127.1"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"APP_BASE_URL": "https://0.0.0.0"}, (E_LOCAL_URL, "APP_BASE_URL")),
        ({"LLM_BASE_URL": "http://llm.example.com/v1"}, (E_LOCAL_URL, "LLM_BASE_URL")),
        ({"LLM_BASE_URL": "https://localhost:11434/v1"}, (E_LOCAL_URL, "LLM_BASE_URL")),
        (
            {"WHATSAPP_GRAPH_BASE_URL": "http://graph.facebook.com"},
            (E_LOCAL_URL, "WHATSAPP_GRAPH_BASE_URL"),
        ),
        (
            {"WHATSAPP_GRAPH_BASE_URL": "http://127.0.0.1:8025"},
            (E_LOCAL_URL, "WHATSAPP_GRAPH_BASE_URL"),
        ),
        ({"KAPSO_API_BASE_URL": "http://api.kapso.ai"}, (E_LOCAL_URL, "KAPSO_API_BASE_URL")),
        ({"KAPSO_API_BASE_URL": "https://kapso.local"}, (E_LOCAL_URL, "KAPSO_API_BASE_URL")),
        (
            {"ALERT_SLACK_WEBHOOK_URL": "http://hooks.slack.com/services/T0/B0/x"},
            (E_LOCAL_URL, "ALERT_SLACK_WEBHOOK_URL"),
        ),
        (
            {"ALERT_SLACK_WEBHOOK_URL": "https://[::1]/hook"},
            (E_LOCAL_URL, "ALERT_SLACK_WEBHOOK_URL"),
        ),
        ({"DATABASE_URL": "sqlite:////srv/chatdesk/db.sqlite3"}, (E_SQLITE, "DATABASE_URL")),
        ({"SIMULATOR_ENABLED": "true"}, (E_DEV_FEATURE, "SIMULATOR_ENABLED")),
        ({"EMAIL_PROVIDER": "console"}, (E_DEV_FEATURE, "EMAIL_PROVIDER")),
        ({"ALLOWED_HOSTS": "*"}, (E_HOSTS, "ALLOWED_HOSTS")),
        (
            {"ENCRYPTION_KEYS": f"{FERNET_KEY},{DEV_ENCRYPTION_KEY}"},
            (E_WEAK_SECRET, "ENCRYPTION_KEYS"),
        ),
    ],
)
def test_each_single_bad_production_value_yields_exactly_its_problem(overrides, expected):
    environment = load_environment({**VALID_PRODUCTION, **overrides})

    assert codes(environment) == [expected]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LLM_TIMEOUT_SECONDS", "abc", "valid integer"),
        ("LLM_TIMEOUT_SECONDS", "0", "greater than or equal to 1"),
        ("APP_BASE_URL", "not a url", "absolute http(s) URL"),
        ("ENCRYPTION_KEYS", "bad", "not a valid Fernet key"),
        ("DATABASE_URL", "mysql://db.example.com/chatdesk", "postgres://"),
        ("REDIS_URL", "http://redis.example.com", "redis://"),
        ("DEBUG", "maybe", "boolean"),
        ("APP_ENV", "prod", "development"),
        ("LOG_LEVEL", "loud", "DEBUG, INFO"),
    ],
)
def test_invalid_value_is_a_clear_problem_naming_the_variable_in_development(variable, value, says):
    environment = load_environment({variable: value})

    assert codes(environment) == [(E_INVALID, variable)]
    problem = environment.problems[0]
    assert problem.invalid
    assert says in problem.message
    assert environment.blocking == [problem]


def test_invalid_values_are_all_reported_and_the_valid_ones_still_read():
    environment = load_environment(
        {
            "LLM_TIMEOUT_SECONDS": "abc",
            "APP_BASE_URL": "not a url",
            "ENCRYPTION_KEYS": "bad",
            "LLM_MODEL": "gpt-placeholder",
        }
    )

    assert sorted(codes(environment)) == [
        (E_INVALID, "APP_BASE_URL"),
        (E_INVALID, "ENCRYPTION_KEYS"),
        (E_INVALID, "LLM_TIMEOUT_SECONDS"),
    ]
    assert environment.settings.LLM_MODEL == "gpt-placeholder"
    assert environment.settings.LLM_TIMEOUT_SECONDS == 15


def test_invalid_values_are_problems_in_production_alongside_the_production_rules():
    environment = load_environment(
        {**VALID_PRODUCTION, "DEBUG": "true", "LLM_TIMEOUT_SECONDS": "x"}
    )

    assert sorted(codes(environment)) == [(E_DEBUG, "DEBUG"), (E_INVALID, "LLM_TIMEOUT_SECONDS")]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ENCRYPTION_KEYS", "not-a-fernet-key"), ("EMAIL_PROVIDER", "smtp"), ("DEBUG", "maybe")],
)
def test_an_invalid_value_in_production_is_not_also_judged_as_its_development_default(
    variable, value
):
    environment = load_environment({**VALID_PRODUCTION, variable: value})

    assert codes(environment) == [(E_INVALID, variable)]


def test_environment_is_read_only_from_the_mapping_given(monkeypatch):
    # pydantic-settings would otherwise also read os.environ, resurrecting a dropped bad value.
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "abc")
    monkeypatch.setenv("LLM_MODEL", "from-the-process")

    environment = load_environment({"APP_ENV": "development"})

    assert environment.problems == []
    assert environment.settings.LLM_MODEL is None


def test_a_url_with_credentials_is_never_echoed_in_its_error():
    environment = load_environment(
        {"LLM_BASE_URL": "https://bot:Llm-pass-90210@llm.example.com:notaport/v1"}
    )

    (problem,) = environment.problems
    assert "invalid port" in problem.message
    assert "Llm-pass-90210" not in problem.render()


def test_an_invalid_secret_is_never_echoed_in_its_error():
    environment = load_environment(
        {
            "ENCRYPTION_KEYS": "Enc-key-not-fernet-31337",
            "ALERT_SLACK_WEBHOOK_URL": "ftp://hooks.slack.com/services/Slack-token-8086",
        }
    )

    rendered = " ".join(p.render() for p in environment.problems)
    assert len(environment.problems) == 2
    assert "Enc-key-not-fernet-31337" not in rendered
    assert "Slack-token-8086" not in rendered


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("sk_live_SUPERSECRETVALUE9f2a", "sk_live_…9f2a"),
        ("re_123456789abcdefgh", "re_…efgh"),
        ("sk-proj-abcdefghijklmnopqrstu", "sk-proj-…rstu"),
        # A label is shown only when it leaves most of the secret hidden.
        ("abcdef_ghijkl_mnop", "…mnop"),
        (FERNET_KEY, f"…{FERNET_KEY[-4:]}"),
        ("shortsecret1", "…ret1"),
        ("9charsxyz", "…yz"),
        ("1234567", "…"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_shows_a_label_and_the_last_characters_only(secret, masked):
    assert mask(secret) == masked


def test_mask_never_reveals_more_than_a_label_and_four_characters():
    secret = "sk_live_SUPERSECRETVALUE9f2a"

    shown = mask(secret)

    assert "SUPERSECRET" not in shown
    assert len(shown.replace("…", "")) <= len("sk_live_") + 4


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgres://chatdesk:Pg-pass-4711@db.example.com:5432/chatdesk",
            "postgres://chatdesk:…@db.example.com:5432/chatdesk",
        ),
        ("redis://:Redis-pass-42@redis.example.com:6379/0", "redis://:…@redis.example.com:6379/0"),
        (
            "postgres://db.example.com/chatdesk?password=Pg-pass-4711",
            "postgres://db.example.com/chatdesk?…",
        ),
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1"),
        ("https://crm.example.com", "https://crm.example.com"),
    ],
)
def test_mask_url_hides_the_password_and_the_query(url, masked):
    assert mask_url(url) == masked
