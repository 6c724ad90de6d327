"""The `assistant` command: ingest notes, search them. Errors become one line and exit code 1."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import time
from pathlib import Path

import click
from click.core import ParameterSource

from assistant.errors import AssistantError, ConfigError, QuestionError
from assistant.text.markdown import plain_text

STALE = "Your notes (or how they are indexed) changed since the last ingest: updating the index first."
BUSY = ("Another process is updating the index: answering from the index as it is (ask again once it is done "
        "to include your latest notes).")


class _Group(click.Group):
    """Turns our errors into a one-line message instead of a traceback."""

    def invoke(self, ctx: click.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(1)


_UTF8_FIX = "set your terminal to UTF-8 (e.g. LANG=C.UTF-8)"


class _Utf8Text(click.ParamType):
    r"""Command-line text that must be UTF-8; Python hands over other bytes as lone surrogates.

    Those surrogates cannot be encoded, so without this the tokenizer, JSON output or the terminal
    fails with a traceback. A question (``lenient``) keeps its readable words: "caf\xe9 drift" still
    finds the drift notes, so it is used with U+FFFD for each bad byte and a warning (unless nothing
    readable is left). A name (backend, prompt, variant, metric, report folder) with a bad byte can
    match nothing we have, so it is an error that says how to fix the terminal.
    """

    name = "text"

    def __init__(self, lenient: bool) -> None:
        """Choose between using the text with replacement characters (lenient) and refusing it."""
        self.lenient = lenient

    def convert(self, value, param, ctx):  # noqa: D102
        if not isinstance(value, str):
            return value
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
        try:
            raw = value.encode("utf-8", "surrogateescape")  # the bytes as typed
        except UnicodeEncodeError:  # a lone surrogate that stands for no byte (Windows' wide argv)
            raw = value.encode("utf-8", "surrogatepass")
        fixed = raw.decode("utf-8", "replace")
        if param is None:  # typed at the chat prompt
            label, error = "your question", QuestionError
        else:
            label = param.human_readable_name if isinstance(param, click.Argument) else param.opts[0]
            error = QuestionError if isinstance(param, click.Argument) else ConfigError
        if not self.lenient:
            raise error(f"{label} {fixed!r} is not valid UTF-8: {_UTF8_FIX} and type it again.")
        if not fixed.replace("\ufffd", "").strip():
            raise error(f"{label} is not valid UTF-8 and nothing readable is left of it: {_UTF8_FIX} "
                        "and type it again.")
        click.secho(f"warning: {label} is not valid UTF-8, using {fixed!r} (U+FFFD for each bad byte); "
                    f"{_UTF8_FIX} to fix.", fg="yellow", err=True)
        return fixed


QUESTION = _Utf8Text(lenient=True)
NAME = _Utf8Text(lenient=False)


def _assistant(ctx: click.Context):
    from assistant.core import StudyAssistant

    if "assistant" not in ctx.obj:
        ctx.obj["assistant"] = StudyAssistant.from_env(env_file=ctx.obj["env_file"])
    return ctx.obj["assistant"]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"),
              show_default=True, help="Settings file (environment variables win over it).")
@click.pass_context
def main(ctx: click.Context, env_file: Path) -> None:
    """Study assistant for the AWS MLA-C01 exam, grounded in your own notes.

    Notes live in ASSISTANT_CORPUS_DIR (default ./corpus); the index in ASSISTANT_INDEX_DIR
    (default ./.index). See .env.example for every setting.
    """
    ctx.ensure_object(dict)
    ctx.obj["env_file"] = env_file


def _print_report(report, dim: bool = False) -> None:
    """An ingest's warnings and repairs (stderr), then its summary line (stdout, or dimmed on stderr)."""
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for repair in report.repaired:
        click.secho(f"repaired: {repair}", fg="yellow", err=True)
    if dim:
        click.secho(report.summary(), dim=True, err=True)
    else:
        click.echo(report.summary())


