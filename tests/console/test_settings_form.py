"""The Settings forms as requests and the API's errors back onto their fields (pure, no browser)."""

from __future__ import annotations

import pytest

from api.app_settings import settings_request
from api.channels import BY_TYPE, channel_request
from console.settings_form import (
    GENERAL_FIELDS,
    channel_fields,
    channel_fields_request,
    field_of,
    settings_fields,
    settings_form,
)
from openpoint.errors import BadRequest


def test_the_form_is_a_whole_request_and_numbers_are_integers() -> None:
    form = {"QuietTime.Start": "22:00", "QuietTime.End": "07:00", "Limits.Daily": " 5 ", "EventTaggingEnabled": "on"}
    body = settings_fields(form, {})
    assert body == {
        "QuietTime": {"Start": "22:00", "End": "07:00"},
        "Limits": {"Daily": 5},
        "CampaignHook": {},
        "JourneyLimits": {},
        "CloudWatchMetricsEnabled": False,
        "EventTaggingEnabled": True,
    }
    assert settings_request(body)["Limits"] == {"Daily": 5}


def test_a_number_that_is_not_one_is_refused_by_the_model_with_the_apis_words() -> None:
    with pytest.raises(BadRequest) as refused:
        settings_request(settings_fields({"Limits.Total": "ten"}, {}))
    assert refused.value.message == (
        "Invalid value for WriteApplicationSettingsRequest.Limits.Total: expected an integer, got string."
    )
    assert field_of(refused.value.message, GENERAL_FIELDS) == "Limits.Total"


def test_a_hooks_web_url_set_through_the_api_is_kept_and_a_lone_mode_dropped() -> None:
    stored = {"CampaignHook": {"WebUrl": "https://hooks.example.com/x", "Mode": "FILTER"}}
    assert settings_fields({"CampaignHook.Mode": "DELIVERY"}, stored)["CampaignHook"] == {
        "Mode": "DELIVERY",
        "WebUrl": "https://hooks.example.com/x",
    }
    assert settings_fields({"CampaignHook.Mode": "DELIVERY"}, {})["CampaignHook"] == {}


def test_stored_settings_fill_the_form() -> None:
    form = settings_form(
        {"Limits": {"Daily": 3}, "JourneyLimits": {"TimeframeCap": {"Days": 7}}, "EventTaggingEnabled": True}
    )
    assert form["Limits.Daily"] == "3" and form["JourneyLimits.TimeframeCap.Days"] == "7"
    assert form["EventTaggingEnabled"] == "on" and form["CloudWatchMetricsEnabled"] == ""
    assert form["QuietTime.Start"] == ""


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Invalid value for WriteApplicationSettingsRequest.Limits.Daily: must be between 0 and 100.", "Limits.Daily"),
        ("Invalid value for WriteApplicationSettingsRequest.QuietTime.End: '25:00' is not HH:MM.", "QuietTime.End"),
        ("Invalid value for WriteApplicationSettingsRequest.QuietTime: Start and End go together.", "QuietTime.Start"),
        (
            "Invalid value for WriteApplicationSettingsRequest.JourneyLimits.TimeframeCap.Cap: must not be negative.",
            "JourneyLimits.TimeframeCap.Cap",
        ),
        ("Something else went wrong.", ""),
    ],
)
def test_errors_land_by_the_field_their_member_path_names(message: str, field: str) -> None:
    assert field_of(message, GENERAL_FIELDS) == field


def test_channel_credentials_are_masked_and_kept_when_left_empty() -> None:
    gcm = BY_TYPE["GCM"]
    fields = channel_fields(gcm.suffix, gcm.secrets, "GCM")
    assert {f.name: f.masked for f in fields} == {
        "ApiKey": True,
        "DefaultAuthenticationMethod": False,
        "ServiceJson": True,
    }
    body = channel_fields_request(fields, {"ApiKey": "", "ServiceJson": ""}, {}, {"ApiKey": "old"}, enabled=True)
    assert body == {"Enabled": True}  # not required: left out, so UpdateGcmChannel keeps the stored one
    body = channel_fields_request(fields, {"ApiKey": "new-key"}, {}, {"ApiKey": "old"}, enabled=False)
    assert body == {"Enabled": False, "ApiKey": "new-key"}


def test_a_required_credential_left_empty_is_resent_from_the_store() -> None:
    baidu = BY_TYPE["BAIDU"]
    fields = channel_fields(baidu.suffix, baidu.secrets, "BAIDU")
    assert all(f.masked for f in fields)  # Baidu's ApiKey too
    body = channel_fields_request(fields, {}, {"ApiKey": "k"}, {"SecretKey": "s"}, enabled=True)
    assert channel_request(baidu, body) == {"Enabled": True, "ApiKey": "k", "SecretKey": "s"}


def test_enabling_sends_the_stored_settings_back() -> None:
    email = BY_TYPE["EMAIL"]
    fields = channel_fields(email.suffix, email.secrets, "EMAIL")
    stored = {"FromAddress": "shop@example.com", "Identity": "example.com"}
    body = channel_fields_request(fields, {}, stored, {}, enabled=False)
    assert channel_request(email, body) == {"Enabled": False, **stored}
    # Emptied in the form: sent empty, so the API's check names it.
    emptied = channel_fields_request(fields, {"FromAddress": "", "Identity": "example.com"}, stored, {}, enabled=True)
    assert emptied["FromAddress"] == ""
