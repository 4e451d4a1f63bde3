"""Command line: parses arguments and dispatches to one module per verb.

    python -m autograder template [--check]          reference/ -> student_template/
    python -m autograder check-config [FILE] [--timings PATH]   validate assignment.toml
    python -m autograder demo                        the README's main job
    python -m autograder handout [--out DIR]         the students' ASSIGNMENT.md + .html
    python -m autograder grade SUBMISSION [--out results.json] [--profile]
    python -m autograder selftest [FOLDER]
    python -m autograder validate [--only ID ...] [--subset N]
    python -m autograder report BATCH_DIR [--out DIR]   the class report of a batch folder
    python -m autograder split --dataset NAME [--source PATH] [--out DIR] [--seed 0]
                               [--val-fraction F] [--test-fraction F] [--pool-official]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import paths
from .sandbox.launcher import STRATEGIES


def _heavy(cfg: Any) -> set[str]:
    """The questions whose tests fork from a zygote that preloads torch (from the reference)."""
    from .grading.preloads import heavy_questions, preload_by_question
    return heavy_questions(preload_by_question(cfg, paths.reference_dir(paths.kit_root())))


def _cmd_template(args: argparse.Namespace) -> int:
    import tomllib

    from . import template
    root = paths.kit_root()
    exclude = template.DEFAULT_EXCLUDE
    cfg_path = Path(args.assignment) if args.assignment else paths.default_assignment(root)
    if cfg_path.is_file():  # only the [template] table matters here; check-config validates
        extra = tomllib.loads(cfg_path.read_text("utf-8")).get("template", {}).get("exclude", [])
        exclude = exclude + tuple(extra)
    try:
        target = Path(args.out) if args.out else paths.template_dir(root)
        problems = template.generate(paths.reference_dir(root), target,
                                     check=args.check, exclude=exclude)
    except template.TemplateError as exc:
        print(f"template: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if problems:
            print("student_template/ is stale; run `python -m autograder template`:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print("student_template/ is up to date with reference/")
        return 0
    print(f"student_template/ written from reference/ ({len(problems)} file(s) changed)")
    for p in problems:
        print(f"  {p}")
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from . import config
    try:
        cfg = config.load(args.file or args.assignment)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    total = sum(q.points for q in cfg.questions if not q.bonus)
    bonus = sum(q.points for q in cfg.questions if q.bonus)
    print(f"{cfg.path}: valid; {len(cfg.questions)} question(s), {total:g} points"
          + (f" + {bonus:g} bonus" if bonus else ""))
    for q in cfg.questions:
        print(f"  {q.id:>4}  {q.points:>5g}{' (bonus)' if q.bonus else '        '}  {q.title}"
              f"  [tests: {cfg.question_budget_s(q.id):g} s]")
    print("Tests run question by question in this order (questions calling others' functions "
          "last, so a hanging function uses up the time budget only after the questions that do "
          "not call it are graded; those that preload torch after the others of their rank): "
          + " ".join(cfg.run_order(later=_heavy(cfg))))
    print(f"Grading one submission takes at most {cfg.time_bound_s():g} s (tests "
          f"{cfg.tests_timeout_s:g} s at most, saved models, start-up); Gradescope's autograder "
          f"timeout must be above it.")
    if args.timings:
        from .grading import timings
        try:
            print(timings.limit_advice(cfg, Path(args.timings)))
        except ValueError as exc:
            print(f"check-config --timings: {exc}", file=sys.stderr)
            return 2
    return 0


def _load_assignment(args: argparse.Namespace):
    from . import config
    return config.load(args.assignment)


def _cmd_grade(args: argparse.Namespace) -> int:
    from . import config
    from .grading import grade, report
    try:
        assignment = _load_assignment(args)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from . import stopsignals
    with stopsignals.handling():     # SIGTERM/SIGINT/SIGHUP: partial results.json, then exit
        result = grade.grade(Path(args.submission), assignment=assignment, out=args.out,
                             public=not args.hidden_only, hidden=not args.public_only,
                             fixed_seed=args.fixed_seed, seed_material=args.seed,
                             strategy=args.sandbox, device=args.device,
                             report_dir=Path(args.report_dir) if args.report_dir else None)
        stopped_by = stopsignals.received()
    if stopped_by:
        print(f"grade: stopped by {stopsignals.name(stopped_by)}; "
              + (f"the tests graded so far are in {args.out}" if args.out else "partial results"),
              file=sys.stderr)
        return stopsignals.exit_code(stopped_by)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        import json
        print(json.dumps(result.doc, indent=2))
    else:
        print(report.table(result))
    if args.profile:
        from .grading import timings
        print("\nWhere the time went (seconds; student = the worker's own work, transp. = "
              "requests and replies, startup = forking and ending each test's child, trusted = "
              "the test's code on the grader's side):")
        print(timings.profile_table(result.outcomes,
                                    (result.doc.get("extra_data") or {}).get("timings") or {}))
    if args.log:
        print(result.log, file=sys.stderr)
    if args.report_json:
        grade.write_report_json(result, Path(args.report_json))
    if args.out:
        print(f"results written to {args.out}", file=sys.stderr)
    from .grading import results
    return 3 if results.run_status(result.doc) == results.FAILED else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import run
    if args.flakes is not None:
        from .validate import flakes
        return flakes.audit(args.assignment, n=args.flakes, only=args.only, jobs=args.jobs,
                            hog=args.hog, out_dir=Path(args.out) if args.out else None,
                            min_runs=args.min_runs)
    return run.run(args.assignment, only=args.only, jobs=args.jobs or run.env_jobs(),
                   out_dir=Path(args.out) if args.out else None, subset=args.subset,
                   progress=not args.no_progress, seeds=args.seeds, strict=args.strict)


def _cmd_selftest(args: argparse.Namespace) -> int:
    from . import config
    from .grading import grade, report
    folder = Path(args.folder).resolve()
    if not (folder / "src").is_dir():
        print(f"selftest: {folder} has no src/ folder; run it in your assignment folder "
              f"(the one holding src/ and tests/)", file=sys.stderr)
        return 2
    toml = folder / "assignment.toml"
    try:
        assignment = config.load(args.assignment or (toml if toml.is_file() else None))
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    result = grade.grade(folder, assignment=assignment, layout=grade.Layout.handout(folder),
                         hidden=False, models=True, fixed_seed=True, strategy=args.sandbox)
    print(report.table(result))
    print("\nThis preview runs the public tests only; the hidden tests decide the final score.")
    return 0


def _cmd_examples(args: argparse.Namespace) -> int:
    from . import examples
    for folder in examples.write_all(Path(args.out)):
        print(folder)
    return 0


def _cmd_handout(args: argparse.Namespace) -> int:
    from . import handout          # instructor-side: not in the students' copy of the kit
    return handout.main(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo
    return demo.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Autograding kit for a from-scratch deep-learning assignment.")
    parser.add_argument("--assignment", metavar="TOML",
                        help="assignment file (default: the kit's assignment.toml)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("template", help="write student_template/ from reference/")
    p.add_argument("--check", action="store_true",
                   help="only compare; exit 1 when the checked-in template is stale")
    p.add_argument("--out", metavar="DIR", help="write here instead of student_template/")
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser("check-config", help="validate an assignment file")
    p.add_argument("file", nargs="?", help="the TOML file (default: --assignment or the kit's)")
    p.add_argument("--timings", metavar="PATH",
                   help="measured times (a report.json or results.json, or a batch folder): print "
                        "each test's worst time against its limit and the margin")
    p.set_defaults(func=_cmd_check_config)

    p = sub.add_parser("grade", help="grade one submission exactly as Gradescope would")
    p.add_argument("submission", help="submission folder or .zip")
    p.add_argument("--out", metavar="JSON", help="write Gradescope's results.json here")
    p.add_argument("--json", action="store_true", help="print results.json instead of the table")
    p.add_argument("--public-only", action="store_true", help="run only the public tests")
    p.add_argument("--hidden-only", action="store_true", help="run only the hidden tests")
    p.add_argument("--fixed-seed", action="store_true",
                   help="fixed random cases instead of per-submission ones (validate, CI)")
    p.add_argument("--sandbox", choices=list(STRATEGIES),
                   help="force an isolation strategy (default: the strongest available)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where saved models run: CUDA when available (auto), or forced")
    p.add_argument("--report-dir", metavar="DIR",
                   help="instructor report: confusion matrix and per-class F1 plots, metrics, logs")
    p.add_argument("--log", action="store_true", help="print pytest's log to stderr")
    p.add_argument("--profile", action="store_true",
                   help="print the slowest tests and where their time went (and the run's phases)")
    p.add_argument("--report-json", metavar="PATH",
                   help="write the instructor's report.json (every test's outcome and full "
                        "message, timings, sandbox facts) to PATH; what validate reads")
    p.add_argument("--seed", metavar="TEXT", help=argparse.SUPPRESS)   # validate: other random cases
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("validate", help="prove the tests: reference full marks, template zero, "
                                        "every mutant killed, every alternative accepted")
    p.add_argument("--only", nargs="+", metavar="ID", help="only these variant ids or questions")
    p.add_argument("--subset", type=int, metavar="N",
                   help="a deterministic subset of N variants (what CI runs)")
    p.add_argument("--jobs", type=int, help="parallel gradings (default: CPU count)")
    p.add_argument("--out", metavar="DIR", help="report folder (default: reports/validate)")
    p.add_argument("--seeds", type=int, default=3, metavar="K",
                   help="also grade the reference under K per-submission seeds (default 3)")
    p.add_argument("--strict", action="store_true",
                   help="grade every question for every variant (default: only the questions whose "
                        "code imports a file the variant changes; the others run the reference's code)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--flakes", type=int, metavar="N",
                   help="flake audit instead: grade the reference and every accepted alternative "
                        "under N seeds, two gradings per core (--jobs), and report per test the "
                        "failures and the slowest run against its time limit (reports/flakes/)")
    p.add_argument("--hog", action="store_true",
                   help="with --flakes: a CPU-bound process per core beside the gradings")
    p.add_argument("--min-runs", type=int, metavar="R",
                   help="with --flakes: then more seeds per question until each question has at "
                        "least R test-runs (the full audit: --flakes 1 --min-runs 2000)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("selftest", help="students: public tests through the sandbox + a scored preview")
    p.add_argument("folder", nargs="?", default=".", help="your assignment folder (default: .)")
    p.add_argument("--sandbox", choices=list(STRATEGIES))
    p.set_defaults(func=_cmd_selftest)

    p = sub.add_parser("examples", help="write the example submissions as folders and zips")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=_cmd_examples)

    p = sub.add_parser("handout", help="write the students' ASSIGNMENT.md and ASSIGNMENT.html",
                       description="Write the assignment document students read: ASSIGNMENT.md "
                                   "(GitHub, maths as $...$) and a self-contained ASSIGNMENT.html "
                                   "(MathML), for the questions of --assignment.")
    p.add_argument("--out", metavar="DIR", help="output folder (default: build/handout/ in the kit)")
    p.set_defaults(func=_cmd_handout)

    p = sub.add_parser("demo", help="the README's main job on scikit-learn's digits")
    p.set_defaults(func=_cmd_demo)

    from . import split as split_verb
    split_verb.add_parser(sub)
    from . import build as build_verb
    build_verb.add_parser(sub)
    from . import batch as batch_verb
    batch_verb.add_parser(sub)
    from . import classreport
    classreport.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
