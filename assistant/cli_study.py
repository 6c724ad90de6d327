"""`assistant check`: practice questions checked against the notes, pasted or from a JSONL file.

The command is built by `check_command` from the shell's own helpers (the assistant for this run,
bringing the index up to date, printing sources): `cli.py` passes them in, so this module sits
below it and imports nothing from it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _citations(result) -> list[dict]:
    """The cited lines, compact: number, file, heading, view lines, place and the quoted line.

    The place is where a reader finds the line ("slides.pdf, page 3, line 4"); the lines count the
    note's view (a PDF's pages one after another).
    """
    from assistant.schema import place

    return [{"n": c.n, "source": c.chunk.source, "heading": c.chunk.heading, "lines": [c.start_line, c.end_line],
             "place": place(c.chunk.source, c.start_line, c.end_line, c.chunk.region, c.chunk.region_start,
                            c.chunk.region_end),
             "quote": c.quote} for c in result.citations]


def check_command(shell) -> click.Command:
    """The ``check`` command, using the shell's helpers.

    Args:
        shell: The CLI's helpers: ``assistant(ctx)``, ``refresh(sa)``, ``print_sources(answer)`` and
            ``print_footer(answer)``.
    """

    @click.command()
    @click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
    @click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the JSONL rows here instead of to standard output.")
    @click.option("--json", "as_json", is_flag=True, help="For a pasted question: print the verdict as JSON.")
    @click.option("--backend", "-b", default=None,
                  help="extractive (offline, default) or an LLM backend that reads each option's lines and picks.")
    @click.option("--mine", default=None,
                  help="For a pasted question: your answer (B, or A,C). It is graded and kept in your progress.")
    @click.option("--key", default=None,
                  help="With --mine: the answer key's letters, if your source has them (else your notes' pick).")
    @click.option("--review", is_flag=True,
                  help="Ask the practice questions you answered again, the soonest due first (a missed one is "
                       "due within minutes).")
    @click.pass_context
    def check(ctx: click.Context, file: Path | None, out: Path | None, as_json: bool, backend: str | None,
              mine: str | None, key: str | None, review: bool) -> None:
        """Check practice questions against your notes: the option they support, with citations.

        Paste a question with its options (A. B. C. D., A) B) ..., (A) ..., one per line or on one
        line) on standard input, or give a FILE.jsonl of rows {"question": ..., "options": {"A": ...}}:
        each row is written back with "pick" (a letter, a list of letters for "select TWO", or null
        when your notes can't decide), "reason" and "citations". With --mine, your own answer to a
        pasted question is graded (against --key, or your notes' pick) and kept for `assistant
        progress` and --review.
        """
        from assistant.errors import QuestionError

        if key and not mine:
            raise click.UsageError("--key grades your answer: give it with --mine.")
        if mine and file is not None and str(file) != "-":
            raise click.UsageError("--mine is for one pasted question on standard input, not a FILE.")
        sa = shell.assistant(ctx)
        if review:
            shell.refresh(sa)
            _review(sa, backend)
            return
        if file is None or str(file) == "-":
            text = sys.stdin.read()
            if not text.strip():
                raise QuestionError("Nothing to check: paste a practice question with its options on standard input, "
                                    "or give a FILE.jsonl.")
            if mine:  # a mistyped answer is said before the check runs
                from assistant.study.grading import letters
                from assistant.study.practice import parse_practice

                parsed = parse_practice(text)
                letters(mine, parsed)
                letters(key, parsed, "the answer key")
            shell.refresh(sa)
            result = sa.check(text, backend)
            if as_json:
                click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
            else:
                answer = sa.practice_answer(result, backend)
                click.echo(answer.text)
                shell.print_sources(answer)
                shell.print_footer(answer)
            if mine:
                _record(sa, result, mine, key)
            return
        from tqdm import tqdm

        from assistant.evaluation.practice import load_practice

        items = load_practice(file, need_answers=False)  # a bad row stops here, before anything runs
        shell.refresh(sa)
        sink = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115 - stdout is not ours to close
        picked = 0
        try:
            for item in tqdm(items, desc="Checking", unit="question", file=sys.stderr, disable=len(items) < 2):
                result = sa.check(item.question, backend)
                picked += bool(result.pick)
                row = {**item.row, "pick": result.pick_value(), "reason": result.reason,
                       "citations": _citations(result)}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            if out:
                sink.close()
        click.secho(f"{len(items)} question(s) checked: {picked} picked, {len(items) - picked} your notes can't decide"
                    + (f". Written to {out}." if out else "."), dim=True, err=True)

    return check


def _record(sa, result, mine: str, key: str | None) -> bool:
    """Grade the student's answer to a checked question, keep it, and say how it went; True when right."""
    graded, due = sa.record_check(result, mine, key)
    verdict, note = graded.said(result.question)
    click.secho(verdict, fg="green" if graded.correct else "yellow")
    if note:
        click.secho(note, fg="yellow")
    click.secho(f"Kept in your progress; due for review {due.astimezone():%Y-%m-%d %H:%M}.", dim=True)
    return graded.correct


def _review(sa, backend: str | None) -> None:
    """Ask the practice questions the student answered before, soonest due first; grade and keep each answer."""
    from assistant.study.grading import letters
    from assistant.study.practice import PracticeError, parse_practice

    kept = sa.progress.practice()
    items = sa.progress.soonest(list(kept))
    if not items:
        click.echo("No practice questions to review yet: answer one with `assistant check --mine B`.")
        return
    right = asked = 0
    for n, item in enumerate(items, 1):
        text, key = kept[item]
        question = parse_practice(text)
        click.secho(f"\n{n}/{len(items)}", dim=True)
        click.echo(text)
        while True:
            reply = click.prompt("Your answer (Enter skips, q stops)", default="", show_default=False).strip()
            if reply.lower() in ("", "q"):
                break
            try:
                letters(reply, question)
                break
            except PracticeError as exc:
                click.secho(str(exc), fg="yellow")
        if reply.lower() == "q":
            break
        if not reply:
            continue
        try:
            right += _record(sa, sa.check(question, backend), reply, key or None)
        except PracticeError as exc:  # the notes changed and can't decide it any more, and it has no key
            click.secho(str(exc), fg="yellow")
            continue
        asked += 1
    click.echo(f"\n{right} of {asked} right." if asked else "\nNo answers.")


def eval_practice(sa, gold: Path, limit: int | None, out: Path, name: str | None, refresh,
                  backend: str = "extractive") -> None:
    """`assistant eval --gold PRACTICE.jsonl`: the checker's accuracy and "can't decide" rate, and a report.

    ``refresh`` brings the index up to date first (the shell's helper).
    """
    import time

    from tqdm import tqdm

    from assistant.evaluation.practice import load_practice, score, write_practice_report

    items = load_practice(gold)
    items = items[:limit] if limit else items
    refresh(sa)
    started = time.perf_counter()
    with tqdm(total=len(items), desc="Checking", unit="question", file=sys.stderr) as bar:
        summary, rows = score(items, lambda q: sa.check(q, backend), progress=bar.update)
    folder = out / (time.strftime("%Y%m%d-%H%M%S") + "-" + (name or "practice"))
    report = write_practice_report(folder, summary, rows, gold)
    click.echo(f"checker: {backend if backend != 'extractive' else 'offline'}")
    click.echo("\n".join(summary.lines()))
    click.echo(f"\n{len(rows)} practice questions in {time.perf_counter() - started:.1f} s. Report: {report}")


def flashcards_command(shell) -> click.Command:
    """The ``flashcards`` command, using the shell's helpers (see `check_command`)."""

    @click.command()
    @click.option("--anki", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write an Anki package (.apkg): a deck per domain; re-importing a newer one updates cards.")
    @click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the cards as CSV (domain, term, definition, source, id).")
    @click.option("--domain", default=None, help="Only the cards of domains whose name contains this text.")
    @click.option("--title", default="Study notes", show_default=True, help="The Anki parent deck's name.")
    @click.pass_context
    def flashcards(ctx: click.Context, anki: Path | None, csv_path: Path | None, domain: str | None,
                   title: str) -> None:
        """Flashcards from your notes: each defined term, its definition and where it is; per domain."""
        from collections import Counter

        from assistant.errors import QuestionError
        from assistant.study.cards import write_anki, write_csv

        sa = shell.assistant(ctx)
        shell.refresh(sa)
        cards = sa.cards()
        if domain:
            cards = [c for c in cards if domain.lower() in c.domain.lower()]
            if not cards:
                raise QuestionError(f"No flashcards for a domain matching {domain!r}: run `assistant flashcards` "
                                    "to see the domains.")
        if not cards:
            raise QuestionError("Your notes define no terms to make cards from (lines like '**Term:** what it "
                                "is', or tables).")
        for name, count in Counter(c.domain for c in cards).most_common():
            click.echo(f"{count:4d}  {name}")
        click.echo(f"{len(cards):4d}  cards")
        if csv_path:
            write_csv(cards, csv_path)
            click.secho(f"wrote {csv_path}", dim=True, err=True)
        if anki:
            decks = write_anki(cards, anki, title)
            click.secho(f"wrote {anki}: {len(decks)} deck(s) under '{title}'", dim=True, err=True)

    return flashcards


def quiz_command(shell) -> click.Command:
    """The ``quiz`` command, using the shell's helpers (see `check_command`)."""

    @click.command()
    @click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True, help="Questions.")
    @click.option("--domain", default=None, help="Only terms of domains whose name contains this text.")
    @click.option("--seed", type=int, default=None, help="The same quiz again (a number).")
    @click.option("--json", "as_json", is_flag=True, help="Print the questions as JSONL (with answers) and stop.")
    @click.option("--review", is_flag=True,
                  help="Weak topics first: the terms you answered, soonest due for review first (a missed one "
                       "is due within minutes).")
    @click.option("--backend", "-b", default=None,
                  help="An LLM backend that phrases each question exam-style (options and answers stay the "
                       "notes'; a phrasing that names an option or adds facts is not used).")
    @click.pass_context
    def quiz(ctx: click.Context, count: int, domain: str | None, seed: int | None, as_json: bool,
             review: bool, backend: str | None) -> None:
        """Quiz yourself: multiple-choice questions made from your notes' definitions, each explained and cited.

        Type a letter for each question (Enter skips, q stops). Answers are kept in ASSISTANT_STUDY_DIR
        (`assistant progress` shows them); a missed term comes back sooner with --review.
        """
        from assistant.errors import QuestionError
        from assistant.study.quiz import closeness, make_quiz

        sa = shell.assistant(ctx)
        shell.refresh(sa)
        cards = sa.cards()
        due = sa.progress.soonest([c.id for c in cards]) if review else []
        questions = make_quiz(cards, count, seed, domain, first=due, fit=closeness(sa.embedder))
        if not questions:
            where = f" for a domain matching {domain!r}" if domain else ""
            raise QuestionError(f"No quiz questions{where}: it takes terms your notes define, at least four of a "
                                "kind (run `assistant flashcards` to see them).")
        if backend and backend.strip().lower() != "extractive":
            from collections import Counter

            from assistant.study.llm_quiz import phrase_stems

            composer = sa.backend(backend.strip().lower())
            questions, kept = phrase_stems(questions, composer)
            reasons = Counter(why for why in kept if why)
            rest = ", ".join(f"{n} {why}" for why, n in reasons.most_common())
            click.secho(f"{len(questions) - sum(reasons.values())} of {len(questions)} questions phrased by the "
                        f"{composer.name} model" + (f"; the notes' own line for the rest ({rest})" if rest else "")
                        + ".", dim=True, err=True)
        if as_json:
            for q in questions:
                click.echo(json.dumps(q.to_dict(), ensure_ascii=False))
            return
        right = asked = 0
        for n, q in enumerate(questions, 1):
            click.secho(f"\n{n}/{len(questions)}  ({q.card.domain})", dim=True)
            click.echo(q.stem)
            for letter, option in q.options.items():
                click.echo(f"  {letter}. {option}")
            reply = click.prompt("Your answer", default="", show_default=False).strip().upper()
            if reply == "Q":
                break
            if not reply:
                continue
            asked += 1
            correct = reply[:1] == q.answer
            right += correct
            if correct:
                click.secho("Right.", fg="green")
            else:
                click.secho(f"Not quite: {q.answer}. {q.options[q.answer]}.", fg="yellow")
            sa.progress.record(q.card.id, "quiz", q.card.domain, q.to_dict()["heading"], correct)
            click.echo(f'Your notes: "{q.card.definition}"')
            click.secho(f"  {q.card.place}", dim=True)
        click.echo(f"\n{right} of {asked} right." if asked else "\nNo answers.")

    return quiz


def progress_command(shell) -> click.Command:
    """The ``progress`` command, using the shell's helpers (see `check_command`)."""

    @click.command()
    @click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also draw accuracy per domain as a PNG chart.")
    @click.pass_context
    def progress(ctx: click.Context, chart: Path | None) -> None:
        """Your quiz and practice results per domain (answered, right, last, due for review); your weakest headings."""
        sa = shell.assistant(ctx)
        domains = sa.progress.by_domain()
        if not domains:
            click.echo("No answers yet: take a quiz with `assistant quiz`, or answer a practice question with "
                       "`assistant check --mine B`.")
            return
        width = max(len(d.domain) for d in domains)
        click.echo(f"{'domain':<{width}}  answered  right   last answer       due")
        for d in domains:
            click.echo(f"{d.domain:<{width}}  {d.answered:8d}  {d.accuracy:5.0%}   {d.last[:16]:<16}  {d.due:4d}")
        weak = [row for row in sa.progress.by_heading() if row[3] < row[2]][:5]
        if weak:
            click.echo("\nWeakest headings:")
            for domain, heading, answered, right in weak:
                click.echo(f"  {right}/{answered}  {heading}  ({domain})")
        click.secho("Review them: `assistant quiz --review` (quiz terms), `assistant check --review` (practice "
                    "questions).", dim=True, err=True)
        if chart:
            from assistant.study.charts import accuracy_chart

            accuracy_chart(domains, chart)
            click.secho(f"wrote {chart}", dim=True, err=True)

    return progress
