"""The public names of ``actors.ray`` and ``actors.ray.testing``: exactly ``__all__``."""

from __future__ import annotations

import inspect

import pytest

import actors.ray
import actors.ray.testing


def test_actors_ray_all_lists_exactly_the_ray_launcher() -> None:
    assert actors.ray.__all__ == ["RayLauncher"]


def test_actors_ray_testing_all_lists_the_head_and_its_helpers() -> None:
    assert set(actors.ray.testing.__all__) == {"LOOPBACK_ENV", "LocalRayHead", "session_pids"}


@pytest.mark.parametrize(
    ("module", "name"),
    [(actors.ray, name) for name in actors.ray.__all__]
    + [(actors.ray.testing, name) for name in actors.ray.testing.__all__],
)
def test_every_public_name_of_the_ray_backend_has_a_docstring(module: object, name: str) -> None:
    obj = getattr(module, name)
    doc = inspect.getdoc(obj) if callable(obj) else module.__doc__
    assert doc


def test_ray_launcher_refuses_a_num_cpus_that_is_not_a_positive_number() -> None:
    for bad in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="num_cpus"):
            actors.ray.RayLauncher(num_cpus=bad)  # type: ignore[arg-type]
