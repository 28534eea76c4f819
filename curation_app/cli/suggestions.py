"""`suggest`: the category model and the language detector, their accuracy, and queue order by uncertainty."""

from __future__ import annotations

import argparse
import json

from curation_app.cli.common import Commands, actor, print_json, ready_engine


def register_suggest(commands: Commands) -> None:
    suggest = commands.add_parser("suggest", help="category model and language detector: accuracy, queue order")
    suggest_commands = suggest.add_subparsers(dest="suggest_command", required=True, metavar="ACTION")
    for action, text in (("accuracy", "held-out accuracy of the category model and the language detector"),
                         ("order", "put the most uncertain open items first in the shared pool"),
                         ("reset-order", "put the shared pool back in import order")):
        suggest_commands.add_parser(action, help=text).add_argument("--json", action="store_true")
    suggest.set_defaults(run=cmd_suggest)


def cmd_suggest(args: argparse.Namespace) -> int:
    from curation_app.core import suggest
    from curation_app.database import read_scope, session_scope

    engine = ready_engine()
    if args.suggest_command == "accuracy":
        with read_scope(engine) as session:
            model = suggest.train(session, actor=actor())
            result = {"model": {"items": model.n_training, "accuracy": model.accuracy},
                      "languages": suggest.language_suggestion_accuracy(session)}
        if args.json:
            print_json(result)
        else:
            print(f"category model, trained on {model.n_training} final kept items (held-out accuracy):")
            for target, figures in model.accuracy.items():
                shown = "n/a (" + figures["reason"] + ")" if figures.get("top1") is None else \
                    f"top-1 {figures['top1']:.3f}, top-3 {figures['top3']:.3f} on {figures['n_test']} items"
                print(f"  {target:<12} {shown}")
            print(f"language detector: {json.dumps(result['languages'])}")
        return 0
    with session_scope(engine) as session:
        if args.suggest_command == "order":
            result = suggest.order_queue_by_uncertainty(session, actor=actor())
            message = f"{result['ranked']} open item(s) ordered, most uncertain first"
        else:
            suggest.reset_queue_order(session, actor=actor())
            result, message = {"ranked": 0}, "the shared pool is back in import order"
    if args.json:
        print_json(result)
    else:
        print(message)
    return 0
