"""Renders README's inspect screenshot from a real model: `python docs/screenshot.py [MODEL]` writes
docs/inspect.svg (Rich's own terminal export); then `rsvg-convert -z 1.5 docs/inspect.svg -o docs/inspect.png`."""

import sys
from pathlib import Path

from rich.console import Console

import lstmtext
from lstmtext.cli.heatmap import inspection_view

TEXT = "When there is fire, there is smoke."

model = lstmtext.load(sys.argv[1] if len(sys.argv) > 1 else "demo")
console = Console(record=True, width=72, color_system="truecolor", force_terminal=True, file=open("/dev/null", "w"))
console.print(f'$ lstmtext inspect "{TEXT}" --show forget', style="bold")
console.print(inspection_view(model.inspect(TEXT, show="forget")))
console.save_svg(str(Path(__file__).with_name("inspect.svg")), title="lstmtext inspect")
