"""Fixtures of the analytics tests: a clinic day built through the services."""

from __future__ import annotations

import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.analytics.day import ClinicDay
from tests.factories import Accounts


@pytest.fixture
def day(runtime: Runtime, accounts: Accounts, frozen_clock: FrozenClock) -> ClinicDay:
    return ClinicDay(runtime, accounts, frozen_clock, runtime.settings.clinic_timezone)
