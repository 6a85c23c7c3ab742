"""The detector descriptors: what each module declares, and that a descriptor is all a new
detector needs for the daemon's plans, its checks and its metrics to pick it up."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor import detectors
from monitor.config.expectation import Expectation
from monitor.config.probes import ProbeSuite
from monitor.daemon import suite_detectors
from monitor.detectors import REGISTRY, compare_replies, register, reports, run_detectors
from monitor.detectors.descriptor import Detector, EvidenceCounter, always
from monitor.metrics import Metrics, SeriesKey
from monitor.types import Check, FinishReason, Outcome, Reply, Result
from tests.strategies import expectations, replies

KEY = SeriesKey("bedrock", "us-east-1", "claude", "core")
LABELS = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def _reply(text: str) -> Reply:
    return Reply(text=text, finish_reason=FinishReason.STOP)


def _module_doc(detector: Detector) -> str:
    function = detector.check or detector.compare
    assert function is not None
    return sys.modules[function.__module__].__doc__ or ""


def _samples(metrics: Metrics) -> dict[str, list[dict[str, str]]]:
    """Sample name -> label sets, as a scrape of /metrics shows them."""
    text = generate_latest(metrics.registry).decode()
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(dict(sample.labels))
    return out


def test_every_detector_module_is_registered() -> None:
    """A module that declares a `DETECTOR` and is missing from the registry fails here."""
    declared = set()
    for info in pkgutil.iter_modules(detectors.__path__):
        module = importlib.import_module(f"monitor.detectors.{info.name}")
        descriptor = getattr(module, "DETECTOR", None)
        if isinstance(descriptor, Detector):
            declared.add(descriptor.name)
            assert REGISTRY.get(descriptor.name) is descriptor, info.name
    assert declared == REGISTRY.keys()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_descriptor_is_complete(name: str) -> None:
    """Each descriptor's module docstring names the detector and the incident class it
    guards; its reasons are snake_case words; its predicate reads an expectation."""
    detector = REGISTRY[name]
    doc = _module_doc(detector).lower().replace("-", " ")
    assert f"`{name}`" in doc
    assert detector.incident.lower() in doc, (name, detector.incident)
    assert detector.reasons and len(set(detector.reasons)) == len(detector.reasons)
    assert all(SNAKE.match(reason) for reason in detector.reasons)
    assert isinstance(detector.applies(Expectation()), bool)
    assert detector.applies(Expectation()) == (detector.applies is always)


@given(replies(), expectations())
def test_no_check_outside_the_predicate(reply: Reply, expect: Expectation) -> None:
    """A detector reports only for expectations its predicate accepts: the predicate decides
    which series exist and how often drift expects them, so it must not undercount."""
    for detector in REGISTRY.values():
        if detector.check is not None and detector.check(reply, expect) is not None:
            assert detector.applies(expect), detector.name


@pytest.mark.parametrize("name", list(REGISTRY))
def test_families_appear_in_metrics(name: str) -> None:
    """Configured for one series, a detector's verdict families and every series of the
    counters it declares are on /metrics at zero, before any probe."""
    metrics = Metrics(CollectorRegistry())
    metrics.configure([], {KEY: 30.0}, [(KEY, name)])
    samples = _samples(metrics)
    for family in ("canary_checks_total", "canary_check_failures_total"):
        assert {**LABELS, "detector": name} in samples[family]
    for spec in REGISTRY[name].families:
        assert spec.name.startswith("canary_") and SNAKE.match(spec.label)
        got = {labels[spec.label] for labels in samples[f"{spec.name}_total"]}
        assert got == set(spec.values)


def test_family_names_are_unique() -> None:
    """Two detectors cannot declare the same family (the registry would refuse it at start)."""
    names = [spec.name for d in REGISTRY.values() for spec in d.families]
    assert len(names) == len(set(names))


def _marks(check: Check) -> Iterator[tuple[str, float]]:
    yield from dict(check.evidence.get("marks") or {}).items()


def _toy_check(reply: Reply, expect: Expectation) -> Check | None:
    if expect.answer is None:
        return None
    marks = {"bang": reply.text.count("!"), "tilde": reply.text.count("~"), "other": 1}
    passed = marks["bang"] == 0
    return Check("toy", passed, 1.0 if passed else 0.0, {"marks": marks})


TOY = Detector(
    name="toy",
    incident="exclamation",
    applies=lambda expect: expect.answer is not None,
    reasons=("shouted",),
    check=_toy_check,
    families=(
        EvidenceCounter(
            name="canary_toy_marks",
            help="Marks in replies.",
            label="mark",
            values=("bang", "tilde"),
            count=_marks,
        ),
    ),
)


@pytest.fixture
def toy() -> Iterator[Detector]:
    """TOY registered like a module's DETECTOR; the registry is restored afterwards."""
    saved = dict(REGISTRY), dict(detectors.DETECTORS)
    register(TOY)
    yield TOY
    REGISTRY.clear()
    REGISTRY.update(saved[0])
    detectors.DETECTORS.clear()
    detectors.DETECTORS.update(saved[1])


