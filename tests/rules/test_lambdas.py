"""Lambda function references as Pinpoint takes them, and which hook a campaign runs with."""

from __future__ import annotations

import pytest

from openpoint.errors import BadRequest
from rules.lambdas import FunctionRef, check_delivery_uri, check_partition, function_ref
from rules.settings import check_hook, effective_hook

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:deliver"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deliver", FunctionRef("deliver", "deliver")),
        ("deliver:live", FunctionRef("deliver:live", "deliver", "live")),
        (
            "123456789012:function:deliver",
            FunctionRef("123456789012:function:deliver", "deliver", account="123456789012"),
        ),
        (ARN, FunctionRef(ARN, "deliver", None, "eu-west-1", "aws", "123456789012")),
        (f"{ARN}:$LATEST", FunctionRef(f"{ARN}:$LATEST", "deliver", "$LATEST", "eu-west-1", "aws", "123456789012")),
        (
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:7",
            FunctionRef(
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:7",
                "f",
                "7",
                "us-gov-west-1",
                "aws-us-gov",
                "123456789012",
            ),
        ),
    ],
)
def test_function_references(text: str, expected: FunctionRef) -> None:
    assert function_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://hooks.example.com/in",
        "arn:aws:lambda:us-east-1:12345:function:f",  # account of 5 digits
        "arn:aws:sns:us-east-1:123456789012:topic",
        "arn:aws:lambda:us-east-1:123456789012:function:" + "f" * 65,
        "has space",
        "",
    ],
)
def test_what_names_no_function(text: str) -> None:
    assert function_ref(text) is None


def test_a_malformed_arn_is_named_as_such() -> None:
    with pytest.raises(BadRequest) as e:
        check_delivery_uri("arn:aws:lambda:us-east-1:12345:function:f", "X.DeliveryUri")
    assert "X.DeliveryUri" in str(e.value) and "is not a Lambda function ARN" in str(e.value)


def test_neither_url_nor_function() -> None:
    with pytest.raises(BadRequest) as e:
        check_delivery_uri("http://hooks.example.com/in", "X.DeliveryUri")
    assert "neither an https:// URL nor a Lambda function name or ARN" in str(e.value)


def test_functions_in_another_partition_are_refused_by_path() -> None:
    request = {
        "CustomDeliveryConfiguration": {"DeliveryUri": ARN},
        "AdditionalTreatments": [
            {"CustomDeliveryConfiguration": {"DeliveryUri": "arn:aws-cn:lambda:cn-north-1:123456789012:function:f"}}
        ],
    }
    with pytest.raises(BadRequest) as e:
        check_partition(request, "W", "aws")
    assert str(e.value).startswith(
        "Invalid value for W.AdditionalTreatments[0].CustomDeliveryConfiguration.DeliveryUri"
    )
    with pytest.raises(BadRequest) as e:
        check_partition(request, "W", "aws-cn")
    assert "W.CustomDeliveryConfiguration.DeliveryUri" in str(e.value)
    check_partition(
        {"Activities": {"a": {"CUSTOM": {"DeliveryUri": "deliver"}}}}, "W", "aws-cn"
    )  # no ARN: no partition


def test_a_hook_names_a_function_by_name_or_arn() -> None:
    check_hook({"LambdaFunctionName": "filter", "Mode": "FILTER"}, "H")
    check_hook({"LambdaFunctionName": ARN, "Mode": "DELIVERY"}, "H")
    with pytest.raises(BadRequest) as e:
        check_hook({"LambdaFunctionName": "arn:aws:lambda:x"}, "H")
    assert "H.LambdaFunctionName" in str(e.value)


def test_the_campaign_hook_wins_over_the_project_default() -> None:
    project = {"LambdaFunctionName": "project-filter", "Mode": "FILTER"}
    assert effective_hook(None, project) == ("project-filter", "FILTER")
    assert effective_hook({}, project) == ("project-filter", "FILTER")
    assert effective_hook({"LambdaFunctionName": "mine", "Mode": "DELIVERY"}, project) == ("mine", "DELIVERY")
    assert effective_hook({"WebUrl": "https://h.example.com", "Mode": "FILTER"}, project) == (
        "https://h.example.com",
        "FILTER",
    )
    # A function named besides a WebUrl is the hook (WebUrl was another way to reach one).
    assert effective_hook({"WebUrl": "https://h.example.com", "LambdaFunctionName": "f"}, None) == ("f", "FILTER")
    assert effective_hook({"Mode": "FILTER"}, None) is None
