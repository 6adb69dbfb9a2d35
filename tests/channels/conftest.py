from tests.fakes.fixtures import fake_gateway, fake_rcs, fake_twilio  # noqa: F401