@main.command()
@click.option("--rebuild", is_flag=True, help="Re-embed everything from scratch (a plain ingest already repairs "
                                                "a damaged index).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def ingest(ctx: click.Context, rebuild: bool, quiet: bool) -> None:
    """Index the notes folder; only new or changed sections are embedded again.

    Also checks the index and repairs what is damaged or missing. If another process is updating
    the index, this waits for it to finish, then does what is left (often nothing).
    """
    from assistant.errors import IndexBusyError

    sa = _assistant(ctx)
    try:
        report = sa.ingest(rebuild=rebuild, progress=not quiet, wait=False)
    except IndexBusyError:
        click.secho("Another process is updating the index: waiting for it to finish…", dim=True, err=True)
        report = sa.ingest(rebuild=rebuild, progress=not quiet, wait=True)
    _print_report(report)


@main.command()
@click.argument("question", type=QUESTION)
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=None,
              help="How many passages (default: ASSISTANT_TOP_K, 5).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of passages.")
@click.option("--dense-only", is_flag=True, help="Skip keyword (BM25) search.")
@click.pass_context
def search(ctx: click.Context, question: str, k: int | None, as_json: bool, dense_only: bool) -> None:
    """Show the passages of your notes that best match QUESTION.

    If your notes changed since the last ingest, the index is brought up to date first.
    """
    sa = _assistant(ctx)
    if question.strip():
        _refresh_if_stale(sa)
    hits = sa.retrieve(question, k=k, hybrid=False if dense_only else None)
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
        return
    from assistant.schema import cited_by_lines

    width = min(100, max(60, shutil.get_terminal_size((100, 24)).columns))
    for rank, hit in enumerate(hits, 1):
        click.secho(f"[{rank}] {hit.heading or hit.source}", bold=True)
        # a text note as an editor jumps to it (file:line); a page, cell or web page as it is cited
        where = (f"{hit.source}:{hit.start_line}-{hit.end_line}" if cited_by_lines(hit.source) and not hit.region
                 else hit.place())
        click.secho(f"    {where}  score {hit.score:.4f}  "
                    f"similarity {hit.similarity:.2f}", dim=True)
        body = " ".join(line.strip() for line in plain_text(hit.text).splitlines() if line.strip())
        click.echo(textwrap.fill(textwrap.shorten(body, 400, placeholder=" …"), width,
                                 initial_indent="    ", subsequent_indent="    "))
        click.echo()


def _refresh_if_stale(sa) -> None:
    """Bring the index up to date (or repair it) before searching, without waiting on another writer.

    When there is a usable index, a question is never held up: if another process is writing, or
    the index folder cannot be written, the answer comes from the index as it is, and a line says
    so. With no usable index there is nothing to answer from, so this waits for the other writer.
    """
    from assistant.errors import IndexBusyError, IndexNotWritableError

    status = sa.status()
    if not status.needs_ingest:
        return
    usable = status.files > 0 and not status.problems
    if status.busy and usable:
        click.secho(BUSY, dim=True, err=True)
        return
    if status.problems:
        click.secho(f"The index needs repair ({status.problems[0]}): repairing it first.", dim=True, err=True)
    else:
        click.secho(STALE, dim=True, err=True)
    try:
        report = sa.ingest(progress=True, wait=not usable)
    except IndexBusyError:
        click.secho(BUSY, dim=True, err=True)
        return
    except IndexNotWritableError as exc:
        if not usable:
            raise
        click.secho(f"warning: cannot update the index, so answering from it as it is: {exc}", fg="yellow", err=True)
        return
    _print_report(report, dim=True)


def _print_sources(answer) -> None:
    """The cited passages: number, heading path, file and lines (the quoted lines when known)."""
    if answer.abstained or not answer.citations:
        return
    click.echo()
    click.secho("Sources", bold=True)
    for c in sorted(answer.citations, key=lambda c: c.n):
        click.echo(f"  [{c.n}] {c.chunk.heading or c.chunk.source}")
        click.secho(f"      {c.chunk.place(c.start_line, c.end_line)}", dim=True)


