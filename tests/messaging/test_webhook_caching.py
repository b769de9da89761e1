"""What each web process remembers between webhooks, and how soon it forgets.

- The channel behind a webhook URL is kept for `CHANNEL_CACHE_SECONDS`. A change saved in this
  process applies at once; one made elsewhere (another process: simulated here by a queryset
  update, which sends no signal) applies within that delay. A change that makes a delivery
  acceptable (a new secret, a reactivation) applies at once everywhere.
- The channel's "last webhook" time is written at most once per
  `WEBHOOK_TOUCH_INTERVAL_SECONDS` while the outcome stays the same; a new outcome at once.
"""

import pytest

from chatdesk.crm.models import Message
from chatdesk.messaging import services, webhooks
from chatdesk.messaging.models import Channel
from tests.factories import APP_SECRET, VERIFY_TOKEN, make_channel
from tests.integrations.whatsapp_cloud.helpers import (
    FIXTURE_PHONE_NUMBER_ID,
    fixture_bytes,
    post_signed,
)
from tests.messaging.payloads import meta_text

pytestmark = pytest.mark.django_db

NEW_SECRET = "meta-app-secret-rotated-0002"


class Clock:
    """Stands in for the `time` module of one module under test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(webhooks, "time", clock)
    monkeypatch.setattr(services, "time", clock)
    return clock


@pytest.fixture
def channel(db):
    return make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)


_wamids = iter(range(1, 1_000_000))


def deliver(client, channel, *, secret: str = APP_SECRET):
    body = meta_text(wa_id="6281234567890", wamid=f"wamid.cache{next(_wamids)}")
    return post_signed(client, channel, body, secret=secret)


def elsewhere(channel, **changes) -> None:
    """Change the row as another process would: this process gets no signal."""
    Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(**changes)


def stored(channel) -> int:
    return Message.objects.for_workspace(channel.workspace).count()


def test_a_channel_deactivated_here_refuses_the_next_delivery(client, channel, clock):
    assert deliver(client, channel).status_code == 200

    channel.is_active = False
    channel.save(update_fields=["is_active"])

    assert deliver(client, channel).status_code == 404
    assert stored(channel) == 1


def test_a_channel_deactivated_elsewhere_refuses_deliveries_once_the_cache_delay_passed(
    client, channel, clock
):
    assert deliver(client, channel).status_code == 200
    elsewhere(channel, is_active=False)

    clock.now += webhooks.CHANNEL_CACHE_SECONDS / 2
    assert deliver(client, channel).status_code == 200  # the trade-off: seconds, not never

    clock.now += webhooks.CHANNEL_CACHE_SECONDS
    assert deliver(client, channel).status_code == 404
    assert stored(channel) == 2


def test_a_channel_reactivated_elsewhere_accepts_the_next_delivery(client, clock):
    channel = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID, is_active=False)
    assert deliver(client, channel).status_code == 404

    elsewhere(channel, is_active=True)

    assert deliver(client, channel).status_code == 200
    assert stored(channel) == 1


def test_a_secret_rotated_elsewhere_verifies_at_once_and_the_old_one_still_does(
    client, channel, clock
):
    assert deliver(client, channel).status_code == 200

    elsewhere(channel, signing_secret=NEW_SECRET, previous_signing_secret=APP_SECRET)

    assert deliver(client, channel, secret=NEW_SECRET).status_code == 200
    assert deliver(client, channel, secret=APP_SECRET).status_code == 200
    assert stored(channel) == 3


def test_a_secret_removed_elsewhere_is_refused_once_the_cache_delay_passed(client, clock):
    channel = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID, signing_secret=NEW_SECRET)
    elsewhere(channel, previous_signing_secret=APP_SECRET)
    assert deliver(client, channel, secret=APP_SECRET).status_code == 200

    elsewhere(channel, previous_signing_secret=None)  # the rotation was finished
    clock.now += webhooks.CHANNEL_CACHE_SECONDS + 1

    response = deliver(client, channel, secret=APP_SECRET)
    assert response.status_code == 401
    assert deliver(client, channel, secret=NEW_SECRET).status_code == 200
    assert stored(channel) == 2


def test_a_phone_number_id_changed_elsewhere_is_accepted_at_once(client, clock):
    channel = make_channel(phone_number_id="999999999")
    assert deliver(client, channel).status_code == 400  # the fixtures are for another number

    elsewhere(channel, phone_number_id=FIXTURE_PHONE_NUMBER_ID)

    assert deliver(client, channel).status_code == 200


def test_the_verification_handshake_reads_the_verify_token_fresh(client, channel, clock):
    assert deliver(client, channel).status_code == 200
    elsewhere(channel, verify_token="a-new-verify-token")

    response = client.get(
        f"/webhooks/whatsapp/{channel.channel_key}",
        {"hub.mode": "subscribe", "hub.verify_token": "a-new-verify-token", "hub.challenge": "42"},
    )

    assert (response.status_code, response.content) == (200, b"42")
    old = client.get(
        f"/webhooks/whatsapp/{channel.channel_key}",
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
    )
    assert old.status_code == 403


def test_an_unknown_key_is_not_remembered_so_a_new_channel_works_at_once(client, clock):
    channel = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)
    key = channel.channel_key
    channel.delete()
    assert deliver(client, key).status_code == 404

    again = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)
    elsewhere(again, channel_key=key)

    assert deliver(client, key).status_code == 200


# --- the channel's "last webhook" time and outcome -------------------------------------------


def last_webhook(channel) -> tuple:
    channel.refresh_from_db()
    return channel.last_webhook_at, channel.last_webhook_outcome


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run each delivery's on-commit callbacks, as a committed request would."""

    def committed(post, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    return committed


def test_the_last_webhook_time_is_written_once_per_interval_while_deliveries_succeed(
    client, channel, clock, committed
):
    committed(deliver, client, channel)
    first_at, outcome = last_webhook(channel)
    assert outcome == "ok" and first_at is not None

    clock.now += services.WEBHOOK_TOUCH_INTERVAL_SECONDS / 2
    committed(deliver, client, channel)
    assert last_webhook(channel) == (first_at, "ok")

    clock.now += services.WEBHOOK_TOUCH_INTERVAL_SECONDS
    committed(deliver, client, channel)
    later_at, outcome = last_webhook(channel)
    assert outcome == "ok" and later_at > first_at
    assert stored(channel) == 3


def test_a_different_outcome_is_written_at_once(client, channel, clock, committed):
    committed(deliver, client, channel)

    malformed = b'{"object": "whatsapp_business_account", "entry": 7}'
    response = committed(post_signed, client, channel, malformed)
    assert response.status_code == 400
    assert last_webhook(channel)[1] == "malformed"

    committed(deliver, client, channel)
    assert last_webhook(channel)[1] == "ok"


def test_a_good_delivery_right_after_a_signature_failure_shows_ok_again(
    client, channel, clock, committed
):
    committed(deliver, client, channel)
    assert committed(deliver, client, channel, secret="not-the-secret").status_code == 401
    assert last_webhook(channel)[1] == "signature failure"

    committed(deliver, client, channel)

    assert last_webhook(channel)[1] == "ok"


def test_a_duplicate_delivery_is_shown_as_such(client, channel, clock, committed):
    body = fixture_bytes("messages__text")
    committed(post_signed, client, channel, body)

    response = committed(post_signed, client, channel, body)

    assert response.json() == {"status": "ok", "duplicate": True}
    assert last_webhook(channel)[1] == "duplicate"
