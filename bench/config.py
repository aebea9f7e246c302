"""Config file cost: piped `ask -b echo` with the README's example config file against no config file, same run.

Also times `resolve_config` in-process on that file (parse, check, layer, resolve), which is the whole added work.
Usage: python bench/config.py [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import sys
import timeit
from pathlib import Path

from harness import CHATCLI, bench_env, markdown_table, median, private_home, run_piped

LIMIT = 1.05  # the file layer may add at most 5 % to a piped echo answer
README = Path(__file__).resolve().parent.parent / "README.md"


def example_config() -> str:
    """The first ```toml block of the README's Configuration section: the documented example config file."""
    text = README.read_text(encoding="utf-8")
    section = text.find("\n## Configuration\n")
    match = re.compile(r"```toml\n(.*?)```", re.DOTALL).search(text, section)
    assert section != -1 and match, "README's Configuration section has no toml example"
    assert "[profiles.vllm]" in match.group(1), (
        "the example config no longer defines the vllm profile timed here"
    )
    return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds

    bare, configured = private_home(), private_home()
    config_file = configured / ".config" / "chatcli" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(example_config(), encoding="utf-8")
    argv = [CHATCLI, "ask", "-b", "echo", "-p", "vllm"]
    walls: dict[str, list[float]] = {"no config file": [], "README example config": []}
    for _ in range(rounds):  # interleaved, so load on the machine hits both alike
        walls["no config file"].append(run_piped(argv[:4], bench_env(bare), b"hi\n").wall)
        walls["README example config"].append(run_piped(argv, bench_env(configured), b"hi\n").wall)

    from chatcli.cli.settings_resolution import resolve_config

    calls = 2000
    per_call = (
        timeit.timeit(lambda: resolve_config({"profile": "vllm"}, {}, config_file), number=calls) / calls
    )

    base = median(walls["no config file"])
    rows = [
        (name, f"{median(values) * 1000:.1f} ms", f"{median(values) / base:.3f}")
        for name, values in walls.items()
    ]
    print(markdown_table(("piped `ask -b echo`", "median wall", "ratio"), rows))
    ratio = median(walls["README example config"]) / base
    print(f"\nresolve_config on the example file, in-process: {per_call * 1e6:.0f} µs per call")
    print(f"target: ratio ≤ {LIMIT} — {'met' if ratio <= LIMIT else 'MISSED'} ({ratio:.3f}, {rounds} rounds)")
    sys.exit(0 if ratio <= LIMIT else 1)


if __name__ == "__main__":
    main()
