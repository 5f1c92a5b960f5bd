# SPDX-License-Identifier: GPL-2.0-or-later
"""The IVR's services: a flow server's requests, turned into domain calls.

While one of a flow server's requests for a call is served, the call's
watchdog stops (Flows.watched).  The checks of what a request asks for
(ranges, keys) are made here, before the call is looked at.
"""
from cti.protocol.bodies import MAX_STRING
from cti.protocol.services import KEEP_CALL_MAX_S, Field, Service
from cti.server.edge import serve
from cti.server.errors import InvalidField, InvalidState

DTMF_KEYS = "0123456789*#ABCD"
#: The longest message a caller may leave in a flow (RecordMessage maxS), and
#: the longest silence that may end one (silenceS), in seconds.  (An agent's
#: recording of a call: cti.server.desk.desk.CALL_RECORDING_MAX_S.)
MESSAGE_MAX_S = 3600.0
SILENCE_MAX_S = 600.0
FLOW = {"flow"}
#: The most flows a flow server's FlowsReloaded may list.
MAX_FLOWS = 1000
CALL = {"call": Field(str, doc="the call id from RouteRequest")}
# What the handlers may answer besides services.COMMON_ERRORS: a call gone
# or not this session's; a voice operation with no voice resource.
ON_CALL = ("no_such_object", "invalid_state")
VOICE_OP = (*ON_CALL, "resource_busy")


def check_keys(service, params, name="terminators"):
    bad = [key for key in params[name] if key not in DTMF_KEYS]
    if bad:
        raise InvalidField(f"{service}: {name}: {bad[0]!r} is not a DTMF key (0-9, *, #, A-D)",
                           field=name)


def check_range(service, params, name, low, high, low_included=False):
    """`name` in (low, high] (or [low, high]) seconds, or InvalidField."""
    value = params[name]
    if not (low <= value if low_included else low < value) or not value <= high:
        bracket = "[" if low_included else "("
        raise InvalidField(f"{service}: {name} must be in {bracket}{low:g}, {high:g}] "
                           f"seconds; got {value!r}", field=name)


def register(hub, flows, operations):
    add, watched = hub.catalogue.add, flows.watched

    def route_register(request, params):
        return {"flowServers": flows.register(request.session)}

    def play_message(who, params):
        return operations.play(who, params["call"], params["prompts"], params["bargeIn"],
                               params["clearDigits"])

    def collect_digits(who, params):
        if not 1 <= params["maxDigits"] <= 31:
            raise InvalidField("CollectDigits: maxDigits must be 1..31 (the board's digit "
                               "buffer)", field="maxDigits")
        check_keys("CollectDigits", params)
        for key in ("firstDigitTimeoutS", "interDigitTimeoutS"):
            check_range("CollectDigits", params, key, 0, 600)
        return operations.collect(who, params["call"], params["maxDigits"],
                                  params["terminators"], params["firstDigitTimeoutS"],
                                  params["interDigitTimeoutS"])

    def clear_digits(who, params):
        operations.clear_digits(who, params["call"])
        return {}

    def record_message(who, params):
        check_range("RecordMessage", params, "maxS", 0, MESSAGE_MAX_S)
        check_range("RecordMessage", params, "silenceS", 0, SILENCE_MAX_S, low_included=True)
        check_keys("RecordMessage", params)
        return operations.record(who, params["call"], params["maxS"], params["silenceS"],
                                 params["terminators"], params["beep"])

    def route_select(who, params):
        targets = {k: params[k] for k in ("queue", "extension", "number")}
        return operations.route_select(who, params["call"], targets, params["data"],
                                       params["priority"], params["timeoutS"])

    def keep_call(who, params):
        check_range("KeepCall", params, "timeoutS", 0, KEEP_CALL_MAX_S)
        flows.keep(who, params["call"], params["timeoutS"])
        return {}

    def flows_reloaded(request, params):
        for name in ("flows", "changes"):
            if not all(isinstance(item, str) for item in params[name]):
                raise InvalidField(f"FlowsReloaded: {name} must be an array of strings",
                                   field=name)
        if request.session not in flows.sessions:
            raise InvalidState("FlowsReloaded: this session has not sent RouteRegister")
        return flows.tier_reloaded(request.session, params["flows"], params["changes"],
                                   params["error"])

    add(Service("RouteRegister", FLOW, errors=()), route_register)
    add(Service("FlowsReloaded", FLOW, fields={
        "flows": Field(list, doc="the names of the flows it runs now", max_len=MAX_FLOWS),
        "changes": Field(list, False, [], doc="what its reload changed",
                         max_len=MAX_FLOWS),
        "error": Field(str, False, "", doc="why it refused the reload",
                       max_len=MAX_STRING)}, errors=("invalid_state",)),
        flows_reloaded)
    add(Service("PlayMessage", FLOW, fields={
        **CALL, "prompts": Field(list), "bargeIn": Field(bool, False, True),
        "clearDigits": Field(bool, False, False)}, errors=VOICE_OP),
        serve(watched(play_message)))
    add(Service("CollectDigits", FLOW, fields={
        **CALL, "maxDigits": Field(int), "terminators": Field(str, False, ""),
        "firstDigitTimeoutS": Field(float, False, 5.0),
        "interDigitTimeoutS": Field(float, False, 3.0)}, errors=VOICE_OP),
        serve(watched(collect_digits)))
    add(Service("ClearDigits", FLOW, fields=CALL, errors=ON_CALL),
        serve(watched(clear_digits)))
    add(Service("RecordMessage", FLOW, fields={
        **CALL, "maxS": Field(float, False, 60.0), "silenceS": Field(float, False, 5.0),
        "terminators": Field(str, False, "#"), "beep": Field(bool, False, True)},
        errors=VOICE_OP), serve(watched(record_message)))
    add(Service("RouteSelect", FLOW, fields={
        **CALL, "queue": Field(str, False), "extension": Field(str, False),
        "number": Field(str, False), "data": Field(dict, False, {}),
        "priority": Field(int, False), "timeoutS": Field(float, False)},
        errors=(*ON_CALL, "queue_full", "call_failed", "barred")),
        serve(watched(route_select)))
    add(Service("KeepCall", FLOW, fields={**CALL, "timeoutS": Field(float)}, errors=ON_CALL),
        serve(watched(keep_call)))
    hub.on_session_closed.append(flows.session_closed)
