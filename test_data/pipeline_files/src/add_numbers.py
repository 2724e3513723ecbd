"""Source of ``test_data/pipeline_files/add_numbers.yaml``: three chained lightweight components.

``add(a, b)`` feeds ``double(x)``, which feeds ``add(x, b)`` again, so the compiled spec has three tasks
in its root DAG and two integer pipeline parameters, ``a`` and ``b``, with defaults.

Regenerate the YAML after editing (from the repository root)::

    .venv/bin/python test_data/pipeline_files/src/add_numbers.py
"""

# No `from __future__ import annotations`: kfp reads the real annotation objects of component functions.
from pathlib import Path

from kfp import compiler, dsl


@dsl.component(base_image="python:3.11-slim")
def add(x: int, y: int) -> int:
    """Return the sum of two integers."""
    return x + y


@dsl.component(base_image="python:3.11-slim")
def double(x: int) -> int:
    """Return twice an integer."""
    return 2 * x


@dsl.pipeline(name="add-numbers", description="Adds a and b, doubles the sum, then adds b again.")
def add_numbers(a: int = 1, b: int = 2) -> int:
    """Compute ``2 * (a + b) + b`` in three chained tasks."""
    first = add(x=a, y=b).set_display_name("add-a-b")
    doubled = double(x=first.output).set_display_name("double")
    last = add(x=doubled.output, y=b).set_display_name("add-b-again")
    return last.output


def main() -> None:
    """Compile the pipeline next to the ``src`` folder."""
    target = Path(__file__).resolve().parent.parent / "add_numbers.yaml"
    compiler.Compiler().compile(pipeline_func=add_numbers, package_path=str(target))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
