"""The Helm chart: linted and rendered by the real Helm engine, validated against the Kubernetes
and prometheus-operator schemas, and its rendered config accepted by the daemon itself."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from tests.ops.conftest import (
    CHART,
    DASHBOARDS,
    ROOT,
    RULES_FILE,
    Render,
    ci_values,
    import_or_missing,
    tool,
)

VALUES_FILES = [None, *ci_values()]
IDS = ["values.yaml", *(p.name for p in ci_values())]
KUBE_VERSIONS = ("1.25.0", "1.37.0")  # Chart.yaml kubeVersion floor, and the newest schema


def values_of(path: Path | None) -> dict[str, Any] | None:
    return None if path is None else (yaml.safe_load(path.read_text()) or {})


def only(docs: dict[str, list[dict[str, Any]]], template: str) -> dict[str, Any]:
    [doc] = docs[template]
    return doc


@pytest.mark.parametrize("path", VALUES_FILES, ids=IDS)
def test_helm_lint_is_clean(helm: Any, path: Path | None) -> None:
    """`helm lint --strict` gives no error or warning (the missing-icon note is info only)."""
    report = helm.lint(str(CHART), values_of(path), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("path", VALUES_FILES, ids=IDS)
def test_rendered_manifests_match_the_kubernetes_schemas(render: Render, path: Path | None) -> None:
    """Every built-in kind validates strictly (unknown fields are errors) on the oldest and the
    newest supported Kubernetes; ServiceMonitor and PrometheusRule against the CRD models."""
    kubernetes_validate = import_or_missing("kubernetes_validate", "kubernetes-validate")
    crds = import_or_missing(
        "cloudcoil.models.prometheus_operator.v1", "cloudcoil-models-prometheus-operator"
    )
    docs = render(values_of(path))
    kinds = []
    for manifests in docs.values():
        for doc in manifests:
            kinds.append(doc["kind"])
            if doc["apiVersion"] == "monitoring.coreos.com/v1":
                getattr(crds, doc["kind"]).model_validate(doc)
                continue
            for version in KUBE_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)
    assert {"Deployment", "ConfigMap", "Service", "ServiceAccount"} <= set(kinds)


def test_crd_validation_catches_a_broken_rule(render: Render) -> None:
    """Control: the CRD models reject a PrometheusRule whose rule lacks `expr`."""
    crds = import_or_missing(
        "cloudcoil.models.prometheus_operator.v1", "cloudcoil-models-prometheus-operator"
    )
    rule = only(render({"prometheusRule": {"enabled": True}}), "templates/prometheusrule.yaml")
    broken = copy.deepcopy(rule)
    del broken["spec"]["groups"][0]["rules"][0]["expr"]
    with pytest.raises(ValueError, match="expr"):
        crds.PrometheusRule.model_validate(broken)


def test_deployment_is_single_writer_secure_and_probed(render: Render) -> None:
    """One replica, Recreate, the store on a PVC, a non-root read-only container with no
    privileges, resource requests, probes on /healthz and /readyz, the config rolled by checksum."""
    docs = render()
    deployment = only(docs, "templates/deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"].keys() >= {"cpu", "memory"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][-3:] == ["run", "--config", "/etc/canary/config.yaml"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes[mounts["/var/lib/canary"]]["persistentVolumeClaim"]["claimName"]
        == "rel-canary-monitor"
    )
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/etc/canary"]]["configMap"]["name"] == "rel-canary-monitor"
    pvc = only(docs, "templates/pvc.yaml")
    assert pvc["metadata"]["name"] == "rel-canary-monitor"
    annotations = spec["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"])


def test_a_config_or_probe_change_rolls_the_pod(render: Render) -> None:
    """checksum/config changes with config and with probes, not with unrelated values."""

    def checksum(values: dict[str, Any] | None) -> str:
        deployment = only(render(values), "templates/deployment.yaml")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    base = checksum(None)
    assert checksum({"config": {"drift": {"false_pages_per_week": 2}}}) != base
    assert checksum({"probes": {"extra.yaml": "suite: extra\n"}}) != base
    assert checksum({"podAnnotations": {"a": "b"}}) == base


def materialise(docs: dict[str, list[dict[str, Any]]], into: Path, secrets: dict[str, str]) -> Path:
    """Write the ConfigMap's files (and the Secret's) as the pod would see them."""
    configmap = only(docs, "templates/configmap.yaml")
    secret_dir = into / "secrets"
    secret_dir.mkdir()
    for key, value in secrets.items():
        (secret_dir / key).write_text(value)
    for name, text in configmap["data"].items():
        (into / name).write_text(text.replace("/etc/canary-secrets/", f"{secret_dir}/"))
    return into / "config.yaml"


@pytest.mark.parametrize("path", VALUES_FILES, ids=IDS)
def test_the_daemon_accepts_the_rendered_config(
    render: Render, path: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap's config.yaml and probe files load with the daemon's own strict loader,
    listening on all interfaces at the container port, with the store on the volume (or, in
    PostgreSQL mode, at the DSN from the Secret's env var)."""
    values = values_of(path) or {}
    postgres = values.get("postgresql", {}).get("enabled", False)
    monkeypatch.setenv("CANARY_STORE_URL", "postgresql://canary:pw@db:5432/canary")
    secrets = {k: str(v) for k, v in values.get("credentials", {}).get("secrets", {}).items()}
    if values.get("credentials", {}).get("existingSecret"):
        secrets = {"bedrock": "key-from-the-existing-secret"}
    config_path = materialise(render(values), tmp_path, secrets)
    loaded = load_config(config_path)
    config = loaded.config
    assert (config.server.listen_address, config.server.port) == ("0.0.0.0", 9471)
    assert config.store.url == (
        "postgresql://canary:pw@db:5432/canary"
        if postgres
        else "sqlite:////var/lib/canary/canary.db"
    )
    assert config.cluster.enabled is postgres
    assert loaded.suites and config.targets


