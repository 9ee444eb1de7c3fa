"""The MQTT adapter's own PUBLISH decoder agrees with paho's on every MQTT 5 PUBLISH it takes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.client import MQTTv5
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt import decode_publish, parse_url

# MQTT UTF-8 strings may not hold NUL (MQTT 5 §1.5.4).
_UTF8 = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=200)


@given(
    topic=_UTF8.filter(lambda t: 0 < len(t) <= 80),
    payload=st.binary(max_size=300),
    qos=st.sampled_from([0, 1]),
    mid=st.integers(min_value=1, max_value=65535),
    user=st.lists(st.tuples(_UTF8.filter(lambda t: len(t) <= 20), _UTF8), max_size=5),
    expiry=st.one_of(st.none(), st.integers(min_value=0, max_value=2**32 - 1)),
)
def test_decode_publish_matches_paho(
    *, topic: str, payload: bytes, qos: int, mid: int, user: list[tuple[str, str]], expiry: int | None
) -> None:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if user:
        props.UserProperty = user
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    encoded_topic = topic.encode()
    packet = len(encoded_topic).to_bytes(2, "big") + encoded_topic
    if qos:
        packet += mid.to_bytes(2, "big")
    packet += props.pack() + payload  # type: ignore[no-untyped-call]
    command = 0x30 | (qos << 1)
    expected = _packet.decode_publish(command, bytearray(packet), MQTTv5)
    assert decode_publish(command, bytearray(packet)) == (
        expected.topic.decode(), expected.payload, expected.mid if qos else 0, qos,
    )  # fmt: skip


def test_qos_2_is_left_to_paho() -> None:
    assert decode_publish(0x34, bytearray(b"\x00\x01t\x00\x01\x00")) is None


def test_parse_url() -> None:
    address = parse_url("mqtt://hatang-service:s%40cret@127.0.0.1:51883")
    assert (address.host, address.port, address.username, address.password) == (
        "127.0.0.1", 51883, "hatang-service", "s@cret",
    )  # fmt: skip
    assert parse_url("mqtt://broker").port == 1883
    secure = parse_url("mqtts://u:p@broker.example")
    assert (secure.port, secure.tls) == (8883, True)
