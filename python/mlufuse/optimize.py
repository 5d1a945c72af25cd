"""mlufuse.opt(model, explain=True): the pass pipeline on a copy of a model, with what it did as
data: per pass node counts, the subgraphs, the unfused edges and why, the planned memory."""
import ctypes

from . import _lib
from ._lib import check, lib
from .graph import Graph


def _s(b):
    return b.decode() if b else None


def opt(model, explain=True, passes=None, fusion=None):
    """Runs the default pipeline (or passes, "dce,cse,...") on a copy of model (a Graph or a
    file); returns a dict: "graph" (the optimized Graph), "passes", "summary", and with explain
    "edges" and "explanation" (the text `mlufuse opt --explain` prints)."""
    g = model.copy() if isinstance(model, Graph) else Graph.load(model)
    o = lib.mf_opt_default_options()
    pb = passes.encode() if passes else None
    o.passes = pb
    o.fusion = -1 if fusion is None else int(bool(fusion))
    res = ctypes.c_void_p()
    check(lib.mf_graph_optimize(g.handle, ctypes.byref(o), ctypes.byref(res) if explain else None), "opt")
    out = {"graph": g}
    if not explain:
        return out
    r = res.value
    try:
        out["passes"] = []
        for i in range(lib.mf_opt_result_num_passes(r)):
            p = lib.mf_opt_result_pass(r, i).contents
            out["passes"].append({"name": _s(p.name), "nodes_before": p.nodes_before, "nodes_after": p.nodes_after,
                                  "changes": p.changes, "ms": p.ms})
        s = lib.mf_opt_result_summary(r)
        out["summary"] = {f: getattr(s, f) for f, _ in _lib.OptSummary._fields_}
        out["edges"] = []
        for i in range(lib.mf_opt_result_num_edges(r)):
            e = lib.mf_opt_result_edge(r, i).contents
            out["edges"].append({"from": _s(e.from_), "to": _s(e.to), "from_op": _s(e.from_op), "to_op": _s(e.to_op),
                                 "from_subgraph": e.from_subgraph, "to_subgraph": e.to_subgraph,
                                 "reason": _s(e.reason), "text": _s(e.text)})
        out["explanation"] = _s(lib.mf_opt_result_explain(r))
    finally:
        lib.mf_opt_result_free(r)
    return out
