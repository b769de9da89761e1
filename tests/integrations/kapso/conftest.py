import pytest

from chatdesk.messaging.models import ChannelKind
from tests.factories import make_channel
from tests.integrations.kapso.helpers import PHONE_NUMBER_ID


@pytest.fixture
def channel(db):
    return make_channel(kind=ChannelKind.KAPSO, phone_number_id=PHONE_NUMBER_ID)