def _print_footer(answer) -> None:
    facts = [f"{answer.backend}", f"prompt {answer.prompt}", f"{answer.seconds:.2f} s"]
    if answer.tokens_in or answer.tokens_out:
        facts.append(f"tokens {answer.tokens_in} in / {answer.tokens_out} out")
    if answer.notice:
        click.secho(answer.notice, dim=True, err=True)
    if answer.evidence.get("gate"):
        click.secho(f"(\"covered?\" decided by your own gate: {answer.evidence['gate']})", dim=True, err=True)
    if answer.standalone_question and answer.standalone_question != answer.question:
        click.secho(f"Answering: {answer.standalone_question}", dim=True, err=True)
    click.secho(" · ".join(facts), dim=True, err=True)


def _stream_answer(sa, question: str, history, backend: str | None, prompt: str | None, k: int | None):
    """Print an answer as it streams, then its sources; return the Answer.

    A backend that fails midway leaves its partial text on screen, then the error. An LLM answer
    that fails its checks stays on screen with a line saying it was set aside; the replacement follows.
    """
    from assistant.errors import BackendError
    from assistant.schema import Answer, Retraction

    answer = None
    try:
        for event in sa.stream(question, history=history, backend=backend, prompt=prompt, k=k):
            if isinstance(event, Answer):
                answer = event
            elif isinstance(event, Retraction):
                # a terminal cannot take back what it printed: say that it is withdrawn
                click.echo()
                click.secho(f"[{event.reason}]", fg="yellow", err=True)
            else:
                click.echo(event, nl=False)
    except BackendError as exc:
        if exc.partial:
            click.echo()
            click.secho("[answer interrupted]", fg="yellow", err=True)
        raise
    click.echo()
    if answer.dropped_markers:
        numbers = ", ".join(f"[{n}]" for n in answer.dropped_markers)
        click.secho(f"(removed citation markers that name no passage: {numbers})", fg="yellow", err=True)
    if answer.unverified_quotes:
        click.secho(f"(quotation(s) not found in the cited passage: {len(answer.unverified_quotes)})",
                    fg="yellow", err=True)
    _print_sources(answer)
    _print_footer(answer)
    return answer


_BACKEND_HELP = "Answer backend: extractive (default, offline), bedrock, openai, llamacpp."


@main.command()
@click.argument("question", type=QUESTION)
@click.option("--backend", "-b", default=None, type=NAME, help=_BACKEND_HELP + " Default: ASSISTANT_BACKEND.")
@click.option("--prompt", "-p", default=None, type=NAME,
              help="Prompt template name (default: ASSISTANT_PROMPT, 'default').")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=None, help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON (no streaming).")
@click.pass_context
def ask(ctx: click.Context, question: str, backend: str | None, prompt: str | None, k: int | None,
        as_json: bool) -> None:
    """Answer QUESTION from your notes, with citations (or say the notes don't cover it)."""
    sa = _assistant(ctx)
    if question.strip():
        _refresh_if_stale(sa)
    if as_json:
        answer = sa.answer(question, backend=backend, prompt=prompt, k=k)
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    _stream_answer(sa, question, None, backend, prompt, k)


