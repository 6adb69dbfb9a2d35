from tests.fakes.fixtures import bot_factory, fake_gateway, fake_rcs, fake_twilio  # noqa: F401
