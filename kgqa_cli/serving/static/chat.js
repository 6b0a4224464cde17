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
      bubble.appendChild(element("div", "text", "没有答案：" + result.reason + (result.detail ? "（" + result.detail + "）" : "")));
    } else {
      bubble.appendChild(element("div", "text", result.answers.join("、")));
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
      detail(list, "查询", result.query);
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
