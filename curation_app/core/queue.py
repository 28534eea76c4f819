"""Who annotates what: assignment with overlap k, reservations that expire, the next item.

This module is the only writer of the queue's bookkeeping (Query.in_pool, n_claims, pool_open,
retired, and every Assignment state); other modules call its named operations: close an item
that became final, reopen it, retire confirmed duplicates, send an item back, count a
submission, and the columns new queries start with.

Each query has `overlap` slots. A slot is claimed by an assignment that is assigned (pushed by a
lead), reserved (opened by an annotator, until it expires) or submitted. The invariant, after
every operation:

    n_claims = the query's assignments in a claiming state (assigned, reserved, submitted)
    in_pool  => released by a lead, not final and not retired
    pool_open = in_pool and n_claims < k

so finding an annotator's next item is an index lookup whatever the number of queries. Slots are
taken with a conditional UPDATE (`n_claims < k`), so two annotators can never push a query past
k, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, exists, func, insert, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from curation_app.core.project import load_project
from curation_app.models import (OPEN_STATES, Annotation, AnnotationState, Assignment, AssignmentState,
                                 CandidateSample, CandidateSampleQuery, FinalLabel, Query, Role, User, utcnow)

ASSIGNED, RESERVED, EXPIRED, SKIPPED, SUBMITTED = (
    AssignmentState.ASSIGNED, AssignmentState.RESERVED, AssignmentState.EXPIRED, AssignmentState.SKIPPED,
    AssignmentState.SUBMITTED)
HOLDING_STATES = (ASSIGNED, RESERVED)  # open assignments that hold a slot

CANDIDATES_PER_TRY = 20
MAX_CANDIDATE_ROUNDS = 50
STATUS_COUNT_CAP = 1000


def _pool_open(claims, k: int):  # type: ignore[no-untyped-def]
    """pool_open as the invariant defines it, for a query whose claims become `claims`."""
    return and_(Query.in_pool, claims < k)


def _is_final():  # type: ignore[no-untyped-def]
    return select(FinalLabel.query_id).where(FinalLabel.query_id == Query.id).exists()


def initial_bookkeeping() -> dict:
    """The queue columns of a newly imported query: not released, no claims."""
    return {"in_pool": False, "n_claims": 0, "pool_open": False, "retired": False, "queue_rank": 0.0}


def refresh_pool(session: Session, *, overlap: int) -> None:
    """Recompute which queries have a free slot, e.g. after the overlap setting changed."""
    session.execute(update(Query).values(
        pool_open=and_(Query.in_pool, not_(Query.retired), Query.n_claims < overlap, not_(_is_final()))))


def _release_slot(session: Session, query_id: int, k: int) -> None:
    session.execute(update(Query).where(Query.id == query_id).values(
        n_claims=Query.n_claims - 1, pool_open=_pool_open(Query.n_claims - 1, k)))


def _take_slot(session: Session, query_id: int, k: int) -> bool:
    """Claim one slot of a query if one is free; atomic on both databases."""
    result = session.execute(
        update(Query).where(Query.id == query_id, Query.n_claims < k).values(
            n_claims=Query.n_claims + 1, pool_open=_pool_open(Query.n_claims + 1, k)))
    return result.rowcount == 1


def _add_claim(session: Session, query_id: int, k: int) -> None:
    """Count a claim that must not be refused (work someone already did)."""
    session.execute(update(Query).where(Query.id == query_id).values(
        n_claims=Query.n_claims + 1, pool_open=_pool_open(Query.n_claims + 1, k)))


def close_item(session: Session, *, query_id: int) -> None:
    """An item became final: it leaves the pool, its open assignments are closed and their slots
    released (submitted work keeps its slot)."""
    _close(session, query_id)


def reopen_item(session: Session, *, query_id: int, overlap: int) -> None:
    """A final label was removed: the item is back in the pool, unless it is retired."""
    session.execute(update(Query).where(Query.id == query_id, not_(Query.retired)).values(
        in_pool=True, pool_open=Query.n_claims < overlap))


def retire_duplicates(session: Session, *, query_ids: list[int]) -> None:
    """Confirmed duplicates: out of the pool and out of every annotator's queue, for good."""
    for query_id in query_ids:
        _close(session, query_id, retired=True)


