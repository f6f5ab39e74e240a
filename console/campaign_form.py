"""The campaign wizard's form fields ⇄ a WriteCampaignRequest (pure: no database, no request).

The form is a flat dict of strings, as a browser posts it. `request_of` builds the request body
from it and checks nothing itself: a number that is not one goes out as the text typed, so the
model's decoder (api/campaigns.write_request) refuses it with the API's own message. `form_of`
fills the form from a stored definition; `editable` says whether the form can save a campaign
unchanged (one channel for every treatment, no per-treatment schedule, values the fields can
carry), and `field_of` finds the field an error's member path names.

One channel for the whole campaign: Pinpoint's console builds campaigns that way, and the
treatments of an A/B test compare messages, not channels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CHANNELS = {"EMAIL": "Email", "SMS": "SMS", "PUSH": "Push", "CUSTOM": "Custom (web hook or Lambda)"}
# Channel -> its MessageConfiguration member and its TemplateConfiguration member. Voice is not
# here: MessageConfiguration has no voice message and the API refuses VoiceTemplate for campaigns.
MESSAGE_MEMBERS = {"EMAIL": "EmailMessage", "SMS": "SMSMessage", "PUSH": "DefaultMessage", "CUSTOM": "CustomMessage"}
TEMPLATE_MEMBERS = {"EMAIL": "EmailTemplate", "SMS": "SMSTemplate", "PUSH": "PushTemplate"}
# Form field -> member of the channel's message.
MESSAGE_FIELDS = {
    "EMAIL": {"subject": "Title", "html": "HtmlBody", "text": "Body", "from": "FromAddress"},
    "SMS": {"sms_body": "Body", "sms_type": "MessageType", "sender_id": "SenderId", "origination": "OriginationNumber"},
    "PUSH": {"push_title": "Title", "push_body": "Body", "push_action": "Action", "push_url": "Url"},
    "CUSTOM": {"custom_data": "Data"},
}
TREATMENT_FIELDS = (
    "name", "description", "size", "source", "template", "template_version", "delivery_uri", "endpoint_types",
    *(f for fields in MESSAGE_FIELDS.values() for f in fields),
)  # fmt: skip
SMS_TYPES = ("TRANSACTIONAL", "PROMOTIONAL")
PUSH_ACTIONS = ("OPEN_APP", "DEEP_LINK", "URL")
WHEN = {"now": "Now", "once": "Once, at a time", "recurring": "Recurring", "event": "When an event arrives"}
FREQUENCIES = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")  # as botocore's Schedule.Frequency models them
FILTER_TYPES = ("ENDPOINT", "SYSTEM")
ATTRIBUTE_TYPES = ("INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN")
COMPARISONS = ("GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL", "EQUAL")
LIMITS = {
    "limit_daily": "Daily",
    "limit_total": "Total",
    "limit_mps": "MessagesPerSecond",
    "limit_duration": "MaximumDuration",
    "limit_session": "Session",
}
TOP_FIELDS = (
    "name", "description", "segment", "segment_version", "channel", "holdout", "treatments",
    "when", "frequency", "start", "start_was", "end", "end_was", "local", "timezone", "quiet_start", "quiet_end",
    "event_types", "event_type_op", "filter_type", *LIMITS,
)  # fmt: skip
MAX_TREATMENTS = 4  # additional ones; the form offers no more than the API takes
MAX_ROWS = 10  # event attribute / metric conditions read from a post
MAX_VALUE = 100_000  # characters kept of any one field
# Members the wizard does not edit: an edit sends them back as they are.
KEPT = ("Hook", "IsPaused", "Priority")
_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def blank() -> dict[str, str]:
    form = dict.fromkeys(TOP_FIELDS, "")
    form.update(channel="EMAIL", treatments="0", when="now", frequency="DAILY", event_type_op="INCLUSIVE")
    form.update(filter_type="ENDPOINT", **blank_treatment(0))
    return form


def blank_treatment(i: int) -> dict[str, str]:
    return {f"t{i}.{f}": "message" if f == "source" else "" for f in TREATMENT_FIELDS}


def read(posted: Mapping[str, str]) -> dict[str, str]:
    """The wizard's fields from a post: known names only, each bounded; absent ones blank."""
    form = blank()
    n = min(_int(posted.get("treatments", "")), MAX_TREATMENTS)
    names = [*TOP_FIELDS, *(f"t{i}.{f}" for i in range(n + 1) for f in TREATMENT_FIELDS)]
    names += [f"ea{j}.{f}" for j in range(MAX_ROWS) for f in ("name", "op", "values")]
    names += [f"em{j}.{f}" for j in range(MAX_ROWS) for f in ("name", "op", "value")]
    for name in names:
        if name in posted:
            form[name] = str(posted[name])[:MAX_VALUE]
    form["treatments"] = str(n)
    return form


