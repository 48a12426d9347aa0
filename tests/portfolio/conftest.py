import pytest

from tests.portfolio.world import make_mixed


@pytest.fixture(autouse=True)
def generous_fetch_rate(settings):
    """Counts live in the shared cache for a minute: only the rate-limit test sets a low one."""
    settings.PORTFOLIO_FETCH_RATE = "10000/m"


@pytest.fixture
def mixed(radicale_server, owner, google_fake, microsoft_fake):
    return make_mixed(radicale_server, owner, google_fake, microsoft_fake)