@main.command()
@click.option("--backend", "-b", default=None, type=NAME, help=_BACKEND_HELP)
@click.option("--prompt", "-p", default=None, type=NAME, help="Prompt template name.")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=None, help="Passages to retrieve.")
@click.pass_context
def chat(ctx: click.Context, backend: str | None, prompt: str | None, k: int | None) -> None:
    """Chat about your notes; follow-up questions use the conversation. Type /new to start over, /quit to leave.

    The model and index stay loaded between questions.
    """
    sa = _assistant(ctx)
    _refresh_if_stale(sa)
    engine = sa.backend(backend)  # fail early on an unknown or unconfigured backend
    click.secho(f"Chatting with your notes ({engine.name}). /new starts over, /quit leaves.", dim=True)
    history: list[dict[str, str]] = []
    while True:
        try:
            question = click.prompt(click.style("you", bold=True), prompt_suffix="> ", default="",
                                    show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        try:
            question = QUESTION.convert(question, None, None)
        except QuestionError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            continue
        command = question.strip().lower()
        if command in {"/quit", "/exit", "quit", "exit"}:
            return
        if command == "/new":
            history.clear()
            click.secho("New chat.", dim=True)
            continue
        if not command:
            continue
        try:
            answer = _stream_answer(sa, question, history, engine.name, prompt, k)
        except AssistantError as exc:
            # the conversation so far is kept; the failed turn is not added to it
            click.secho(f"Error: {exc}", fg="red", err=True)
            continue
        except KeyboardInterrupt:
            # Ctrl-C stops this answer, not the conversation
            click.secho("\n[answer stopped]", fg="yellow", err=True)
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        click.echo()


def _model_of(settings, backend: str) -> str:
    return {"bedrock": settings.bedrock_model, "openai": settings.openai_model or "",
            "llamacpp": str(settings.gguf or "")}.get(backend, backend)


@main.group(name="eval", invoke_without_command=True)
@click.option("--variants", "-v", "spec", default="default", type=NAME, show_default=True,
              help="Comma-separated variants: names of files in the variants folder, prompt names, backend names, "
                   "or paths to your own .toml files (keys: backend, prompt, k, hybrid, model, base_url).")
@click.option("--variants-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval/variants"),
              show_default=True, help="Folder the variant names are looked up in.")
@click.option("--gold", type=click.Path(dir_okay=False, path_type=Path), default=Path("eval/gold.jsonl"),
              show_default=True, help="Gold Q&A file (JSONL: id, question, reference, evidence, answerable), or a "
                   "conversation set (JSONL: id, turns) to score follow-up questions in their conversation.")
@click.option("--name", default=None, type=NAME, help="Name for the report folder (default: the variant names).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per question for LLM variants (mean ± sd); the extractive backend is deterministic.")
@click.option("--dry-run", is_flag=True, help="Show how many calls, tokens and dollars a run would take; call nothing.")
@click.option("--no-ragas", is_flag=True, help="Skip ragas' LLM-free metrics (retrieval metrics still run).")
@click.option("--judge", type=click.Choice(["bedrock", "openai"]), default=None,
              help="Also run ragas' LLM-judged metrics with this judge (its ASSISTANT_* settings).")
@click.option("--judge-metrics", default=None, type=NAME,
              help="Comma-separated judged metrics (default with --judge: all): faithfulness, answer_relevancy, "
                   "context_precision, context_recall, factual_correctness.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N gold questions.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval/reports"),
              show_default=True, help="Where run folders are written.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Evaluate on this notes folder instead of ASSISTANT_CORPUS_DIR (needs --gold with its "
                   "questions); it gets its own index under ASSISTANT_CACHE_DIR, so yours is left alone.")
