"""The sandbox container's spec is locked down by default; extraction feeds the executor."""

from __future__ import annotations

import json

from agent_streams.messages import CodeBlockSpec
from agent_streams_executor.executors.containers import container_spec
from agent_streams_executor.extraction import extract_code_blocks, from_specs
from agent_streams_executor.settings import ExecutorSettings


def test_the_sandbox_is_locked_down_by_default() -> None:
    spec = container_spec(ExecutorSettings(), network=False, labels={"x": "y"})
    host = spec["host_config"]
    assert host["network_mode"] == "none"
    assert host["read_only"] is True
    assert host["cap_drop"] == ["ALL"]
    assert host["security_opt"] == ["no-new-privileges"]
    assert host["mem_limit"] == host["memswap_limit"] == "1024m"
    assert host["nano_cpus"] == 1_000_000_000
    assert host["pids_limit"] == 128
    assert "size=256m" in host["tmpfs"]["/workspace"]
    assert "nr_inodes=20000" in host["tmpfs"]["/workspace"]
    assert host["auto_remove"] is True
    assert host["log_config"]["Type"] == "none"
    assert spec["user"] == "10001:10001"
    assert spec["stdin_open"] is True
    assert "OPENAI_API_KEY" not in json.dumps(spec["environment"])
    config = json.loads(spec["command"][-1])
    assert config["container"] is True
    # slow imports go in after the sandbox is ready; warnings are kept out of the output
    assert "sklearn.linear_model" in config["preload_lazy"]
    assert spec["environment"]["PYTHONWARNINGS"] == "ignore"
    shown = container_spec(ExecutorSettings(python_warnings="default"), network=False, labels={})
    assert shown["environment"]["PYTHONWARNINGS"] == "default"


def test_network_only_when_asked_and_allowed_upstream() -> None:
    spec = container_spec(ExecutorSettings(network_name="sandbox-net"), network=True, labels={})
    assert spec["host_config"]["network_mode"] == "sandbox-net"


def test_operator_limits_reach_the_spec() -> None:
    settings = ExecutorSettings(
        memory_limit_mb=300, cpu_limit_cores=0.5, pids_limit=32, workdir_size_mb=10, tmp_size_mb=20
    )
    host = container_spec(settings, network=False, labels={})["host_config"]
    assert (host["mem_limit"], host["nano_cpus"], host["pids_limit"]) == ("300m", 500_000_000, 32)
    assert "size=20m" in host["tmpfs"]["/tmp"]


def test_a_task_timeout_never_exceeds_the_operators() -> None:
    settings = ExecutorSettings(timeout_s=30, max_timeout_s=120)
    assert settings.clamp_timeout(None) == 30
    assert settings.clamp_timeout(600) == 120
    assert settings.clamp_timeout(5) == 5


def test_extraction_gives_executor_blocks() -> None:
    reply = "```python\r\nprint(1)\r\n```\r\ntext\r\n```sh\r\nls\r\n```\r\n```\r\nDone\r\n```"
    blocks = extract_code_blocks(reply)
    assert [(b.language, b.code) for b in blocks] == [("python", "print(1)"), ("sh", "ls")]
    assert from_specs([CodeBlockSpec(code="x=1", language="python")])[0].code == "x=1"
