"""Two students in two browser contexts on the real server (with .streamlit/config.toml):
one uploads, the other draws, and neither sees the other's input; uploads need the
session's XSRF token and stay under the size limit."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from se_demo.core.data import Split
from se_demo.drawing.preprocess import MAX_UPLOAD_BYTES
from tests.browser.conftest import collect_errors, draw_after_clear
from tests.conftest import scan_png
from tools.appserver import AppServer
from tools.canvas import CANVAS, DIGITS, PROMPT, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
ANSWERS = (".st-key-draw_answer_cnn", ".st-key-draw_answer_senet")


@pytest.fixture
def open_draw_page(browser: Browser, app_server: AppServer) -> Iterator[object]:
    """Opens the Draw page in a new browser context (a new session); checks its errors."""
    pages: list[tuple[Page, list[str]]] = []

    def open_page() -> Page:
        context = browser.new_context(base_url=app_server.url)
        page = context.new_page()
        errors = collect_errors(page, app_server)
        page.goto("/draw")
        expect(page.get_by_text(PROMPT)).to_be_visible()
        expect(page.locator(CANVAS)).to_be_visible()
        pages.append((page, errors))
        return page

    yield open_page
    for page, errors in pages:
        assert errors == [], f"browser console errors: {errors}"
        page.context.close()
    assert "Traceback" not in app_server.output(), app_server.output()


def _answers(page: Page, digit: int) -> list[str]:
    """Both models' sentences, e.g. 'SENet: 7 (97 % sure)', once both are shown."""
    sentences = []
    for selector, title in zip(ANSWERS, ("Basic CNN", "SENet"), strict=True):
        expect(page.locator(selector)).to_contain_text(f"{title}: {digit} (")
        sentences.append(page.locator(selector).inner_text().strip().splitlines()[-1])
    return sentences


def test_one_students_uploads_never_reach_another_student(
    open_draw_page, test_split: Split
) -> None:
    drawing = open_draw_page()
    draw(drawing, DIGITS[7])
    expect(drawing.locator(".st-key-draw_verdict")).to_have_text("Both models read 7.")
    first_answers = _answers(drawing, 7)

    uploading = open_draw_page()
    uploading.get_by_role("radio", name="Upload an image").click()
    label = int(test_split.labels[1])
    scan = scan_png(test_split.images[1].numpy())
    uploading.locator(UPLOAD_INPUT).set_input_files(
        {"name": "digit.png", "mimeType": "image/png", "buffer": scan}
    )  # through the real upload route, with the session's XSRF token
    expect(uploading.locator(".st-key-draw_verdict")).to_have_text(f"Both models read {label}.")
    too_big = scan + bytes(MAX_UPLOAD_BYTES)
    uploading.locator(UPLOAD_INPUT).set_input_files(
        {"name": "huge.png", "mimeType": "image/png", "buffer": too_big}
    )
    expect(uploading.get_by_text("huge.png", exact=True)).to_be_visible()
    expect(uploading.get_by_test_id("stAlertContentError")).to_contain_text(
        f"huge.png: The file is {MAX_UPLOAD_BYTES / 2**20 + 0.1:.1f} MB"
    )

    # The drawing student's page has none of it, and the same strokes get the same answers.
    expect(drawing.locator(UPLOAD_INPUT)).to_have_count(0)
    expect(drawing.get_by_text("digit.png")).to_have_count(0)
    assert _answers(drawing, 7) == first_answers
    drawing.get_by_role("button", name="Clear").click()
    expect(drawing.get_by_text(PROMPT)).to_be_visible()
    draw_after_clear(drawing, DIGITS[7], drawing.locator(".st-key-draw_verdict"))
    expect(drawing.locator(".st-key-draw_verdict")).to_have_text("Both models read 7.")
    assert _answers(drawing, 7) == first_answers


def test_uploads_without_the_sessions_xsrf_token_are_refused(app_server: AppServer) -> None:
    request = urllib.request.Request(
        f"{app_server.url}/_stcore/upload_file/some-session/some-file",
        data=b"--x\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\nA\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert "XSRF" in refused.value.read().decode()