@click.pass_context
def eval_command(ctx: click.Context, spec: str, variants_dir: Path, gold: Path, name: str | None, repeat: int,
                 dry_run: bool,
                 no_ragas: bool, judge: str | None, judge_metrics: str | None, limit: int | None,
                 out: Path, corpus: Path | None) -> None:
    """Score answers against the gold set for one or more variants, and write a report.

    A variant is a backend x prompt x retrieval setting. Reports go to eval/reports/<time>-<name>/:
    results.jsonl, summary.csv, report.md and chart.png. `assistant eval compare RUN_A RUN_B`
    diffs two saved runs.
    """
    if ctx.invoked_subcommand:
        return
    from assistant.answer.composers import NAMES
    from assistant.answer.prompting import available_prompts
    from assistant.errors import ConfigError
    from assistant.evaluation.conversations import is_conversation_file, load_conversations
    from assistant.evaluation.gold import load_gold
    from assistant.evaluation.harness import LLM_BACKENDS, load_prices, load_variants, run, summarize
    from assistant.evaluation.ragas_metrics import JUDGE_METRICS

    wanted = [m.strip() for m in (judge_metrics or "").split(",") if m.strip()]
    unknown = [m for m in wanted if m not in JUDGE_METRICS]
    if unknown:
        raise ConfigError(f"Unknown judged metric(s) {', '.join(unknown)}; available: {', '.join(JUDGE_METRICS)}.")
    if wanted and not judge:
        raise ConfigError("LLM-judged metrics need a judge: add --judge bedrock or --judge openai "
                          "(nothing defaults to OpenAI's service).")
    from assistant.evaluation.practice import is_practice_file

    practice = is_practice_file(gold)
    if not dry_run and not practice:  # a dry run only retrieves and counts tokens: it works without the `eval` extra
        from assistant.extras import require_eval

        require_eval(llm_free=not no_ragas, judge=judge)
    if corpus is not None and ctx.get_parameter_source("gold") is ParameterSource.DEFAULT:
        raise ConfigError(f"--corpus {corpus} needs the questions for those notes: add --gold FILE.")
    conversations = None
    if practice:
        items = []
    elif is_conversation_file(gold):  # a malformed row stops the run here, before anything is spent
        conversations = load_conversations(gold)[:limit] if limit else load_conversations(gold)
        items = [turn.item for c in conversations for turn in c.turns]
    else:
        items = load_gold(gold)
        if limit:
            items = items[:limit]
    variants = load_variants(spec, folder=variants_dir, prompts=available_prompts(), backends=list(NAMES))
    if corpus is not None:
        _use_corpus(ctx, corpus)
    if practice:  # practice questions score the checker (offline, or read by each variant's model)
        from assistant.cli_study import eval_practice

        sa = _assistant(ctx)
        for v in variants:
            eval_practice(_variant_assistant(sa, v), gold, limit, out, name or f"practice-{v.name}",
                          _refresh_if_stale, backend=v.backend)
        return
    sa = _assistant(ctx)
    # a variant that names its own model or server answers through an assistant with those settings
    # (same index and embedding model)
    assistants = {v.name: _variant_assistant(sa, v) for v in variants}

    def model_of(v) -> str:
        return _model_of(assistants[v.name].settings, v.backend)

    prices = load_prices()
    calls = {v.name: len(items) * (repeat if v.backend in LLM_BACKENDS else 1) for v in variants}
    if dry_run:
        local = {v.name for v in variants if _runs_locally(assistants[v.name].settings, v.backend)}
        _dry_run(sa, items, variants, calls, prices, model_of, local)
        if judge:
            per_answer = len(wanted or JUDGE_METRICS)
            click.echo(f"Judge {judge}: up to {sum(calls.values()) * per_answer} metric evaluations "
                       f"({per_answer} per answered question, each one or more judge calls).")
        return
    from assistant.answer.prompting import load_prompt

    for v in variants:  # unknown backends/prompts fail now, not after the first variant ran
        assistants[v.name].backend(v.backend)
        load_prompt(v.prompt)
    _refresh_if_stale(sa)
    scorers = []
    if not no_ragas:
        from assistant.evaluation.ragas_metrics import NonLLMScorer

        scorers.append(NonLLMScorer(lambda texts: sa.embedder.embed(texts)))
    if judge:
        from assistant.evaluation.ragas_metrics import JudgeScorer, judge_model

        scorers.append(JudgeScorer(judge_model(judge, sa.settings), lambda texts: sa.embedder.embed(texts),
                                   wanted or JUDGE_METRICS, timeout=sa.settings.llm_timeout))
        if judge == "openai":  # a local server's context is small: fail now, not after minutes of judging
            _check_judge_context(sa, scorers[-1], items, variants)
    from tqdm import tqdm

    started = time.perf_counter()
    with tqdm(total=sum(calls.values()), desc="Evaluating", unit="answer", file=sys.stderr) as bar:
        if conversations is not None:
            from assistant.evaluation import conversations as conversation_set

            rows = conversation_set.run(
                conversations, variants,
                lambda q, history, v: assistants[v.name].answer(q, history=history, backend=v.backend,
                                                                prompt=v.prompt, k=v.k, hybrid=v.hybrid),
                scorers, sa.settings.top_k, repeat=repeat, prices=prices, model_of=model_of, progress=bar.update)
        else:
            rows = run(items, variants,
                       lambda q, v: assistants[v.name].answer(q, backend=v.backend, prompt=v.prompt, k=v.k,
                                                              hybrid=v.hybrid),
                       scorers, sa.settings.top_k, repeat=repeat, prices=prices, model_of=model_of,
                       progress=bar.update)
    seconds = time.perf_counter() - started
    for other in {id(a): a for a in assistants.values() if a is not sa}.values():
        other.close()
    summaries = summarize(rows, variants, local=[v.name for v in variants
                                                 if _runs_locally(assistants[v.name].settings, v.backend)])
    from assistant.evaluation.report import summary_table, write_report

    folder = out / (time.strftime("%Y%m%d-%H%M%S") + "-" + (name or "-".join(v.name for v in variants)))
    report = write_report(folder, rows, summaries, variants, gold, seconds)
    click.echo("\n".join(summary_table(summaries)))
    if conversations is not None:  # the headline: follow-ups right, per variant
        from assistant.evaluation.conversations import follow_up_lines

        heads = [line.removeprefix("### ") for line in follow_up_lines([r.to_dict() for r in rows])
                 if line.startswith("### ")]
        click.echo("\n" + "\n".join(heads))
    click.echo(f"\n{len(rows)} answers in {seconds:.1f} s. Report: {report}")


