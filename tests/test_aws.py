"""AwsCli commands: the real ``aws`` CLI against a local moto server, and how they are launched."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from actors import ExecutionEngine
from actors.backends import build_launch_spec
from messages import AwsCli, ExecutionConfig, ExecutionRequest, ExecutionStatus
from tests._moto import MotoEndpoint
from tests.conftest import request

# One aws CLI call takes one to two seconds here; leave room for a busy machine.
AWS_TIMEOUT_S = 60.0


def aws_request(
    command: AwsCli, moto_endpoint: MotoEndpoint, aws_cli: str, **fields: object
) -> ExecutionRequest:
    """A request that talks to moto and runs the same ``aws`` the fixture found."""
    path = f"{Path(aws_cli).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    env = {**moto_endpoint.env, "PATH": path}
    return request(command, env=env, **fields)


def bucket_name() -> str:
    """A bucket name no other test of the session uses."""
    return f"engine-test-{uuid.uuid4().hex[:12]}"


# --- the real CLI against moto ------------------------------------------------------------------


@pytest.mark.aws
def test_sts_get_caller_identity_returns_the_moto_account(
    moto_endpoint: MotoEndpoint, aws_cli: str, engine: ExecutionEngine
) -> None:
    command = AwsCli(service="sts", operation="get-caller-identity")
    execution_id = engine.execute(aws_request(command, moto_endpoint, aws_cli))
    result = engine.get_result(execution_id, timeout=AWS_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED, result.stderr
    assert json.loads(result.stdout)["Account"] == "123456789012"


@pytest.mark.aws
def test_a_created_bucket_shows_in_list_buckets(
    moto_endpoint: MotoEndpoint, aws_cli: str, engine: ExecutionEngine
) -> None:
    name = bucket_name()
    create = AwsCli(service="s3api", operation="create-bucket", args=("--bucket", name))
    created = engine.get_result(
        engine.execute(aws_request(create, moto_endpoint, aws_cli)), timeout=AWS_TIMEOUT_S
    )
    assert created.status is ExecutionStatus.COMPLETED, created.stderr
    listing = AwsCli(service="s3api", operation="list-buckets")
    listed = engine.get_result(
        engine.execute(aws_request(listing, moto_endpoint, aws_cli)), timeout=AWS_TIMEOUT_S
    )
    assert listed.status is ExecutionStatus.COMPLETED, listed.stderr
    assert name in [bucket["Name"] for bucket in json.loads(listed.stdout)["Buckets"]]


@pytest.mark.aws
def test_the_region_reaches_the_cli(
    moto_endpoint: MotoEndpoint, aws_cli: str, engine: ExecutionEngine
) -> None:
    command = AwsCli(service="ec2", operation="describe-availability-zones", region="eu-west-1")
    result = engine.get_result(
        engine.execute(aws_request(command, moto_endpoint, aws_cli)), timeout=AWS_TIMEOUT_S
    )
    assert result.status is ExecutionStatus.COMPLETED, result.stderr
    zones = json.loads(result.stdout)["AvailabilityZones"]
    assert zones
    assert {zone["RegionName"] for zone in zones} == {"eu-west-1"}


@pytest.mark.aws
def test_an_unknown_profile_fails_the_execution_with_the_clis_message(
    moto_endpoint: MotoEndpoint, aws_cli: str, engine: ExecutionEngine
) -> None:
    command = AwsCli(service="sts", operation="get-caller-identity", profile="no-such-profile")
    result = engine.get_result(
        engine.execute(aws_request(command, moto_endpoint, aws_cli)), timeout=AWS_TIMEOUT_S
    )
    assert result.status is ExecutionStatus.FAILED
    assert result.exit_code not in (None, 0)
    assert "no-such-profile" in result.stderr


@pytest.mark.aws
def test_output_text_gives_the_clis_text_format(
    moto_endpoint: MotoEndpoint, aws_cli: str, engine: ExecutionEngine
) -> None:
    command = AwsCli(service="sts", operation="get-caller-identity", output="text")
    result = engine.get_result(
        engine.execute(aws_request(command, moto_endpoint, aws_cli)), timeout=AWS_TIMEOUT_S
    )
    assert result.status is ExecutionStatus.COMPLETED, result.stderr
    assert not result.stdout.lstrip().startswith("{")
    assert "123456789012" in result.stdout.split("\t")


# --- how an AwsCli child is launched (no CLI needed) ---------------------------------------------


def test_the_launch_argv_is_aws_service_operation_flags_then_args() -> None:
    command = AwsCli(
        service="s3api",
        operation="list-objects-v2",
        args=("--bucket", "b"),
        profile="dev",
        region="eu-west-1",
        output="text",
    )
    spec = build_launch_spec(request(command), ExecutionConfig.testing())
    assert spec.argv == (
        "aws",
        "s3api",
        "list-objects-v2",
        "--profile",
        "dev",
        "--region",
        "eu-west-1",
        "--output",
        "text",
        "--bucket",
        "b",
    )


def test_the_launch_env_has_an_empty_aws_pager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PAGER", raising=False)
    command = AwsCli(service="sts", operation="get-caller-identity")
    spec = build_launch_spec(request(command), ExecutionConfig.testing())
    assert spec.env is not None
    assert spec.env["AWS_PAGER"] == ""


def test_the_launch_env_keeps_the_aws_pager_the_request_sets() -> None:
    command = AwsCli(service="sts", operation="get-caller-identity")
    spec = build_launch_spec(request(command, env={"AWS_PAGER": "cat"}), ExecutionConfig.testing())
    assert spec.env is not None
    assert spec.env["AWS_PAGER"] == "cat"


def test_an_inherited_aws_pager_does_not_reach_the_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # API.md: AWS_PAGER="" "unless the request's env sets it" -- a pager in the
    # engine's own environment would still wait for ever on a headless run.
    monkeypatch.setenv("AWS_PAGER", "less")
    command = AwsCli(service="sts", operation="get-caller-identity")
    spec = build_launch_spec(request(command), ExecutionConfig.testing())
    assert spec.env is not None
    assert spec.env["AWS_PAGER"] == ""


@pytest.fixture
def fake_aws(tmp_path: Path) -> str:
    """A folder holding an ``aws`` that prints its arguments and AWS_PAGER as JSON."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    program = bin_dir / "aws"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        'print(json.dumps({"argv": sys.argv[1:], "pager": os.environ.get("AWS_PAGER")}))\n'
    )
    program.chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize(
    ("request_env", "pager"),
    [({}, ""), ({"AWS_PAGER": "cat"}, "cat")],
    ids=["default", "set-by-request"],
)
def test_the_aws_child_gets_an_empty_aws_pager_unless_the_request_sets_it(
    engine: ExecutionEngine,
    fake_aws: str,
    monkeypatch: pytest.MonkeyPatch,
    request_env: dict[str, str],
    pager: str,
) -> None:
    monkeypatch.delenv("AWS_PAGER", raising=False)
    env = {"PATH": f"{fake_aws}{os.pathsep}{os.environ.get('PATH', '')}", **request_env}
    command = AwsCli(service="sts", operation="get-caller-identity", region="eu-west-1")
    result = engine.get_result(engine.execute(request(command, env=env)), timeout=AWS_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED, result.stderr
    seen = json.loads(result.stdout)
    assert seen["pager"] == pager
    assert seen["argv"] == [
        "sts",
        "get-caller-identity",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