def unretire(session: Session, *, query_id: int) -> None:
    """A lead cleared a duplicate: it may be assigned again (it is not put back by itself)."""
    session.execute(update(Query).where(Query.id == query_id).values(retired=False))


def _close(session: Session, query_id: int, **query_values: object) -> None:
    """Out of the pool and out of every annotator's queue: open assignments are closed and the
    slots they held released (submitted work keeps its slot)."""
    held = session.execute(select(func.count()).select_from(Assignment).where(
        Assignment.query_id == query_id, Assignment.state.in_(HOLDING_STATES))).scalar_one()
    session.execute(update(Assignment).where(
        Assignment.query_id == query_id, Assignment.state.in_(OPEN_STATES)).values(
        state=SKIPPED, reserved_until=None, updated_at=utcnow()))
    session.execute(update(Query).where(Query.id == query_id).values(
        n_claims=Query.n_claims - held, in_pool=False, pool_open=False, **query_values))


def send_back_to(session: Session, *, query_id: int, annotator_ids: list[int]) -> None:
    """Annotators asked to look again get the item back in their queue. Their submitted
    assignment already holds its slot, so the claims do not change."""
    if annotator_ids:
        session.execute(update(Assignment).where(
            Assignment.query_id == query_id, Assignment.annotator_id.in_(annotator_ids)).values(
            state=ASSIGNED, reserved_until=None, updated_at=utcnow()))


def release_held_work(session: Session, *, annotator_id: int) -> int:
    """An annotator who leaves (deactivated) holds no slot: their open items go back to the pool
    as expired reservations, drafts kept, so they can pick them up again if they come back."""
    held = session.execute(select(Assignment.id, Assignment.query_id).where(
        Assignment.annotator_id == annotator_id, Assignment.state.in_(HOLDING_STATES))).all()
    if not held:
        return 0
    k = load_project(session).overlap
    session.execute(update(Assignment).where(Assignment.id.in_([a for a, _ in held])).values(
        state=EXPIRED, reserved_until=None, updated_at=utcnow()))
    for _, query_id in held:
        _release_slot(session, query_id, k)
    return len(held)


def expire_reservations(session: Session, *, overlap: int | None = None) -> int:
    """Give the slots of reservations that ran out back to the pool; drafts stay."""
    now = utcnow()
    expired = session.execute(
        select(Assignment.id, Assignment.query_id)
        .where(Assignment.state == RESERVED, Assignment.reserved_until < now)
        .limit(1000)
    ).all()
    if not expired:
        return 0
    k = overlap if overlap is not None else load_project(session).overlap
    for assignment_id, query_id in expired:
        changed = session.execute(update(Assignment).where(
            Assignment.id == assignment_id, Assignment.state == RESERVED).values(
            state=EXPIRED, updated_at=now)).rowcount
        if changed:
            _release_slot(session, query_id, k)
    return len(expired)


def _annotators(session: Session, names: list[str] | None) -> list[User]:
    query = select(User).where(User.role == Role.ANNOTATOR, User.active)
    if names:
        query = query.where(User.name.in_(names))
    found = list(session.execute(query.order_by(User.name)).scalars())
    missing = sorted(set(names or []) - {u.name for u in found})
    if missing:
        raise NotFound(f"no active annotator named {', '.join(missing)}")
    if not found:
        raise InvalidInput("there are no active annotators to assign to")
    return found


def _selected_queries(session: Session, public_ids: list[str] | None, sources: list[str] | None,
                      batch_ids: list[int] | None, coding_only: bool = False,
                      samples: list[str] | None = None):  # type: ignore[no-untyped-def]
    condition = [not_(_is_final()), not_(Query.retired)]
    if public_ids:
        found = set(session.execute(select(Query.public_id).where(Query.public_id.in_(public_ids))).scalars())
        missing = [p for p in public_ids if p not in found]
        if missing:
            raise NotFound(f"unknown query id(s): {', '.join(missing[:10])}")
        condition.append(Query.public_id.in_(public_ids))
    if sources:
        condition.append(Query.source.in_(sources))
    if batch_ids:
        condition.append(Query.batch_id.in_(batch_ids))
    if samples:
        condition.append(_in_samples(session, samples))
    if coding_only:
        from curation_app.core.triage.coding_queries import coding_only as coding_condition

        # A query not scored yet would silently be left out: say so instead, before anything changes.
        unscored = session.execute(select(func.count()).select_from(Query).where(
            *condition, Query.coding_score.is_(None))).scalar_one()
        if unscored:
            raise InvalidInput(f"{unscored} of the selected queries have no coding score yet: run "
                               "`python -m curation_app triage --coding` first")
        condition.append(coding_condition(session))
    return and_(*condition)


