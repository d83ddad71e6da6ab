"""deploy/: the Kubernetes manifests and the AWS NLB template, checked as far as this machine
allows (no cluster, no AWS account): parsed as YAML, cross-checked against each other and
against the relay (every KINESYSLOG_* variable is an option of `kinesyslog listen --help`, and
the relay starts with the manifest's settings and delivers a message through PROXY v2)."""

import ipaddress
import re
import subprocess

import pytest
import yaml

import relay as R

DEPLOY = R.REPO / "deploy"
K8S = DEPLOY / "kubernetes" / "kinesyslog.yaml"
CFN = DEPLOY / "aws" / "nlb.yaml"
WATCHDOG = 15  # the relay exits by itself this long after --shutdown-grace (docs/operations.md)


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form functions: `!Ref X` becomes {"Ref": X}, `!GetAtt
    A.B` {"Fn::GetAtt": ["A", "B"]}, any other `!Fn` {"Fn::Fn": value}."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _cfn_tag)


def k8s_documents():
    return [d for d in yaml.safe_load_all(K8S.read_text()) if d]


def one(docs, kind, name=None):
    found = [d for d in docs
             if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def listen_options():
    """The long options `kinesyslog listen --help` lists."""
    result = R.run_relay(["listen", "--help"])
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"^\s+--([a-z0-9-]+)", result.stdout.decode(), re.M))


def env_name(option):
    return "KINESYSLOG_" + option.upper().replace("-", "_")


def container_env(container):
    return {e["name"]: e["value"] for e in container["env"]}


def named_port(container, port, protocol="TCP"):
    """A probe's or Service's targetPort (a name or a number) as a number."""
    if isinstance(port, int):
        return port
    [p] = [p for p in container["ports"] if p["name"] == port]
    assert p.get("protocol", "TCP") == protocol, p
    return p["containerPort"]


@pytest.fixture(scope="module")
def k8s():
    docs = k8s_documents()
    sts = one(docs, "StatefulSet")
    [container] = sts["spec"]["template"]["spec"]["containers"]
    return docs, sts, container, container_env(container)


def test_every_kinesyslog_variable_is_a_listen_option(k8s):
    _, _, _, env = k8s
    options = {env_name(o) for o in listen_options()}
    used = set(re.findall(r"\bKINESYSLOG_[A-Z0-9_]+", K8S.read_text() + CFN.read_text()))
    used |= {k for k in env if k.startswith("KINESYSLOG_")}
    assert used, "no KINESYSLOG_* variable in deploy/"
    assert used <= options, f"not options of `kinesyslog listen`: {sorted(used - options)}"
    # And every --option the CloudFormation outputs name.
    flags = set(re.findall(r"--([a-z][a-z0-9-]+)", CFN.read_text()))
    assert flags <= listen_options(), sorted(flags - listen_options())


