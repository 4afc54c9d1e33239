"""One of Dataverse's sliding-window limits as this client keeps it (docs/wire-notes.md D6):
the number of requests, or their combined execution time, over the last `window_s`.

The server refuses a call (429) when what the user spent in the window has reached the
limit when the call arrives; calls still running are not counted yet, so a call let in may
take the window past the limit (the server allows that; later calls wait longer). This
client mirrors that rule with what it spent itself, so it waits for its oldest entries to
age out instead of being refused:

- `add` counts an answered call (one request, or its duration as execution time) when its
  answer arrives: later than the server counted it, so it also ages out later here than
  there. Calls still in flight are `pending`: the server counts their requests already
  (from when they arrived), not yet their execution time. A refused call is not added;
- `heard` is the limit the server's answers imply: the remaining budget of the answer's
  header plus what the server surely counted of this client's calls when the call arrived
  (`recent`): calls answered before it was sent, within the window before its answer, and,
  of the calls in flight, only the call itself (the others may not have reached the server
  yet). That is a lower bound (counting more overstated the limit under load, when a call
  waits long between leaving and arriving). The latest answer's figure is used. Other
  workers of the same application user spend the same budget, so their share comes out of
  it (the header is the server's count for the user);
- a 429 of this limit caps the limit at 90% of what this client had spent then, if that
  was at least half the limit heard (without headers: anything); the cap grows back by 2%
  (`REGROW`) of itself per window without another refusal, so freed capacity is found
  again slowly. A 429 when this client had spent little (an injected or passing one)
  only pauses it.

Entries age out `guard_s` (a clock tick's worth) after the window.
"""

from __future__ import annotations

import math
from collections import deque

SAFETY = 0.98  # of the limit heard: the server's and this client's stamps differ a little
CUT = 0.9  # of what was spent when refused
REGROW = 0.02  # of the cap, per window without a refusal
FAIR_SHARE = 0.5  # of the limit heard: a refusal then caps this client


class SlidingWindow:
    def __init__(self, window_s: float, *, guard_s: float | None = None) -> None:
        self.window_s = window_s
        self.guard_s = min(0.25, 0.005 * window_s) if guard_s is None else guard_s
        # (answered at, sent at, amount), in the order of answers
        self._entries: deque[tuple[float, float, float]] = deque()
        self._total = 0.0
        self._heard: deque[tuple[float, float]] = deque()  # (at, lower bound), rising
        self.cap = math.inf
        self._cut_at = 0.0
        self.refusals = 0

    # -- what was spent ---------------------------------------------------------------------
    def add(self, at: float, amount: float, *, sent_at: float | None = None) -> None:
        if self._entries and at < self._entries[-1][0]:
            at = self._entries[-1][0]  # keep the order the ageing relies on
        self._entries.append((at, at if sent_at is None else sent_at, amount))
        self._total += amount

    def spent(self, now: float) -> float:
        horizon = now - self.window_s - self.guard_s
        while self._entries and self._entries[0][0] <= horizon:
            self._total -= self._entries.popleft()[2]
        if not self._entries:
            self._total = 0.0  # no float drift once everything aged out
        return self._total

    def recent(self, now: float, *, answered_by: float) -> float:
        """For `hear` at `now`, what the server surely still counted when a call sent at
        `answered_by` reached it: calls answered by then (so they had reached it first), sent
        within the window before `now` (so within the window before its arrival too)."""
        self.spent(now)
        horizon = now - self.window_s
        return sum(
            amount for at, sent, amount in self._entries if at <= answered_by and sent > horizon
        )

    # -- the limit ---------------------------------------------------------------------------
    @property
    def heard(self) -> float:
        return self._heard[0][1] if self._heard else math.inf

    def hear(self, now: float, remaining: float, spent_at_send: float) -> None:
        """An answer's remaining budget for a call sent when this client had spent
        `spent_at_send` (the call itself counted, for the request count)."""
        self._heard = deque([(now, max(0.0, remaining) + spent_at_send)])

    def refused(self, now: float) -> None:
        """A 429 of this limit: the cap drops to 90% of what this client had spent, if that
        is a fair share of the limit last heard (at least half of it; all of it without
        headers). A refusal when this client had spent little (an injected or passing 429,
        a call that reached another web server) says nothing of its own pace: only the
        pause applies. (Lowering the limit heard to what little was spent would hold the next
        call, and so the next answer that tells the limit again, for a whole window.)"""
        self.refusals += 1
        spent = self.spent(now)
        heard = self.heard
        share = FAIR_SHARE * heard if self._heard else 0.0
        if spent > 0 and spent >= share:
            self.cap = min(self.cap, CUT * spent)
            self._cut_at = now
            if self._heard:  # until the next answer tells again
                self._heard = deque([(now, min(heard, CUT * spent / SAFETY))])

    def limit(self, now: float) -> float:
        if self.cap < math.inf and now - self._cut_at >= self.window_s:
            periods = (now - self._cut_at) // self.window_s
            self.cap *= (1 + REGROW) ** periods
            self._cut_at += periods * self.window_s
        return min(self.heard * SAFETY, self.cap)

    # -- pacing ------------------------------------------------------------------------------
    def free_at(self, now: float, pending: float = 0.0) -> float | None:
        """When a call may go, with `pending` counted besides the entries: `now` if the
        window has room, else the moment enough of the oldest entries have aged out (None:
        not before an answer, or nothing this client spent will make room)."""
        limit = self.limit(now)
        excess = self.spent(now) + pending - limit
        if excess < 0:
            return now
        for at, _, amount in self._entries:
            excess -= amount
            if excess < 0:
                return at + self.window_s + self.guard_s
        return None