def _in_samples(session: Session, names: list[str]):  # type: ignore[no-untyped-def]
    """The members of these candidate samples (core/sampling.py records them)."""
    found = dict(session.execute(select(CandidateSample.name, CandidateSample.id)
                                 .where(CandidateSample.name.in_(names))).all())
    missing = [name for name in names if name not in found]
    if missing:
        raise NotFound(f"no candidate sample named {', '.join(missing)}")
    return Query.id.in_(select(CandidateSampleQuery.query_id)
                        .where(CandidateSampleQuery.sample_id.in_(list(found.values()))))


def assign(
    session: Session,
    *,
    actor: User,
    annotators: list[str] | None = None,
    public_ids: list[str] | None = None,
    sources: list[str] | None = None,
    batch_ids: list[int] | None = None,
    overlap: int | None = None,
    coding_only: bool = False,
    samples: list[str] | None = None,
) -> dict:
    """Release queries to annotators with the project's overlap k; with `coding_only`, only those
    whose coding score reaches the project's `coding_threshold` (`coding_queries.coding_only`).

    Without names, the queries join the shared pool: any annotator may take a free slot. With
    names, each query gets assignments to the least-loaded named annotators until it has k, or
    `overlap` for this call only (naming one annotator for chosen items): the project's k still
    decides which slots stay open in the pool. `samples` selects the members of candidate samples
    by name.
    """
    require_role(actor, Role.LEAD, Role.ADMIN)
    project_k = load_project(session).overlap
    if overlap is not None and (not isinstance(overlap, int) or isinstance(overlap, bool) or not 1 <= overlap <= 20):
        raise InvalidInput(f"overlap for this assignment must be a whole number from 1 to 20, not {overlap!r}")
    if overlap is not None and not annotators:
        raise InvalidInput("an overlap for one assignment needs named annotators; the shared pool "
                           "always uses the project's overlap setting")
    k = overlap if overlap is not None else project_k
    condition = _selected_queries(session, public_ids, sources, batch_ids, coding_only, samples)
    if not annotators:
        opened = session.execute(update(Query).where(condition, not_(Query.in_pool)).values(
            in_pool=True, pool_open=Query.n_claims < k)).rowcount
        total = session.execute(select(func.count()).select_from(Query).where(condition)).scalar_one()
        audit.record(session, actor=actor, action="queue.open_pool", entity="queue",
                     new={"opened": opened, "overlap": k, "sources": sources, "batch_ids": batch_ids,
                          "query_ids": public_ids[:100] if public_ids else None, "coding_only": coding_only,
                          "samples": samples})
        return {"mode": "pool", "queries": total, "opened": opened, "assigned": 0, "overlap": k}

    people = _annotators(session, annotators)
    if k > len(people):
        raise InvalidInput(f"overlap is {k} but only {len(people)} annotator(s) were named: "
                           "name more annotators or lower the overlap"
                           + (" for this assignment" if overlap is not None else ""))
    load = Counter(dict(session.execute(
        select(Assignment.annotator_id, func.count())
        .where(Assignment.state.in_(HOLDING_STATES))
        .group_by(Assignment.annotator_id)).all()))
    heap = [(load[u.id], u.name, u.id) for u in people]
    heapq.heapify(heap)
    # FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers): no annotator
    # can take one of these slots between reading n_claims and adding the new assignments.
    rows = session.execute(select(Query.id, Query.n_claims).where(condition, Query.n_claims < k)
                           .order_by(Query.id).with_for_update()).all()
    taken: dict[int, set[int]] = {}
    query_ids = [query_id for query_id, _ in rows]
    for start in range(0, len(query_ids), 500):
        chunk = query_ids[start:start + 500]
        for query_id, annotator_id in session.execute(
                select(Assignment.query_id, Assignment.annotator_id).where(Assignment.query_id.in_(chunk))):
            taken.setdefault(query_id, set()).add(annotator_id)
    now = utcnow()
    new_rows: list[dict] = []
    claims: Counter[int] = Counter()
    for query_id, n_claims in rows:
        already = taken.get(query_id, set())
        wanted, passed_over = k - n_claims, []
        while wanted > 0 and heap:
            count, name, annotator_id = heapq.heappop(heap)
            if annotator_id in already:
                passed_over.append((count, name, annotator_id))
                continue
            new_rows.append({"query_id": query_id, "annotator_id": annotator_id, "state": ASSIGNED,
                             "reserved_until": None, "assigned_by_id": actor.id,
                             "created_at": now, "updated_at": now})
            claims[query_id] += 1
            wanted -= 1
            passed_over.append((count + 1, name, annotator_id))
        for item in passed_over:
            heapq.heappush(heap, item)
    table = Assignment.__table__
    for start in range(0, len(new_rows), 2000):
        session.connection().execute(table.insert(), new_rows[start:start + 2000])
    by_count: dict[int, list[int]] = {}
    for query_id, added in claims.items():
        by_count.setdefault(added, []).append(query_id)
    for added, ids in by_count.items():
        for start in range(0, len(ids), 500):
            session.execute(update(Query).where(Query.id.in_(ids[start:start + 500])).values(
                in_pool=True, n_claims=Query.n_claims + added,
                pool_open=Query.n_claims + added < project_k))
    per_annotator = Counter(row["annotator_id"] for row in new_rows)
    names = {u.id: u.name for u in people}
    result = {"mode": "named", "queries": len(rows), "assigned": len(new_rows), "overlap": k,
              "project_overlap": project_k,
              "per_annotator": {names[i]: per_annotator.get(i, 0) for i in names}}
    audit.record(session, actor=actor, action="queue.assign", entity="queue", new=result)
    return result


