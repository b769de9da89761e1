import pytest

from tests.factories import make_channel
from tests.integrations.whatsapp_cloud.helpers import FIXTURE_PHONE_NUMBER_ID


@pytest.fixture
def channel(db):
    """A Meta channel for the number the fixtures are addressed to."""
    return make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)
