"""The local sinks `make run` starts for each provider nobody configured, and the settings that
point the gateway and worker at them.

| channel          | sink                          | started unless                                   | files       |
|------------------|-------------------------------|--------------------------------------------------|-------------|
| EMAIL            | SMTP (launch/mailsink.py)     | OPENPOINT_SMTP_URL                               | mail/*.eml  |
| SMS, VOICE       | Twilio REST (twilio_sink.py)  | OPENPOINT_TWILIO_ACCOUNT_SID or _TWILIO_API_URL  | sms/, voice/|
| GCM              | FCM v1 (push_sinks.py)        | OPENPOINT_FCM_API_URL                            | push/       |
| APNS*            | APNs HTTP/2 (push_sinks.py)   | OPENPOINT_APNS_API_URL or _APNS_SANDBOX_API_URL  | push/       |
| CUSTOM           | webhook (webhook_sink.py)     | (always: it is a receiver, not a provider)       | webhook/    |

The sinks run on threads of the `openpoint dev` process; its children learn about them only
through the environment `env()` returns.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launch.devtls import DevTls, dev_tls
from launch.mailsink import MailSink
from launch.push_sinks import DEV_KEY_ID, DEV_TEAM_ID, ApnsSink, DevCredentials, FcmSink, dev_credentials
from launch.server import HOST
from launch.twilio_sink import TwilioSink
from launch.webhook_sink import WebhookSink

# Twilio's "magic" test number: a sender that reads as one, since a real number is not needed.
DEV_TWILIO_FROM = "+15005550006"
DEV_TWILIO_ACCOUNT_SID = "AC" + "0" * 32
# Webhooks to loopback are refused unless allowed; the sink's address alone is.
SINK_NETWORK = f"{HOST}/32"


@dataclass(frozen=True)
class SinkPorts:
    smtp: int = 1025
    twilio: int = 8091
    fcm: int = 8092
    apns: int = 8093
    webhook: int = 8094


def _configured(environ: Mapping[str, str], *names: str) -> bool:
    return any(environ.get(name) for name in names)


class LocalSinks:
    """`start()` the sinks `environ` leaves unconfigured; `env()` is what the children add to
    their environment; `stop()` is safe after a failed or partial start."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str], *, webhook_secret: str, ports: SinkPorts) -> None:
        self.data_dir = data_dir
        self._environ = environ
        self._webhook_secret = webhook_secret
        self._ports = ports
        self.mail: MailSink | None = None
        self.twilio: TwilioSink | None = None
        self.fcm: FcmSink | None = None
        self.apns: ApnsSink | None = None
        self.webhook: WebhookSink | None = None
        self.tls: DevTls | None = None
        self.credentials: DevCredentials | None = None
        self._twilio_token = secrets.token_hex(16)

    def start(self) -> None:
        environ, ports = self._environ, self._ports
        if not _configured(environ, "OPENPOINT_SMTP_URL"):
            self.mail = MailSink(self.data_dir / "mail", ports.smtp)
            self.mail.start()
        if not _configured(environ, "OPENPOINT_TWILIO_ACCOUNT_SID", "OPENPOINT_TWILIO_API_URL"):
            self.twilio = TwilioSink(self.data_dir, ports.twilio)
            self.twilio.start()
        if not _configured(environ, "OPENPOINT_FCM_API_URL"):
            self.fcm = FcmSink(self.data_dir, ports.fcm)
            self.fcm.start()
        self.tls = dev_tls(self.data_dir / "dev-tls")
        if not _configured(environ, "OPENPOINT_APNS_API_URL", "OPENPOINT_APNS_SANDBOX_API_URL"):
            self.apns = ApnsSink(self.data_dir, ports.apns, self.tls.server)
            self.apns.start()
        self.webhook = WebhookSink(self.data_dir, ports.webhook, self.tls.server, secret=self._webhook_secret)
        self.webhook.start()
        token_uri = self.fcm.token_uri if self.fcm is not None else "https://oauth2.googleapis.com/token"
        self.credentials = dev_credentials(self.data_dir / "dev-credentials", token_uri)

    def stop(self) -> None:
        for sink in (self.webhook, self.apns, self.fcm, self.twilio, self.mail):
            if sink is not None:
                sink.stop()

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.mail is not None:
            out["OPENPOINT_SMTP_URL"] = self.mail.url
        if self.twilio is not None:
            out["OPENPOINT_TWILIO_API_URL"] = self.twilio.url
            out["OPENPOINT_TWILIO_ACCOUNT_SID"] = DEV_TWILIO_ACCOUNT_SID
            out["OPENPOINT_TWILIO_AUTH_TOKEN"] = self._twilio_token
            out["OPENPOINT_TWILIO_FROM"] = self._environ.get("OPENPOINT_TWILIO_FROM") or DEV_TWILIO_FROM
        if self.fcm is not None:
            out["OPENPOINT_FCM_API_URL"] = self.fcm.url
        if self.apns is not None:
            out["OPENPOINT_APNS_API_URL"] = self.apns.url
            out["OPENPOINT_APNS_SANDBOX_API_URL"] = self.apns.sandbox_url
        if self.webhook is not None:
            allowed = [n for n in self._environ.get("OPENPOINT_WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()]
            out["OPENPOINT_WEBHOOK_ALLOWED_NETWORKS"] = ",".join([*allowed, SINK_NETWORK])
        if self.tls is not None:
            out["SSL_CERT_FILE"] = str(self.tls.trust)
        return out

    def banner(self) -> str:
        """What `make run` prints about each channel's provider."""
        env, data = self._environ, self.data_dir
        lines = []
        if self.mail is not None:
            lines.append(("Email (SMTP)", f"{self.mail.url} -> {data / 'mail'}/*.eml"))
        else:
            lines.append(("Email (SMTP)", env.get("OPENPOINT_SMTP_URL", "")))
        if self.twilio is not None:
            lines.append(("SMS, voice (Twilio)", f"{self.twilio.url} -> {data / 'sms'}/, {data / 'voice'}/"))
        else:
            lines.append(("SMS, voice (Twilio)", env.get("OPENPOINT_TWILIO_API_URL") or "https://api.twilio.com"))
        if self.fcm is not None:
            lines.append(("Push GCM (FCM)", f"{self.fcm.url} -> {data / 'push'}/"))
        else:
            lines.append(("Push GCM (FCM)", env.get("OPENPOINT_FCM_API_URL", "")))
        if self.apns is not None:
            lines.append(("Push APNs", f"{self.apns.url} -> {data / 'push'}/"))
        else:
            lines.append(("Push APNs", env.get("OPENPOINT_APNS_API_URL") or "Apple's"))
        if self.webhook is not None:
            lines.append(("Custom channel", f"{self.webhook.url}/<any path> -> {data / 'webhook'}/"))
        out = [f"  {name:<22}  {where}" for name, where in lines]
        if self.credentials is not None and (self.fcm is not None or self.apns is not None):
            out += [
                "",
                "  The sinks accept every message (no phone or device behind them). Push channels still need",
                "  credentials to sign with; these throwaway ones work with the sinks:",
                f"    GCM   ServiceJson = the contents of {self.credentials.fcm_service_json}",
                f"    APNS  TokenKey = the contents of {self.credentials.apns_token_key},",
                f"          TokenKeyId={DEV_KEY_ID}, TeamId={DEV_TEAM_ID}, BundleId=<any>",
            ]
        if self.tls is not None:
            out.append(f"  The https sinks' certificate is issued by {self.tls.ca} (curl --cacert ...).")
        text = "\n".join(out)
        return text
