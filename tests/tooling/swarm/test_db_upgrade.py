"""Which upgrade scripts `workers db-upgrade` picks, in which order (the engine's own rules:
the current minor's patches, each minor step, then the patches of the minor it reaches)."""

from __future__ import annotations

import re

import pytest

from workers_tooling.errors import ToolingError
from workers_tooling.swarm._db_upgrade import EngineSchema, plan_upgrade

SCRIPTS = {name: "" for name in (
    "postgres_engine_7.21_to_7.22.sql",
    "postgres_engine_7.22_patch_7.22.0_to_7.22.1.sql",
    "postgres_engine_7.22_patch_7.22.1_to_7.22.2_2.sql",
    "postgres_engine_7.22_patch_7.22.1_to_7.22.2_1.sql",
    "postgres_engine_7.22_to_7.23.sql",
    "postgres_engine_7.23_patch_7.23.0_to_7.23.1.sql",
    "postgres_engine_7.23_to_7.24.sql",
    "postgres_engine_7.24_patch_7.24.0_to_7.24.1.sql",
    "postgres_engine_7.24_patch_7.24.1_to_7.24.2.sql",
)}


def test_from_a_patch_level_through_two_minors_to_a_patch_level() -> None:
    plan = plan_upgrade("7.22.1", EngineSchema("7.24.1", SCRIPTS))
    assert plan.scripts == (
        "postgres_engine_7.22_patch_7.22.1_to_7.22.2_1.sql",
        "postgres_engine_7.22_patch_7.22.1_to_7.22.2_2.sql",
        "postgres_engine_7.22_to_7.23.sql",
        "postgres_engine_7.23_patch_7.23.0_to_7.23.1.sql",
        "postgres_engine_7.23_to_7.24.sql",
        "postgres_engine_7.24_patch_7.24.0_to_7.24.1.sql",
    )


def test_the_same_version_needs_nothing_and_a_patch_only_its_patches() -> None:
    assert plan_upgrade("7.24.0", EngineSchema("7.24.0", SCRIPTS)).scripts == ()
    assert plan_upgrade("7.24.1", EngineSchema("7.24.2", SCRIPTS)).scripts == (
        "postgres_engine_7.24_patch_7.24.1_to_7.24.2.sql",)


def test_a_schema_newer_than_the_engine_is_refused() -> None:
    with pytest.raises(ToolingError, match=re.escape(
            "holds schema 7.25.0, newer than this engine's 7.24.0: start the engine of 7.25.0")):
        plan_upgrade("7.25.0", EngineSchema("7.24.0", SCRIPTS))


def test_a_gap_in_the_scripts_is_named() -> None:
    with pytest.raises(ToolingError, match=re.escape("no upgrade script from 7.20 in the jar")):
        plan_upgrade("7.20.3", EngineSchema("7.24.0", SCRIPTS))