@dataclass(frozen=True)
class Reservation:
    query_id: int
    public_id: str
    reserved_until: object


def _reserve_row(session: Session, assignment: Assignment, minutes: int, k: int) -> bool:
    """Make an annotator's own assignment a live reservation; False when its slot is gone."""
    if assignment.state in (EXPIRED, SKIPPED) and not _take_slot(session, assignment.query_id, k):
        return False
    assignment.state = RESERVED
    assignment.reserved_until = utcnow() + timedelta(minutes=minutes)
    assignment.updated_at = utcnow()
    session.add(assignment)
    session.flush()
    return True


def next_item(session: Session, *, actor: User) -> Reservation | None:
    """The annotator's next query, reserved for them: their live reservation, then their
    assigned items, then an expired item of theirs with a slot still free, then the pool."""
    require_role(actor, Role.ANNOTATOR)
    project = load_project(session)
    minutes, k = project.reservation_minutes, project.overlap
    expire_reservations(session, overlap=k)
    own = select(Assignment).where(Assignment.annotator_id == actor.id)
    for states in ((RESERVED,), (ASSIGNED,), (EXPIRED,)):
        for assignment in session.execute(
                own.where(Assignment.state.in_(states)).order_by(Assignment.id).limit(CANDIDATES_PER_TRY)).scalars():
            if _reserve_row(session, assignment, minutes, k):
                return _reservation(session, assignment)
    mine = exists().where(Assignment.query_id == Query.id, Assignment.annotator_id == actor.id)
    tried: set[int] = set()
    # Under contention the first candidates may all be taken by others a moment earlier: look
    # further until a slot is won or the pool has no open query left.
    for _ in range(MAX_CANDIDATE_ROUNDS):
        statement = select(Query.id).where(Query.pool_open, not_(mine))
        if tried:
            statement = statement.where(Query.id.not_in(tried))
        candidates = session.execute(
            statement.order_by(Query.queue_rank, Query.id).limit(CANDIDATES_PER_TRY)).scalars().all()
        if not candidates:
            return None
        tried.update(candidates)
        won = _reserve_from_pool(session, actor, candidates, minutes, k)
        if won is not None:
            return won
    return None