def test_credentials_are_files_from_a_secret(render: Render) -> None:
    """Chart-managed secrets become a Secret mounted read-only; an existing Secret is mounted
    as is and the chart creates none; without credentials nothing is mounted."""
    docs = render({"credentials": {"secrets": {"vllm": "k1"}}})
    secret = only(docs, "templates/secret.yaml")
    assert secret["data"] == {"vllm": "azE="}
    pod = only(docs, "templates/deployment.yaml")["spec"]["template"]
    assert "checksum/secret" in pod["metadata"]["annotations"]
    mounts = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["credentials"]["mountPath"] == "/etc/canary-secrets"
    assert mounts["credentials"]["readOnly"] is True

    docs = render({"credentials": {"existingSecret": "mine"}})
    assert docs.get("templates/secret.yaml", []) == []
    volumes = {
        v["name"]: v
        for v in only(docs, "templates/deployment.yaml")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["credentials"]["secret"]["secretName"] == "mine"

    pod = only(render(), "templates/deployment.yaml")["spec"]["template"]["spec"]
    assert "credentials" not in {v["name"] for v in pod["volumes"]}


def test_service_account_carries_the_cloud_identity(render: Render) -> None:
    """`serviceAccount.annotations` (IRSA role, GKE service account) land on the ServiceAccount
    the pod runs as; no Kubernetes API token is mounted either way."""
    annotations = {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/canary-monitor",
        "iam.gke.io/gcp-service-account": "canary@my-project.iam.gserviceaccount.com",
    }
    docs = render({"serviceAccount": {"annotations": annotations}})
    account = only(docs, "templates/serviceaccount.yaml")
    assert account["metadata"]["annotations"] == annotations
    pod = only(docs, "templates/deployment.yaml")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "rel-canary-monitor"
    assert pod["automountServiceAccountToken"] is False
    assert "annotations" not in only(render(), "templates/serviceaccount.yaml")["metadata"]


def fill_placeholders(text: str, runbook: str, grafana: str, job: str) -> str:
    text = text.replace(
        "https://github.com/canary-monitor/canary-monitor/blob/main/docs/runbook.md", runbook
    )
    text = text.replace("https://grafana.example.com", grafana)
    return text.replace('job="canary-monitor"', f'job="{job}"')


@pytest.mark.parametrize(
    ("values", "job"),
    [({}, "canary-monitor"), ({"nameOverride": "llm-canary"}, "llm-canary")],
    ids=["default", "name-override"],
)
def test_prometheusrule_is_the_rule_file(
    render: Render, values: dict[str, Any], job: str, tmp_path: Path
) -> None:
    """The PrometheusRule's spec is files/prometheus_alerts.yaml with only the runbook, Grafana
    and job placeholders filled in, and the result still passes `promtool check rules`; the
    ServiceMonitor names the scrape job the rules select."""
    values = {
        **values,
        "prometheusRule": {
            "enabled": True,
            "runbookBaseUrl": "https://rb.example.org/rb.md",
            "grafanaUrl": "https://g.example.org/",
        },
        "serviceMonitor": {"enabled": True},
    }
    docs = render(values)
    rule = only(docs, "templates/prometheusrule.yaml")
    expected = yaml.safe_load(
        fill_placeholders(
            RULES_FILE.read_text(), "https://rb.example.org/rb.md", "https://g.example.org", job
        )
    )
    assert rule["spec"] == expected
    rendered = tmp_path / "rules.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    run = subprocess.run(
        [tool("promtool"), "check", "rules", str(rendered)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    monitor = only(docs, "templates/servicemonitor.yaml")
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    service = only(docs, "templates/service.yaml")
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] == job
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


def test_dashboards_configmap_is_for_the_grafana_sidecar(render: Render) -> None:
    """Labelled grafana_dashboard: "1", one key per dashboard file, transcript links pointed at
    dashboards.apiUrl."""
    docs = render({"dashboards": {"apiUrl": "https://canary.example.org/"}})
    configmap = only(docs, "templates/dashboards-configmap.yaml")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert sorted(configmap["data"]) == files == ["canary-overview.json", "canary-series.json"]
    for name, text in configmap["data"].items():
        source = (
            (DASHBOARDS / name)
            .read_text()
            .replace("http://localhost:9471", "https://canary.example.org")
        )
        assert json.loads(text) == json.loads(source)
    assert "https://canary.example.org" in configmap["data"]["canary-series.json"]
    assert "templates/dashboards-configmap.yaml" not in {
        k for k, v in render({"dashboards": {"enabled": False}}).items() if v
    }


def test_switches_default_off_for_the_operator_objects(render: Render) -> None:
    """ServiceMonitor and PrometheusRule need the prometheus-operator CRDs: off by default."""
    docs = render()
    assert not docs.get("templates/servicemonitor.yaml")
    assert not docs.get("templates/prometheusrule.yaml")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"targets": [], "suites": [{"file": "core.yaml"}]}}, "minItems"),
        (
            {
                "config": {
                    "targets": [
                        {
                            "platform": "a b",
                            "model": "m",
                            "api": "openai_chat",
                            "base_url": "http://x/",
                        }
                    ],
                    "suites": [{"file": "core.yaml"}],
                }
            },
            "/config/targets/0/platform",
        ),
        (
            {
                "config": {
                    "targets": [
                        {
                            "platform": "p",
                            "model": "m",
                            "api": "openai_chat",
                            "base_url": "http://x/",
                            "api_key": "sk-1",
                        }
                    ],
                    "suites": [{"file": "core.yaml"}],
                }
            },
            "/config/targets/0",
        ),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"probes": {"config.yaml": "x"}}, "invalid propertyName 'config.yaml'"),
        ({"replicas": 2}, "replicas"),
        ({"serviceMonitor": {"interval": "30"}}, "/serviceMonitor/interval"),
    ],
    ids=[
        "no-targets",
        "bad-label",
        "inline-secret",
        "writable-root",
        "probe-shadows-config",
        "replicas",
        "bad-duration",
    ],
)
def test_values_schema_rejects(helm: Any, values: dict[str, Any], message: str) -> None:
    """values.schema.json turns mistakes into install-time errors that name the field."""
    with (
        helm.Chart.load(str(CHART)) as chart,
        pytest.raises(helm.HelmValuesError, match=re.escape(message)),
    ):
        chart.render(values, name="rel", namespace="mon")


