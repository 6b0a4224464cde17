"""`kgqa label`'s terminal UI (Textual): keyboard-first ground-truth entry.

The screen shows the question with the entity of the pending label highlighted, the predicted
intent (with the Chinese predicate it asks for: ask_director（导演）) and its confidence and the next two, the linked entity and the answers
(with the 👍/👎 people gave them on the chat page), and the progress. Keys: Enter accept, i intent (a list filtered as you type), e entity, o out of scope,
s skip, u undo, ? help, q quit; the footer always lists them. Every decision is written at once
by :class:`~kgqa_cli.labeling.session.LabelSession`.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from kgqa_cli.errors import KgqaError
from kgqa_cli.labeling.session import LabelSession
from kgqa_cli.text import printable

KEYS = [
    ("Enter", "accept the label shown (the prediction until corrected)"),
    ("i", "pick another intent: type to filter, arrows to move, Enter to choose"),
    ("e", "re-mark the entity: type its text as it stands in the question"),
    ("o", "out of scope: label the question none"),
    ("s", "skip: leave it for a later session"),
    ("u", "undo the last decision"),
    ("?", "this help"),
    ("q", "quit (every decision is already saved)"),
]


class IntentPicker(ModalScreen[str | None]):
    """The intents, filtered as you type; Enter picks the highlighted one, Escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, intents: list[str], current: str, labels: dict[str, str] | None = None,
                 what: str = "Intent") -> None:
        super().__init__()
        self.intents = intents
        self.current = current
        self.labels = labels or {}  # ask_director -> ask_director（导演）
        self.what = what  # the word of the title (the triple review picks a predicate)

    def _option(self, name: str) -> Option:
        return Option(self.labels.get(name, name), id=name)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(f"{self.what}: type to filter (its name or predicate), ↑/↓ to move, Enter to choose, "
                         "Escape to cancel")
            yield Input(placeholder="filter", id="filter")
            yield OptionList(*[self._option(name) for name in self.intents], id="intents")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.intents:
            options.highlighted = self.intents.index(self.current)
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        words = event.value.strip().lower()
        options = self.query_one(OptionList)
        options.clear_options()
        shown = [name for name in self.intents if words in self.labels.get(name, name).lower()]
        options.add_options([self._option(name) for name in shown])
        if shown:
            options.highlighted = 0

    def on_key(self, event) -> None:  # noqa: ANN001 - Textual's event
        options = self.query_one(OptionList)
        if event.key in ("down", "up"):
            options.action_cursor_down() if event.key == "down" else options.action_cursor_up()
            event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class EntityInput(ModalScreen[str | None]):
    """The entity's text, as it stands in the question (empty: no entity); Escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, question: str, current: str | None) -> None:
        super().__init__()
        self.question = question
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="entity"):
            yield Static(Text.assemble("Entity of ", (printable(self.question), "bold"),
                                       ": type its text, Enter to mark it, Escape to cancel"))
            yield Input(value=self.current, id="text")
            yield Static("", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and text not in self.question:
            self.query_one("#problem", Static).update(Text(f"{text!r} is not in the question", style="red"))
            return
        self.dismiss(text)


class HelpScreen(ModalScreen[None]):
    """Every key and what it does; any key closes it."""

    def __init__(self, keys: list[tuple[str, str]] | None = None, title: str = "Keys of kgqa label") -> None:
        super().__init__()
        self.keys, self.title = keys or KEYS, title

    def compose(self) -> ComposeResult:
        lines = Text(f"{self.title}\n\n", style="bold")
        for key, what in self.keys:
            lines.append(f"{key:>6}  ", style="bold cyan").append(what + "\n")
        lines.append("\nany key closes this help", style="dim")
        yield Static(lines, id="help")

    def on_key(self) -> None:
        self.dismiss(None)


class LabelApp(App[None]):
    """The labelling screen."""

    TITLE = "kgqa label"
    CSS = """
    #question { padding: 1 2; border: round $accent; }
    #prediction, #pending, #answer, #progress, #message { padding: 0 2; }
    #picker, #entity, #help { padding: 1 2; border: round $accent; background: $panel; width: 80%; height: auto;
                              max-height: 80%; }
    IntentPicker, EntityInput, HelpScreen { align: center middle; }
    OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [
        Binding("enter", "accept", "accept"),
        Binding("i", "intent", "intent"),
        Binding("e", "entity", "entity"),
        Binding("o", "out_of_scope", "out of scope"),
        Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, session: LabelSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="progress")
        yield Static(id="question")
        yield Static(id="prediction")
        yield Static(id="pending")
        yield Static(id="answer")
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()

    def say(self, message: str, style: str = "green") -> None:
        self.query_one("#message", Static).update(Text(message, style=style))

    def refresh_view(self) -> None:
        """Show the current question, its prediction and the pending label."""
        session = self.session
        group = session.current
        total = len(session.groups)
        progress = self.query_one("#progress", Static)
        if group is None:
            progress.update(Text(f"done: {total} of {total} · labelled this session {session.labelled}", style="bold"))
            self.query_one("#question", Static).update(Text("Every captured question has a label. q quits, u undoes."))
            for name in ("#prediction", "#pending", "#answer"):
                self.query_one(name, Static).update("")
            return
        repeats = f" · asked {len(group.items)} times" if len(group.items) > 1 else ""
        progress.update(Text(f"{session.position + 1} of {total} · labelled this session {session.labelled}{repeats}"))
        tags = session.pending_tags()
        question = Text()
        for char, tag in zip(group.question, tags, strict=True):
            question.append(printable(char), style="bold black on yellow" if tag != "O" else "bold")
        self.query_one("#question", Static).update(question)
        prediction = group.prediction
        ranked = prediction.get("alternatives") or []
        others = ", ".join(f"{session.intent_label(a['intent'])} {a['confidence']:.2f}" for a in ranked[1:3])
        self.query_one("#prediction", Static).update(Text.assemble(
            "predicted ", (session.intent_label(prediction.get("intent")), "bold"),
            f" {prediction.get('confidence', 0):.2f}",
            f" · next: {others}" if others else ""))
        _, pending = session.labelling()
        slot = session.slots_of.get(pending.intent)
        entity = f" · entity {printable(pending.entity)} ({slot})" if pending.entity else ""
        self.query_one("#pending", Static).update(Text.assemble(
            "label ", (session.intent_label(pending.intent), "bold green"), entity))
        linked = (prediction.get("entities") or [None])[0]
        from kgqa_cli.answering.messages import answer_message

        # A capture from before answers had a message gets one from its fields.
        said = prediction.get("message") or answer_message(prediction)
        answered = "、".join(prediction.get("answers") or []) or f"no answer: {said}"
        link = f"{printable(linked['mention'])} → {printable(linked['name'])} · " if linked else ""
        rated = "".join(
            f" · {'👍' if r['rating'] == 'up' else '👎'}"
            + (f" the right answer is {printable(r['correctAnswer'])}" if r.get("correctAnswer") else "")
            for r in session.ratings_of(group))
        self.query_one("#answer", Static).update(Text(f"{link}{printable(answered)}{rated}"))

    def _guarded(self, step) -> None:  # noqa: ANN001 - a callable
        try:
            step()
        except KgqaError as exc:
            self.say(str(exc), "red")
        self.refresh_view()

    def action_accept(self) -> None:
        if self.session.current is None:
            return
        label = self.session.intent_label(self.session.labelling()[1].intent)
        self._guarded(self.session.accept)
        self.say(f"saved: {label}")

    def action_out_of_scope(self) -> None:
        if self.session.current is not None:
            self._guarded(self.session.out_of_scope)
            self.say(f"saved: {self.session.intent_label('none')} (out of scope)")

    def action_skip(self) -> None:
        if self.session.current is not None:
            self._guarded(self.session.skip)
            self.say("skipped", "yellow")

    def action_undo(self) -> None:
        from kgqa_cli.errors import KgqaError

        try:
            group = self.session.undo()
        except KgqaError as exc:  # another session wrote after this label: it stays
            self.say(str(exc), "red")
            return
        self.say(f"undone: {group.question}" if group else "nothing to undo", "yellow")
        self.refresh_view()

    def action_intent(self) -> None:
        if self.session.current is None:
            return

        def chosen(intent: str | None) -> None:
            if intent:
                self._guarded(lambda: self.session.set_intent(intent))

        labels = {name: self.session.intent_label(name) for name in self.session.intents}
        self.push_screen(IntentPicker(self.session.intents, self.session.labelling()[1].intent, labels), chosen)

    def action_entity(self) -> None:
        if self.session.current is None:
            return

        def chosen(text: str | None) -> None:
            if text is not None:
                self._guarded(lambda: self.session.set_entity(text))

        group, pending = self.session.labelling()
        self.push_screen(EntityInput(group.question, pending.entity), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