def _reserve_from_pool(session: Session, actor: User, candidates: list[int], minutes: int,
                       k: int) -> Reservation | None:
    for query_id in candidates:
        now = utcnow()
        try:
            # A savepoint: the same annotator in a second tab may have taken this query a moment ago.
            with session.begin_nested():
                if not _take_slot(session, query_id, k):
                    continue
                assignment = Assignment(query_id=query_id, annotator_id=actor.id, state=RESERVED,
                                        reserved_until=now + timedelta(minutes=minutes), created_at=now,
                                        updated_at=now)
                session.add(assignment)
                session.flush()
        except IntegrityError:
            continue
        return _reservation(session, assignment)
    return None


def _reservation(session: Session, assignment: Assignment) -> Reservation:
    public_id = session.execute(select(Query.public_id).where(Query.id == assignment.query_id)).scalar_one()
    return Reservation(assignment.query_id, public_id, assignment.reserved_until)


def _locked_assignment(session: Session, query_id: int, annotator_id: int | None) -> Assignment | None:
    """The annotator's assignment, locked (PostgreSQL) so an expiry sweep cannot change it meanwhile."""
    return session.execute(select(Assignment).where(
        Assignment.query_id == query_id, Assignment.annotator_id == annotator_id)
        .with_for_update()).scalar_one_or_none()


def hold_for_save(session: Session, *, annotator: User, query_id: int, public_id: str, submit: bool,
                  overlap: int, reservation_minutes: int) -> None:
    """Before an annotator's save: check the item is still theirs and keep its reservation alive.

    A reservation that ran out is taken back if a slot is still free. If other annotators took
    every slot meanwhile, a draft may still be saved (nothing typed is lost) but a submission is
    refused, so no query ever gets more than k annotators through the queue.
    """
    assignment = _locked_assignment(session, query_id, annotator.id)
    if assignment is None:
        raise PermissionDenied(f"query {public_id} is not assigned to {annotator.name}")
    if assignment.state == SKIPPED:
        raise InvalidInput(f"you skipped {public_id} (or a lead closed it); it is no longer in your queue")
    if assignment.state == EXPIRED:
        if not _take_slot(session, query_id, overlap):
            if submit:
                raise Conflict(f"your reservation of {public_id} ran out and other annotators took every slot; "
                               "your draft is kept, but it cannot be submitted")
            return
        assignment.state = RESERVED
    if assignment.state == RESERVED:
        assignment.reserved_until = utcnow() + timedelta(minutes=reservation_minutes)
    assignment.updated_at = utcnow()
    session.add(assignment)


def skip(session: Session, *, actor: User, query_id: int) -> None:
    """Pass an item on: its slot goes back to the pool and this annotator will not get it again."""
    require_role(actor, Role.ANNOTATOR)
    assignment = _locked_assignment(session, query_id, actor.id)
    if assignment is None or assignment.state in (SUBMITTED, SKIPPED):
        raise InvalidInput("only an open item can be skipped")
    if assignment.state in HOLDING_STATES:
        _release_slot(session, query_id, load_project(session).overlap)
    old_state = assignment.state
    assignment.state, assignment.reserved_until, assignment.updated_at = SKIPPED, None, utcnow()
    session.add(assignment)
    public_id = session.execute(select(Query.public_id).where(Query.id == query_id)).scalar_one()
    audit.record(session, actor=actor, action="queue.skip", entity="query", entity_id=public_id,
                 old={"state": old_state}, new={"state": SKIPPED})


def mark_submitted(session: Session, *, annotator: User, query_id: int, overlap: int) -> None:
    """A submitted annotation holds its slot. The workspace calls hold_for_save first, so only
    labels imported from elsewhere can add a claim beyond k here: that work was already done."""
    assignment = _locked_assignment(session, query_id, annotator.id)
    now = utcnow()
    if assignment is None:
        _add_claim(session, query_id, overlap)
        session.add(Assignment(query_id=query_id, annotator_id=annotator.id, state=SUBMITTED,
                               created_at=now, updated_at=now))
        return
    if assignment.state in (EXPIRED, SKIPPED):
        _add_claim(session, query_id, overlap)
    assignment.state, assignment.reserved_until, assignment.updated_at = SUBMITTED, None, now
    session.add(assignment)