def test_default_probes_are_the_repository_suite() -> None:
    """values.yaml ships probes/core.yaml verbatim (update both together)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["probes"]["core.yaml"] == (ROOT / "probes" / "core.yaml").read_text()


def test_chart_metadata_and_readme() -> None:
    """Chart version is semver and its README documents values and has an Upgrading section."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    readme = (CHART / "README.md").read_text()
    assert re.search(r"^## Upgrading", readme, re.MULTILINE)
    assert f"{chart['version'].split('.')[0]}." in readme
    for key in (
        "serviceMonitor.enabled",
        "prometheusRule.enabled",
        "credentials.existingSecret",
        "dashboards.apiUrl",
        "web.config",
        "web.tlsSecret",
        "web.apiResults",
    ):
        assert key in readme, key


WEB_VALUES = CHART / "ci" / "web-values.yaml"


def test_web_config_is_a_mounted_secret_that_the_daemon_accepts(
    render: Render, tmp_path: Path
) -> None:
    """web.config and web.files become a Secret at /etc/canary-web passed as --web.config.file;
    web.tlsSecret is mounted at /etc/canary-tls and fills cert_file/key_file; probes and the
    ServiceMonitor switch to HTTPS, with the scrape's tlsConfig and basicAuth; the rendered
    web config loads with the daemon's own strict loader."""
    import trustme

    from monitor.web.web_config import load_web_config

    docs = render(values_of(WEB_VALUES))
    secret = only(docs, "templates/web-secret.yaml")
    assert secret["metadata"]["name"] == "rel-canary-monitor-web"
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert sorted(files) == ["tokens", "web-config.yml"]
    pod = only(docs, "templates/deployment.yaml")["spec"]["template"]
    assert "checksum/web" in pod["metadata"]["annotations"]
    [container] = pod["spec"]["containers"]
    assert container["args"][-4:] == [
        "run",
        "--config",
        "/etc/canary/config.yaml",
        "--web.config.file=/etc/canary-web/web-config.yml",
    ]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes[mounts["/etc/canary-web"]]["secret"]["secretName"] == "rel-canary-monitor-web"
    assert volumes[mounts["/etc/canary-tls"]]["secret"]["secretName"] == "canary-tls"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    [endpoint] = only(docs, "templates/servicemonitor.yaml")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"] == {"secret": {"name": "canary-tls", "key": "ca.crt"}}
    assert endpoint["basicAuth"]["password"] == {"name": "canary-scrape", "key": "password"}
    config = yaml.safe_load(only(docs, "templates/configmap.yaml")["data"]["config.yaml"])
    assert config["server"]["api_results"] is True  # auth is required, so transcripts are served

    cert = trustme.CA().issue_cert("rel-canary-monitor.mon.svc")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    for name, text in files.items():
        (tmp_path / name).write_text(text.replace("/etc/canary-tls/", f"{tmp_path}/"))
    web = load_web_config(tmp_path / "web-config.yml")
    assert web.ssl_context is not None and sorted(web.users) == ["prometheus"]
    assert web.tokens == (b"not-a-real-token-but-long-enough",)


