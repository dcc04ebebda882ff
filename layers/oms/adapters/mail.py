"""Customer e-mails: rendered with Jinja2 from a folder of templates a merchant can replace
(OMS_MAIL_TEMPLATES; the OMS's own in oms/mail_templates), sent through Amazon SES v2 from
OMS_MAIL_FROM. Each template is three files: <name>.subject.txt, <name>.html and <name>.txt."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

TEMPLATES = ("order_confirmed", "order_shipped", "order_delivered", "return_approved", "refund_issued",
             "case_reply")
OWN_TEMPLATES = Path(__file__).resolve().parent.parent / "mail_templates"


@cache
def _environments(folder: str):
    """(HTML with autoescape, text without): what a customer typed never becomes markup."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    loader = FileSystemLoader(folder)
    return (Environment(loader=loader, autoescape=True, undefined=StrictUndefined),
            Environment(loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True))


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, html, text) of one e-mail."""
    html_env, text_env = _environments(os.environ.get("OMS_MAIL_TEMPLATES") or str(OWN_TEMPLATES))
    subject = " ".join(text_env.get_template(f"{template}.subject.txt").render(context).split())
    context = {**context, "subject": subject}
    return subject, html_env.get_template(f"{template}.html").render(context), \
        text_env.get_template(f"{template}.txt").render(context)


@cache
def _ses():
    import boto3

    return boto3.client("sesv2")


class MailNotSent(Exception):
    """SES did not take the e-mail (its error code only: SES's messages may name the recipient)."""


class SesMailer:
    """Sends one e-mail; returns SES's message id. A refusal, throttling or outage raises
    MailNotSent (the event is delivered again by its queue, then lands in its DLQ)."""

    def send(self, to: str, subject: str, html: str, text: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._send(to, subject, html, text)
        except ClientError as error:
            raise MailNotSent(f"SES refused the e-mail: {error.response.get('Error', {}).get('Code')}") from None
        except BotoCoreError as error:
            raise MailNotSent(f"SES could not be reached: {type(error).__name__}") from None

    @staticmethod
    def _send(to: str, subject: str, html: str, text: str) -> str:
        response = _ses().send_email(
            FromEmailAddress=os.environ["OMS_MAIL_FROM"], Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                "Body": {"Html": {"Data": html, "Charset": "UTF-8"},
                                         "Text": {"Data": text, "Charset": "UTF-8"}}}})
        return response["MessageId"]