def test_a_descriptor_is_all_a_new_detector_needs(toy: Detector) -> None:
    """Registered, a new detector runs on replies, is planned for the suites whose
    expectations it needs (burst copies included), and its own counter family is exported,
    pre-initialised, fed from evidence and bounded by its table."""
    expect = Expectation.model_validate({"answer": {"exact": "Paris"}})
    reply = _reply("Paris!!")
    checks = run_detectors(reply, expect)
    assert [c.detector for c in checks] == ["known_answer", "toy"]
    assert reports([expect, Expectation()]) == {"known_answer": 1, "toy": 1}
    assert reports([expect], burst=2) == {"known_answer": 3, "toy": 3, "load_consistency": 2}
    suite = ProbeSuite.model_validate(
        {"suite": "core", "version": 1, "probes": [{"name": "p", "reason": "r", "prompt": "q",
         "expect": {"answer": {"exact": "Paris"}}}]}
    )
    assert suite_detectors(suite) == {"known_answer": 1, "toy": 1}

    metrics = Metrics(CollectorRegistry())
    metrics.configure([], {KEY: 30.0}, [(KEY, "toy")])
    reg = metrics.registry
    assert reg.get_sample_value("canary_toy_marks_total", {**LABELS, "mark": "bang"}) == 0
    result = Result(
        id="r", run_id="x", started_at=1.0, platform="bedrock", pool="us-east-1",
        model="claude", suite="core", suite_version=1, probe="p", api="anthropic_messages",
        outcome=Outcome.FAILED, latency_s=0.5, checks=checks,
    )  # fmt: skip
    metrics.observe(result, finished_at=2.0)
    assert reg.get_sample_value("canary_toy_marks_total", {**LABELS, "mark": "bang"}) == 2
    assert reg.get_sample_value("canary_toy_marks_total", {**LABELS, "mark": "tilde"}) == 0
    assert reg.get_sample_value("canary_toy_marks_total", {**LABELS, "mark": "other"}) is None
    failures = {**LABELS, "detector": "toy"}
    assert reg.get_sample_value("canary_check_failures_total", failures) == 1


def test_pair_detectors_judge_burst_copies_only() -> None:
    """A `compare` detector is planned only for burst copies and runs through
    `compare_replies`, never on a single reply."""
    expect = Expectation()
    assert reports([expect]) == {}
    assert reports([expect], burst=3) == {"load_consistency": 3}
    assert run_detectors(_reply("a"), expect) == ()
    (check,) = compare_replies(_reply("a"), _reply("b"), expect)
    assert (check.detector, check.passed) == ("load_consistency", False)


def test_a_raising_pair_detector_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pair detector that raises becomes a failed check naming the exception type only."""

    def broken(alone: Reply, loaded: Reply) -> Check:
        raise KeyError("secret reply text")

    pair = REGISTRY["load_consistency"]
    monkeypatch.setitem(REGISTRY, pair.name, Detector(
        name=pair.name, incident=pair.incident, applies=always, reasons=pair.reasons,
        compare=broken,
    ))  # fmt: skip
    (check,) = compare_replies(_reply("a"), _reply("a"), Expectation())
    assert check == Check(pair.name, False, 0.0, {"error": "detector raised KeyError"})


def test_a_descriptor_sets_check_or_compare() -> None:
    """A descriptor with both, or neither, judging functions is refused at import."""
    with pytest.raises(ValueError, match="set `check` or `compare`"):
        Detector(name="x", incident="y", applies=always, reasons=("z",))
    with pytest.raises(ValueError, match="registered twice"):
        register(REGISTRY["length"])
