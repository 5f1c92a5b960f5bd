# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_sms_pdu -*-
"""What a GSM modem's numbers mean, in words: +CMS ERROR codes (3GPP TS
27.005 section 3.2.5, with the network's causes of TS 24.011 and TS
23.040 below 256), +CME ERROR codes of the SIM (TS 27.007 section 9.2)
and the status of a delivery report (TP-ST, TS 23.040 section 9.2.3.15).

Each error says whether sending again later may work: the network was
busy or away (`temporary`), or the message, the number or the modem is
wrong and will stay so::

    cms_error(331)     # SmsError('+CMS ERROR 331: no network service', temporary=True)
    status_words(0x40) # ('failed', 'remote procedure error')
"""
from drivers.errors import SmsError

#: +CMS ERROR code -> (meaning, temporary).
CMS_ERRORS = {
    # TS 24.011 annex E-2: RP causes, from the network
    1: ("unassigned (unallocated) number", False),
    8: ("operator determined barring", False),
    10: ("call barred", False),
    21: ("short message transfer rejected", False),
    27: ("destination out of service", True),
    28: ("unidentified subscriber", False),
    29: ("facility rejected", False),
    30: ("unknown subscriber", False),
    38: ("network out of order", True),
    41: ("temporary failure", True),
    42: ("congestion", True),
    47: ("resources unavailable", True),
    50: ("requested facility not subscribed", False),
    69: ("requested facility not implemented", False),
    81: ("invalid short message transfer reference value", False),
    95: ("invalid message, unspecified", False),
    96: ("invalid mandatory information", False),
    97: ("message type non-existent or not implemented", False),
    98: ("message not compatible with short message protocol state", False),
    99: ("information element non-existent or not implemented", False),
    111: ("protocol error, unspecified", False),
    127: ("interworking, unspecified", False),
    # TS 23.040 9.2.3.22: TP-FCS, from the SMSC
    128: ("telematic interworking not supported", False),
    129: ("short message type 0 not supported", False),
    130: ("cannot replace short message", False),
    143: ("unspecified TP-PID error", False),
    144: ("data coding scheme (alphabet) not supported", False),
    145: ("message class not supported", False),
    159: ("unspecified TP-DCS error", False),
    160: ("command cannot be actioned", False),
    161: ("command unsupported", False),
    175: ("unspecified TP-Command error", False),
    176: ("TPDU not supported", False),
    192: ("SC busy", True),
    193: ("no SC subscription", False),
    194: ("SC system failure", True),
    195: ("invalid SME address", False),
    196: ("destination SME barred", False),
    197: ("SM rejected: duplicate SM", False),
    198: ("TP-VPF not supported", False),
    199: ("TP-VP not supported", False),
    208: ("SIM SMS storage full", False),
    209: ("no SMS storage capability in SIM", False),
    210: ("error in MS", True),
    211: ("memory capacity exceeded", False),
    212: ("SIM application toolkit busy", True),
    213: ("SIM data download error", False),
    255: ("unspecified error cause", False),
    # TS 27.005 3.2.5: the modem's own
    300: ("ME failure", True),
    301: ("SMS service of ME reserved", True),
    302: ("operation not allowed", False),
    303: ("operation not supported", False),
    304: ("invalid PDU mode parameter", False),
    305: ("invalid text mode parameter", False),
    310: ("SIM not inserted", False),
    311: ("SIM PIN required", False),
    312: ("PH-SIM PIN required", False),
    313: ("SIM failure", False),
    314: ("SIM busy", True),
    315: ("SIM wrong", False),
    316: ("SIM PUK required", False),
    317: ("SIM PIN2 required", False),
    318: ("SIM PUK2 required", False),
    320: ("memory failure", True),
    321: ("invalid memory index", False),
    322: ("memory full", False),
    330: ("SMSC address unknown", False),
    331: ("no network service", True),
    332: ("network timeout", True),
    340: ("no +CNMA acknowledgement expected", False),
    500: ("unknown error", True),
}

#: +CME ERROR codes a modem gives while it starts (the SIM and its PIN).
CME_ERRORS = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
    11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
    15: "SIM wrong", 16: "incorrect password (the PIN)", 17: "SIM PIN2 required",
    18: "SIM PUK2 required", 30: "no network service", 100: "unknown",
}


def cms_error(code: int, command="AT+CMGS", device=None) -> SmsError:
    """The SmsError of a +CMS ERROR code."""
    meaning, temporary = CMS_ERRORS.get(code, ("an error TS 27.005 does not define",
                                               code >= 512))
    return SmsError(f"+CMS ERROR {code}: {meaning}", code=code, temporary=temporary,
                    function=command, device=device)


def cme_words(code: int) -> str:
    return CME_ERRORS.get(code, "an error TS 27.007 does not define")


def status_words(status: int) -> tuple[str, str]:
    """(outcome, meaning) of a delivery report's TP-ST: outcome is
    delivered, pending (the SMSC still tries) or failed."""
    if status == 0x00:
        return "delivered", "received by the recipient"
    if status == 0x01:
        return "delivered", "forwarded, delivery not confirmed"
    if status == 0x02:
        return "delivered", "replaced by the SMSC"
    if 0x20 <= status <= 0x3F:
        words = {0x20: "congestion", 0x21: "the recipient is busy",
                 0x22: "no response from the recipient", 0x23: "service rejected",
                 0x24: "quality of service not available",
                 0x25: "error in the recipient's phone"}
        return "pending", words.get(status, "temporary error, the SMSC still tries")
    if 0x40 <= status <= 0x4F or 0x60 <= status <= 0x6F:
        words = {0x40: "remote procedure error", 0x41: "incompatible destination",
                 0x42: "connection rejected by the recipient", 0x43: "not obtainable",
                 0x44: "quality of service not available", 0x45: "no interworking available",
                 0x46: "validity period expired", 0x47: "deleted by the sender",
                 0x48: "deleted by the SMSC administration", 0x49: "the message does not exist",
                 0x60: "congestion", 0x61: "the recipient is busy",
                 0x62: "no response from the recipient", 0x63: "service rejected",
                 0x64: "quality of service not available",
                 0x65: "error in the recipient's phone"}
        return "failed", words.get(status, "permanent error, the SMSC gave up")
    return "failed", f"status {status:#04x} that TS 23.040 reserves"
