from integrations.push import channel_secret, channel_secret_matches


def test_a_channel_secret_is_stable_and_verifies():
    assert channel_secret("channel-1") == channel_secret("channel-1")
    assert channel_secret_matches("channel-1", channel_secret("channel-1"))


def test_another_channels_secret_or_a_guess_does_not_verify():
    assert not channel_secret_matches("channel-1", channel_secret("channel-2"))
    assert not channel_secret_matches("channel-1", "")
    genuine = channel_secret("channel-1")
    tampered = genuine[:-1] + ("1" if genuine[-1] == "0" else "0")
    assert not channel_secret_matches("channel-1", tampered)


def test_the_secret_depends_on_the_server_secret(settings):
    before = channel_secret("channel-1")
    settings.SECRET_KEY = "another-server-secret-" * 3
    assert channel_secret("channel-1") != before
