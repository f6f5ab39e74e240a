"""Pinpoint's date-range KPIs (GetCampaignDateRangeKpi, GetApplicationDateRangeKpi,
GetJourneyDateRangeKpi) as data.

Each `kpi-name` maps to a definition: which events it counts (a `Measure`), whether it is a
count or a ratio of two counts, whose events it reads (one campaign, every campaign of the
project, transactional sends, or one journey's live participants) and what it groups by.
store/kpis.py turns a definition into one SQL query over `events`; this module also checks the
date range and shapes the result rows.

What the numbers mean here:
- Sent: a delivery outcome the worker recorded (an event carrying `delivery_status`): the
  message was handed to the provider, or refused for good (by the provider, or for want of a
  sender). Skipped recipients (opted out, quiet time) were never sent.
- Delivered: the channel's delivery event (`_email.delivered` when the relay accepted the mail,
  `_SMS.SUCCESS` / `_voice.success` when Twilio reports the receipt, `_push.send` /
  `_custom.send` since those providers give no receipt), less hard bounces reported later.
- Opens and clicks of one message within the same clock hour count once, as in Pinpoint.
  Rates of opened messages count each message once, whatever its opens.
- Push opens are the `_campaign.opened_notification` events the app's SDK sends through
  PutEvents; they carry the campaign ids of the notification, not a message id.
- Rates are ratios from 0 to 1 (Pinpoint defines each as one count divided by another and
  returns the quotient; its console is what shows percentages). A day's rate is capped at 1:
  a receipt that arrives the day after its send would otherwise push that day past 1.
- Values are strings of doubles ("1368.0"). A single-value metric with no data, and any group
  without data, gives no row; a count is 0.0 rather than absent where its channel was used.
  Single-value rows carry no GroupedBys, as in Pinpoint's examples.
- The Values key is the metric's name without its grouping, in Pascal case (`unique-deliveries`
  gives `UniqueDeliveries`, as Pinpoint's examples show). Grouped rows name their group as
  Pinpoint's metric descriptions do: `CampaignId`, `CampaignActivityId`, `JourneyActivityId`,
  `Date` (a UTC calendar day, YYYY-MM-DD) and `Country` (ISO 3166-1 alpha-2, from the phone
  number).
- Journey metrics read the events of the journey's messages (they carry `journey_id` and
  `journey_activity_id`); those of test participants (`journey_test_run_id`) never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import phonenumbers

from openpoint.errors import BadRequest

MAX_SPAN = timedelta(days=31)
RETENTION = timedelta(days=90)
FIELD = "kpi-name"


class Count(Enum):
    EVENTS = "events"
    MESSAGES = "messages"  # each message once
    MESSAGE_HOURS = "message_hours"  # each message once per clock hour
    ENDPOINTS = "endpoints"


@dataclass(frozen=True)
class Measure:
    """A number computed over the events in scope."""

    events: frozenset[str]
    count: Count = Count.EVENTS
    # Only the events the worker recorded for a delivery outcome (they carry delivery_status):
    # Twilio's later reports reuse `_SMS.FAILURE` and `_voice.failure` for carrier failures.
    outcomes_only: bool = False
    less: Measure | None = None  # subtracted, never below 0


class Scope(Enum):
    CAMPAIGN = "campaign"  # one campaign (GetCampaignDateRangeKpi)
    CAMPAIGNS = "campaigns"  # every campaign of the project
    TRANSACTIONAL = "transactional"  # SendMessages, SendUsersMessages and OTP
    JOURNEY = "journey"  # one journey (GetJourneyDateRangeKpi), test participants excluded


class Group(Enum):
    """What a `-grouped-by-*` metric groups by: (name suffix, GroupedBys Key)."""

    NONE = ("", "")
    DATE = ("-grouped-by-date", "Date")
    CAMPAIGN = ("-grouped-by-campaign", "CampaignId")
    CAMPAIGN_ACTIVITY = ("-grouped-by-campaign-activity", "CampaignActivityId")
    COUNTRY = ("-grouped-by-country", "Country")
    JOURNEY_ACTIVITY = ("-grouped-by-journey-activity", "JourneyActivityId")

    @property
    def suffix(self) -> str:
        return self.value[0]

    @property
    def key(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Kpi:
    name: str
    key: str  # Values[].Key
    scope: Scope
    group: Group
    value: Measure
    per: Measure | None = None  # set for rates: value / per
    # A count is reported (possibly 0) where these events exist, e.g. emails sent for a
    # bounce count; a rate where `per` is above 0.
    basis: Measure | None = None

    @property
    def is_rate(self) -> bool:
        return self.per is not None


def _events(*names: str) -> frozenset[str]:
    return frozenset(names)


# The outcome events of each channel family (rules/engagement.py `delivery_events`).
_EMAIL_OUTCOMES = _events("_email.send", "_email.rejected")
_SMS_OUTCOMES = _events("_SMS.BUFFERED", "_SMS.FAILURE")
_PUSH_OUTCOMES = _events("_push.send", "_push.failure")
_OTHER_OUTCOMES = _events("_voice.send", "_voice.failure", "_custom.send", "_custom.failure")
HARD_BOUNCES = Measure(_events("_email.hardbounce"))
EMAIL_OPENS = _events("_email.open")
EMAIL_CLICKS = _events("_email.click")
PUSH_OPENS = _events("_campaign.opened_notification")
OPENS = EMAIL_OPENS | PUSH_OPENS  # the analytics pages' Opens: email and push
# Endpoints that unsubscribed, or opted out by replying STOP to a text or a call.
OPT_OUTS = _events("_email.unsubscribe", "_SMS.OPTOUT", "_voice.optout")

EMAIL_SENT = Measure(_EMAIL_OUTCOMES, outcomes_only=True)
SMS_SENT = Measure(_SMS_OUTCOMES, outcomes_only=True)
PUSH_SENT = Measure(_PUSH_OUTCOMES, outcomes_only=True)
SENT = Measure(_EMAIL_OUTCOMES | _SMS_OUTCOMES | _PUSH_OUTCOMES | _OTHER_OUTCOMES, outcomes_only=True)

EMAIL_DELIVERED = Measure(_events("_email.delivered"), less=HARD_BOUNCES)
SMS_DELIVERED = Measure(_events("_SMS.SUCCESS"))
PUSH_DELIVERED = Measure(_events("_push.send"))
_DELIVERED_EVENTS = _events("_email.delivered", "_SMS.SUCCESS", "_voice.success", "_push.send", "_custom.send")
DELIVERED = Measure(_DELIVERED_EVENTS, less=HARD_BOUNCES)
UNIQUE_DELIVERIES = Measure(_DELIVERED_EVENTS, Count.ENDPOINTS)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _family(
    base: str,
    scope: Scope,
    groups: Iterable[Group],
    value: Measure,
    *,
    per: Measure | None = None,
    basis: Measure | None = None,
) -> list[Kpi]:
    """A metric and its grouped variants (`groups` lists which exist; NONE is the plain name)."""
    return [Kpi(base + g.suffix, _pascal(base), scope, g, value, per, basis) for g in groups]


_G, _D, _A, _C, _N = Group.NONE, Group.DATE, Group.CAMPAIGN_ACTIVITY, Group.CAMPAIGN, Group.COUNTRY
_CAMPAIGN, _CAMPAIGNS, _TXN = Scope.CAMPAIGN, Scope.CAMPAIGNS, Scope.TRANSACTIONAL

_DEFINITIONS: list[Kpi] = [
    # One campaign (GetCampaignDateRangeKpi).
    *_family("attempted-deliveries", _CAMPAIGN, [_A], SENT, basis=SENT),
    *_family("successful-deliveries", _CAMPAIGN, [_A], DELIVERED, basis=SENT),
    *_family("successful-delivery-rate", _CAMPAIGN, [_G, _A, _D], DELIVERED, per=SENT),
    *_family("unique-deliveries", _CAMPAIGN, [_G, _A, _D], UNIQUE_DELIVERIES, basis=SENT),
    *_family("email-open-rate", _CAMPAIGN, [_G, _A], Measure(EMAIL_OPENS, Count.MESSAGES), per=EMAIL_DELIVERED),
    *_family("direct-email-opens", _CAMPAIGN, [_A], Measure(EMAIL_OPENS, Count.MESSAGE_HOURS), basis=EMAIL_SENT),
    *_family("clicks", _CAMPAIGN, [_A], Measure(EMAIL_CLICKS, Count.MESSAGE_HOURS), basis=EMAIL_SENT),
    *_family("hard-bounce-rate", _CAMPAIGN, [_G, _A], HARD_BOUNCES, per=EMAIL_SENT),
    *_family("push-open-rate", _CAMPAIGN, [_G, _A], Measure(PUSH_OPENS, Count.MESSAGES), per=PUSH_DELIVERED),
    *_family("direct-push-opens", _CAMPAIGN, [_A], Measure(PUSH_OPENS, Count.MESSAGE_HOURS), basis=PUSH_SENT),
    # Every campaign of the project (GetApplicationDateRangeKpi).
    *_family("successful-delivery-rate", _CAMPAIGNS, [_G, _D], DELIVERED, per=SENT),
    *_family("email-open-rate", _CAMPAIGNS, [_G, _C], Measure(EMAIL_OPENS, Count.MESSAGES), per=EMAIL_DELIVERED),
    *_family("unique-deliveries", _CAMPAIGNS, [_G, _C, _D], UNIQUE_DELIVERIES, basis=SENT),
    *_family("successful-deliveries", _CAMPAIGNS, [_C], DELIVERED, basis=SENT),
    *_family("push-open-rate", _CAMPAIGNS, [_G, _C], Measure(PUSH_OPENS, Count.MESSAGES), per=PUSH_DELIVERED),
    # Transactional email and SMS (GetApplicationDateRangeKpi).
    *_family("txn-emails-sent", _TXN, [_G, _D], EMAIL_SENT, basis=EMAIL_SENT),
    *_family("txn-emails-delivered", _TXN, [_G, _D], EMAIL_DELIVERED, basis=EMAIL_SENT),
    *_family("txn-emails-delivery-rate", _TXN, [_G, _D], EMAIL_DELIVERED, per=EMAIL_SENT),
    *_family("txn-emails-opened", _TXN, [_G, _D], Measure(EMAIL_OPENS, Count.MESSAGE_HOURS), basis=EMAIL_SENT),
    *_family("txn-emails-unique-opens", _TXN, [_G, _D], Measure(EMAIL_OPENS, Count.ENDPOINTS), basis=EMAIL_SENT),
    *_family("txn-emails-clicked", _TXN, [_G, _D], Measure(EMAIL_CLICKS, Count.MESSAGE_HOURS), basis=EMAIL_SENT),
    *_family("txn-emails-unique-clicks", _TXN, [_G, _D], Measure(EMAIL_CLICKS, Count.ENDPOINTS), basis=EMAIL_SENT),
    *_family("txn-emails-hard-bounced", _TXN, [_G, _D], HARD_BOUNCES, basis=EMAIL_SENT),
    *_family("txn-sms-sent", _TXN, [_G, _D, _N], SMS_SENT, basis=SMS_SENT),
    *_family("txn-sms-delivered", _TXN, [_G, _D, _N], SMS_DELIVERED, basis=SMS_SENT),
    *_family("txn-sms-delivery-rate", _TXN, [_G, _D], SMS_DELIVERED, per=SMS_SENT),
]

KPIS: dict[tuple[str, bool], Kpi] = {(k.name, k.scope is Scope.CAMPAIGN): k for k in _DEFINITIONS}


# One journey (GetJourneyDateRangeKpi): its own names, `journey-emails-X` for the whole journey
# and `emails-X-grouped-by-journey-activity`.
_J, _JA = Scope.JOURNEY, Group.JOURNEY_ACTIVITY
JOURNEY_KPIS: dict[str, Kpi] = {
    k.name: k
    for x, value in (
        ("sent", EMAIL_SENT),
        ("delivered", EMAIL_DELIVERED),
        ("opened", Measure(EMAIL_OPENS, Count.MESSAGE_HOURS)),
        ("clicked", Measure(EMAIL_CLICKS, Count.MESSAGE_HOURS)),
        ("hardbounced", HARD_BOUNCES),
        ("rejected", Measure(_events("_email.rejected"), outcomes_only=True)),
        # A recipient may press the button twice: each message counts once.
        ("unsubscribed", Measure(_events("_email.unsubscribe"), Count.MESSAGES)),
    )
    for k in (
        *_family(f"journey-emails-{x}", _J, [_G], value, basis=EMAIL_SENT),
        *_family(f"emails-{x}", _J, [_JA], value, basis=EMAIL_SENT),
    )
}

_NO_PRICES = "OpenPoint does not record what the provider charged for a message"
_NO_PARTS = "OpenPoint does not record how many parts the provider split a message into"
_NO_COMPLAINTS = "OpenPoint receives no complaint (feedback loop) reports from mail providers"
_NO_SOFT_BOUNCES = "OpenPoint hands mail to an SMTP relay and receives no soft-bounce reports"
_NO_ERROR_CODES = "OpenPoint has only the provider's own error codes, not Pinpoint's carrier error categories"

# Names Pinpoint defines whose data OpenPoint does not have: refused with the reason.
UNAVAILABLE: dict[tuple[str, bool], str] = {
    ("sms-spend", True): _NO_PRICES,
    ("txn-sms-average-price-grouped-by-country", False): _NO_PRICES,
    ("txn-sms-average-price-by-parts-grouped-by-country", False): _NO_PRICES,
    ("txn-sms-total-price-grouped-by-country", False): _NO_PRICES,
    ("txn-sms-sent-by-parts", False): _NO_PARTS,
    ("txn-sms-sent-by-parts-grouped-by-country", False): _NO_PARTS,
    ("txn-sms-delivered-by-parts", False): _NO_PARTS,
    ("txn-sms-delivered-by-parts-grouped-by-country", False): _NO_PARTS,
    ("txn-sms-error-distribution", False): _NO_ERROR_CODES,
    **{
        (f"txn-emails-{m}{g}", False): _NO_COMPLAINTS
        for m in ("with-complaints", "complaint-rate")
        for g in ("", _D.suffix)
    },
    **{(f"txn-emails-soft-bounced{g}", False): _NO_SOFT_BOUNCES for g in ("", _D.suffix)},
}
JOURNEY_UNAVAILABLE: dict[str, str] = {
    name: reason
    for x, reason in (("complained", _NO_COMPLAINTS), ("softbounced", _NO_SOFT_BOUNCES))
    for name in (f"journey-emails-{x}", f"emails-{x}{_JA.suffix}")
}


class Api(Enum):
    """The Get*DateRangeKpi operation a name is asked of: each has its own names."""

    APPLICATION = "an application"
    CAMPAIGN = "a campaign"
    JOURNEY = "a journey"


def _known(name: str, api: Api) -> tuple[Kpi | None, str | None]:
    """(the definition, the reason it is refused) of `name` among `api`'s names."""
    if api is Api.JOURNEY:
        return JOURNEY_KPIS.get(name), JOURNEY_UNAVAILABLE.get(name)
    key = (name, api is Api.CAMPAIGN)
    return KPIS.get(key), UNAVAILABLE.get(key)


