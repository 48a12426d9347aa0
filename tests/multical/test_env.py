import pytest
from django.core.exceptions import ImproperlyConfigured

from multical.lib.env import Env


def test_a_dev_default_applies_outside_production():
    assert Env({}, production=False).str("SECRET_KEY", dev_default="dev") == "dev"


def test_a_missing_secret_stops_production_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY in production"):
        Env({}, production=True).str("SECRET_KEY", dev_default="dev")


def test_a_blank_value_counts_as_missing():
    with pytest.raises(ImproperlyConfigured):
        Env({"SECRET_KEY": "  "}, production=True).str("SECRET_KEY", dev_default="dev")


def test_a_plain_default_applies_everywhere():
    assert Env({}, production=True).str("LOG_LEVEL", "INFO") == "INFO"


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("False", False)]
)
def test_booleans(raw, expected):
    assert Env({"FLAG": raw}, production=True).bool("FLAG", default=not expected) is expected


def test_a_malformed_boolean_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="FLAG must be true or false"):
        Env({"FLAG": "maybe"}, production=False).bool("FLAG", default=False)


def test_a_malformed_integer_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="PORT must be a whole number"):
        Env({"PORT": "25x"}, production=False).int("PORT", 25)


def test_lists_are_comma_separated_and_trimmed():
    env = Env({"ALLOWED_HOSTS": " a.example , b.example,,"}, production=True)
    assert env.list("ALLOWED_HOSTS", dev_default=["localhost"]) == ["a.example", "b.example"]


def test_a_list_dev_default_is_returned_as_given():
    assert Env({}, production=False).list("ALLOWED_HOSTS", dev_default=["localhost"]) == [
        "localhost"
    ]


def test_a_client_id_without_its_secret_fails_loudly():
    with pytest.raises(
        ImproperlyConfigured, match="Set both GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET"
    ):
        Env({"GOOGLE_CLIENT_ID": "abc"}, production=False).pair(
            "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"
        )


def test_an_absent_provider_pair_is_allowed():
    assert Env({}, production=True).pair("ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET") == ("", "")
