# SPDX-License-Identifier: GPL-2.0-or-later
"""The technicians' services (linediag against the running server), for
administrators:

    GetLineStatus     every device of the boards, as `linediag scan` shows it
    GetBusMap         the CT-Bus map, as `linediag bus` shows it
    GetSpanReports    each span's alarms, counters, performance, bits
    SetSpanLoopback   loop a span at our side (its channels held meanwhile)
    SendSpanLoopCode  loop the far end up or down
    StartBert         a bit error rate test on a span or a timeslot
    GetBertResults    its results, live or final
    StopBert          end it now
    Diagnose          the configuration doctor (cti.server.maintenance.doctor) on the span reports
    StartDChannelTrace  every frame of an ISDN D-channel to this session (DChannelFrame)
    StopDChannelTrace   no more
"""
from cti.protocol.services import Field, Service
from cti.server.edge import serve
from cti.server.errors import InvalidField, NoSuchObject
from cti.server.lines.performance import INTERVALS_KEPT
from cti.server.maintenance.doctor import examine
from cti.server.maintenance.linetests import BERT_DEFAULT_S
from cti.server.maintenance.scan import scan
from drivers.interface import BERT_PATTERNS, LOOP_CODES, LOOPBACKS

ADMIN = frozenset({"admin"})


def register(hub, driver, bus, watches, tests, config, traces):
    """`config()`: the server's configuration now (a reload may change it);
    `traces`: the D-channel traces (cti.server.maintenance.trace)."""
    add = hub.catalogue.add
    dchannel = {"device": Field(str, doc="an ISDN span's D-channel: dtiB1D")}
    add(Service("StartDChannelTrace", ADMIN, fields=dchannel,
                errors=("no_such_object", "invalid_state")),
        serve(lambda who, p: traces.start(who, p["device"])))
    add(Service("StopDChannelTrace", ADMIN, fields=dchannel, errors=("invalid_state",)),
        serve(lambda who, p: traces.stop(who, p["device"])))
    hub.on_session_closed.append(traces.session_closed)
    add(Service("GetLineStatus", ADMIN, errors=()),
        lambda request, params: {"devices": scan(driver)})
    add(Service("GetBusMap", ADMIN, errors=()), lambda request, params: bus.dump())

    def reports(who, params):
        span, intervals = params["span"], params["intervals"]
        if not 0 <= intervals <= INTERVALS_KEPT:
            raise InvalidField(f"intervals: {intervals} is not 0 to {INTERVALS_KEPT}",
                               field="intervals")
        if span is None:
            return {"spans": watches.reports(intervals)}
        if span not in watches:
            raise NoSuchObject(f"{span} is no T1 span of this server's boards",
                               object="device", id=span)
        return {"spans": [watches.report(span, intervals)]}

    def diagnose(who, params):
        examination = examine(config(), watches.reports())
        return {"findings": [f.to_dict() for f in examination.findings],
                "skipped": [{"rule": s.rule, "reason": s.reason}
                            for s in examination.skipped]}

    span = {"span": Field(str, doc="a T1 span")}
    add(Service("GetSpanReports", ADMIN, fields={
        "span": Field(str, False), "intervals": Field(int, False, 0)},
        errors=("no_such_object",)), serve(reports))
    add(Service("Diagnose", ADMIN, errors=()), serve(diagnose))
    add(Service("SetSpanLoopback", ADMIN, fields={**span, "mode": Field(
        str, choices=LOOPBACKS)}, errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(lambda who, p: tests.loopback(who, p["span"], p["mode"])))
    add(Service("SendSpanLoopCode", ADMIN, fields={**span, "code": Field(
        str, choices=LOOP_CODES)}, errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(lambda who, p: tests.loop_code(who, p["span"], p["code"])))
    device = {"device": Field(str, doc="a T1 span or timeslot")}
    add(Service("StartBert", ADMIN, fields={
        **device, "pattern": Field(str, False, "qrss", choices=BERT_PATTERNS),
        "seconds": Field(int, False, BERT_DEFAULT_S)},
        errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(lambda who, p: tests.bert_start(who, p["device"], p["pattern"],
                                              p["seconds"])))
    add(Service("GetBertResults", ADMIN, fields=device,
                errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(lambda who, p: tests.bert_results(p["device"])))
    add(Service("StopBert", ADMIN, fields=device, errors=("no_such_object", "invalid_state")),
        serve(lambda who, p: tests.bert_stop(who, p["device"])))
