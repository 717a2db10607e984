"""The yardstick for start-up time: a minimal Textual app (Header, DataTable,
Footer) that shows the same two texts the dashboard's first frame is judged by.

Run: python tests/bench/minimal_app.py   (ctrl+q quits)
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

ROWS = [("111111111", "premium"), ("1fichier.com", "ok"), ("uploaded.net", "ok")]


class MinimalApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Status")
        table.add_rows(ROWS)


if __name__ == "__main__":
    MinimalApp().run()
