"""One record of one run: binding → (match) → map → write only what changed → bind.

Every path ends in exactly one settled outcome row, or in the record being put back on the
queue to wait (a parent not synced yet, a 429, a connection failure), so a run always
accounts for every record it read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import (
    LINES_FIELD,
    Reference,
    SourceRef,
    SyncConnector,
    SyncRecord,
)
from shared.engine.decisions import Action, conflict_note, field_hashes, plan_fields, shown
from shared.engine.filters import names_on
from shared.engine.finders import finder
from shared.engine.intake import unencodable
from shared.engine.match_keys import MatchKey, Resolve, keys_of
from shared.engine.plan import FlowPlan, pair_of
from shared.engine.values import plain, same, values_hash
from shared.errors import ErrorCategory
from shared.flows.definitions import FlowKind
from shared.mapping.apply import FieldIssue, Mapped, map_fields, passes
from shared.mapping.model import Master
from shared.messages import RecordMessage
from shared.storage.binding_store import Binding, BindingStore, Side, other
from shared.storage.outcome_store import Outcome

log = logging.getLogger("shuttle.engine")

# A key claim whose holder never got bound is taken over after this long: far beyond what a
# record spends waiting and retrying (record_worker.py), so a live holder keeps its claim.
CLAIM_LEASE = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


# The field each system keeps a record's modification time in (named in run errors).
MODIFIED_FIELDS = {"creatio": "ModifiedOn", "intacct": "WHENMODIFIED", "dataverse": "modifiedon"}
# What counts as "in the future" and as "before any window" (sync_engine.py reads them).
FUTURE_SKEW = timedelta(minutes=5)
WINDOW_FLOOR = datetime(1900, 1, 1, tzinfo=UTC)


def modified_field(system: str) -> str:
    return MODIFIED_FIELDS.get(system, "modified")


def binding_resolver(bindings: BindingStore, solution: str, from_side: Side) -> Resolve:
    """Lookups through bindings: a source id of `from_side` -> the id bound to it."""

    async def resolve(binding: str, source_id: str) -> str | None:
        found = await bindings.get(pair_of(solution, binding), from_side, source_id)
        return found.id_of(other(from_side)) if found else None

    return resolve


@dataclass(frozen=True)
class Retry:
    """Put the record back on the queue after `delay` seconds."""

    delay: float
    reason: str
    category: ErrorCategory
    wait: bool = False  # a dependency wait (counts against waits, not retries)
    field: str | None = None  # named on the run if the record finally fails


# Its fields are Settlement's (shared/storage/outcome_store.py) on purpose: the worker hands
# what the upsert settled to the store with the record id, and storage never imports engine.
@dataclass(frozen=True)
class Settled:
    outcome: Outcome
    target_id: str | None = None
    category: ErrorCategory | None = None
    field: str | None = None
    message: str | None = None
    note: str | None = None
    action: Action | None = None  # what the run's plan shows (decisions.py)
    changes: dict[str, list[Any]] | None = None  # field -> [old, new], for updates


Result = Settled | Retry


def _failed(category: ErrorCategory, message: str, field: str | None = None) -> Settled:
    return Settled(Outcome.FAILED, category=category, field=field, message=message)


def _from_issues(issues: list[FieldIssue]) -> Result:
    waits = [i for i in issues if i.category is ErrorCategory.DEPENDENCY]
    if waits and len(waits) == len(issues):
        first = waits[0]
        return Retry(
            delay=0, reason=first.message, category=first.category, wait=True, field=first.field
        )
    bad = [i for i in issues if i.category is not ErrorCategory.DEPENDENCY]
    message = "; ".join(i.message for i in bad)
    return _failed(bad[0].category, message, bad[0].field)


@dataclass(eq=False, repr=False)
class RecordSync:
    plan: FlowPlan
    source: SyncConnector
    target: SyncConnector
    bindings: BindingStore
    clock: Callable[[], datetime] = utcnow
    dry_run: bool = field(default=False, init=False)
    version_cap: datetime | None = field(default=None, init=False)

    # ---- lookups through bindings ---------------------------------------------------------

    def _resolver(self, from_side: Side) -> Resolve:
        return binding_resolver(self.bindings, self.plan.entry.solution.id, from_side)

    async def _map(self, values: dict[str, Any], record_id: str, modified: datetime) -> Mapped:
        mapping = self.plan.mapping
        # The record's own key and version, for mappings (e.g. an ERP "last modified" field).
        values = {**values, "@id": record_id, "@modified": modified.isoformat()}
        mapped = await map_fields(
            mapping.fields,
            values,
            source_side=self.plan.master,
            resolve=self._resolver(self.plan.source_side),
            find=finder(self.source, self.target),
        )
        if mapping.lines is None or not mapped.ok:
            return mapped
        lines = await self.source.find(
            mapping.lines.object, {mapping.lines.parent_field: record_id}, limit=1000
        )
        out: list[dict[str, Any]] = []
        for number, line in enumerate(sorted(lines, key=lambda r: r.id), start=1):
            child = await map_fields(
                mapping.lines.fields,
                line.values,
                source_side=self.plan.master,
                resolve=self._resolver(self.plan.source_side),
                find=finder(self.source, self.target),
            )
            for issue in child.issues:
                mapped.issues.append(
                    FieldIssue(
                        f"{LINES_FIELD}[{number}].{issue.field}", issue.category, issue.message
                    )
                )
            out.append(child.values)
        mapped.values[LINES_FIELD] = out
        mapped.writable.add(LINES_FIELD)
        mapped.create_only.add(LINES_FIELD)  # lines are written with the document
        return mapped

    async def _echo_hash(self, after: dict[str, Any]) -> str | None:
        """What the target record maps back to, right after our write: when the opposite
        flow reads it, an equal hash marks it as our own echo."""
        reverse = self.plan.reverse
        if reverse is None:
            return None
        mapped = await map_fields(
            reverse.fields,
            after,
            source_side=Master(self.plan.target_side),
            resolve=self._resolver(self.plan.target_side),
            find=finder(self.target, self.source),
        )
        return values_hash(mapped.values) if mapped.ok else None

    # ---- the record ---------------------------------------------------------------------

    async def sync(self, message: RecordMessage) -> Result:
        """The record's result; one whose modification time no window reaches is synced
        like any other and reported (category validation, naming the time field)."""
        now = self.clock()
        # A future time is never kept as the version seen: the next real edit (stamped by
        # a correct clock) would look older and be skipped.
        self.version_cap = now
        result = await self._sync(message)
        stamp = message.modified
        if stamp > now + FUTURE_SKEW:
            problem = f"is in the future (the time here is {now.isoformat(timespec='seconds')})"
        elif stamp < WINDOW_FLOOR:
            problem = f"is before {WINDOW_FLOOR.date().isoformat()}, where no window reaches"
        else:
            return result
        if not isinstance(result, Settled) or result.outcome is Outcome.FAILED:
            return result
        field = modified_field(self.plan.source_system)
        text = (
            f"{field} {stamp.isoformat()} {problem}: scheduled runs cannot read this record "
            "by its time, so each run reads it separately and reports it until the timestamp "
            f"(or {self.plan.source_system}'s clock or time zone) is corrected; see "
            "docs/operations.md, 'Records outside every window'"
        )
        note = f"{text}; {result.note}" if result.note else text
        return Settled(
            result.outcome,
            target_id=result.target_id,
            category=ErrorCategory.VALIDATION,
            field=field,
            message=result.message,
            note=note,
        )

    async def _sync(self, message: RecordMessage) -> Result:
        plan = self.plan
        self.dry_run = message.dry_run
        values = message.values
        modified = message.modified
        if values is None:
            fresh = await self.source.get(plan.flow.source.object, message.record_id)
            if fresh is None:
                return await self._gone(message.record_id)  # deleted since it was read
            values, modified = fresh.values, fresh.modified
        flaw = unencodable(values)  # re-read values never went through a message
        if flaw is not None:
            return _failed(ErrorCategory.VALIDATION, f"{flaw[0]} {flaw[1]}", flaw[0])
        if not await passes(plan.mapping.filter, values, names_on(self.source)):
            return Settled(Outcome.SKIPPED, action=Action.SKIPPED_BY_FILTER)

        binding = await self.bindings.get(plan.pair, plan.source_side, message.record_id)
        if binding is not None:
            seen = binding.version_of(plan.source_side)
            if seen is not None and modified < seen:
                return Settled(
                    Outcome.SKIPPED,
                    target_id=binding.id_of(plan.target_side),
                    action=Action.SKIPPED_OLDER,
                )
        mapped = await self._map(values, message.record_id, modified)
        if not mapped.ok:
            return _from_issues(mapped.issues)
        digest = values_hash(mapped.values)

        if binding is not None and plan.flow.kind is FlowKind.BINDING:
            return Settled(
                Outcome.UNCHANGED,
                target_id=binding.id_of(plan.target_side),
                action=Action.UNCHANGED,
            )
        if binding is not None:
            if binding.created_run == message.run_id and not self.dry_run:
                # This run created and bound it, and its worker died before the outcome was
                # settled: what happened to the record in this run is that it was created.
                target_id = binding.id_of(plan.target_side)
                return Settled(Outcome.CREATED, target_id=target_id, action=Action.CREATE)
            if digest in (binding.hash_to(plan.target_side), binding.echo_of(plan.source_side)):
                # Our own write coming back: both sides now hold these values, the new base.
                echo = digest == binding.echo_of(plan.source_side)
                base = field_hashes(mapped.values) if echo else None
                if not self.dry_run:
                    await self._bind(
                        binding.crm_id, binding.erp_id, modified, digest, echo=None, base=base
                    )
                return Settled(
                    Outcome.UNCHANGED,
                    target_id=binding.id_of(plan.target_side),
                    action=Action.UNCHANGED,
                )
            return await self._update(
                binding.id_of(plan.target_side),
                mapped,
                modified,
                digest,
                message.record_id,
                base=binding.base_to(plan.target_side),
            )

        if plan.mapping.updates is not None:
            return await self._update_bound(mapped, modified, digest, message.record_id)
        matched = await self._match(mapped, message.record_id)
        if isinstance(matched, Settled):
            return matched
        if not self.dry_run and (matched is not None or plan.flow.kind is not FlowKind.BINDING):
            refused = await self._claim(mapped, message.record_id, creating=matched is None)
            if refused is not None:
                return refused
        if matched is not None and plan.flow.kind is FlowKind.BINDING and not self.dry_run:
            # Binding flows only link; the scheduled flows compare and write afterwards.
            version = {f"{plan.source_side}_version": self._version(modified)}
            await self.bindings.write(
                plan.pair,
                *self._ids(message.record_id, matched.id),
                version,
                source=plan.source_side,
            )
            return Settled(Outcome.UPDATED, target_id=matched.id, action=Action.LINK)
        if matched is not None and plan.flow.kind is FlowKind.BINDING:
            return Settled(Outcome.UPDATED, target_id=matched.id, action=Action.LINK)  # dry run
        if matched is not None:
            result = await self._update(
                matched.id, mapped, modified, digest, message.record_id, current=matched
            )
            if isinstance(result, Settled) and result.outcome is not Outcome.FAILED:
                # Linking is a change, even with equal values; unless this record made the
                # target in an earlier attempt, when it is that create's outcome.
                earlier = await self._created_earlier(mapped, message.record_id)
                return Settled(
                    Outcome.CREATED if earlier else Outcome.UPDATED,
                    target_id=matched.id,
                    field=result.field,
                    note=result.note,
                    action=Action.CREATE if earlier else Action.LINK,
                    changes=result.changes,
                )
            return result
        if plan.flow.kind is FlowKind.BINDING:
            return self._not_bound(mapped, message.record_id)  # binding flows never create
        return await self._create(mapped, modified, digest, message.record_id, message.run_id)

    async def _update_bound(
        self, mapped: Mapped, modified: datetime, digest: str, record_id: str
    ) -> Result:
        """An update-only flow's first sync of a record: its target is the record bound to
        the same source id under another binding; without one it waits, never creates."""
        plan = self.plan
        via = plan.mapping.updates
        assert via is not None
        target_id = await self._resolver(plan.source_side)(via.binding, record_id)
        if target_id is not None and via.take is not None:
            # The bound record names the one to update (an order's OpportunityId).
            bound = await self.target.get(via.object, target_id, fields=[via.take])
            taken = bound.values.get(via.take) if bound is not None else None
            target_id = str(taken.id if isinstance(taken, Reference) else taken) if taken else None
        if target_id is None and via.optional:
            return Settled(Outcome.SKIPPED)  # e.g. an invoice no Creatio order made
        if target_id is None:
            flow = f"; run '{plan.entry.solution.id}.{via.flow}'" if via.flow else ""
            reason = (
                f"{plan.source_system} {plan.flow.source.object} {record_id} has no bound "
                f"{plan.target_system} {via.object} yet{flow}; the record waits for it"
            )
            return Retry(delay=0, reason=reason, category=ErrorCategory.DEPENDENCY, wait=True)
        if plan.flow.kind is FlowKind.BINDING:
            return Settled(Outcome.SKIPPED, action=Action.UNCHANGED)
        return await self._update(target_id, mapped, modified, digest, record_id)

    async def _gone(self, record_id: str) -> Settled:
        """A source record the source no longer has: reported `deleted at source` with its
        binding. Nothing is deleted in the target; with `on_delete: deactivate` (and outside
        binding flows, which never write) the bound target record is made inactive."""
        plan = self.plan
        binding = await self.bindings.get(plan.pair, plan.source_side, record_id)
        target_id = binding.id_of(plan.target_side) if binding else None
        bound = f"; bound to {self._target_names(target_id)}" if target_id else ""
        text = f"deleted at source: {self._names(record_id)}{bound}"
        report = Settled(
            Outcome.SKIPPED,
            target_id=target_id,
            category=ErrorCategory.NOT_FOUND,
            note=text,
            action=Action.DELETED_AT_SOURCE,
        )
        inactive = plan.mapping.inactive
        if (
            target_id is None
            or plan.mapping.on_delete != "deactivate"
            or plan.flow.kind is FlowKind.BINDING
        ):
            return report
        current = await self.target.get(plan.flow.target.object, target_id)
        if current is None:
            return report  # gone on both sides
        changes = {k: v for k, v in inactive.items() if not same(current.values.get(k), v)}
        shown_changes = {k: [shown(current.values.get(k)), shown(v)] for k, v in changes.items()}
        if changes and not self.dry_run:
            await self.target.update(plan.flow.target.object, target_id, changes)
        return Settled(
            Outcome.UPDATED if changes else Outcome.UNCHANGED,
            target_id=target_id,
            category=ErrorCategory.NOT_FOUND,
            note=f"{text}; deactivated there (on_delete: deactivate)"
            if changes
            else f"{text}; already inactive there",
            action=Action.DELETED_AT_SOURCE,
            changes=shown_changes or None,
        )

    def _not_bound(self, mapped: Mapped, record_id: str) -> Settled:
        """A binding flow's record that no target record matches: reported, never created."""
        plan = self.plan
        keys = [k.shown() for k in keys_of(plan.mapping, plan.flow.target.object, mapped.values)]
        by = " or ".join(keys) if keys else "any match key (the record has no key values)"
        return Settled(
            Outcome.SKIPPED,
            category=ErrorCategory.NOT_FOUND,
            note=f"not bound: no {plan.target_system} {plan.flow.target.object} "
            f"matches {self._names(record_id)} by {by}",
            action=Action.NOT_BOUND,
        )

    def _names(self, record_id: str) -> str:
        return f"{self.plan.source_system} {self.plan.flow.source.object} {record_id}"

    def _target_names(self, target_id: str) -> str:
        return f"{self.plan.target_system} {self.plan.flow.target.object} {target_id}"

    async def _bound_elsewhere(self, target_id: str, record_id: str) -> str | None:
        """The other source record `target_id` is bound to, if it is bound to one."""
        plan = self.plan
        binding = await self.bindings.get(plan.pair, plan.target_side, target_id)
        if binding is None or binding.id_of(plan.source_side) == record_id:
            return None
        return binding.id_of(plan.source_side)

    def _taken(self, record_id: str, target_id: str, other: str, key: str) -> Settled:
        plan = self.plan
        return _failed(
            ErrorCategory.DUPLICATE,
            f"{self._names(record_id)} matches {self._target_names(target_id)} by {key}, but "
            f"that record is already bound to {plan.flow.source.object} {other}; two source "
            f"records are never merged into one: merge the two in {plan.source_system}, or give "
            "this one its own key values, then retry the run",
        )

    async def _match(self, mapped: Mapped, record_id: str) -> SyncRecord | Settled | None:
        plan = self.plan
        for key in keys_of(plan.mapping, plan.flow.target.object, mapped.values):
            found = await self.target.find(plan.flow.target.object, key.criteria, limit=2)
            if len(found) > 1:
                return _failed(
                    ErrorCategory.DUPLICATE,
                    f"{len(found)}+ {plan.target_system} {plan.flow.target.object} records match "
                    f"{key.shown()} ({', '.join(r.id for r in found)}); merge them in "
                    f"{plan.target_system}, or make the value unique at the source, then retry "
                    "the run",
                    field=key.fields[0],
                )
            if len(found) == 1:
                other = await self._bound_elsewhere(found[0].id, record_id)
                if other is not None:
                    taken = self._taken(record_id, found[0].id, other, key.shown())
                    return Settled(
                        taken.outcome,
                        category=taken.category,
                        field=key.fields[0],
                        message=taken.message,
                    )
                return found[0]
        return None

    async def _claim(
        self, mapped: Mapped, record_id: str, *, creating: bool = False
    ) -> Settled | None:
        """Claim each match key of the record before it creates or links a target record:
        a key another source record holds fails this one as a duplicate (binding_store.py)."""
        plan = self.plan
        for key in keys_of(plan.mapping, plan.flow.target.object, mapped.values):
            refused = await self._claim_one(key, record_id, creating=creating)
            if refused is not None:
                return refused
        return None

    async def _created_earlier(self, mapped: Mapped, record_id: str) -> bool:
        """A matched, unbound target that an earlier delivery of this record created (its
        worker died before binding): its outcome is `created`, what happened the first time."""
        plan = self.plan
        keys = keys_of(plan.mapping, plan.flow.target.object, mapped.values)
        return bool(keys) and await self.bindings.created_by(
            plan.pair, plan.target_side, keys[0].text, record_id
        )

    async def _claim_one(
        self, key: MatchKey, record_id: str, *, creating: bool = False
    ) -> Settled | None:
        plan = self.plan
        now = self.clock()
        held = await self.bindings.claim(
            plan.pair, plan.target_side, key.text, record_id, now, creating=creating
        )
        if held is None:
            return None
        binding = await self.bindings.get(plan.pair, plan.source_side, held.source_id)
        stale = binding is None and held.at < now - CLAIM_LEASE
        # A holder never bound within the lease failed, or its worker died: take it over.
        if stale and await self.bindings.take_over(
            plan.pair, plan.target_side, held, record_id, now
        ):
            return None
        if binding is not None:
            where = f"it is bound to {self._target_names(binding.id_of(plan.target_side))}"
        else:
            where = f"it has no {plan.target_system} record yet (being synced now, or it failed)"
        return _failed(
            ErrorCategory.DUPLICATE,
            f"{self._names(record_id)} and {plan.flow.source.object} {held.source_id} share the "
            f"match key {key.shown()}, which {held.source_id} holds ({where}); two source "
            f"records are never written onto one {plan.target_system} record: merge the two in "
            f"{plan.source_system}, or give one of them its own key values, then retry the run",
            field=key.fields[0],
        )

    async def _create(
        self, mapped: Mapped, modified: datetime, digest: str, record_id: str, run_id: str
    ) -> Result:
        plan = self.plan
        # A new record has no master value yet: it gets every mapped field that has a value.
        values = {k: v for k, v in mapped.values.items() if v not in (None, "")}
        source = SourceRef(system=plan.source_system, object=plan.flow.source.object, id=record_id)
        if self.dry_run:
            return Settled(
                Outcome.CREATED,
                action=Action.CREATE,
                changes={k: [None, shown(v)] for k, v in values.items() if k != LINES_FIELD},
            )
        written = await self.target.create(plan.flow.target.object, values, source=source)
        if not written.created:
            # The target already had a record with this create key: ours from an earlier
            # attempt, unless it is bound to another source record.
            other = await self._bound_elsewhere(written.id, record_id)
            if other is not None:
                return self._taken(record_id, written.id, other, "its create key")
        after = plain({k: v for k, v in values.items() if k != LINES_FIELD})
        echo = await self._echo_hash(after)
        ids = self._ids(record_id, written.id)
        await self._bind(
            *ids,
            modified,
            digest,
            echo=echo,
            base=field_hashes({k: after.get(k) for k in mapped.values}),
            created_run=run_id,
        )
        return Settled(
            Outcome.CREATED,
            target_id=written.id,
            action=Action.CREATE,
            changes={k: [None, shown(v)] for k, v in values.items() if k != LINES_FIELD},
        )

    async def _update(
        self,
        target_id: str,
        mapped: Mapped,
        modified: datetime,
        digest: str,
        record_id: str,
        current: SyncRecord | None = None,
        base: dict[str, str] | None = None,
    ) -> Result:
        plan = self.plan
        if current is None:
            current = await self.target.get(plan.flow.target.object, target_id)
        if current is None:
            return _failed(
                ErrorCategory.NOT_FOUND,
                f"the bound {plan.target_system} {plan.flow.target.object} {target_id} no longer "
                f"exists (deleted or merged in {plan.target_system}); restore it there, or "
                "have an administrator remove the binding rows, then retry the run",
            )
        fields = plan_fields(
            current.values,
            mapped.values,
            mapped.writable,
            mapped.create_only,
            base,
            source_system=plan.source_system,
            target_system=plan.target_system,
            shared=frozenset(f.to for f in plan.mapping.fields if f.master is Master.BOTH),
            source_newer=modified >= current.modified,
        )
        changes = fields.changes
        notes: list[str] = []
        if fields.conflicts:
            notes.append(conflict_note(fields.conflicts, plan.source_system, plan.target_system))
        if fields.blocked:
            blocked = fields.blocked
            notes.append(
                f"{', '.join(blocked)}: {plan.target_system} masters "
                f"{'this field' if len(blocked) == 1 else 'these fields'}; the "
                f"{plan.source_system} value was not written and {plan.target_system}'s stands"
            )
        note = "; ".join(notes) or None
        named = fields.conflicts[0].field if fields.conflicts else None
        named = named or (fields.blocked[0] if fields.blocked else None)
        outcome = Outcome.UPDATED if changes else Outcome.UNCHANGED
        if changes:
            action = Action.UPDATE
        else:
            action = Action.BLOCKED_BY_MASTERSHIP if fields.blocked else Action.UNCHANGED
        settled = Settled(
            outcome,
            target_id=target_id,
            field=named,
            note=note,
            action=action,
            changes=fields.shown_changes() or None,
        )
        if self.dry_run:
            return settled
        after = plain({**current.values, **changes})
        echo = await self._echo_hash(after)
        ids = self._ids(record_id, target_id)
        if changes:
            await self.target.update(plan.flow.target.object, target_id, changes)
        await self._bind(
            *ids,
            modified,
            digest,
            echo=echo,
            base=field_hashes({k: after.get(k) for k in mapped.values}),
        )
        return settled

    def _version(self, modified: datetime) -> datetime:
        cap = self.version_cap
        return min(modified, cap) if cap is not None else modified

    def _ids(self, record_id: str, target_id: str) -> tuple[str, str]:
        if self.plan.source_side == "crm":
            return record_id, target_id
        return target_id, record_id

    async def _bind(
        self,
        crm_id: str,
        erp_id: str,
        modified: datetime,
        digest: str,
        echo: str | None,
        base: dict[str, str] | None = None,
        created_run: str | None = None,
    ) -> None:
        source, target = self.plan.source_side, self.plan.target_side
        changes: dict[str, Any] = {
            f"{source}_version": self._version(modified),
            f"hash_to_{target}": digest,
        }
        if created_run is not None:
            changes["created_run"] = created_run
        if echo is not None:
            changes[f"echo_{target}"] = echo
        if base is not None:
            changes[f"base_to_{target}"] = json.dumps(base, separators=(",", ":"))
        await self.bindings.write(
            self.plan.pair, crm_id, erp_id, changes, source=self.plan.source_side
        )


def classify(error: ConnectorError, retries: int, max_retries: int) -> Result:
    """A connector failure: transient ones go back on the queue (honouring Retry-After)
    until `max_retries`; everything else fails the record with its category."""
    if error.category is ErrorCategory.DEPENDENCY:
        # The target refused a reference to a record it does not have yet: wait for it.
        return Retry(
            delay=0, reason=error.message, category=error.category, wait=True, field=error.field
        )
    if error.retryable and retries < max_retries:
        delay = error.retry_after if error.retry_after is not None else min(2.0**retries, 300.0)
        return Retry(delay=delay, reason=error.message, category=error.category, field=error.field)
    message = error.message
    if error.retryable:
        message = f"gave up after {retries} retries: {message}"
    return Settled(Outcome.FAILED, category=error.category, field=error.field, message=message)


__all__ = ["Binding", "RecordSync", "Result", "Retry", "Settled", "classify"]