def lookup(name: str, *, campaign: bool = False, journey: bool = False) -> Kpi:
    """The definition of `name` for GetJourneyDateRangeKpi (`journey`), GetCampaignDateRangeKpi
    (`campaign`) or GetApplicationDateRangeKpi; BadRequest for names Pinpoint does not define
    there and for those whose data OpenPoint does not have."""
    api = Api.JOURNEY if journey else Api.CAMPAIGN if campaign else Api.APPLICATION
    kpi, reason = _known(name, api)
    if kpi is not None:
        return kpi
    if reason is not None:
        raise BadRequest(f"Invalid value for {FIELD}: {name} is not available: {reason}.")
    other = next((a for a in Api if a is not api and _known(name, a) != (None, None)), None)
    hint = f" It is {other.value} metric." if other is not None else ""
    raise BadRequest(f"Invalid value for {FIELD}: '{name}' is not {api.value} metric Pinpoint defines.{hint}")


def date_range(start: datetime | None, end: datetime | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The inclusive range a query covers. Without bounds it is the last 31 days; a lone start
    runs 31 days (to now at most), a lone end starts 31 days earlier (within the retention)."""
    if end is None:
        end = now if start is None else max(start, min(now, start + MAX_SPAN))
    if start is None:
        start = max(end - MAX_SPAN, now - RETENTION)
    if start > end:
        raise BadRequest("Invalid value for start-time: it is after end-time.")
    if end - start > MAX_SPAN:
        raise BadRequest("Invalid value for end-time: a date range covers at most 31 days.")
    if start < now - RETENTION:
        raise BadRequest(
            "Invalid value for start-time: it must be within the last 90 days (analytics data is kept 90 days)."
        )
    return start, end


@dataclass
class Totals:
    """One group's numbers as the query counted them."""

    value: int = 0
    per: int = 0
    basis: int = 0

    def add(self, other: Totals) -> None:
        self.value += other.value
        self.per += other.per
        self.basis += other.basis


# The query's answer: totals per group value ("" when the metric is not grouped).
Counted = list[tuple[str, Totals]]


def country_of(number: str) -> str | None:
    """ISO 3166-1 alpha-2 of a phone number; the country code's main country when the number
    is outside the numbering plan (test and fictional ranges are sent to as well)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code or 0
    )
    return region if region and region != phonenumbers.UNKNOWN_REGION else None


def _by_country(groups: Counted) -> Counted:
    # The query groups by the number; counts of events add up by country (only event counts
    # are grouped by country).
    folded: dict[str, Totals] = {}
    for number, totals in groups:
        country = country_of(number)
        if country is not None:
            folded.setdefault(country, Totals()).add(totals)
    return sorted(folded.items())


def _number(value: float) -> dict[str, str]:
    return {"Type": "Double", "Value": repr(float(value))}


def result_rows(kpi: Kpi, counted: Counted) -> list[dict[str, Any]]:
    """KpiResult.Rows: one row per group that has data."""
    groups = _by_country(counted) if kpi.group is Group.COUNTRY else counted
    rows: list[dict[str, Any]] = []
    for group, totals in groups:
        if kpi.is_rate:
            if totals.per <= 0:
                continue
            value = min(1.0, totals.value / totals.per)
        elif totals.basis <= 0 and totals.value <= 0:
            continue
        else:
            value = float(totals.value)
        row: dict[str, Any] = {"Values": [{"Key": kpi.key, **_number(value)}]}
        if kpi.group is not Group.NONE:
            if not group:  # events without the id it groups by
                continue
            row["GroupedBys"] = [{"Key": kpi.group.key, "Type": "String", "Value": group}]
        rows.append(row)
    return rows