@pytest.mark.parametrize(
    ("values", "served"),
    [
        ({}, False),
        (
            {"web": {"config": {"http_server_config": {"headers": {"X-Frame-Options": "deny"}}}}},
            False,
        ),
        ({"web": {"tlsSecret": "canary-tls"}}, False),
        ({"web": {"config": {"basic_auth_users": {"a": "$2y$10$" + "a" * 53}}}}, True),
        ({"web": {"config": {"bearer_auth": {"tokens_file": "tokens"}}}}, True),
        ({"web": {"existingSecret": "mine"}}, False),
        ({"web": {"existingSecret": "mine", "apiResults": True}}, True),
        ({"web": {"apiResults": True}}, True),
        ({"config": {"server": {"api_results": True}}}, True),
    ],
    ids=[
        "default",
        "headers-only",
        "tls-only",
        "basic-auth",
        "bearer-auth",
        "existing-secret",
        "existing-secret-opt-in",
        "explicit-opt-in",
        "config-opt-in",
    ],
)
def test_transcript_api_is_off_unless_authenticated(
    render: Render, values: dict[str, Any], served: bool
) -> None:
    """The chart serves /api/v1/results (stored transcripts) only when its web config requires
    basic or bearer auth, or when asked to explicitly."""
    configmap = only(render(values), "templates/configmap.yaml")
    assert yaml.safe_load(configmap["data"]["config.yaml"])["server"]["api_results"] is served


