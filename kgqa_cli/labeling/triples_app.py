"""`kgqa label triples`'s terminal UI (Textual), with `kgqa label`'s keyboard habits.

The screen shows the sentence with the subject and object marked, the triple, its score, model
version and why it is in the queue (used in answers, near the threshold, uniform sample), and
the progress. Keys: Enter accept, r reject, p another predicate (a list filtered as you type),
c correct the names (their boundaries: type each as it stands in the sentence), s skip, u undo,
? help, q quit. Every decision is written at once by
:class:`~kgqa_cli.labeling.triples.ReviewSession`; the graph follows when the session ends.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, Static

from kgqa_cli.errors import KgqaError
from kgqa_cli.labeling.app import HelpScreen, IntentPicker
from kgqa_cli.labeling.triples import ReviewSession
from kgqa_cli.text import printable

KEYS = [
    ("Enter", "accept: the sentence states this triple"),
    ("r", "reject: it does not (the triple leaves the graph)"),
    ("p", "another predicate: type to filter, arrows to move, Enter to choose"),
    ("c", "correct the subject or object: type each as it stands in the sentence"),
    ("s", "skip: leave it for a later session"),
    ("u", "undo the last decision"),
    ("?", "this help"),
    ("q", "quit (every decision is already saved; the graph follows now)"),
]
SAMPLE_WORDS = {"answers": "used in answers", "threshold": "scored near the threshold", "uniform": "uniform sample"}


class NamesInput(ModalScreen[tuple[str, str] | None]):
    """The subject and object as they stand in the sentence; Enter in the second saves."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, sentence: str, subject: str, obj: str, check) -> None:  # noqa: ANN001 - a callable
        super().__init__()
        self.sentence, self.subject, self.object, self.check = sentence, subject, obj, check

    def compose(self) -> ComposeResult:
        with Vertical(id="names"):
            yield Static(Text.assemble("In ", (printable(self.sentence), "bold"),
                                       ": the subject, then the object; Enter saves, Escape cancels"))
            yield Input(value=self.subject, id="subject")
            yield Input(value=self.object, id="object")
            yield Static("", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "subject":
            self.query_one("#object", Input).focus()
            return
        names = (self.query_one("#subject", Input).value.strip(), self.query_one("#object", Input).value.strip())
        problem = self.check(*names)
        if problem:
            self.query_one("#problem", Static).update(Text(problem, style="red"))
            return
        self.dismiss(names)


def marked(sentence: dict | None) -> Text:
    """The sentence with its subject (cyan) and object (green) marked."""
    from kgqa_cli.answering.details import marked_sentence

    if not sentence:
        return Text("(the graph keeps no sentence for this triple)", style="dim")
    text = Text()
    for part, role in marked_sentence(sentence):
        text.append(printable(part), style={"subject": "bold black on cyan", "object": "bold black on green"}.get(role or ""))
    return text


class ReviewApp(App[None]):
    """The review screen."""

    TITLE = "kgqa label triples"
    CSS = """
    #sentence { padding: 1 2; border: round $accent; }
    #triple, #about, #progress, #message { padding: 0 2; }
    #picker, #names, #help { padding: 1 2; border: round $accent; background: $panel; width: 80%; height: auto;
                             max-height: 80%; }
    IntentPicker, NamesInput, HelpScreen { align: center middle; }
    OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [
        Binding("enter", "accept", "accept"),
        Binding("r", "reject", "reject"),
        Binding("p", "predicate", "predicate"),
        Binding("c", "names", "correct"),
        Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="progress")
        yield Static(id="sentence")
        yield Static(id="triple")
        yield Static(id="about")
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()

    def say(self, message: str, style: str = "green") -> None:
        self.query_one("#message", Static).update(Text(message, style=style))

    def refresh_view(self) -> None:
        session = self.session
        item = session.current
        total = len(session.queue)
        progress = self.query_one("#progress", Static)
        if item is None:
            progress.update(Text(f"done: {total} of {total} · reviewed this session {session.reviewed}", style="bold"))
            self.query_one("#sentence", Static).update(Text("Every triple in the queue has a verdict. q quits, u undoes."))
            for name in ("#triple", "#about"):
                self.query_one(name, Static).update("")
            return
        progress.update(Text(f"{session.position + 1} of {total} · reviewed this session {session.reviewed}"))
        self.query_one("#sentence", Static).update(marked(item.sentence))
        slots = "".join(f" · {printable(k)}={printable(v)}" for k, v in sorted(item.slots.items()))
        self.query_one("#triple", Static).update(Text.assemble(
            (printable(item.subject), "bold cyan"), " —", (printable(item.predicate), "bold"), "→ ",
            (printable(item.object), "bold green"), slots))
        used = f" ({item.used} answers)" if item.used else ""
        self.query_one("#about", Static).update(Text(
            f"score {item.score:.2f} · {item.model_version} · {item.evidence_count} sentences · "
            f"{SAMPLE_WORDS.get(item.sample, item.sample)}{used}", style="dim"))

    def _guarded(self, step, said: str) -> None:  # noqa: ANN001 - a callable
        try:
            step()
        except KgqaError as exc:
            self.say(str(exc), "red")
        else:
            self.say(said)
        self.refresh_view()

    def action_accept(self) -> None:
        if self.session.current is not None:
            self._guarded(self.session.accept, "saved: accepted")

    def action_reject(self) -> None:
        if self.session.current is not None:
            self._guarded(self.session.reject, "saved: rejected")

    def action_skip(self) -> None:
        if self.session.current is not None:
            self.session.skip()
            self.say("skipped", "yellow")
            self.refresh_view()

    def action_undo(self) -> None:
        try:
            item = self.session.undo()
        except KgqaError as exc:
            self.say(str(exc), "red")
            return
        self.say(f"undone: {item.subject} —{item.predicate}→ {item.object}" if item else "nothing to undo", "yellow")
        self.refresh_view()

    def action_predicate(self) -> None:
        item = self.session.current
        if item is None:
            return

        def chosen(predicate: str | None) -> None:
            if predicate and predicate != item.predicate:
                self._guarded(lambda: self.session.correct(item.subject, predicate, item.object),
                              f"saved: corrected to {predicate}")

        self.push_screen(IntentPicker(self.session.predicates, item.predicate, what="Predicate"), chosen)

    def action_names(self) -> None:
        item = self.session.current
        if item is None:
            return
        text = (item.sentence or {}).get("text") or ""

        def check(subject: str, obj: str) -> str | None:
            for role, name in (("subject", subject), ("object", obj)):
                if not name or name not in text:
                    return f"the {role} {name!r} does not stand in the sentence"
            return "subject and object are the same" if subject == obj else None

        def chosen(names: tuple[str, str] | None) -> None:
            if names is not None:
                self._guarded(lambda: self.session.correct(names[0], item.predicate, names[1]),
                              f"saved: corrected to {names[0]} —{item.predicate}→ {names[1]}")

        self.push_screen(NamesInput(text, item.subject, item.object, check), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(KEYS, "Keys of kgqa label triples"))