def mark_submitted_many(session: Session, *, pairs: list[tuple[int, int]], overlap: int) -> None:
    """mark_submitted for many (query id, annotator id) pairs in a few bulk statements, so a large
    annotation import holds the write lock briefly."""
    if not pairs:
        return
    wanted = set(pairs)
    query_ids = sorted({query_id for query_id, _ in wanted})
    existing: dict[tuple[int, int], tuple[int, str]] = {}
    for start in range(0, len(query_ids), 500):
        for assignment_id, query_id, annotator_id, state in session.execute(
                select(Assignment.id, Assignment.query_id, Assignment.annotator_id, Assignment.state)
                .where(Assignment.query_id.in_(query_ids[start:start + 500])).with_for_update()):
            if (query_id, annotator_id) in wanted:
                existing[(query_id, annotator_id)] = (assignment_id, state)
    now = utcnow()
    # A claim for each pair without a claiming assignment, as mark_submitted counts them.
    claims = Counter(pair[0] for pair in wanted if pair not in existing or existing[pair][1] in (EXPIRED, SKIPPED))
    new = [{"query_id": query_id, "annotator_id": annotator_id, "state": SUBMITTED, "reserved_until": None,
            "assigned_by_id": None, "created_at": now, "updated_at": now}
           for query_id, annotator_id in sorted(wanted - set(existing))]
    connection = session.connection()
    if new:
        connection.execute(insert(Assignment.__table__), new)
    if existing:
        table = Assignment.__table__
        connection.execute(update(table).where(table.c.id == bindparam("target")).values(
            state=SUBMITTED, reserved_until=None, updated_at=now),
            [{"target": assignment_id} for assignment_id, _ in existing.values()])
    if claims:
        table = Query.__table__
        added = bindparam("added")
        connection.execute(update(table).where(table.c.id == bindparam("target")).values(
            n_claims=table.c.n_claims + added, pool_open=and_(table.c.in_pool, table.c.n_claims + added < overlap)),
            [{"target": query_id, "added": n} for query_id, n in sorted(claims.items())])


def queue_status(session: Session, *, annotator: User) -> dict:
    """Counts for the annotator's progress bar: done today, waiting for them, in the pool."""
    start_of_day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    done_today = session.execute(select(func.count()).select_from(Annotation).where(
        Annotation.annotator_id == annotator.id, Annotation.state == AnnotationState.SUBMITTED,
        Annotation.submitted_at >= start_of_day)).scalar_one()
    done_total = session.execute(select(func.count()).select_from(Annotation).where(
        Annotation.annotator_id == annotator.id, Annotation.state == AnnotationState.SUBMITTED)).scalar_one()
    waiting = session.execute(select(func.count()).select_from(Assignment).where(
        Assignment.annotator_id == annotator.id, Assignment.state.in_(HOLDING_STATES))).scalar_one()
    mine = exists().where(Assignment.query_id == Query.id, Assignment.annotator_id == annotator.id)
    # Counted up to a cap, so this stays cheap on every rerun however large the pool is.
    open_ids = select(Query.id).where(Query.pool_open, not_(mine)).limit(STATUS_COUNT_CAP + 1).subquery()
    pool = session.execute(select(func.count()).select_from(open_ids)).scalar_one()
    return {"done_today": done_today, "done_total": done_total, "assigned_to_me": waiting,
            "open_in_pool": pool, "left": waiting + pool, "more_than": pool > STATUS_COUNT_CAP}


def pool_summary(session: Session) -> dict:
    """For leads: how far the queries are through the queue."""
    k = load_project(session).overlap
    total = session.execute(select(func.count()).select_from(Query)).scalar_one()
    released = session.execute(select(func.count()).select_from(Query).where(Query.in_pool)).scalar_one()
    open_slots = session.execute(select(func.coalesce(func.sum(k - Query.n_claims), 0)).where(
        Query.in_pool, Query.n_claims < k)).scalar_one()
    states = dict(session.execute(select(Assignment.state, func.count()).group_by(Assignment.state)).all())
    return {"overlap": k, "queries": total, "released": released, "not_released": total - released,
            "open_slots": int(open_slots), "assignments": states}

