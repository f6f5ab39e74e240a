"""One message-preparation pipeline for every sender: direct sends (SendMessages,
SendUsersMessages, SendOTPMessage, in the gateway), campaign runs, event-triggered campaigns and
journey message activities (in the worker's activities).

A message goes through these stages, each one function that every sender calls:

1. Content per channel (`DeliveryBatch.content`), chosen once per message, not per recipient:
   - `sending.content.message_contents(conn, app_id, channels, *, config, templates,
     custom_uri=None, enabled=None)`: a campaign-shaped MessageConfiguration (campaigns,
     triggers; a journey activity's MessageConfig in that shape) and its TemplateConfiguration
     (a journey names its one template as `{"EmailTemplate": {"Name": ..., "Version": ...}}`,
     or SMSTemplate / PushTemplate) → {channel: content, or None when the channel is off or the
     message has nothing for it}. EMAIL gets the channel's FromAddress when it names none.
   - `sending.content.direct_contents(conn, channels, *, config, templates, field)`: the same for
     a DirectMessageConfiguration; refuses a missing template or bad template syntax.
   - helpers: `enabled_channels(conn, app_id)`, `load_template(conn, (type, name, version))`,
     `with_sender(content, email_channel_row)`.
2. Eligibility of each endpoint (pure, rules/eligibility.py):
   - `unreachable(row, *, needs_channel=True)` → ENDPOINT_OPT_OUT, ENDPOINT_INACTIVE,
     ENDPOINT_MISSING_CHANNEL, ENDPOINT_MISSING_ADDRESS or None;
   - `reachable(rows)` → (the rows a message may go to, why none may) for a recipient with
     several endpoints (a journey participant, a user);
   - `sending_channel(channel_type, custom_uri, custom_types)` → CUSTOM when a custom channel
     takes the endpoint type, else the endpoint's channel; content None for that channel is
     ENDPOINT_CHANNEL_MISMATCH.
3. The recipient (`sending.recipients`):
   - `idempotency_key(scope, step, target)` → `{scope}/{step}/{target}` (workflow or campaign,
     run / trigger / activity / 0, endpoint id or address): the delivery log's exactly-once key;
   - `endpoint_recipient(key, row, **message)` → Recipient with the endpoint's address and its
     message variables (`endpoint_response`); `request_message(config, context)` → a direct
     send's substitutions, context and overrides for it.
4. Quiet time and caps, per sender's rules (pure): rules/quiet_time.py (`in_quiet_time`,
   campaigns), rules/journey_timing.py (`sending_blocked`, `next_send_time`, journeys),
   rules/limits.py (`may_target`: campaign Daily / Total), and for campaigns and triggers the
   whole of stages 2-4 per endpoint in `sending.campaign_pages.PagePlan.place`.
5. Delivery, in a send activity only (worker-side):
   `sending.fanout.deliver_all(deliverer, [(tag, DeliveryBatch), ...], *, attempt)` → [(tag,
   DeliveryResult)], SEND_CONCURRENCY batches at a time; raises `workflows.policy.transient(...)`
   when messages met transient provider trouble, except on the last attempt
   (`workflows.policy.last_attempt`), where they are recorded as TEMPORARY_FAILURE.
   `sending.fanout.Lanes(deliverer, attempt=..., lanes=n)`: the same for batches that keep
   coming (a campaign's pages), `put` waiting for a free lane, `drain` raising as deliver_all
   does; once a provider answered 429 it takes no more batches (backoff through the retry).
   `sending.fanout.pace(sent, messages_per_second, started)` keeps to MessagesPerSecond,
   heartbeating while it waits.

Campaign sending (worker-side), built on the stages above:
- `sending.treatments`: each treatment's setup for a run (message, templates, custom channel,
  content per channel);
- `sending.campaign_pages`: `PagePlan`, where each member of a page goes (a metric, quiet time,
  or a batch);
- `sending.hooks`: a CampaignHook in FILTER mode judging a page's recipients;
- `sending.campaigns`: `CampaignSender`, pages of a run end to end (up to 10 per send activity,
  the next one planned while one sends), and what event-triggered sends share with it;
- `sending.triggered`: `TriggerSender`, a batch of event triggers sent as one page.

Import rules (pyproject.toml): sending/ never imports activities/, worker/ or api/; the gateway
imports only `sending.content` and `sending.recipients`, which import no provider code.
"""
