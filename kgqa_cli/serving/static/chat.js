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

  function newSession() {
    const random = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
    session = "chat-" + random;
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
      more.appendChild(list);
      bubble.appendChild(more);
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
    try {
      const response = await fetch("/invocations", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-Amzn-SageMaker-Session-Id": session },
        body: JSON.stringify({ question: question }),
      });
      const body = await response.json();
      turn = response.ok ? { question, result: body } : { question, error: body.error || response.statusText };
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