def test_statefulset_spool_probes_user_and_shutdown(k8s):
    _, sts, container, env = k8s
    pod = sts["spec"]["template"]["spec"]
    # A volume per pod for the spool, mounted where the relay keeps it.
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    assert mount["mountPath"] == env["KINESYSLOG_SPOOL_DIR"] == "/var/spool/kinesyslog"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain", "whenScaled": "Retain"}
    # The image's user (deploy/Containerfile: USER 10514:10514), and the volume writable by it.
    assert "USER 10514:10514" in (DEPLOY / "Containerfile").read_text()
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == 10514
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Probes on the metrics port: liveness /healthz, readiness /readyz.
    metrics = int(env["KINESYSLOG_PROMETHEUS_PORT"])
    for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert named_port(container, get["port"]) == metrics, probe
    # Kubernetes waits out the preStop sleep, the relay's shutdown grace and its watchdog
    # before it would SIGKILL.
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = float(env["KINESYSLOG_SHUTDOWN_GRACE"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + grace + WATCHDOG
    assert pre_stop >= 5, "the load balancer needs a moment to stop sending"


def test_services_nlb_with_proxy_v2(k8s):
    docs, _, container, env = k8s
    metrics = env["KINESYSLOG_PROMETHEUS_PORT"]
    tcp = one(docs, "Service", "kinesyslog-tcp")
    udp = one(docs, "Service", "kinesyslog-udp")
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    for svc in (tcp, udp):
        a = svc["metadata"]["annotations"]
        assert svc["spec"]["type"] == "LoadBalancer"
        assert a[prefix + "type"] == "external" and a[prefix + "nlb-target-type"] == "ip"
        assert a[prefix + "healthcheck-protocol"] == "http"
        assert a[prefix + "healthcheck-path"] == "/readyz"
        assert a[prefix + "healthcheck-port"] == metrics
    a = tcp["metadata"]["annotations"]
    attributes = dict(kv.split("=") for kv in a[prefix + "target-group-attributes"].split(","))
    assert attributes["proxy_protocol_v2.enabled"] == "true"
    assert attributes["preserve_client_ip.enabled"] == "false"
    assert a[prefix + "proxy-protocol"] == "*"
    assert "proxy-protocol" not in str(udp["metadata"]["annotations"])
    # The Services lead to the relay's ports; the TCP one is a --proxy-protocol port.
    [tcp_port] = tcp["spec"]["ports"]
    [udp_port] = udp["spec"]["ports"]
    assert tcp_port["protocol"] == "TCP" and udp_port["protocol"] == "UDP"
    relay_tcp = named_port(container, tcp_port["targetPort"], "TCP")
    assert str(relay_tcp) in env["KINESYSLOG_TCP_PORT"].split()
    assert str(relay_tcp) in env["KINESYSLOG_PROXY_PROTOCOL"].split()
    assert str(named_port(container, udp_port["targetPort"], "UDP")) in env[
        "KINESYSLOG_UDP_PORT"].split()
    # Only the VPC may send PROXY headers.
    for network in env["KINESYSLOG_PROXY_TRUSTED"].split():
        ipaddress.ip_network(network, strict=True)
    # Every Service selects the StatefulSet's pods.
    labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    for svc in (d for d in docs if d["kind"] == "Service"):
        assert svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"]


def test_cloudformation_nlb_target_groups():
    template = yaml.load(CFN.read_text(), Loader=CloudFormationLoader)
    params, resources = template["Parameters"], template["Resources"]

    def value(v):
        """A literal, or the default of the parameter it refers to."""
        if isinstance(v, dict) and "Ref" in v:
            return params[v["Ref"]].get("Default")
        return v

    # Every !Ref and !GetAtt names something in the template (or a pseudo parameter).
    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Ref":
                    yield v
                elif k == "Fn::GetAtt":
                    yield v[0]
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for name in refs(template):
        assert name in params or name in resources or name.startswith("AWS::"), name
    for name in re.findall(r"\$\{([A-Za-z0-9:]+)\}", str(template["Outputs"])):
        assert name in params or name in resources, name

    groups = {n: r["Properties"] for n, r in resources.items()
              if r["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"}
    tcp = [g for g in groups.values() if g["Protocol"] == "TCP"]
    assert len(tcp) == 1 and any(g["Protocol"] == "UDP" for g in groups.values())
    for g in groups.values():
        assert g["HealthCheckProtocol"] == "HTTP" and g["HealthCheckPath"] == "/readyz"
        assert str(value(g["HealthCheckPort"])) == "9514"
        assert str(value(g["Port"])) == "5514"
    attributes = {a["Key"]: a["Value"] for a in tcp[0]["TargetGroupAttributes"]}
    assert attributes["proxy_protocol_v2.enabled"] == "true"
    assert attributes["preserve_client_ip.enabled"] == "false"
    listeners = [r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"]
    assert sorted(l["Protocol"] for l in listeners) == ["TCP", "UDP"]
    for l in listeners:
        [action] = l["DefaultActions"]
        target = groups[action["TargetGroupArn"]["Ref"]]
        assert target["Protocol"] == l["Protocol"]
    lb = [r["Properties"] for r in resources.values()
          if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
    assert [p["Type"] for p in lb] == ["network"]
    ipaddress.ip_network(params["VpcCidr"]["Default"], strict=True)


def test_relay_starts_with_the_manifest_settings(k8s, dirs, output):
    """The StatefulSet's environment, with local ports, directories and an output directory in
    place of the stream and the metrics port: the relay starts, and a PROXY v2 connection from
    a trusted address is delivered under its client's address."""
    _, _, _, env = k8s
    port, udp = R.free_port(), R.free_port()
    local = {k: v for k, v in env.items() if k.startswith("KINESYSLOG_")}
    del local["KINESYSLOG_STREAM"]
    local.update({
        "KINESYSLOG_TCP_PORT": str(port), "KINESYSLOG_UDP_PORT": str(udp),
        "KINESYSLOG_PROXY_PROTOCOL": str(port),
        # Loopback stands in for the VPC, and is added to the manifest's networks.
        "KINESYSLOG_PROXY_TRUSTED": local["KINESYSLOG_PROXY_TRUSTED"] + " 127.0.0.0/8",
        "KINESYSLOG_SPOOL_DIR": str(dirs.spool), "KINESYSLOG_OUTPUT_DIR": str(dirs.out),
        "KINESYSLOG_PROMETHEUS_PORT": "0", "KINESYSLOG_ADDRESS": "127.0.0.1",
        "KINESYSLOG_FLUSH_INTERVAL": "0.2",
    })
    r = R.Relay(["listen"], dirs.logs, env=local)
    try:
        r.wait_ready()
        s = R.tcp_connect(port, source="127.0.0.9")
        s.sendall(R.proxy_v2("192.0.2.44", "198.51.100.1", 40000, 514) +
                  b"<13>1 2026-12-03T00:00:00Z host app - - - through the manifest\n")
        s.close()
        [ev] = output.wait_count(1)
        assert ev["stream"] == "192.0.2.44"
        assert r.stop() == 0, r.stderr
    finally:
        if r.running():
            r.kill()