def corpus_index_dir(settings, corpus: Path) -> Path:
    """The index folder for evaluating on ``corpus``: the configured one for the configured notes, else its own.

    Another notes folder gets a folder of its own under the cache, named after the folder and keyed by its
    full path, so evaluating on it never overwrites the student's index and a second run reuses the first's.
    """
    import hashlib

    folder = corpus.expanduser().resolve()
    if folder == settings.corpus_dir.expanduser().resolve():
        return settings.index_dir
    key = hashlib.sha256(str(folder).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in folder.name)[:40] or "notes"
    return settings.cache_dir / "corpus-indexes" / f"{slug}-{key}"


def _use_corpus(ctx: click.Context, corpus: Path) -> None:
    """Point this command's assistant at ``corpus`` and that folder's own index (built when first used)."""
    from assistant.config import load_settings
    from assistant.core import StudyAssistant

    settings = load_settings(env_file=ctx.obj["env_file"])
    index_dir = corpus_index_dir(settings, corpus)
    ctx.obj["assistant"] = StudyAssistant(settings.with_overrides(corpus_dir=corpus, index_dir=index_dir))
    click.secho(f"Notes {corpus}, index {index_dir}", dim=True, err=True)


def _check_judge_context(sa, scorer, items, variants) -> None:
    """Stop before the run when a judged metric's prompt would not fit the judge's context.

    The need per metric: its prompt's own instructions and examples, plus the largest question's
    passages (as retrieved for the variants) and reference, plus an answer and the judge's reply
    of up to ``ASSISTANT_MAX_TOKENS`` each; the judge's context is ``ASSISTANT_CONTEXT_TOKENS``.
    """
    from assistant.answer.tokens import count_tokens
    from assistant.errors import ConfigError

    tiktoken_dir = str(sa.settings.cache_dir / "tiktoken")

    def count(text: str) -> int:
        return count_tokens(text, tiktoken_dir)

    ks = {v.k or sa.settings.top_k for v in variants}
    largest = max((count("\n".join(h.text for h in sa.retrieve(item.question, k=max(ks)))) + count(item.reference)
                   for item in items), default=0)
    need = {name: own + largest + 2 * sa.settings.max_tokens for name, own in scorer.prompt_tokens(count).items()}
    window = sa.settings.context_tokens
    over = {name: n for name, n in need.items() if n > window}
    if over:
        fits = [name for name in need if name not in over]
        biggest = max(need.values())
        raise ConfigError(
            f"The openai judge's context (ASSISTANT_CONTEXT_TOKENS={window}) is too small for "
            + ", ".join(f"{name} (needs about {n})" for name, n in over.items())
            + f". Start the judge's server with a larger context, e.g. `python -m llama_cpp.server ... --n_ctx "
            f"{max(8192, 1024 * -(-biggest // 1024))}`, and set ASSISTANT_CONTEXT_TOKENS to match"
            + (f"; or judge only what fits: --judge-metrics {','.join(fits)}." if fits else "."))


