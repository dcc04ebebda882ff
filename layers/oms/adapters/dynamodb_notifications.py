"""Which customer e-mails were sent (beside the orders and cases):

  GUARD#notify:<key> / REF      written with the NotificationSent event: the e-mail was sent
  NOTIFY#<key> / CLAIM          who is sending it now (a lease), so two deliveries of one event
                                do not both send; it expires (TTL) once the lease is long over
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError

from .dynamodb_models import RefItem, _Item


class ClaimItem(_Item):
    claimed_by = UnicodeAttribute()
    claimed_until = NumberAttribute()  # epoch seconds
    expires_at = NumberAttribute()  # TTL


class NotificationsTable:
    """The NotificationLog half of DynamoStore."""

    def notification_sent(self, key: str) -> bool:
        try:
            RefItem.get(f"GUARD#notify:{key}", "REF", consistent_read=True)
            return True
        except DoesNotExist:
            return False

    def claim_notification(self, key: str, claimant: str, lease_seconds: int) -> bool:
        """True if this claimant may send now: nobody holds the lease, or it ran out."""
        now = int(self._clock.timestamp())
        item = ClaimItem(f"NOTIFY#{key}", "CLAIM", claimed_by=claimant, claimed_until=now + lease_seconds,
                         expires_at=now + 7 * 86400)
        try:
            item.save(condition=ClaimItem.pk.does_not_exist() | (ClaimItem.claimed_until < now))
            return True
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
