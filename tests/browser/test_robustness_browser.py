"""The Robustness page in real Chromium: its three charts, the corrupted examples, and
the link to the excitation view that shows where the two models differ."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import collect_errors
from tools.appserver import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_robustness_page_draws_and_links_to_the_excitation_view(
    page: Page, app_server: AppServer
):
    errors = collect_errors(page, app_server)
    page.goto("/")  # through the navigation, as a student gets there
    page.get_by_role("link", name="Robustness").click()
    expect(page.get_by_text("One corruption up close")).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(8, timeout=60_000)
    link = page.get_by_test_id("stPageLink-NavLink").filter(has_text="What SE learned")
    expect(link).to_be_visible()  # shot noise, the first corruption, differs on MNIST
    link.click()
    expect(page).to_have_url(re.compile(r"/excitation$"), timeout=60_000)
    assert errors == []
