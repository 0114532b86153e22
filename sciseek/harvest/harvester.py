"""Harvesting: keep a data dir up to date with arXiv through OAI-PMH 2.0.

``ListRecords`` in arXiv's own metadata format (``metadataPrefix=arXiv``) is requested set by
set. Every page is committed to the engine before the resumption token that follows it is
recorded, and the state file (``harvest.json`` in the data dir) remembers per set the date the
last complete harvest reached and the token of an interrupted one, so a run continues where the
previous one stopped and a crash loses at most the page in flight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sciseek.ingest.oai import METADATA_PREFIX, Client, HarvestError, Page, ProtocolError, Record
from sciseek.search.engine import Engine
from sciseek.storage.clock import iso_z, utcnow

from .state import HarvestState, lock

NOT_SELECTED = "not in the selected categories"
NOT_HELD = "deleted upstream, not held here"
REPEATED = "repeated later in the same page"


@dataclass
class SetReport:
    """What one run did to one set."""

    set: str
    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    resumed: bool = False
    complete: bool = False
    datestamp: str | None = None

    def summary(self) -> str:
        """One line: pages, added, updated, unchanged, deleted, skipped with reasons."""
        if self.complete and not self.pages:
            return f"{self.set}: no new records; next run from {self.datestamp}"
        line = (
            f"{self.set}: {self.pages} page{'' if self.pages == 1 else 's'}, "
            f"{self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted, "
            f"skipped {sum(self.skipped.values())}"
        )
        if self.skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in self.skipped.most_common())
            line += f" ({reasons})"
        if self.resumed:
            line += "; resumed an interrupted harvest"
        if self.complete:
            line += f"; next run from {self.datestamp}"
        else:
            line += "; unfinished, the next run resumes it"
        return line


class Harvester:
    """Harvests OAI-PMH sets into an engine, remembering progress in the data dir."""

    def __init__(
        self,
        engine: Engine,
        *,
        endpoint: str | None = None,
        delay: float | None = None,
        log: Callable[[str], None] = lambda msg: None,
        encode: bool = True,
    ):
        self.engine = engine
        self.encode = encode  # False: embeddings are left to a later catch-up
        self.state = HarvestState.load(engine.data_dir)
        self.client = Client(endpoint, delay, log=log)
        self._log = log
        self._lock = lock(engine.data_dir)

    def __enter__(self) -> Harvester:
        try:
            self._lock.__enter__()
            # Read again under the lock: another harvest may have finished in between.
            self.state = HarvestState.load(self.engine.data_dir)
        except BaseException:
            self.client.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self._lock.__exit__(None, None, None)

    def harvest_set(
        self,
        spec: str,
        *,
        date_from: str | None = None,
        until: str | None = None,
        categories: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> SetReport:
        """Harvest one set: resume its interrupted run, else ask from its last datestamp.

        ``date_from``/``until`` (YYYY-MM-DD) ask for an explicit range instead. Records whose
        categories share none with ``categories`` (when given) are skipped.
        """
        report = SetReport(spec)
        try:
            self._harvest(spec, report, date_from, until, tuple(categories), progress)
        except HarvestError as e:
            e.report = report
            st = self.state.get(spec)
            st.last_result = f"failed: {e}"
            self.state.save()
            raise
        return report

    def _harvest(
        self,
        spec: str,
        report: SetReport,
        date_from: str | None,
        until: str | None,
        categories: tuple[str, ...],
        progress: Callable[[int], None] | None,
    ) -> None:
        st = self.state.get(spec)
        st.last_run = iso_z(utcnow())
        st.categories = list(categories)
        before = dict(st.totals)

        def save() -> None:
            # The set's totals so far plus this run's counts so far, then the state file.
            counts = {
                "pages": report.pages,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "deleted": report.deleted,
                "skipped": sum(report.skipped.values()),
            }
            st.totals = {k: before.get(k, 0) + counts[k] for k in counts}
            self.state.save()

        explicit = date_from is not None or until is not None
        resume = st.resume or {}
        if st.token and not explicit and resume.get("endpoint") == self.client.endpoint:
            report.resumed = True
            run_from, run_until = resume.get("from"), resume.get("until")
            first_date: str | None = resume.get("response_date")
            params = {"resumptionToken": st.token}
            self._log(f"{spec}: resuming the interrupted harvest (token {st.token})")
        else:
            if st.token:
                why = "an explicit date range" if explicit else "another endpoint"
                self._log(f"{spec}: the interrupted harvest is not resumed ({why} was asked for)")
            run_from = date_from if explicit else st.datestamp
            run_until = until
            first_date = None
            params = _fresh(spec, run_from, run_until)
        restarted = False
        while True:
            page = self.client.list_records(params)
            if page.error:
                code, message = page.error
                if code == "noRecordsMatch":
                    first_date = first_date or page.response_date
                    break
                if code == "badResumptionToken" and "resumptionToken" in params and not restarted:
                    restarted = True
                    since = f"from {run_from}" if run_from else "from the beginning"
                    self._log(
                        f"{spec}: the repository rejected resumption token "
                        f"{params['resumptionToken']!r} ({message}); restarting {since}"
                    )
                    st.token = st.resume = None
                    self.state.save()
                    first_date = None
                    params = _fresh(spec, run_from, run_until)
                    continue
                raise ProtocolError(code, message, page.url)
            first_date = first_date or page.response_date
            self._commit(page, report, categories)
            if progress:
                progress(len(page.records))
            if not page.token:
                break
            # The page is committed: only now may the state point past it.
            st.token = page.token
            st.resume = {
                "response_date": first_date,
                "from": run_from,
                "until": run_until,
                "endpoint": self.client.endpoint,
            }
            st.last_result = "running"
            save()
            params = {"resumptionToken": page.token}
        st.token = st.resume = None
        reached = min(first_date, run_until) if run_until else first_date
        if run_from is None or st.datestamp is None or run_from <= st.datestamp:
            st.datestamp = max(st.datestamp or reached, reached)
        st.last_result = "complete"
        report.complete = True
        report.datestamp = st.datestamp
        save()

    def _commit(self, page: Page, report: SetReport, categories: tuple[str, ...]) -> None:
        latest: dict[str, Record] = {}
        for record in page.records:
            if record.reason:
                report.skipped[record.reason] += 1
                self._log(f"skipped record {record.id or '(no id)'}: {record.reason}")
                continue
            paper = record.paper
            if paper and categories and not set(categories) & set(paper.categories):
                report.skipped[NOT_SELECTED] += 1
                continue
            if record.id in latest:
                report.skipped[REPEATED] += 1
                del latest[record.id]
            latest[record.id] = record
        papers = [r.paper for r in latest.values() if r.paper is not None]
        gone = [r.id for r in latest.values() if r.deleted]
        if papers:
            result = self.engine.add(papers, dense=self.encode)
            report.added += result.inserted
            report.updated += result.updated
            report.unchanged += result.unchanged
        if gone:
            deleted = self.engine.delete(gone)
            report.deleted += len(deleted)
            if len(gone) > len(deleted):
                report.skipped[NOT_HELD] += len(gone) - len(deleted)
        report.pages += 1


def _fresh(spec: str, date_from: str | None, until: str | None) -> dict[str, str]:
    params = {"metadataPrefix": METADATA_PREFIX, "set": spec}
    if date_from:
        params["from"] = date_from
    if until:
        params["until"] = until
    return params