def _variant_assistant(sa, variant):
    """``sa`` itself, or for a variant naming its own model or server, an assistant with those settings."""
    from assistant.core import StudyAssistant

    overrides = variant.settings_overrides()
    if not overrides:
        return sa
    return StudyAssistant(sa.settings.with_overrides(**overrides), embedder=sa.embedder)


def _runs_locally(settings, backend: str) -> bool:
    """Whether a backend's model runs on this machine (its answers cost nothing)."""
    from urllib.parse import urlparse

    if backend in {"extractive", "llamacpp"}:
        return True
    if backend == "openai" and settings.openai_base_url:
        return (urlparse(settings.openai_base_url).hostname or "") in {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
    return False


def _dry_run(sa, items, variants, calls, prices, model_of, local) -> None:
    """Print calls, estimated tokens and cost per variant without calling any backend."""
    from assistant.answer.prompting import build_messages, format_context, load_prompt
    from assistant.answer.tokens import count_messages
    from assistant.evaluation.harness import LLM_BACKENDS

    click.echo("| variant | backend | calls | est. tokens in | max tokens out | est. cost (USD) |")
    click.echo("|---|---|---|---|---|---|")
    for v in variants:
        template = load_prompt(v.prompt)
        tokens_in = tokens_out = 0
        if v.backend in LLM_BACKENDS:
            for item in items:  # retrieval is local and free; the prompt is what would be sent
                hits = sa.retrieve(item.question, k=v.k, hybrid=v.hybrid)
                messages = build_messages(template, context=format_context(hits), question=item.question)
                tokens_in += count_messages(messages, str(sa.settings.cache_dir / "tiktoken"))
            repeats = calls[v.name] // max(len(items), 1)
            tokens_in *= repeats
            tokens_out = calls[v.name] * sa.settings.max_tokens
        price = prices.get(model_of(v))
        cost = "free (local)" if v.name in local else (
            f"{(tokens_in * price[0] + tokens_out * price[1]) / 1000:.4f} (at most)" if price else "no price")
        click.echo(f"| {v.name} | {v.backend} | {calls[v.name]} | {tokens_in} | {tokens_out} | {cost} |")
    click.echo("\nDry run: nothing was called.")


@eval_command.command("compare")
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
def eval_compare(run_a: Path, run_b: Path) -> None:
    """Diff two saved runs (folders under eval/reports/): outcomes per question, worst regressions first."""
    from assistant.evaluation.report import compare_runs

    click.echo(compare_runs(run_a, run_b))


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show what is indexed and whether your notes changed since."""
    info = _assistant(ctx).status()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated)) if info.updated else "never"
    changed = {True: "yes: run `assistant ingest`", False: "no", None: "unknown (notes folder unreadable)"}
    click.echo(f"notes folder   {info.corpus_dir}")
    click.echo(f"index          {info.store}")
    click.echo(f"indexed        {info.files} file(s), {info.chunks} chunks; last ingest {when}")
    click.echo(f"notes changed  {changed[info.stale]}")
    for n, line in enumerate(info.skipped):
        click.echo(f"{'not indexed' if n == 0 else '':15}{line}")
    if info.problems:
        for n, problem in enumerate(info.problems):
            click.echo(f"{'health' if n == 0 else '':15}{problem}")
        click.echo(f"{'':15}run `assistant ingest` to repair it")
    else:
        click.echo("health         ok")
    if info.busy:
        click.echo("writer         another process is updating the index right now")
    click.echo(f"model          {info.model}")
    click.echo(f"coverage gate  {_gate_line(_assistant(ctx))}")


def _gate_line(sa) -> str:
    """Which "do the notes cover it?" gate answers use, and what it was fitted on."""
    try:
        gate = sa.gate
    except (ValueError, OSError, KeyError) as exc:
        return f"your gate at {sa.user_gate_path} cannot be read ({exc}); run `assistant calibrate --write` again"
    meta = gate.fitted_on
    fitted = (f"fitted on {meta.get('corpus', '?')} with {meta.get('gold', '?')} "
              f"({meta.get('answerable', '?')} answerable, {meta.get('unanswerable', '?')} unanswerable, "
              f"{meta.get('date', '?')})") if meta else "fit unknown"
    if gate.source == "shipped":
        return f"shipped, {fitted}; `assistant calibrate --gold FILE --write` fits one on your notes"
    return f"yours ({gate.source}), {fitted}"


@main.command()
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Your questions (JSONL: id, question, reference, evidence, answerable); include some your "
                   "notes do not cover (\"answerable\": false).")
@click.option("--check", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Another gold file to judge the fitted gate on (not fitted on).")
@click.option("--min-answered", type=click.FloatRange(0.5, 1.0), default=0.96, show_default=True,
              help="Share of answerable questions the chosen threshold must answer.")
@click.option("--write", is_flag=True, help="Save the gate next to your index; answers then use it.")
@click.pass_context
def calibrate(ctx: click.Context, gold: Path, check: Path | None, min_answered: float, write: bool) -> None:
    """Refit the "do my notes cover this?" gate on your own questions against your index, and report it.

    Prints the threshold sweep, leave-one-out, the same questions lower-cased and the --check file's
    results. With --write the gate is saved in your index folder and used instead of the shipped one
    (delete the file to go back).
    """
    from assistant.errors import ConfigError
    from assistant.evaluation import calibration
    from assistant.evaluation.gold import load_gold

    kinds = {item.answerable for item in load_gold(gold)}  # a bad file fails before any indexing
    if len(kinds) < 2:
        raise ConfigError(f"{gold}: {calibration.NEED_BOTH}")
    sa = _assistant(ctx)
    _refresh_if_stale(sa)
    try:
        result = calibration.calibrate(gold, sa.gate_features, check=check, min_answered=min_answered)
    except ValueError as exc:
        raise ConfigError(f"{gold}: {exc}") from None
    click.echo("\n".join(calibration.report(result)))
    if write:
        meta = calibration.fitted_on(result, sa.model_info.fingerprint, Path(sa.settings.corpus_dir).name,
                                     sa.corpus_digest())
        path = calibration.write_gate(sa.user_gate_path, result.gate, meta)
        click.echo(f"\nwrote {path}: answers from this index now use it (`assistant status` says so)")



def _register_study_commands() -> None:
    # at the end: the study commands are built from this module's helpers
    from types import SimpleNamespace

    from assistant.cli_study import check_command, flashcards_command, progress_command, quiz_command

    shell = SimpleNamespace(assistant=_assistant, refresh=_refresh_if_stale, print_sources=_print_sources,
                            print_footer=_print_footer)
    main.add_command(check_command(shell))
    main.add_command(flashcards_command(shell))
    main.add_command(quiz_command(shell))
    main.add_command(progress_command(shell))


_register_study_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
