"""Property-based fuzzing of every parser and signature check (run with: pytest -m fuzz).

12 properties × 10,000 examples = 120,000 generated cases; none may crash (only the
documented MalformedRequest is allowed) and the invariants must hold.
"""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels import gateway, rcs, twilio
from bot.channels.http import MalformedRequest
from bot.channels.segment import analyze, split_message
from bot.channels.settings import GatewaySettings
from bot.channels.sms_choices import choice_index

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
TOKEN = "fuzz-token"
GW = GatewaySettings(api_base="http://gw", secret="s")

text = st.text(max_size=300)
raw = st.binary(max_size=600)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=12,
)


def _parsed_or_malformed(fn, *args):
    try:
        return fn(*args)
    except MalformedRequest:
        return None


@FUZZ
@given(raw)
def test_twilio_parsers_never_crash(body: bytes) -> None:
    _parsed_or_malformed(twilio.parse_inbound, body)
    _parsed_or_malformed(twilio.parse_status, body)


@FUZZ
@given(st.dictionaries(st.sampled_from(["MessageSid", "From", "Body", "MessageStatus", "X"]), text))
def test_twilio_parse_forms(params: dict[str, str]) -> None:
    body = urlencode(params).encode()
    inbound = _parsed_or_malformed(twilio.parse_inbound, body)
    if inbound is not None:
        assert inbound.text == params["Body"] and inbound.sender == params["From"]


@FUZZ
@given(st.text(max_size=80), st.lists(st.tuples(text, text), max_size=6), st.text(max_size=60))
def test_twilio_signature_roundtrip(url: str, params, header: str) -> None:
    body = urlencode(params).encode()
    good = twilio.signature(url, parse_qsl(body.decode(), keep_blank_values=True), TOKEN)
    assert twilio.verify_form(url, body, good, TOKEN)
    if header != good:
        assert not twilio.verify_form(url, body, header, TOKEN)
    assert not twilio.verify_form(url, body, good, TOKEN + "x")


@FUZZ
@given(st.text(max_size=120), raw, st.one_of(st.none(), st.text(max_size=60)))
def test_twilio_json_variant_never_crashes(url: str, body: bytes, header) -> None:
    twilio.verify(url, body, header, TOKEN, "application/json")


@FUZZ
@given(raw, st.one_of(st.none(), st.text(max_size=100)))
def test_rcs_verify_and_parse_raw(body: bytes, header) -> None:
    assert rcs.verify(body, header, TOKEN) in (True, False)
    _parsed_or_malformed(rcs.parse, body)
    rcs.verification_secret(body, TOKEN)


@FUZZ
@given(json_values)
def test_rcs_parse_any_event(event) -> None:
    data = json.dumps(event).encode()
    body = json.dumps({"message": {"data": base64.b64encode(data).decode()}}).encode()
    assert rcs.verify(body, rcs.sign(data, TOKEN), TOKEN)
    _parsed_or_malformed(rcs.parse, body)


@FUZZ
@given(
    st.fixed_dictionaries(
        {"senderPhoneNumber": st.sampled_from(["+819012345678", "", "x"]), "messageId": text},
        optional={
            "text": json_values,
            "suggestionResponse": json_values,
            "eventType": json_values,
        },
    )
)
def test_rcs_parse_shaped_events(event) -> None:
    data = json.dumps(event).encode()
    body = json.dumps({"message": {"data": base64.b64encode(data).decode()}}).encode()
    _parsed_or_malformed(rcs.parse, body)


@FUZZ
@given(raw, st.one_of(st.none(), st.text(max_size=80)), st.one_of(st.none(), st.text(max_size=25)))
def test_gateway_verify_and_parse_raw(body: bytes, signature, stamp) -> None:
    assert gateway.verify(body, signature, stamp, "s", time.time(), 300) in (True, False)
    _parsed_or_malformed(gateway.parse, body, GW)


@FUZZ
@given(json_values, st.integers(min_value=-1000, max_value=1000))
def test_gateway_parse_json_and_window(payload, skew: int) -> None:
    body = json.dumps(payload).encode()
    _parsed_or_malformed(gateway.parse, body, GW)
    now = 1_800_000_000.0
    stamp = str(int(now) + skew)
    ok = gateway.verify(body, gateway.sign(body, stamp, "s"), stamp, "s", now, 300)
    assert ok is (abs(skew) <= 300)


@FUZZ
@given(st.text(max_size=1500), st.lists(st.text(min_size=1, max_size=30), max_size=5))
def test_split_never_loses_text_and_each_part_fits(body: str, choices) -> None:
    tail = "\n".join(f"{i}. {c}" for i, c in enumerate(choices, 1))
    parts = split_message(body, tail=tail)
    assert all(analyze(part).segments <= 10 for part in parts)
    if len(parts) == 1:
        return
    joined = "".join(part.split("\n", 1)[1] for part in parts)
    whole = body + ("\n" + tail if tail and body else tail)

    def squeeze(s):
        return "".join(s.split())

    assert squeeze(joined) == squeeze(whole)


@FUZZ
@given(st.text(max_size=400))
def test_analyze_counts(body: str) -> None:
    info = analyze(body)
    assert info.segments >= 1 and info.units >= len(body) * (info.encoding == "UCS-2")


@FUZZ
@given(st.text(max_size=50))
def test_choice_index_total(body: str) -> None:
    index = choice_index(body)
    assert index is None or 0 <= index < 20
