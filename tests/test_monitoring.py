# SPDX-License-Identifier: GPL-2.0-or-later
"""The status pages (cti.server.monitoring): /metrics parsed by
prometheus_client's own parser and checked against the server's
snapshots, /status as JSON, the reactor lag, the configuration key."""
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import task
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from cti.config import ConfigError
from cti.server.config import load_server_config
from cti.server.monitoring.http import site
from cti.server.monitoring.lag import ReactorLag
from tests.test_callcenter import agent_ready


def get(centre, path):
    """GET `path` of the status pages: (content type, body)."""
    request = DummyRequest([path.encode()])
    resource = getChildForRequest(site(centre.server.figures).resource, request)
    body = resource.render(request)
    return request.responseHeaders.getRawHeaders(b"content-type")[0].decode(), body


def metrics(centre):
    kind, body = get(centre, "metrics")
    assert kind.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_the_metrics_say_what_the_snapshots_say(centre):
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(client.call("SetAgentState", state="notReady", reason="training"))
    for n in (1, 2):                                   # two callers wait for support
        centre.sim.endpoint(f"dtiB1T{n}").call(ani=f"21255500{n:02d}", dnis="5550199")
    centre.run_until(lambda: len(centre.center.calls) == 2, what="two calls")
    centre.run(3_000)
    m = metrics(centre)
    support = centre.call(client.call("Snapshot", object="queue", id="support"))["snapshot"]
    assert m[("cti_queue_waiting", (("queue", "support"),))] == len(support["waiting"]) == 2
    assert m[("cti_queue_longest_wait_seconds", (("queue", "support"),))] == \
        pytest.approx(support["longestWaitS"], abs=0.05)
    assert m[("cti_calls", (("phase", "queued"),))] == 2
    assert m[("cti_calls_offered_total", ())] == 2
    assert m[("cti_agents", (("state", "notReady"),))] == 1
    assert m[("cti_agents", (("state", "loggedOff"),))] == len(centre.center.acd.agents) - 1
    assert m[("cti_trunks", (("state", "connected"),))] == 2     # answered: music
    assert m[("cti_span_up", (("span", "dtiB1"),))] == 1
    assert m[("cti_alarm", (("alarm", "span"),))] == 0
    assert m[("cti_protocol_sessions", (("role", "agent"),))] == 1
    assert m[("cti_voice_resources", (("state", "busy"),))] >= 2

    centre.sim.span_alarm("dtiB1", "red")
    centre.run(100)
    m = metrics(centre)
    assert m[("cti_span_up", (("span", "dtiB1"),))] == 0
    assert m[("cti_span_alarm", (("alarm", "red"), ("span", "dtiB1")))] == 1
    assert m[("cti_alarm", (("alarm", "span"),))] == 1
    assert m[("cti_trunks", (("state", "out_of_service"),))] + \
        m.get(("cti_trunks", (("state", "clearing"),)), 0) == 24
    assert m[("cti_queue_abandoned_total", (("queue", "support"),))] == 0   # cleared, not abandoned
    assert m[("cti_calls_ended_total", ())] == 2


def test_the_status_page_is_the_same_figures_as_json(centre):
    kind, body = get(centre, "status")
    status = json.loads(body)
    assert kind == "application/json"
    assert status["version"] and status["draining"] is False
    assert [s["span"] for s in status["spans"]] == ["dtiB1"]
    assert {q["queue"] for q in status["queues"]} == {q.name for q in centre.config.queues}
    assert status["alarms"] == [] and status["records"] == {"pending": 0, "unjournaled": 0}


def test_an_unknown_page_is_not_found(centre):
    request = DummyRequest([b"nothing"])
    resource = getChildForRequest(site(centre.server.figures).resource, request)
    resource.render(request)
    assert request.responseCode == 404


def test_the_reactor_lag_is_how_late_the_ticks_run():
    clock = task.Clock()
    lag = ReactorLag(clock, every_s=1.0, window=3)
    lag.start()
    clock.advance(1.0)
    assert lag.last_s == 0
    clock.advance(3.5)                       # a reactor held up for 2.5 s
    assert lag.last_s == pytest.approx(2.5) and lag.max_s == pytest.approx(2.5)
    for _ in range(3):
        clock.advance(1.0)
    assert lag.max_s == 0                    # out of the window
    lag.stop()
    assert not clock.getDelayedCalls()


def test_the_http_key_is_an_endpoint(tmp_path):
    import shutil

    shutil.copytree("etc", tmp_path / "etc", ignore=shutil.ignore_patterns("*.wav"))
    wrong = tmp_path / "etc" / "cti.toml"
    text = wrong.read_text()
    for value, words in (('"tls:7580"', "tcp, tcp6 or unix"), ('"tcp:port=x"', "not a Twisted")):
        wrong.write_text(text.replace('http = "tcp:7580:interface=127.0.0.1"', f"http = {value}"))
        with pytest.raises(ConfigError, match=f"server.http.*{words}"):
            load_server_config(wrong)
    assert load_server_config("etc/cti.toml").http == "tcp:7580:interface=127.0.0.1"


def test_a_span_s_line_errors_and_seconds_are_metrics(centre):
    watch = centre.server.span_watches.watches["dtiB1"]

    def next_poll():
        before = watch.counters
        centre.run_until(lambda: watch.counters is not before, within_ms=1100, what="a poll")
    next_poll()
    for _ in range(3):
        centre.sim.span_errors("dtiB1", crc=5, bpv=2)
        next_poll()
    m = metrics(centre)
    assert m[("cti_span_line_events_total", (("event", "crc"), ("span", "dtiB1")))] == 15
    assert m[("cti_span_line_events_total", (("event", "bpv"), ("span", "dtiB1")))] == 6
    assert m[("cti_span_interval_seconds", (("parameter", "es"), ("span", "dtiB1")))] == 3
    assert m[("cti_span_interval_seconds", (("parameter", "bes"), ("span", "dtiB1")))] == 3
    assert m[("cti_span_available", (("span", "dtiB1"),))] == 1


def test_an_idle_server_reads_zero_rather_than_nothing(centre):
    m = metrics(centre)
    assert m[("cti_calls", (("phase", "queued"),))] == 0
    assert m[("cti_trunks", (("state", "connected"),))] == 0
    assert m[("cti_trunks", (("state", "idle"),))] == 28