def treatment_count(form: Mapping[str, str]) -> int:
    return min(_int(form.get("treatments", "")), MAX_TREATMENTS)


def rows(form: Mapping[str, str], kind: str) -> list[dict[str, str]]:
    """The event filter's attribute ("ea") or metric ("em") rows, with one blank row to fill."""
    names = ("name", "op", "values") if kind == "ea" else ("name", "op", "value")
    found = [{n: form.get(f"{kind}{j}.{n}", "") for n in names} for j in range(MAX_ROWS)]
    filled = [r for r in found if any(v for k, v in r.items() if k != "op")]
    return filled + [{n: "" for n in names}] if len(filled) < MAX_ROWS else filled


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


def _number(text: str, *, real: bool = False) -> Any:
    """A number typed, or the text itself for the API's decoder to refuse with its message."""
    t = text.strip()
    if re.fullmatch(r"-?\d+", t):
        return float(t) if real else int(t)
    if real and re.fullmatch(r"-?\d+\.\d*|-?\.\d+", t):
        return float(t)
    return t


def _instant(shown: str, was: str) -> str:
    """A datetime-local value ("2027-01-05T09:00", UTC) as the API's ISO-8601; the stored value
    when unchanged, so an edit sends back a start that has passed exactly as it was accepted."""
    shown = shown.strip()
    if was and _minutes(was) == shown:
        return was
    return f"{shown}:00Z" if _MINUTE.fullmatch(shown) else shown


