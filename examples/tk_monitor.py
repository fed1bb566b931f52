"""A Tkinter window that lists executions and shows the live output of one.

Tk widgets belong to the thread running the Tk main loop, and blinker receivers
run on the engine's event-dispatch thread. So the receiver only puts each event
on a ``queue.Queue``; the main loop drains that queue every 50 ms with
``root.after`` and updates the widgets itself. No widget is ever touched from
another thread.

The window submits a few demo commands (one prints over time, one writes to
stderr, one fails, one times out, one is cancelled once it has printed) and
offers an entry to run more shell commands. The output pane follows the newest
execution until you select a row; then it shows the selected one.

Run it from the repository root: ``python examples/tk_monitor.py``.
``--self-test`` (or ``TK_MONITOR_SELF_TEST=1``) runs the demo, waits until every
execution has ended, prints the rows and each execution's output pane to
stdout and exits: what the tests run under Xvfb.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from uuid import UUID

from actors import ExecutionEngine, signals
from messages import (
    Cancelled,
    Completed,
    ExecutionConfig,
    ExecutionEvent,
    ExecutionRequest,
    Failed,
    Shell,
    Started,
    Stderr,
    Stdout,
)

POLL_MS = 50
SELF_TEST_DEADLINE_MS = 30_000
TERMINAL = {"completed", "failed", "timed_out", "cancelled"}
CANCEL_ME = "echo waiting to be cancelled; sleep 30"
DEMO = [
    ExecutionRequest(command=Shell(command='for i in 1 2 3; do echo "count $i"; sleep 0.1; done')),
    ExecutionRequest(command=Shell(command="echo to stdout; echo to stderr >&2")),
    ExecutionRequest(command=Shell(command="echo about to fail; exit 3")),
    ExecutionRequest(command=Shell(command="echo sleeping; sleep 30"), timeout_ms=500),
    ExecutionRequest(command=Shell(command=CANCEL_ME)),
]


class Monitor:
    """The window: a table of executions over the output pane of one of them."""

    def __init__(self, root: tk.Tk, engine: ExecutionEngine) -> None:
        self.root = root
        self.engine = engine
        self.inbox: queue.Queue[ExecutionEvent] = queue.Queue()
        self.lines: dict[str, list[tuple[str, str]]] = {}
        """Each execution's (stream, line) pairs, by tree row id (the execution id)."""
        self.shown: str | None = None
        self.follow_latest = True
        self.finished: list[str] = []
        self._poll_id: str | None = None
        self._build()
        # A bound method: blinker holds it weakly, and the Monitor lives as long as the window.
        signals.event.connect(self._receive, sender=engine)

    def _build(self) -> None:
        self.root.title("execution engine monitor")
        bar = ttk.Frame(self.root, padding=4)
        bar.pack(fill="x")
        self.entry = ttk.Entry(bar)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _e: self._run_entry())
        ttk.Button(bar, text="Run", command=self._run_entry).pack(side="left", padx=4)
        ttk.Button(bar, text="Cancel selected", command=self._cancel_selected).pack(side="left")

        panes = ttk.PanedWindow(self.root, orient="vertical")
        panes.pack(fill="both", expand=True)
        self.tree = ttk.Treeview(
            panes, columns=("id", "command", "status"), show="headings", height=8
        )
        for column, width in (("id", 90), ("command", 420), ("status", 90)):
            self.tree.heading(column, text=column)
            self.tree.column(column, width=width, stretch=column == "command")
        self.tree.bind("<<TreeviewSelect>>", self._on_select)
        panes.add(self.tree, weight=1)

        frame = ttk.Frame(panes)
        self.title = ttk.Label(frame, text="output")
        self.title.pack(anchor="w")
        self.text = tk.Text(frame, height=12, wrap="none", state="disabled")
        self.text.tag_configure("stderr", foreground="red")
        self.text.tag_configure("engine", foreground="gray40")
        self.text.pack(fill="both", expand=True)
        panes.add(frame, weight=2)
        self.summary = ttk.Label(self.root, text="", padding=4)
        self.summary.pack(fill="x")

    # -- the engine's dispatch thread: only the queue ------------------------------

    def _receive(self, sender: ExecutionEngine, *, event: ExecutionEvent) -> None:
        self.inbox.put(event)

    # -- the Tk thread ------------------------------------------------------------

    def start(self) -> None:
        """Submit the demo and start draining events."""
        for request in DEMO:
            self.submit(request)
        self._poll_id = self.root.after(POLL_MS, self._drain)

    def stop(self) -> None:
        """Stop draining and listening; the window can then be destroyed."""
        signals.event.disconnect(self._receive, sender=self.engine)
        if self._poll_id is not None:
            self.root.after_cancel(self._poll_id)
            self._poll_id = None

    def submit(self, request: ExecutionRequest) -> str:
        """Run ``request`` and add its row, pending until its Started event."""
        iid = str(self.engine.execute(request))
        self._add_row(iid, request.command.describe())
        return iid

    def _add_row(self, iid: str, command: str) -> None:
        if not self.tree.exists(iid):
            self.tree.insert("", "end", iid=iid, values=(iid[:8], command, "pending"))
            self.lines[iid] = []
            if self.follow_latest:
                self._show(iid)

    def _drain(self) -> None:
        while True:
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
        self._update_summary()
        self._poll_id = self.root.after(POLL_MS, self._drain)

    def _apply(self, event: ExecutionEvent) -> None:
        iid = str(event.execution_id)
        self._add_row(iid, event.command if isinstance(event, Started) else "?")
        if isinstance(event, Started):
            self._set_status(iid, "running")
        elif isinstance(event, Stdout | Stderr):
            self._append(iid, [(event.type, line) for line in event.lines])
            if self.tree.set(iid, "command") == CANCEL_ME:
                # ask(Cancel) is answered in microseconds: fine on the Tk thread.
                self.engine.cancel(event.execution_id)
        elif isinstance(event, Completed):
            self._end(iid, "completed", f"exit {event.exit_code}, {event.duration_ms} ms")
        elif isinstance(event, Failed):
            status = "timed_out" if event.reason == "timeout" else "failed"
            self._end(iid, status, event.message)
        elif isinstance(event, Cancelled):
            self._end(iid, "cancelled", f"after {event.duration_ms} ms")

    def _set_status(self, iid: str, status: str) -> None:
        self.tree.set(iid, "status", status)

    def _end(self, iid: str, status: str, detail: str) -> None:
        self._set_status(iid, status)
        self._append(iid, [("engine", f"[{status}] {detail}")])
        self.finished.append(iid)

    def _append(self, iid: str, lines: list[tuple[str, str]]) -> None:
        self.lines[iid].extend(lines)
        if iid == self.shown:
            self._write(lines)

    def _write(self, lines: list[tuple[str, str]]) -> None:
        self.text.configure(state="normal")
        for stream, line in lines:
            self.text.insert("end", line + "\n", (stream,))
        self.text.configure(state="disabled")
        self.text.see("end")

    def _show(self, iid: str) -> None:
        self.shown = iid
        self.title.configure(text=f"output of {iid[:8]}: {self.tree.set(iid, 'command')}")
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        self._write(self.lines[iid])

    def _on_select(self, _event: object) -> None:
        selected = self.tree.selection()
        if selected:
            self.follow_latest = False
            self._show(selected[0])

    def _run_entry(self) -> None:
        command = self.entry.get().strip()
        if command:
            self.entry.delete(0, "end")
            self.submit(ExecutionRequest(command=Shell(command=command)))

    def _cancel_selected(self) -> None:
        for iid in self.tree.selection():
            self.engine.cancel(UUID(iid))

    def _update_summary(self) -> None:
        statuses = [self.tree.set(iid, "status") for iid in self.tree.get_children()]
        counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        self.summary.configure(text="  ".join(f"{s}: {n}" for s, n in counts.items()))

    def all_ended(self) -> bool:
        """True when every row shows a terminal status."""
        rows = self.tree.get_children()
        return bool(rows) and all(self.tree.set(iid, "status") in TERMINAL for iid in rows)

    def dump(self) -> str:
        """The widgets' contents as text: one line per row, then each output pane."""
        out = []
        for iid in self.tree.get_children():
            cells = [self.tree.set(iid, column) for column in ("id", "command", "status")]
            out.append("row " + " | ".join(cells))
        for iid in self.tree.get_children():
            self._show(iid)
            for line in self.text.get("1.0", "end-1c").splitlines():
                out.append(f"text {iid[:8]} | {line}")
        return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Open the window; with ``--self-test``, run the demo to its end and print the widgets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--self-test",
        action="store_true",
        default=os.environ.get("TK_MONITOR_SELF_TEST", "") not in ("", "0"),
        help="run the demo headless-friendly: print the widgets once all executions ended",
    )
    args = parser.parse_args(argv)
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        print(f"tk_monitor: cannot open a window ({exc}); is DISPLAY set?", file=sys.stderr)
        return 2
    config = ExecutionConfig.development(
        log_dir=Path(tempfile.gettempdir()) / "engine-example", kill_grace_ms=200
    )
    outcome = {"code": 0}
    timers: list[str] = []
    with ExecutionEngine(config) as engine:
        monitor = Monitor(root, engine)

        def close() -> None:
            monitor.stop()
            for timer in timers:
                root.after_cancel(timer)
            root.destroy()

        def check_done() -> None:
            if monitor.all_ended():
                print(monitor.dump(), flush=True)
                close()
            else:
                timers.append(root.after(POLL_MS, check_done))

        def give_up() -> None:
            print(monitor.dump(), flush=True)
            print("tk_monitor: not every execution ended in time", file=sys.stderr)
            outcome["code"] = 1
            close()

        root.protocol("WM_DELETE_WINDOW", close)
        monitor.start()
        if args.self_test:
            timers.append(root.after(POLL_MS, check_done))
            timers.append(root.after(SELF_TEST_DEADLINE_MS, give_up))
        try:
            root.mainloop()
        except KeyboardInterrupt:  # Ctrl-C reaches Python in the next after() callback
            monitor.stop()
            root.destroy()
            outcome["code"] = 130
    return outcome["code"]


if __name__ == "__main__":
    raise SystemExit(main())
