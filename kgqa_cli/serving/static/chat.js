// The chat page of the kgqa endpoint: no build step, no outside downloads. User and graph text is
// only ever set with textContent, never as HTML.
(function () {
  "use strict";
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  const empty = document.getElementById("empty");
  const status = document.getElementById("status");
  const HISTORY = "kgqa-conversation";
  const SESSION = "kgqa-session";
  let history = [];
  // One session id per conversation: the endpoint keeps its context (他, 这部电影) by this id.
  let session = null;

  function randomId() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function newSession() {
    session = "chat-" + randomId();
    try { sessionStorage.setItem(SESSION, session); } catch (e) { /* private mode */ }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function detail(list, term, value) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(element("dt", null, term));
    const dd = element("dd");
    if (term === "查询") dd.appendChild(element("code", null, value)); else dd.textContent = value;
    list.appendChild(dd);
  }

  // The hops drawn as edges (三度诱惑 —导演→ 何藩 —妻子→ …): one line for a chain, one per hop
  // for an intersection, whose hops start from different entities.
  function pathLines(result) {
    const hops = (result.hops || []).filter(hop => hop && hop.predicate);
    const names = (list) => {
      const all = list || [];
      return all.length ? all.slice(0, 3).join("、") + (all.length > 3 ? "等" + all.length + "个" : "") : "（无）";
    };
    const arrow = (hop) => hop.direction === "reverse" ? "←" + hop.predicate + "—" : "—" + hop.predicate + "→";
    if (result.shape === "intersection") return hops.map(hop => names(hop.from) + " " + arrow(hop) + " " + names(hop.to));
    if (!hops.length) return [];
    return [hops.reduce((line, hop) => line + " " + arrow(hop) + " " + names(hop.to), names(hops[0].from))];
  }

  // The sentence a fact was read from, its subject and object marked. Corpus text is untrusted:
  // it goes in as text nodes only.
  function sentenceNode(sentence) {
    const node = element("p", "sentence");
    const text = String(sentence.text || "");
    const spans = [];
    [["subject", "subject"], ["object", "object"]].forEach(([key, role]) => {
      const span = sentence[key];
      if (Array.isArray(span) && span.length === 2 && Number.isInteger(span[0]) && Number.isInteger(span[1])
          && span[0] >= 0 && span[0] < span[1] && span[1] <= text.length
          && !spans.some(([start, end]) => span[0] < end && start < span[1])) spans.push([span[0], span[1], role]);
    });
    spans.sort((a, b) => a[0] - b[0]);
    let position = 0;
    spans.forEach(([start, end, role]) => {
      if (start > position) node.appendChild(document.createTextNode(text.slice(position, start)));
      node.appendChild(element("mark", role, text.slice(start, end)));
      position = end;
    });
    if (position < text.length) node.appendChild(document.createTextNode(text.slice(position)));
    return node;
  }

  function evidenceNode(evidence) {
    const box = element("div", "evidence");
    evidence.slice(0, 5).forEach(item => {
      box.appendChild(element("div", "evidence-answer", item.answer));
      (item.facts || []).forEach(fact => {
        const sentences = fact.sentences || [];
        if (!sentences.length) { box.appendChild(element("p", "sentence", "（图中没有保存来源句子）")); return; }
        const best = sentences[0];
        box.appendChild(sentenceNode(best));
        const score = typeof best.score === "number" ? best.score.toFixed(2) : "";
        const about = [best.model_version || "", score, (fact.evidence_count || sentences.length) + " 句"];
        box.appendChild(element("p", "about", about.filter(Boolean).join(" · ")));
      });
    });
    return box;
  }

  // 👍 / 👎 on an answer, and on 👎 what the right answer is: sent with the answer's inference id.
  function ratingNode(turn) {
    const box = element("div", "rating");
    const up = element("button", "rate", "👍");
    const down = element("button", "rate", "👎");
    up.type = down.type = "button";
    up.setAttribute("aria-label", "回答正确");
    down.setAttribute("aria-label", "回答不对");
    const said = element("span", "rated");
    said.setAttribute("role", "status");
    const correction = element("form", "correction");
    correction.hidden = true;
    const field = element("input");
    field.type = "text";
    field.maxLength = 200;
    field.placeholder = "正确答案是…（可不填）";
    field.setAttribute("aria-label", "正确答案");
    const submit = element("button", null, "提交");
    submit.type = "submit";
    correction.appendChild(field);
    correction.appendChild(submit);

    async function rate(rating, answer) {
      up.disabled = down.disabled = true;
      try {
        const response = await fetch("/feedback", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ inference_id: turn.inferenceId, rating: rating, question: turn.question,
                                 correct_answer: answer || null }),
        });
        const body = await response.json();
        if (!response.ok) throw new Error(body.error || response.statusText);
        turn.rated = rating;
        save();
        said.textContent = "谢谢，已记录";
        correction.hidden = true;
      } catch (e) {
        said.textContent = "没能记录：" + e.message;
        up.disabled = down.disabled = false;
      }
    }
    up.addEventListener("click", () => rate("up"));
    down.addEventListener("click", () => { correction.hidden = false; field.focus(); });
    correction.addEventListener("submit", (event) => { event.preventDefault(); rate("down", field.value.trim()); });
    if (turn.rated) { up.disabled = down.disabled = true; said.textContent = "谢谢，已记录"; }
    box.appendChild(up);
    box.appendChild(down);
    box.appendChild(said);
    box.appendChild(correction);
    return box;
  }

  // The question asked again with the chosen option: its label (演员张伟) in place of the
  // ambiguous mention, else before the question.
  function clarified(question, result, option) {
    const chosen = option.label || option.entity || "";
    const entity = (result.entities || [])[0] || result.entity;
    const slotTexts = Object.values(result.slots || {}).flat();
    const mention = (result.clarify && result.clarify.mention) || (entity && entity.mention) || slotTexts[0];
    if (mention && question.includes(mention)) return question.replace(mention, () => chosen);
    return chosen + "：" + question;
  }

  function render(turn) {
    const item = element("li", "turn");
    item.appendChild(element("div", "question", turn.question));
    const bubble = element("div", "answer");
    const result = turn.result;
    if (turn.error) {
      bubble.classList.add("error");
      bubble.appendChild(element("div", "text", "出错了：" + turn.error));
    } else if (result.reason) {
      bubble.classList.add("no-answer");
      bubble.appendChild(element("div", "text", result.message || "没有答案：" + result.reason));
      const options = (result.clarify && result.clarify.options) || [];
      if (options.length) {
        const choices = element("div", "options");
        choices.setAttribute("role", "group");
        choices.setAttribute("aria-label", "请选择");
        options.forEach(option => {
          const button = element("button", "option", option.label || option.entity);
          button.type = "button";
          if (option.entity) button.title = option.entity;
          button.addEventListener("click", () => {
            if (send.disabled) return;
            ask(clarified(turn.question, result, option)).then(() => input.focus());
          });
          choices.appendChild(button);
        });
        bubble.appendChild(choices);
      }
    } else {
      // A count or a chain reads better as the sentence (共3部, 三度诱惑的导演何藩的妻子是…).
      const sentence = result.message && (result.count !== null && result.count !== undefined
        || (result.hops || []).length > 1);
      bubble.appendChild(element("div", "text", sentence ? result.message : result.answers.join("、")));
    }
    if (result) {
      const more = element("details");
      more.appendChild(element("summary", null, "详情"));
      const list = element("dl");
      detail(list, "意图", result.intent ? result.intent + "（置信度 " + Number(result.confidence).toFixed(2) + "）" : "");
      const slots = Object.entries(result.slots || {}).map(([name, texts]) => name + "：" + texts.join("，")).join("；");
      detail(list, "槽位", slots);
      const entity = (result.entities || [])[0];
      if (entity) detail(list, "实体", entity.mention + " → " + entity.name + "（" + entity.method + "）");
      if (result.context) detail(list, "上下文", "“" + result.context.reference + "”指" + result.context.entity);
      detail(list, "路径", pathLines(result).join("\n"));
      if (result.count !== null && result.count !== undefined) detail(list, "数量", String(result.count));
      detail(list, "查询", result.query);
      detail(list, "原因", result.reason);
      detail(list, "说明", result.detail);
      detail(list, "模型", result.model_version);
      detail(list, "用时", result.elapsed_ms !== undefined ? result.elapsed_ms + " ms" : "");
      if ((result.evidence || []).length) {
        list.appendChild(element("dt", null, "依据"));
        const dd = element("dd");
        dd.appendChild(evidenceNode(result.evidence));
        list.appendChild(dd);
      }
      more.appendChild(list);
      bubble.appendChild(more);
      if (turn.inferenceId) bubble.appendChild(ratingNode(turn));
    }
    item.appendChild(bubble);
    conversation.appendChild(item);
    empty.hidden = true;
    item.scrollIntoView({ block: "end" });
  }

  function save() {
    try { sessionStorage.setItem(HISTORY, JSON.stringify(history.slice(-100))); } catch (e) { /* private mode */ }
  }

  async function ask(question) {
    send.disabled = true;
    let turn;
    // Its own inference id: the capture keeps it, and a rating names it.
    const inferenceId = "chat-" + randomId();
    try {
      const response = await fetch("/invocations", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-Amzn-SageMaker-Session-Id": session, "X-Amzn-SageMaker-Inference-Id": inferenceId },
        body: JSON.stringify({ question: question }),
      });
      const body = await response.json();
      turn = response.ok ? { question, inferenceId, result: body }
        : { question, error: body.error || response.statusText };
    } catch (e) {
      turn = { question, error: "无法连接到服务（" + e.message + "）" };
    } finally {
      send.disabled = false;
    }
    history.push(turn);
    save();
    render(turn);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    ask(question).then(() => input.focus());
  });

  document.getElementById("clear").addEventListener("click", function () {
    history = [];
    save();
    newSession();  // a new conversation: the endpoint forgets what 他 referred to
    conversation.replaceChildren();
    empty.hidden = false;
    input.focus();
  });

  try { history = JSON.parse(sessionStorage.getItem(HISTORY) || "[]"); } catch (e) { history = []; }
  try { session = sessionStorage.getItem(SESSION); } catch (e) { session = null; }
  if (!session) newSession();
  history.forEach(render);

  fetch("/ping").then(r => r.json().then(body => {
    status.textContent = r.ok ? "模型 " + body.model_version : "服务正在加载…";
  })).catch(() => { status.textContent = "服务不可用"; });
})();
