"""Strict flow loader: YAML → checked FlowSet, or every error as `file:line: message`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.engine.actions import Domain
from bot.engine.checks import Reporter
from bot.engine.elements import GLOBAL_FILE, Elements
from bot.engine.errors import FlowError, FlowsInvalid, NotAFlowsFolder
from bot.engine.flowbuilder import FlowBuilder
from bot.engine.model import FlowSet
from bot.engine.reach import reach_warnings, rule_intents
from bot.engine.yamlloc import LDict, line_of

FOLDER_HINT = (
    "run from the city's folder, or pass the flows folder: "
    "`bot flows check PATH`, `--flows PATH` or BOT_FLOWS; "
    "`bot init city` writes a sample city"
)


def check_flows(path: str | Path, domain: Domain) -> list[FlowError]:
    """Every error in the flows folder (or the flows folder of a given file), sorted:
    flows, templates, the city's data files (flows/data) and NLU files (flows/nlu).
    Raises NotAFlowsFolder (bad usage) when `path` is not in a flows folder."""
    return flows_report(path, domain)[0]


def flows_report(path: str | Path, domain: Domain) -> tuple[list[FlowError], list[FlowError]]:
    """(errors, warnings) for the flows folder: warnings name a flow nothing can start
    and an intent no rule gives (bot/engine/reach.py); they do not fail the check."""
    _, errors, warnings = _load(Path(path), domain)
    return errors, warnings


def load(path: Path, domain: Domain) -> tuple[FlowSet | None, list[FlowError]]:
    """The flows under `path` with the city's actions and data checks (`domain`)."""
    flowset, errors, _ = _load(path, domain)
    return flowset, errors


def load_flowset(path: str | Path, domain: Domain) -> FlowSet:
    """The checked flows; raises FlowsInvalid (with .errors) when the check fails, and
    NotAFlowsFolder when `path` is not a flows folder."""
    flowset, errors, _ = _load(Path(path), domain)
    if errors or flowset is None:
        raise FlowsInvalid(errors)
    return flowset


def _shown(path: Path) -> str:
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


def flows_folder(path: Path) -> Path:
    """The flows folder for `path`: the folder itself, or the nearest folder above a file
    or a subfolder (data/, nlu/, templates/…) that holds _global.yaml."""
    if not path.exists():
        raise NotAFlowsFolder(f"no flows folder at {_shown(path)} ({FOLDER_HINT})")
    start = path if path.is_dir() else path.parent
    if path.is_file() and path.suffix not in (".yaml", ".yml", ".j2"):
        raise NotAFlowsFolder(
            f"{_shown(path)} is a file, not a flows folder (give the folder that holds "
            f"{GLOBAL_FILE}, e.g. `bot flows check flows`)"
        )
    lexical = [start, *start.parents][:4]  # keeps the paths in messages as given
    for folder in [*lexical, *list(start.resolve().parents)[: 4 - len(lexical)]]:
        if (folder / GLOBAL_FILE).is_file():
            return folder
    if path.is_dir() and any(start.glob("*.y*ml")):
        return start  # looks like flows whose _global.yaml is missing: a check error
    where = "in it" if path.is_dir() else "next to it or above it"
    raise NotAFlowsFolder(
        f"{_shown(path)} is not a flows folder (no {GLOBAL_FILE} {where}; {FOLDER_HINT})"
    )


def _one_line(error: FlowError) -> FlowError:
    message = " ".join(error.message.split())
    return error if message == error.message else FlowError(error.file, error.line, message)


def _load(path: Path, domain: Domain) -> tuple[FlowSet | None, list[FlowError], list[FlowError]]:
    """(flows, errors, warnings) for the folder of `path`."""
    from bot.engine.compiler import compile_flow

    directory = flows_folder(path)
    errors: list[FlowError] = []
    elements = Elements(directory, errors, domain.actions)
    flowset = _build(elements)
    known_intents = set(elements.intent_flows) | elements.global_intents
    errors += domain.check(directory, set(elements.raw), known_intents)
    if errors:
        unique = {_one_line(e) for e in errors}
        return None, sorted(unique, key=lambda e: (e.file, e.line, e.message)), []
    assert flowset is not None
    for flow in flowset.flows.values():
        flow.machine = compile_flow(flow)
        flow.all_slots = flow.slot_names()
    raw = dict(elements.raw)
    if isinstance(elements.gdoc, LDict):
        raw["_global"] = (directory / GLOBAL_FILE, elements.gdoc, "")
    # Without rule files (a folder of flows alone) nothing says which intents exist.
    nlu = directory / "nlu"
    warnings = (
        reach_warnings(flowset, rule_intents(nlu), raw, domain.starts(directory))
        if nlu.is_dir()
        else []
    )
    return flowset, [], warnings


def _build(self: Elements) -> FlowSet | None:
    """Every flow file of the folder, each built by a FlowBuilder; None on a broken _global."""
    gpath = self.dir / GLOBAL_FILE
    gdoc = self.gdoc = self._read(gpath) if gpath.exists() else None
    if not gpath.exists():
        self.errors.append(
            FlowError(str(gpath), 1, f"missing {GLOBAL_FILE} (global intents and fallback)")
        )
    ignore = set()
    if isinstance(gdoc, LDict) and isinstance(gdoc.get("ignore"), list):
        ignore = {str(x) for x in gdoc["ignore"]}
    for path in sorted(self.dir.glob("*.yaml")) + sorted(self.dir.glob("*.yml")):
        if path.name == GLOBAL_FILE or path.name in ignore:
            continue
        doc = self._read(path)
        if doc is None:
            continue
        rep = Reporter(str(path), self.errors)
        if not isinstance(doc, LDict):
            rep.error(1, "a flow file must be a mapping with id, version, title, states")
            continue
        fid = rep.ident(doc, "id", "flow", required=True)
        if fid is None:
            continue
        if fid in self.raw:
            rep.error(line_of(doc, "id"), f"flow id `{fid}` is also used by {self.raw[fid][0]}")
            continue
        self.raw[fid] = (path, doc, hashlib.sha1(path.read_bytes()).hexdigest())
    self.intent_flows = self._intent_map()
    gintents = (
        set(gdoc.get("intents") or {})
        if isinstance(gdoc, LDict) and isinstance(gdoc.get("intents"), dict)
        else set()
    )
    self.global_intents = {str(k) for k in gintents}
    flows = {}
    for fid, (path, doc, digest) in self.raw.items():
        flow = FlowBuilder(self, path, doc, digest).build()
        if flow is not None:
            flows[fid] = flow
    config = self._global(gpath, gdoc) if isinstance(gdoc, LDict) else None
    if gdoc is not None and not isinstance(gdoc, LDict):
        self.errors.append(FlowError(str(gpath), 1, f"{GLOBAL_FILE} must be a mapping"))
    self._check_template_files()
    if config is None:
        return None
    return FlowSet(str(self.dir), config, flows, self.intent_flows)
