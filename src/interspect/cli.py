"""The ``interspect`` command.

``interspect explain`` explains a text model's output on one input: it splits the input into units,
asks the model about masked variants through the query engine, fits a sparse interaction surrogate and
prints the strongest interactions with the explanation's faithfulness (held-out R²) and cost, writing
JSON / HTML / PNG reports on request. ``interspect report`` re-renders a saved JSON explanation.
Bad input ends with a one-line message and a non-zero exit status, never a traceback (set
``INTERSPECT_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cli_types import holdout_count, labels_list, positive_float, positive_int


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def _is_classifier(model: str) -> bool:
    """Whether the model scores a text (word units, review demo) rather than answering a question; an unknown
    model is a ValueError naming the registered kinds."""
    from .frontends.registry import model_kind

    return not model_kind(model).generative


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; ``command`` names the one subcommand whose arguments are needed.

    ``main`` passes the subcommand given on the command line, so ``interspect --help`` lists the subcommands
    without importing what their arguments need (NumPy, the method registry, the experiments); None (the
    default) builds every subcommand.
    """
    parser = argparse.ArgumentParser(
        prog="interspect", description="Find the feature interactions behind a model's output."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if command is None or command == name:
            add_arguments(sub)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The subcommand named on a command line (its first word that is not an option), or "" if there is none."""
    return next((word for word in argv if not word.startswith("-")), "")


def _explain_arguments(ex: argparse.ArgumentParser) -> None:
    from .algorithms.base import METHODS
    from .frontends.registry import MODEL_KINDS, describe_kinds
    from .frontends.text import MASKINGS, UNITS

    ex.description = (
        "Explain a text model's output on one input. Without --text/--file a bundled demo is used: "
        "a question over a multi-sentence context for LLMs, a review with negations for classifiers."
    )

    model = ex.add_argument_group("model and input")
    model.add_argument(
        "--model",
        default="smollm2",
        help=f"{describe_kinds()} or a local Hugging Face model directory (default smollm2): "
        + "; ".join(f"{name}: {kind.help}" for name, kind in MODEL_KINDS.items()),
    )
    source = model.add_mutually_exclusive_group()
    source.add_argument("--text", help="input text")
    source.add_argument("--file", type=Path, help="read the input text from this file")
    model.add_argument("--question", help="question asked about the text (LLMs)")
    model.add_argument("--target", help="answer / class whose score is explained (default: the model's own answer)")
    model.add_argument(
        "--unit",
        choices=UNITS,
        help="what one feature is (default: word for classifiers, sentence for LLMs)",
    )
    model.add_argument(
        "--masking",
        default="drop",
        choices=MASKINGS,
        help="how a removed unit is hidden from the model: dropped (default), replaced by the model's mask token, "
        "or by --filler",
    )
    model.add_argument("--filler", help="replacement text for removed units (--masking filler or mask_token)")
    model.add_argument("--batch-size", type=positive_int, default=16, help="masked inputs per model call (default 16)")
    model.add_argument(
        "--labels",
        type=labels_list,
        help="API chat models: label set A,B,... (value: log-odds of --target vs the others)",
    )
    model.add_argument("--concurrency", type=positive_int, help="API models: requests in flight (default 16)")
    model.add_argument("--timeout", type=positive_float, help="API models: seconds per request")
    model.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="local models: where they run (default auto: GPU if present)"
    )

    fit = ex.add_argument_group("explanation")
    fit.add_argument("--method", default="auto", choices=sorted(METHODS), help="algorithm (default auto)")
    fit.add_argument("--budget", type=positive_int, help="most model queries to spend (default: the method's)")
    fit.add_argument("--max-order", type=positive_int, default=4, help="largest interaction order (default 4)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fit.add_argument(
        "--holdout",
        type=holdout_count,
        default="auto",
        help="masks of the budget set aside to measure held-out R² (default auto: a tenth, at most 500; 0 to skip)",
    )
    fit.add_argument("--cache", type=Path, help="SQLite file caching model answers; a rerun resumes from it")
    fit.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar with ETA (default: when stderr is a terminal)",
    )

    out = ex.add_argument_group("output")
    out.add_argument("--top", type=positive_int, default=10, help="interactions shown in the table (default 10)")
    _index_argument(out)
    out.add_argument("--json", type=Path, metavar="OUT", help="write the whole explanation as JSON")
    out.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML report")
    out.add_argument("--png", type=Path, metavar="OUT", help="write a bar chart of the top interactions")
    ex.set_defaults(handler=_explain)


def _index_argument(group: Any) -> None:
    from .report.notes import INDEX_CHOICES

    group.add_argument(
        "--index",
        choices=list(INDEX_CHOICES),
        help="values listed: shapley or banzhaf (first-order values, with SII / BII interactions), or an "
        "interaction index, mobius (default) ... fbii (each with the matching first-order values)",
    )


def _report_arguments(rep: argparse.ArgumentParser) -> None:
    rep.add_argument("json_in", type=Path, metavar="EXPLANATION.json")
    rep.add_argument("--top", type=positive_int, default=10, help="interactions shown (default 10)")
    _index_argument(rep)
    rep.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML report")
    rep.add_argument("--png", type=Path, metavar="OUT", help="write a bar chart of the top interactions")
    rep.set_defaults(handler=_report)


def _experiment_arguments(exp: argparse.ArgumentParser) -> None:
    from .experiments import EXPERIMENTS

    exp.description = "Experiments: " + "; ".join(f"{name}: {text}" for name, (_, text) in EXPERIMENTS.items())
    exp.add_argument("name", choices=sorted(EXPERIMENTS), metavar="NAME", help=", ".join(sorted(EXPERIMENTS)))
    exp.add_argument("--quick", action="store_true", help="the small configuration (under 5 minutes on 2 cores)")
    exp.add_argument("--json", type=Path, metavar="OUT", help="write the rows and settings as JSON")
    exp.add_argument("--png", type=Path, metavar="OUT", help="write the experiment's chart")
    exp.add_argument("--cache", type=Path, metavar="FILE", help="SQLite file keeping each model answer (reruns resume)")
    exp.add_argument("--items", type=int, metavar="N", help="questions (rag, multires), explained prompts (heads)")
    exp.add_argument("--seeds", type=int, metavar="N", help="mask seeds 0..N-1 (recall)")
    exp.add_argument("--budget", type=int, metavar="N", help="queries per method (heads, data, removal)")
    exp.add_argument("--permutations", type=int, metavar="N", help="permutations of the Shapley reference (recall)")
    exp.add_argument("--models", metavar="A,B", help="models to run, e.g. vader,sentiment (recall, removal)")
    exp.set_defaults(handler=_experiment)


#: subcommand -> (one-line help, function adding its arguments)
_COMMANDS = {
    "explain": ("explain a text model's output on one input", _explain_arguments),
    "report": ("render a saved JSON explanation as a table, HTML and/or PNG", _report_arguments),
    "experiment": ("rerun one of the papers' applications on bundled data and print its table", _experiment_arguments),
}


def _experiment(args: argparse.Namespace) -> None:
    from .experiments import run, size_options

    try:
        options = size_options(args.name, items=args.items, seeds=args.seeds, budget=args.budget,
                               permutations=args.permutations, models=args.models)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    print(run(args.name, args.quick, json=args.json, png=args.png, cache=args.cache, **options), flush=True)
    for path in (args.json, args.png):
        if path is not None:
            print(f"wrote {path}")


def _version() -> str:
    from . import __version__

    return __version__


def _read_input(args: argparse.Namespace) -> tuple[str, str | None]:
    """The text to explain and the question, from --text, --file or the bundled demo."""
    if args.text is not None:
        text = args.text
    elif args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8-sig")  # a byte-order mark is not text
        except FileNotFoundError:
            raise CLIError(f"input file not found: {args.file}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read input file {args.file}: {exc}") from None
    elif _is_classifier(args.model):
        from .data import review_demo

        text = review_demo()
    else:
        from .data import context_of, rag_demo

        demo = rag_demo()  # 32 sentences over five documents; the answer needs two of them together
        if args.question is None and args.target is None:
            args.target = demo["target"]
        return context_of(demo)[0], args.question if args.question is not None else demo["question"]
    if not text.strip():
        raise CLIError("the input text is empty")
    return text, args.question


def _print_header(meta: dict[str, Any], n_units: int) -> None:
    """What is being explained, before the (possibly long) querying starts (control characters written out)."""
    from .report.table import printable

    if meta.get("question"):
        print(f"question : {printable(meta['question'])}")
    if meta.get("target") is not None:
        print(f"explained: {printable(meta['target'])}")
    print(printable(f"units    : {n_units} {meta.get('unit') or ''}".rstrip()), flush=True)


def _print_summary(expl: Any, args: argparse.Namespace, also: Sequence[str] = ()) -> None:
    from .report.notes import choose_index
    from .report.table import format_top_table, method_label

    index = "mobius" if args.index is None else choose_index(args.index)[1]
    print()
    print(format_top_table(expl, args.top, index=index))
    print()
    faith = expl.faithfulness
    if faith.r2 is None:
        print("faithfulness: not measured (use --holdout N)")
    else:
        print(f"faithfulness: R² = {faith.r2:.3f} ({faith.kind}, {faith.n_masks} masks)")
    holdout = expl.n_heldout_queries
    extra = f" ({expl.n_fit_queries} fitted + {holdout} held out)" if holdout else ""
    print(f"method: {method_label(expl, reason=True)}   queries: {expl.n_queries}{extra}")
    timing = expl.timing
    print(
        f"time: model {timing.get('model_s', 0.0):.2f} s, algorithm {timing.get('algorithm_s', 0.0):.2f} s,"
        f" total {timing.get('total_s', 0.0):.2f} s"
    )
    _print_warnings(expl, also)


def _print_warnings(expl: Any, also: Sequence[str] = ()) -> None:
    """Faithfulness unknown or below 0.8, an unreliable result, and the explanation's own warnings, on stderr."""
    from .report.notes import trust_warnings

    messages = trust_warnings(expl)
    for message in [*messages, *(m for m in also if m not in messages)]:
        print(f"interspect: warning: {_one_line(message)}", file=sys.stderr)


def _write_outputs(expl: Any, args: argparse.Namespace) -> None:
    from .report import save_png, write_html

    if getattr(args, "json", None) is not None:
        args.json.write_text(expl.to_json(indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.html is not None:
        write_html(expl, args.html, k=args.top, index=args.index)
        print(f"wrote {args.html}")
    if args.png is not None:
        from .report.notes import choose_index

        save_png(expl, args.png, k=args.top, index="mobius" if args.index is None else choose_index(args.index)[1])
        print(f"wrote {args.png}")


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The kind-specific flags the user set (a model kind refuses the ones it does not use)."""
    flags = {"labels": args.labels, "concurrency": args.concurrency, "timeout": args.timeout, "device": args.device}
    return {name: value for name, value in flags.items() if value is not None}


def _explain(args: argparse.Namespace) -> None:
    from .api import explain
    from .frontends.build import build_text_value_function

    text, question = _read_input(args)
    if question is None and not _is_classifier(args.model):
        what = "how likely --target is as the next words of the text"
        if args.target is None:
            what = "its free continuation of the text (the words it would write next)"
        print(
            f"interspect: note: no --question given, so {args.model} explains {what}; pass --question to explain "
            "its answer to a question about the text",
            file=sys.stderr,
        )
    unit = args.unit or ("word" if _is_classifier(args.model) else "sentence")
    print(f"model: {args.model}   unit: {unit}   masking: {args.masking}", flush=True)
    value_function = build_text_value_function(
        model=args.model,
        text=text,
        question=question,
        target=args.target,
        unit=unit,
        masking=args.masking,
        filler=args.filler,
        batch_size=args.batch_size,
        options=_model_options(args),
    )
    metadata = dict(value_function.describe())  # text, units, spans, question, target, model, ...
    _print_header(metadata, value_function.n_features)
    metadata["request"] = {
        "method": args.method,
        "budget": args.budget,
        "max_order": args.max_order,
        "seed": args.seed,
        "holdout": args.holdout,
    }
    with warnings.catch_warnings(record=True) as caught:  # shown once, as one line each, after the table
        warnings.simplefilter("always", UserWarning)
        expl = explain(
            value_function,
            n_features=value_function.n_features,
            method=args.method,
            budget=args.budget,
            max_order=args.max_order,
            random_state=args.seed,
            feature_names=list(value_function.feature_names),
            holdout=args.holdout,
            batch_size=args.batch_size,
            cache=args.cache,
            progress=args.progress,
            metadata=metadata,
        )
    expl.metadata.update({k: v for k, v in value_function.describe().items() if k == "api"})  # usage after the run
    _print_summary(
        expl, args, also=[f"{w.category.__name__}: {w.message}" for w in caught if str(w.message) not in expl.warnings]
    )
    _write_outputs(expl, args)


def _report(args: argparse.Namespace) -> None:
    from .explanation import load

    try:
        expl = load(args.json_in)
    except FileNotFoundError:
        raise CLIError(f"explanation file not found: {args.json_in}") from None
    except ValueError as exc:
        raise CLIError(f"{args.json_in}: {exc}") from None
    _print_header(expl.metadata, expl.n_features)
    _print_summary(expl, args)
    _write_outputs(expl, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage error, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_in(argv)).parse_args(argv)
    from .query.engine import QueryError  # after parsing: --help and usage errors import nothing heavy

    try:
        args.handler(args)
    except KeyboardInterrupt:
        hint = " (rerun with the same --cache to resume)" if getattr(args, "cache", None) else ""
        print(f"interspect: interrupted{hint}", file=sys.stderr)
        return 130
    except (CLIError, ValueError, OSError, QueryError, ImportError) as exc:
        if os.environ.get("INTERSPECT_DEBUG"):
            raise
        print(f"interspect: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not bad input: still one line, with a way to see the traceback
        if os.environ.get("INTERSPECT_DEBUG"):
            raise
        print(
            f"interspect: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(set INTERSPECT_DEBUG=1 for the traceback and please report it)",
            file=sys.stderr,
        )
        return 1
    return 0


def _one_line(exc: BaseException | str) -> str:
    """An exception's message (or a message) on one line, with control characters (terminal escapes) shown, not sent."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


if __name__ == "__main__":
    sys.exit(main())