def test_plain_chart_has_no_web_objects(render: Render) -> None:
    """Without web values: no web Secret, no flag, HTTP probes and scrapes."""
    docs = render()
    assert not docs.get("templates/web-secret.yaml")
    [container] = only(docs, "templates/deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert not any(a.startswith("--web.config.file") for a in container["args"])
    assert "scheme" not in container["livenessProbe"]["httpGet"]
    monitor = only(render({"serviceMonitor": {"enabled": True}}), "templates/servicemonitor.yaml")
    assert monitor["spec"]["endpoints"][0]["scheme"] == "http"
    assert "basicAuth" not in monitor["spec"]["endpoints"][0]


def test_mutual_tls_needs_tcp_probes(helm: Any, render: Render) -> None:
    """The kubelet has no client certificate: with RequireAndVerifyClientCert an httpGet probe
    is a render error naming the fix; tcpSocket probes render (`httpGet: null` drops the
    default)."""
    mtls = {
        "tlsSecret": "canary-tls",
        "config": {
            "tls_server_config": {
                "client_auth_type": "RequireAndVerifyClientCert",
                "client_ca_file": "/etc/canary-tls/ca.crt",
            }
        },
    }
    with (
        helm.Chart.load(str(CHART)) as chart,
        pytest.raises(helm.HelmRenderError, match="livenessProbe: an httpGet probe cannot"),
    ):
        chart.render({"web": mtls}, name="rel", namespace="mon")
    tcp = {"httpGet": None, "tcpSocket": {"port": "http"}}  # null drops the default httpGet
    docs = render({"web": mtls, "livenessProbe": tcp, "readinessProbe": tcp})
    [container] = only(docs, "templates/deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert "httpGet" not in container["livenessProbe"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"web": {"config": {"basic_auth_users": {"a": "hunter2"}}}},
            "/web/config/basic_auth_users/a",
        ),
        ({"web": {"config": {"basic_auth_user": {}}}}, "basic_auth_user"),
        ({"web": {"apiResults": "yes"}}, "/web/apiResults"),
        ({"serviceMonitor": {"scheme": "ftp"}}, "/serviceMonitor/scheme"),
    ],
    ids=["plaintext-password", "misspelt-key", "api-results-string", "bad-scheme"],
)
def test_values_schema_rejects_bad_web_values(
    helm: Any, values: dict[str, Any], message: str
) -> None:
    """Web values are checked at install: bcrypt hashes, known keys, booleans."""
    with (
        helm.Chart.load(str(CHART)) as chart,
        pytest.raises(helm.HelmValuesError, match=re.escape(message)),
    ):
        chart.render(values, name="rel", namespace="mon")


def test_postgresql_mode_runs_replicas_without_a_pvc(render: Render, tmp_path: Path) -> None:
    """PostgreSQL mode: N replicas rolled one at a time, the DSN from the existing Secret as
    an env var the config substitutes, the pod name as replica id, no store volume or PVC, a
    PodDisruptionBudget over the same pods, and soft anti-affinity over nodes."""
    values = values_of(CHART / "ci" / "postgresql-values.yaml")
    docs = render(values)
    spec = only(docs, "templates/deployment.yaml")["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["CANARY_STORE_URL"] == {"secretKeyRef": {"name": "canary-postgres", "key": "dsn"}}
    assert "/var/lib/canary" not in {m["mountPath"] for m in container["volumeMounts"]}
    assert "data" not in {v["name"] for v in pod["volumes"]}
    assert "templates/pvc.yaml" not in docs or not docs["templates/pvc.yaml"]
    pdb = only(docs, "templates/pdb.yaml")
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = spec["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [preferred] = pod["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    term = preferred["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= labels.items()
    config = yaml.safe_load(only(docs, "templates/configmap.yaml")["data"]["config.yaml"])
    assert config["store"]["url"] == "${CANARY_STORE_URL}"
    assert config["cluster"] == {"enabled": True, "lease_ttl_s": 15, "heartbeat_s": 5}

    hard = render({**values, "postgresql": {**values["postgresql"], "podAntiAffinity": "hard"}})
    affinity = only(hard, "templates/deployment.yaml")["spec"]["template"]["spec"]["affinity"]
    [required] = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["topologyKey"] == "kubernetes.io/hostname"
    assert "templates/pdb.yaml" not in render() or not render()["templates/pdb.yaml"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"postgresql": {"enabled": True}}, "/postgresql/existingSecret"),
        (
            {"postgresql": {"enabled": True, "existingSecret": "s", "podAntiAffinity": "maybe"}},
            "/postgresql/podAntiAffinity",
        ),
        ({"postgresql": {"replicas": 0}}, "/postgresql/replicas"),
    ],
    ids=["no-secret", "bad-anti-affinity", "zero-replicas"],
)
def test_values_schema_rejects_bad_postgresql_values(
    helm: Any, values: dict[str, Any], message: str
) -> None:
    with (
        helm.Chart.load(str(CHART)) as chart,
        pytest.raises(helm.HelmValuesError, match=re.escape(message)),
    ):
        chart.render(values, name="rel", namespace="mon")
