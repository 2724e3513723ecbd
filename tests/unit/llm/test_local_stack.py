"""``python -m perf_tests local-stack``: without the vLLM virtualenv it is one clear error, nothing started."""

from perf_tests.cli import main


def test_without_the_vllm_env_it_says_how_to_make_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["local-stack", "--folder", str(tmp_path / "stack"), "--", "true"]) == 2
    error = capsys.readouterr().err
    assert "the vLLM virtualenv is missing" in error and "make vllm-env" in error
    assert not (tmp_path / "stack").exists()
