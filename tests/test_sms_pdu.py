# SPDX-License-Identifier: GPL-2.0-or-later
"""Short messages as bytes (drivers.smspdu): the published PDUs and the
ones written out by hand from TS 23.040 (tests/fixtures/sms_pdus.toml)
encoded and decoded, Chinese in UCS2, long messages split at the right
places and joined again in any order, and the modem's error numbers in
words (drivers.smserrors)."""
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import MalformedData, SmsError
from drivers.smserrors import cms_error, status_words
from drivers.smspdu import (
    LIMITS,
    Concat,
    Concatenation,
    decode_received,
    decode_submit,
    deliver_pdus,
    encoding_of,
    gsm7_septets,
    split_text,
    submit_pdus,
)

FIXTURES = tomllib.loads((Path(__file__).parent / "fixtures" / "sms_pdus.toml").read_text())


def hex_of(case):
    return case["hex"].replace(" ", "")


@pytest.mark.parametrize("case", FIXTURES["submit"], ids=[c["name"] for c in FIXTURES["submit"]])
def test_an_sms_submit_is_byte_for_byte_the_fixture(case):
    pdus = submit_pdus(case["number"], case["text"], reference=0,
                       status_report=case["status_report"], validity=case["validity"])
    assert [p.hex for p in pdus] == [hex_of(case)]
    assert pdus[0].length == len(hex_of(case)) // 2 - 1      # after the SMSC field
    submit = decode_submit(hex_of(case))
    assert (submit.number, submit.text, submit.status_report, submit.concat) == (
        case["number"], case["text"], case["status_report"], None)


@pytest.mark.parametrize("case", FIXTURES["received"],
                         ids=[c["name"] for c in FIXTURES["received"]])
def test_a_received_pdu_decodes_to_the_fixture(case):
    got = decode_received(hex_of(case))
    if case["kind"] == "deliver":
        assert (got.sender, got.text, got.timestamp) == (case["sender"], case["text"],
                                                        case["timestamp"])
        assert got.concat == (Concat(*case["concat"]) if "concat" in case else None)
    else:
        assert (got.reference, got.recipient, got.status) == (
            case["reference"], case["recipient"], case["status"])
        assert status_words(got.status)[0] == case["outcome"]


def test_the_chinese_parts_join_in_whatever_order_they_come():
    first, second = (decode_received(hex_of(c)) for c in FIXTURES["received"]
                     if c["name"].startswith("Chinese received"))
    joining = Concatenation()
    assert joining.add(second) is None and joining.waiting() == 1
    whole = joining.add(first)
    assert (whole.sender, whole.text, whole.concat) == ("+8613800138000", "中文短信！", None)
    assert joining.waiting() == 0


def test_limits_of_one_message_and_of_each_part():
    assert split_text("a" * 160) == ["a" * 160]
    assert [len(p) for p in split_text("a" * 161)] == [153, 8]
    assert split_text("中" * 70) == ["中" * 70]
    assert [len(p) for p in split_text("中" * 71)] == [67, 4]
    assert encoding_of("hello {world}") == "gsm7" and encoding_of("你好 world") == "ucs2"


def test_a_split_never_cuts_an_escape_or_a_surrogate_pair():
    text = "a" * 152 + "€" + "b" * 10               # € is ESC + 0x65: two septets
    parts = split_text(text)
    assert parts[0] == "a" * 152 and parts[1].startswith("€")
    assert all(len(gsm7_septets(p)) <= 153 for p in parts)
    emoji = "中" * 66 + "😀" + "文" * 10            # 😀 is two UTF-16 units
    parts = split_text(emoji)
    assert parts[0] == "中" * 66 and parts[1].startswith("😀")


def test_a_long_chinese_message_goes_in_parts_that_join_again():
    text = "您好，这是一条很长的中文短信，用来测试长短信的拆分与合并。" * 5
    pdus = submit_pdus("+8613800138000", text, reference=42)
    submits = [decode_submit(p.hex) for p in pdus]
    assert [s.concat for s in submits] == [Concat(42, len(pdus), i + 1) for i in range(len(pdus))]
    assert "".join(s.text for s in submits) == text and len(pdus) == 3
    joining = Concatenation()
    delivered = [decode_received(h) for h in deliver_pdus(
        "+8613800138000", text, "2024-03-21T14:05:00+08:00", reference=9)]
    got = [joining.add(part) for part in reversed(delivered)]
    assert got[:-1] == [None] * (len(delivered) - 1) and got[-1].text == text


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
               min_size=1, max_size=400))
def test_any_text_goes_out_and_comes_back_whole(text):
    pdus = submit_pdus("+15551234567", text, reference=7)
    assert "".join(decode_submit(p.hex).text for p in pdus) == text
    encoding = encoding_of(text)
    for pdu in pdus:
        user_data = decode_submit(pdu.hex).text
        size = len(gsm7_septets(user_data)) if encoding == "gsm7" else len(
            user_data.encode("utf-16-be")) // 2
        assert size <= LIMITS[encoding][0 if len(pdus) == 1 else 1]


def test_pdus_that_do_not_parse_are_malformed_data():
    with pytest.raises(MalformedData, match="cut short"):
        decode_received("0004")
    with pytest.raises(MalformedData, match="not hex"):
        decode_received("zz")
    with pytest.raises(MalformedData, match="neither SMS-DELIVER"):
        decode_received("0001000B916407281553F80000AA0AE8329BFD4697D9EC37")
    with pytest.raises(ValueError, match="not a phone number"):
        submit_pdus("call me", "hi", 1)


@pytest.mark.parametrize("code, temporary, words", [
    (331, True, "no network service"), (42, True, "congestion"),
    (1, False, "unassigned (unallocated) number"), (311, False, "SIM PIN required"),
    (330, False, "SMSC address unknown"), (999, True, "does not define")])
def test_cms_errors_are_said_in_words_with_whether_to_try_again(code, temporary, words):
    error = cms_error(code)
    assert isinstance(error, SmsError) and error.code == code
    assert error.temporary is temporary and words in str(error)
    assert f"+CMS ERROR {code}" in str(error)