def _minutes(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M")


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _treatment(form: Mapping[str, str], i: int) -> dict[str, Any]:
    """One treatment's content: its message or template, and a custom channel's delivery."""
    p, channel = f"t{i}.", form.get("channel", "EMAIL")
    out: dict[str, Any] = {}
    if form.get(p + "source") == "template" and channel in TEMPLATE_MEMBERS:
        ref = {"Name": form.get(p + "template", "")}
        if form.get(p + "template_version", "").strip():
            ref["Version"] = form[p + "template_version"].strip()
        out["TemplateConfiguration"] = {TEMPLATE_MEMBERS[channel]: ref}
    else:
        fields = MESSAGE_FIELDS.get(channel, {})
        message = {member: form[p + f] for f, member in fields.items() if form.get(p + f)}
        if message:
            out["MessageConfiguration"] = {MESSAGE_MEMBERS[channel]: message}
    if channel == "CUSTOM" and (form.get(p + "delivery_uri") or form.get(p + "endpoint_types")):
        delivery: dict[str, Any] = {"DeliveryUri": form.get(p + "delivery_uri", "")}
        if _split(form.get(p + "endpoint_types", "")):
            delivery["EndpointTypes"] = _split(form[p + "endpoint_types"])
        out["CustomDeliveryConfiguration"] = delivery
    return out


def _schedule(form: Mapping[str, str]) -> dict[str, Any]:
    when = form.get("when", "now")
    start = _instant(form.get("start", ""), form.get("start_was", ""))
    schedule: dict[str, Any] = {"StartTime": "IMMEDIATE", "Frequency": "ONCE"}
    if when == "once":
        schedule["StartTime"] = start
    elif when == "recurring":
        schedule.update(StartTime=start, Frequency=form.get("frequency", ""))
    elif when == "event":
        schedule.update(StartTime=start or "IMMEDIATE", Frequency="EVENT", EventFilter=_event_filter(form))
    if when != "now" and form.get("end", "").strip():
        schedule["EndTime"] = _instant(form["end"], form.get("end_was", ""))
    if form.get("local"):
        schedule["IsLocalTime"] = True
    if form.get("timezone", "").strip():
        schedule["Timezone"] = form["timezone"].strip()
    quiet = {k: form[f].strip() for k, f in (("Start", "quiet_start"), ("End", "quiet_end")) if form.get(f, "").strip()}
    if quiet:
        schedule["QuietTime"] = quiet
    return schedule


def _event_filter(form: Mapping[str, str]) -> dict[str, Any]:
    dimensions: dict[str, Any] = {}
    if _split(form.get("event_types", "")):
        dimensions["EventType"] = {
            "DimensionType": form.get("event_type_op") or "INCLUSIVE",
            "Values": _split(form["event_types"]),
        }
    filled = [r for r in rows(form, "ea") if r["name"] or r["values"]]
    if filled:
        dimensions["Attributes"] = {
            r["name"].strip(): {"AttributeType": r["op"], "Values": _split(r["values"])} for r in filled
        }
    measured = [r for r in rows(form, "em") if r["name"] or r["value"]]
    if measured:
        dimensions["Metrics"] = {
            r["name"].strip(): {"ComparisonOperator": r["op"], "Value": _number(r["value"], real=True)}
            for r in measured
        }
    return {"FilterType": form.get("filter_type", ""), "Dimensions": dimensions}


def request_of(form: Mapping[str, str], kept: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The WriteCampaignRequest the form describes (not yet decoded against the model);
    `kept`: the current definition of an edited campaign, whose members the form does not
    edit (KEPT) go back unchanged."""
    out: dict[str, Any] = {"Name": form.get("name", ""), "SegmentId": form.get("segment", "")}
    for key, member in (("description", "Description"), ("t0.name", "TreatmentName")):
        if form.get(key):
            out[member] = form[key]
    if form.get("t0.description"):
        out["TreatmentDescription"] = form["t0.description"]
    if form.get("segment_version", "").strip():
        out["SegmentVersion"] = _number(form["segment_version"])
    out["Schedule"] = _schedule(form)
    out.update(_treatment(form, 0))
    if form.get("holdout", "").strip():
        out["HoldoutPercent"] = _number(form["holdout"])
    limits = {member: _number(form[f]) for f, member in LIMITS.items() if form.get(f, "").strip()}
    if limits:
        out["Limits"] = limits
    treatments = []
    for i in range(1, treatment_count(form) + 1):
        t: dict[str, Any] = {"SizePercent": _number(form.get(f"t{i}.size", ""))}
        for key, member in (("name", "TreatmentName"), ("description", "TreatmentDescription")):
            if form.get(f"t{i}.{key}"):
                t[member] = form[f"t{i}.{key}"]
        treatments.append({**t, **_treatment(form, i)})
    if treatments:
        out["AdditionalTreatments"] = treatments
    for member in KEPT:
        if kept and kept.get(member) is not None:
            out[member] = kept[member]
    return out


def _channel_of(t: Mapping[str, Any]) -> str:
    messages = t.get("MessageConfiguration") or {}
    templates = t.get("TemplateConfiguration") or {}
    for channel in CHANNELS:
        if messages.get(MESSAGE_MEMBERS[channel]) or templates.get(TEMPLATE_MEMBERS.get(channel, "")):
            return channel
    return ""


def _treatment_form(t: Mapping[str, Any], i: int, channel: str) -> dict[str, str]:
    p = f"t{i}."
    form = blank_treatment(i)
    ref = (t.get("TemplateConfiguration") or {}).get(TEMPLATE_MEMBERS.get(channel, "")) or {}
    if ref:
        form.update({p + "source": "template", p + "template": ref.get("Name") or ""})
        form[p + "template_version"] = str(ref.get("Version") or "")
    message = (t.get("MessageConfiguration") or {}).get(MESSAGE_MEMBERS.get(channel, "")) or {}
    for f, member in MESSAGE_FIELDS.get(channel, {}).items():
        form[p + f] = str(message.get(member) or "")
    delivery = t.get("CustomDeliveryConfiguration") or {}
    form[p + "delivery_uri"] = delivery.get("DeliveryUri") or ""
    form[p + "endpoint_types"] = ", ".join(delivery.get("EndpointTypes") or [])
    return form


def form_of(definition: Mapping[str, Any]) -> dict[str, str]:
    """The form filled from a stored definition (or a CampaignResponse)."""
    d = definition
    form = blank()
    channel = _channel_of(d) or "EMAIL"
    form.update(name=d.get("Name") or "", description=d.get("Description") or "", segment=d.get("SegmentId") or "")
    form.update(segment_version=_text(d.get("SegmentVersion")), channel=channel, holdout=_text(d.get("HoldoutPercent")))
    form.update(_treatment_form(d, 0, channel))
    form.update({"t0.name": d.get("TreatmentName") or "", "t0.description": d.get("TreatmentDescription") or ""})
    for f, member in LIMITS.items():
        form[f] = _text((d.get("Limits") or {}).get(member))
    s = d.get("Schedule") or {}
    frequency, start = s.get("Frequency") or "ONCE", s.get("StartTime") or ""
    if frequency == "EVENT":
        form["when"] = "event"
    elif frequency == "ONCE":
        form["when"] = "now" if start == "IMMEDIATE" else "once"
    else:
        form.update(when="recurring", frequency=frequency)
    if start != "IMMEDIATE":
        form.update(start=_minutes(start), start_was=start)
    if s.get("EndTime"):
        form.update(end=_minutes(s["EndTime"]), end_was=s["EndTime"])
    form.update(local="on" if s.get("IsLocalTime") else "", timezone=s.get("Timezone") or "")
    quiet = s.get("QuietTime") or {}
    form.update(quiet_start=quiet.get("Start") or "", quiet_end=quiet.get("End") or "")
    event = s.get("EventFilter") or {}
    dimensions = event.get("Dimensions") or {}
    form["filter_type"] = event.get("FilterType") or "ENDPOINT"
    kind = dimensions.get("EventType") or {}
    form.update(event_types=", ".join(kind.get("Values") or []), event_type_op=kind.get("DimensionType") or "INCLUSIVE")
    for j, (name, a) in enumerate((dimensions.get("Attributes") or {}).items()):
        form.update({f"ea{j}.name": name, f"ea{j}.op": a.get("AttributeType") or "INCLUSIVE"})
        form[f"ea{j}.values"] = ", ".join(a.get("Values") or [])
    for j, (name, m) in enumerate((dimensions.get("Metrics") or {}).items()):
        form.update({f"em{j}.name": name, f"em{j}.op": m.get("ComparisonOperator") or ""})
        form[f"em{j}.value"] = _text(m.get("Value"))
    treatments = d.get("AdditionalTreatments") or []
    form["treatments"] = str(len(treatments))
    for i, t in enumerate(treatments, start=1):
        form.update(_treatment_form(t, i, channel))
        form.update({f"t{i}.size": _text(t.get("SizePercent")), f"t{i}.name": t.get("TreatmentName") or ""})
        form[f"t{i}.description"] = t.get("TreatmentDescription") or ""
    return form


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _comparable(value: Any) -> Any:
    """A definition without what does not change its meaning: absent and empty members, False
    flags, the ids and states a response adds to treatments, INCLUSIVE (the default type)."""
    if isinstance(value, dict):
        out = {k: _comparable(v) for k, v in value.items() if k not in ("Id", "State")}
        if out.get("DimensionType") == "INCLUSIVE":
            del out["DimensionType"]
        return {k: v for k, v in out.items() if v not in (None, "", False, {}, [])}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_RESPONSE_ONLY = ("ApplicationId", "Arn", "CreationDate", "LastModifiedDate", "Id", "Version", "State", "DefaultState")


def editable(definition: Mapping[str, Any]) -> bool:
    """Whether the wizard can show the campaign and save it unchanged (else: edit it through the
    API; the wizard would drop what it cannot show)."""
    kept = {k: v for k, v in definition.items() if k not in (*_RESPONSE_ONLY, "tags")}
    again = request_of(form_of(kept), kept)
    return bool(_comparable(again) == _comparable(kept))


# Member path (under WriteCampaignRequest) -> form field; the first prefix that matches wins.
_TOP_PATHS = (
    ("Schedule.EventFilter.Dimensions.EventType", "event_types"),
    ("Schedule.EventFilter.Dimensions.Attributes", "event_attributes"),
    ("Schedule.EventFilter.Dimensions.Metrics", "event_metrics"),
    ("Schedule.EventFilter.FilterType", "filter_type"),
    ("Schedule.EventFilter", "event_types"),
    ("Schedule.QuietTime.End", "quiet_end"),
    ("Schedule.QuietTime", "quiet_start"),
    ("Schedule.EndTime", "end"),
    ("Schedule.Timezone", "timezone"),
    ("Schedule.IsLocalTime", "timezone"),
    ("Schedule.Frequency", "when"),
    ("Schedule", "start"),
    *((f"Limits.{member}", f) for f, member in LIMITS.items()),
    ("Limits", "limit_daily"),
    ("HoldoutPercent", "holdout"),
    ("AdditionalTreatments", "treatments"),
    ("SegmentVersion", "segment_version"),
    ("SegmentId", "segment"),
    ("Name", "name"),
    ("Description", "description"),
)
_TREATMENT_PATHS = (
    *(
        (f"MessageConfiguration.{MESSAGE_MEMBERS[c]}.{member}", f)
        for c, fields in MESSAGE_FIELDS.items()
        for f, member in fields.items()
    ),
    ("MessageConfiguration.EmailMessage", "html"),
    ("MessageConfiguration.SMSMessage", "sms_body"),
    ("MessageConfiguration.DefaultMessage", "push_body"),
    ("MessageConfiguration.CustomMessage", "custom_data"),
    ("CustomDeliveryConfiguration", "delivery_uri"),
    ("TemplateConfiguration", "template"),
    ("SizePercent", "size"),
    ("TreatmentName", "name"),
    ("TreatmentDescription", "description"),
    ("", "content"),  # the treatment as a whole (MessageConfiguration missing, say)
)
_PATH = re.compile(r"WriteCampaignRequest((?:\.\w+|\[\d+\])*)")


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith((prefix + ".", prefix + "["))


def field_of(message: str) -> str:
    """The form field an error belongs by: the member path it names
    (`WriteCampaignRequest.AdditionalTreatments[1].SizePercent` -> `t2.size`); a few of the
    API's messages name a member without its path ("StartTime must be ..."); "" is the form."""
    found = _PATH.search(message)
    if not found:
        return "start" if "StartTime" in message else ""
    path = found.group(1).lstrip(".")
    treatment = re.match(r"AdditionalTreatments\[(\d+)\]\.?(.*)", path)
    if treatment:
        i, path = int(treatment.group(1)) + 1, treatment.group(2)
        return f"t{i}." + next(f for prefix, f in _TREATMENT_PATHS if _under(path, prefix))
    top = next((f for prefix, f in _TOP_PATHS if _under(path, prefix)), None)
    if top is not None:
        return top
    return "t0." + next(f for prefix, f in _TREATMENT_PATHS if _under(path, prefix))
