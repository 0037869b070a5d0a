"""The Draw page's canvas: its size, stroke and widget key; the prompt shown while it is empty.

Here, not in the page, so the tools that drive the page from outside (tools/canvas.py,
for bench/, scripts/ and tests/) read the same values the page uses.
"""

from __future__ import annotations

CANVAS_SIZE = 280  # ten canvas pixels per MNIST pixel
DEFAULT_STROKE = 20  # a digit drawn across most of the canvas gets MNIST's 2-3 px strokes
CANVAS_KEY = "draw_canvas_"  # the canvas widget's key, followed by its generation number
PROMPT = "Draw a digit from 0 to 9 on the black canvas; both models answer when you lift the mouse."
