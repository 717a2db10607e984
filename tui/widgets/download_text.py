"""A download in words: the log's Download cell, the detail's lines and the
status line's totals."""

from __future__ import annotations

from rich.text import Text

from tui import formatting
from tui.core.download_queue import ELSEWHERE
from tui.core.events import DownloadTotals
from tui.download.job import ENDED, Download, DownloadState
from tui.untrusted import plain

DOWNLOAD_STYLES = {
    DownloadState.QUEUED: "dim",
    DownloadState.DOWNLOADING: "bold cyan",
    DownloadState.PAUSED: "yellow",
    DownloadState.VERIFYING: "cyan",
    DownloadState.DONE: "green",
    DownloadState.FAILED: "bold red",
    DownloadState.CANCELLED: "dim strike",
}
BAR_WIDTH = 6
COMPACT_WIDTH = 10
""" "▇▇▇▇▁▁ 64%" and "paused 40%": the column at 80 columns."""
WIDE_WIDTH = 29
""" "▇▇▇▇▁▁ 64%  2.0 MB/s 0:18 x4": with speed, time left and connections, from
120 columns."""
TIMES = "\u00d7"
"""The sign before the connections in use (a multiplication sign)."""


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = round(width * fraction)
    return "▇" * filled + "▁" * (width - filled)


def download_cell(job: Download, *, wide: bool) -> Text:
    """The log's cell: the state, with a bar and the percentage while it downloads,
    the percentage kept while paused; speed and time left when `wide`."""
    style = DOWNLOAD_STYLES[job.state]
    fraction = job.fraction
    if job.elsewhere and job.state not in ENDED:
        # Its speed is the other process's to know: how far it got.
        return Text(
            "other" if fraction is None else f"other {formatting.percent(fraction)}", style="dim"
        )
    if job.state is DownloadState.DOWNLOADING and not job.connections and not job.speed:
        # Waiting for a connection (the hoster's others are taken) or its answer.
        waiting = "connecting" if fraction is None else f"connecting {formatting.percent(fraction)}"
        return Text(waiting, style="dim")
    if job.state is DownloadState.DOWNLOADING:
        if fraction is None:  # no size known: how much so far
            text = Text(f"↓ {formatting.size(job.done)}", style=style)
        else:
            text = Text.assemble((bar(fraction), "cyan"), f" {formatting.percent(fraction)}")
        if wide:
            text.append(f" {formatting.speed(job.speed):>9}")
            if job.eta is not None:
                text.append(f" {formatting.time_left(job.eta)}")
            if job.connections > 1:
                text.append(f" {TIMES}{job.connections}", style="dim")
        return text
    if job.state is DownloadState.PAUSED and fraction is not None:
        return Text(f"paused {formatting.percent(fraction)}", style=style)
    return Text(job.state.value, style=style)


def totals_line(totals: DownloadTotals) -> Text:
    """ "↓ 2 files · 23.4 MB/s · 1.2 GB left · 1 queued"; empty when nothing downloads."""
    if not totals.active and not totals.queued:
        return Text()
    files = "file" if totals.active == 1 else "files"
    parts = [f"↓ {totals.active} {files}", formatting.speed(totals.speed)]
    if totals.remaining:
        parts.append(f"{formatting.size(totals.remaining)} left")
    if totals.queued:
        parts.append(f"{totals.queued} queued")
    return Text(" · ".join(parts), style="cyan")


def detail_lines(job: Download | None) -> Text:
    """The detail's Download section: state, bytes, speed, time left,
    connections, the file's path and the message (the server's: plain)."""
    if job is None:
        return Text("not downloaded (d downloads it)", style="dim")
    done = formatting.size(job.done)
    total = formatting.size(job.total) if job.total is not None else "size unknown"
    fraction = job.fraction
    state = Text(job.state.value, style=DOWNLOAD_STYLES[job.state])
    if fraction is not None and job.state is not DownloadState.DONE:
        state.append(f"  {bar(fraction, 20)} {formatting.percent(fraction)}")
    if job.elsewhere:
        state.append(f"  ({ELSEWHERE})", style="dim")
    text = Text.assemble(("state     ", "dim"), state, "\n", ("bytes     ", "dim"))
    text.append(f"{done} / {total}")
    if job.state is DownloadState.DOWNLOADING:
        eta = "unknown" if job.eta is None else formatting.time_left(job.eta)
        text.append("\n")
        text.append_text(Text.assemble(("speed     ", "dim"), formatting.speed(job.speed)))
        text.append_text(Text.assemble(("  time left ", "dim"), eta))
        text.append_text(Text.assemble(("  connections ", "dim"), str(job.connections)))
    text.append("\n")
    text.append_text(Text.assemble(("file      ", "dim"), plain(job.target or job.folder, 300)))
    if job.message:
        text.append("\n")
        text.append_text(Text.assemble(("message   ", "dim"), plain(job.message, 300)))
    return text
