"""What every browser test reads of a widget's page: its parts, the state it shows
(``data-shown``), waits on its drawings (``data-version``), canvases as RGB, a clean page."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import numpy as np

#: Seconds one change may take to reach the picture.
CHANGE_TIMEOUT = 30.0
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*Error\b")
#: Errors of a front end's own code, raised with or without our widget on the page.
KNOWN_PAGE_ERRORS = (
    "pageerror: Cannot read properties of undefined (reading 'schema')",  # Notebook 7's settings loader
)

_CANVAS_RGB = """el => {
  const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 4) s += String.fromCharCode(d[i], d[i + 1], d[i + 2]);
  return {w: el.width, h: el.height, rgb: btoa(s)};
}"""


class View:
    """A widget's view on a page: act, wait for the next picture, read what is shown."""

    def __init__(self, page: Any, selector: str, keys: tuple[str, ...], shots: Path, prefix: str,
                 console: list[str]) -> None:
        self.page, self.shots, self.prefix, self.console = page, shots, prefix, console
        self.view = page.locator(selector).first
        self.keys = keys  # the state fields data-shown lists, in order

    def part(self, name: str) -> Any:
        return self.view.locator(f".aw-{name}").first

    def version(self) -> int:
        return int(self.view.evaluate("el => +(el.dataset.version || 0)"))

    def shown(self) -> list[str]:
        return self.view.evaluate("el => (el.dataset.shown || '').split('|')")

    def wait_drawn(self, after: int, timeout: float = CHANGE_TIMEOUT) -> None:
        self.page.wait_for_function(
            "([el, v]) => +(el.dataset.version || 0) > v && !el.classList.contains('aw-busy')",
            arg=[self.view.element_handle(), after], timeout=timeout * 1000)

    def act(self, fn: Any, step: str, **expect: Any) -> list[str]:
        """Do ``fn``; wait for a picture drawn after it that shows ``expect`` (state fields, such
        as ``channel=3``: a redraw for the kernel's echo of an earlier change is not taken for
        this one's). Returns what is shown."""
        before = self.version()
        fn()
        want = {self.keys.index(k): str(v) for k, v in expect.items()}
        try:
            self.page.wait_for_function(
                """([el, v, want]) => {
                     if (+(el.dataset.version || 0) <= v || el.classList.contains('aw-busy')) return false;
                     const shown = (el.dataset.shown || '').split('|');
                     return Object.entries(want).every(([i, value]) => shown[+i] === value);
                   }""",
                arg=[self.view.element_handle(), before, want], timeout=CHANGE_TIMEOUT * 1000)
        finally:
            self.screenshot(step)
        return self.shown()

    def screenshot(self, step: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{self.prefix}-{step}.png"))

    def rgb(self, name: str) -> np.ndarray:
        got = self.part(name).evaluate(_CANVAS_RGB)
        return np.frombuffer(base64.b64decode(got["rgb"]), np.uint8).reshape(got["h"], got["w"], 3)

    def text(self, name: str) -> str:
        return self.part(name).evaluate("el => el.textContent")

    def error(self) -> str:
        err = self.part("error")
        return err.inner_text() if err.is_visible() else ""

    def assert_clean(self) -> None:
        assert self.error() == "", self.error()
        assert not ERROR_TEXT.search(self.page.locator("body").inner_text())
        errors = [c for c in self.console if c.startswith("pageerror") and c not in KNOWN_PAGE_ERRORS]
        assert not errors, self.console
