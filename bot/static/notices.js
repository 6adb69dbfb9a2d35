// The console's お知らせ配信 screens (bot/notices/routes.py): the list, composing with a live
// preview of what phones will show, approval, test sends, and the live report (a progress
// bar, a chart of sent/delivered/read/failed over time, answers per choice, CSV).
// Every value from the server is put on the page as text (textContent), never as HTML.
(() => {
  "use strict";
  const c = window.staffConsole;
  if (!c) return;
  const { $, el, api, jst, setStatus } = c;
  const CATEGORY = { emergency: "緊急", important: "重要", regular: "定期" };
  const SERIES = [
    ["sent", "送信", "#0b63c5"], ["delivered", "配信", "#1e8a4c"],
    ["read", "既読", "#7a4bd1"], ["failed", "失敗", "#b42318"],
  ];
  const state = { options: null, editing: null, notice: null, previewTimer: null,
                  image: null, list: null, keepImage: false, keepList: false };

  // ---- the list ---------------------------------------------------------------------------

  async function list() {
    const { ok, data } = await api("GET", "/staff/api/notices");
    if (!ok) return;
    $("notice-new").hidden = !c.may("notices.draft");
    const body = $("notices-table").tBodies[0];
    body.replaceChildren();
    for (const n of data.notices) {
      body.append(el("tr", {},
        el("td", { class: "mono" }, el("a", { href: "#notice/" + n.id, text: n.id })),
        el("td", { text: n.title }),
        el("td", {}, el("span", { class: "badge cat-" + n.category, text: CATEGORY[n.category] || n.category })),
        el("td", {}, el("span", { class: "badge state-" + n.state, text: n.state_label })),
        el("td", { text: `${n.created_by} ${jst(n.created_at)}` }),
        el("td", { text: n.approved_by ? `${n.approved_by} ${jst(n.approved_at)}` : "" }),
        el("td", { text: jst(n.send_at) }),
        el("td", { text: n.recipients ? n.recipients.toLocaleString() : "" })));
    }
    $("notices-empty").hidden = data.notices.length > 0;
  }

  // ---- composing ----------------------------------------------------------------------------

  async function options() {
    if (state.options) return state.options;
    const { ok, data } = await api("GET", "/staff/api/notices/options");
    if (!ok) throw new Error("options");
    state.options = data;
    $("c-category").replaceChildren(...data.categories.map((x) => el("option", { value: x.id, text: `${x.label}（${x.id}）` })));
    $("c-topic").replaceChildren(...data.topics.map((x) => el("option", { value: x.id, text: x.label })));
    $("c-districts").replaceChildren(...data.districts.map((d) =>
      el("label", { class: "check" }, el("input", { type: "checkbox", value: d.name }), d.label)));
    return data;
  }

  function categoryNote() {
    const cat = (state.options.categories || []).find((x) => x.id === $("c-category").value);
    if (!cat) return;
    const parts = [];
    parts.push(cat.second_person ? "作成者とは別の承認者が承認します。" : "承認者1人で送信できます。");
    parts.push(cat.quiet_hours ? `夜間（${state.options.quiet_hours.join("〜")}）は朝まで送りません。` : "夜間でもすぐ送ります。");
    if (cat.opt_out_line) parts.push(`本文の最後に「${state.options.opt_out_line}」が必要です。`);
    if (cat.weekly_cap) parts.push(`1人あたり週${cat.weekly_cap}件まで。`);
    $("c-category-note").textContent = parts.join("");
  }

  function buttonRow(button) {
    const row = el("div", { class: "button-row" });
    const kind = el("select", { "aria-label": "ボタンの種類" },
      el("option", { value: "url", text: "URLを開く" }), el("option", { value: "dial", text: "電話をかける" }),
      el("option", { value: "reply", text: "選択肢で返信" }));
    const label = el("input", { placeholder: "ボタンの文字", "aria-label": "ボタンの文字", maxlength: 25 });
    const value = el("input", { placeholder: "https://www.city.sakura.example.jp/…", "aria-label": "URL・電話番号・選択肢" });
    const remove = el("button", { type: "button", class: "plain small", text: "削除", onclick: () => { row.remove(); schedulePreview(); } });
    if (button) {
      kind.value = button.url ? "url" : button.dial ? "dial" : "reply";
      label.value = button.label; value.value = button.url || button.dial || button.reply || "";
    }
    for (const node of [kind, label, value]) node.addEventListener("input", schedulePreview);
    row.append(kind, label, value, remove);
    $("c-buttons").append(row);
  }

  function choices() {
    return $("c-choices").value.split("\n").map((s) => s.trim()).filter(Boolean);
  }

  function drawHandoff(selected) {
    const keep = new Set(selected || [...$("c-handoff").querySelectorAll("input:checked")].map((i) => i.value));
    $("c-handoff").replaceChildren(el("span", { class: "small muted", text: "すぐ職員につなぐ回答: " }),
      ...choices().map((choice) => el("label", { class: "check" },
        el("input", { type: "checkbox", value: choice, checked: keep.has(choice) }), choice)));
  }

  function localTime(value) {
    return value ? value + ":00+09:00" : null;
  }

  function form() {
    const body = {
      title: $("c-title").value.trim(), category: $("c-category").value, topic: $("c-topic").value,
      text: $("c-text").value,
      districts: [...$("c-districts").querySelectorAll("input:checked")].map((i) => i.value),
      booked_on: $("c-booked").value || null,
      send_at: localTime($("c-send").value), expires_at: localTime($("c-expires").value),
    };
    if ($("c-question").value.trim() || choices().length) {
      body.ask = { question: $("c-question").value.trim(), choices: choices(),
                   handoff: [...$("c-handoff").querySelectorAll("input:checked")].map((i) => i.value) };
    }
    const buttons = [...$("c-buttons").querySelectorAll(".button-row")].map((row) => {
      const [kind, label, value] = row.querySelectorAll("select, input");
      return { kind: kind.value, label: label.value.trim(), value: value.value.trim() };
    });
    if ($("c-card-title").value.trim() || buttons.length || state.image || state.keepImage) {
      body.rich = { title: $("c-card-title").value.trim(), description: $("c-card-description").value.trim(),
                    buttons, image: state.image || (state.keepImage ? "keep" : null),
                    image_name: state.editing && state.editing.content.rich ? state.editing.content.rich.image : null };
    }
    if (state.list) body.list = state.list;
    else if (state.keepList) { body.list = "keep"; body.list_name = state.editing.content.list; }
    return body;
  }

  function schedulePreview() {
    clearTimeout(state.previewTimer);
    state.previewTimer = setTimeout(preview, 300);
  }

  async function preview() {
    drawHandoff();
    const { ok, data } = await api("POST", "/staff/api/notices/preview", form());
    drawProblems(ok ? data.problems : data.problems || [{ field: "", message: data.message || "" }]);
    if (ok) drawPhone(data.phone, "p");
  }

  function drawProblems(problems) {
    $("c-problems").replaceChildren(...(problems || []).map((p) =>
      el("p", { class: "error", text: (p.field ? `${p.field}: ` : "") + p.message })));
  }

  function drawPhone(phone, prefix) {
    $(prefix + "-sms").textContent = phone.sms;
    const over = phone.characters > phone.max_characters || phone.segments > phone.max_segments;
    const meter = $(prefix + "-meter");
    meter.textContent = `${phone.characters} / ${phone.max_characters}文字・${phone.segments}通分（SMS 1件 ${phone.per_sms_yen}円）`;
    meter.classList.toggle("over", over);
    const box = $(prefix + "-card");
    box.replaceChildren();
    const card = phone.card;
    const bubble = el("div", { class: "rcs" });
    if (card) {
      if (card.image_url) bubble.append(el("img", { src: card.image_url, alt: "カードの画像" }));
      else if (state.image && prefix === "p") bubble.append(el("img", { src: `data:${state.imageType};base64,${state.image.data}`, alt: "カードの画像" }));
      bubble.append(el("strong", { text: card.title }));
      bubble.append(el("p", { text: (card.description ? card.description + "\n\n" : "") + card.text }));
      for (const b of card.buttons) bubble.append(el("span", { class: "card-button", text: b.label }));
    } else {
      bubble.append(el("p", { text: phone.rcs_text }));
    }
    box.append(bubble);
    if (phone.choices.length) box.append(el("div", { class: "chips" }, ...phone.choices.map((x) => el("span", { class: "chip", text: x }))));
  }

  async function compose(id) {
    await options();
    state.editing = null; state.image = null; state.list = null; state.keepImage = false; state.keepList = false;
    $("compose-form").reset();
    $("c-buttons").replaceChildren();
    $("c-problems").replaceChildren();
    $("compose-title").textContent = id ? `お知らせの編集（${id}）` : "お知らせの作成";
    if (id) {
      const { ok, data } = await api("GET", "/staff/api/notices/" + id);
      if (!ok) { setStatus(data.message || "", true); return; }
      state.editing = data;
      const n = data.content;
      $("c-title").value = n.title; $("c-category").value = n.category; $("c-topic").value = n.topic;
      $("c-text").value = n.text; $("c-booked").value = n.booked_on || "";
      for (const box of $("c-districts").querySelectorAll("input")) box.checked = n.districts.includes(box.value);
      if (n.ask) { $("c-question").value = n.ask.question; $("c-choices").value = n.ask.choices.join("\n"); }
      drawHandoff(n.ask ? n.ask.handoff : []);
      if (n.rich) {
        $("c-card-title").value = n.rich.title; $("c-card-description").value = n.rich.description || "";
        for (const b of n.rich.buttons) buttonRow(b);
        state.keepImage = !!n.rich.image;
      }
      state.keepList = !!n.list;
      if (n.list) $("c-list-note").textContent = `名簿「${n.list}」を使います（新しい名簿を選ぶと置き換えます）。`;
      $("c-send").value = (n.send_at || "").slice(0, 16); $("c-expires").value = (n.expires_at || "").slice(0, 16);
    } else {
      $("c-text").value = state.options.prefix;
      drawHandoff([]);
    }
    categoryNote();
    preview();
  }

  function readFile(input, asText) {
    return new Promise((resolve) => {
      const file = input.files[0];
      if (!file) { resolve(null); return; }
      const reader = new FileReader();
      reader.onload = () => resolve({ name: file.name, type: file.type, result: reader.result });
      if (asText) reader.readAsText(file); else reader.readAsDataURL(file);
    });
  }

  $("c-image").addEventListener("change", async () => {
    const file = await readFile($("c-image"), false);
    state.image = file ? { name: file.name, data: String(file.result).split(",")[1] } : null;
    state.imageType = file ? file.type : null;
    state.keepImage = false;
    schedulePreview();
  });
  $("c-list").addEventListener("change", async () => {
    const file = await readFile($("c-list"), true);
    state.list = file ? { name: file.name, text: String(file.result) } : null;
    state.keepList = false;
    $("c-list-note").textContent = file ? `名簿「${file.name}」を使います（ファイルは保存されません）。` : "";
  });
  $("c-category").addEventListener("change", () => { categoryNote(); schedulePreview(); });
  $("c-add-button").addEventListener("click", () => {
    if ($("c-buttons").children.length < (state.options.max_buttons || 4)) buttonRow(null);
  });
  $("c-optout").addEventListener("click", () => {
    const line = state.options.opt_out_line;
    if (!$("c-text").value.trimEnd().endsWith(line)) $("c-text").value = $("c-text").value.trimEnd() + "\n" + line;
    schedulePreview();
  });
  for (const id of ["c-text", "c-question", "c-choices", "c-card-title", "c-card-description", "c-title"]) {
    $(id).addEventListener("input", schedulePreview);
  }
  $("c-districts").addEventListener("change", schedulePreview);
  $("c-handoff").addEventListener("change", schedulePreview);

  $("compose-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = state.editing ? "/staff/api/notices/" + state.editing.notice.id : "/staff/api/notices";
    const { ok, data } = await api("POST", path, form());
    if (!ok) { drawProblems(data.problems || [{ field: "", message: data.message }]); return; }
    setStatus("下書きを保存しました。承認者が承認すると送信されます。");
    location.hash = "#notice/" + data.id;
  });

  // ---- one notice --------------------------------------------------------------------------

  async function open(id) {
    const { ok, data } = await api("GET", "/staff/api/notices/" + id);
    if (!ok) { $("n-title").textContent = data.message || "お知らせが見つかりません。"; return; }
    state.notice = data;
    const n = data.notice;
    $("n-title").textContent = n.title;
    $("n-id").textContent = n.id;
    $("n-state").textContent = n.state_label;
    $("n-state").className = "badge state-" + n.state;
    const s = data.status;
    const facts = [
      ["区分", `${CATEGORY[n.category] || n.category}（${n.category}）`],
      ["話題", (state.options ? (state.options.topics.find((t) => t.id === n.topic) || {}).label : "") || n.topic],
      ["送る相手", audience(data.content)],
      ["対象者", `${s.recipients.toLocaleString()}人（配信停止 ${s.skipped.stopped}人・週の上限 ${s.skipped.weekly_cap}人は除く）`],
      ["費用の目安", `${data.cost.total_yen.toLocaleString()}円（SMS 1件 ${data.cost.per_sms_yen}円 × ${s.recipients.toLocaleString()}人）`],
      ["作成", `${n.created_by} ${jst(n.created_at, true)}` + (n.updated_by !== n.created_by ? `（最終編集 ${n.updated_by}）` : "")],
      ["承認", n.approved_by ? `${n.approved_by} ${jst(n.approved_at, true)}` : "未承認"],
      ["送信日時", n.send_at ? jst(n.send_at, true) : "承認後すぐ"],
      ["期限", n.expires_at ? jst(n.expires_at, true) : "区分の標準"],
    ];
    if (n.cancelled_by) facts.push(["中止", n.cancelled_by]);
    $("n-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    $("n-edit").hidden = !data.may.edit; $("n-edit").href = "#notice-edit/" + n.id;
    $("n-approve").hidden = !data.may.approve;
    $("n-cancel").hidden = !data.may.cancel;
    $("n-test").hidden = !data.may.test;
    $("n-approval-note").textContent = n.state === "draft" && data.second_person
      ? `この区分は、作成・編集した人（${n.created_by}${n.updated_by !== n.created_by ? "・" + n.updated_by : ""}）とは別の承認者が承認します。`
      : "";
    $("n-csv").href = `/staff/api/notices/${n.id}/report.csv`;
    drawPhone(data.phone, "n");
    await refresh();
  }

  function audience(content) {
    if (content.list) {
      const n = state.notice ? state.notice.notice.list_count : 0;
      return `市の名簿「${content.list}」（${n.toLocaleString()}件）`;
    }
    const parts = [];
    if (content.districts.length) parts.push(content.districts.join("・") + "地区");
    if (content.booked_on) parts.push(`${content.booked_on} に粗大ごみの予約のある方`);
    return parts.join("、") || "区分の対象者全員";
  }

  async function refresh() {
    if (!state.notice) return;
    const id = state.notice.notice.id;
    const { ok, data } = await api("GET", `/staff/api/notices/${id}/report`);
    if (!ok) return;
    const s = data.status;
    const total = Math.max(s.recipients, 1);
    const done = s.recipients ? Math.min(100, Math.round(100 * (s.sent + s.skipped.expired) / total)) : 0;
    $("n-progress-bar").style.width = done + "%";
    $("n-progress").setAttribute("aria-valuenow", String(done));
    $("n-progress-text").textContent = `${done}%（${s.sent.toLocaleString()} / ${s.recipients.toLocaleString()}人に送信）` +
      (s.held_quiet_hours ? `・夜間のため保留 ${s.held_quiet_hours.toLocaleString()}人` : "");
    const counts = [["送信待ち", s.queued], ["送信", s.sent], ["配信", s.delivered], ["既読", s.read],
                    ["失敗", s.failed], ["期限切れ", s.skipped.expired], ["24時間以内の配信停止", s.stopped_after]];
    $("n-counts").replaceChildren(...counts.map(([k, v]) => el("div", { class: "count" },
      el("span", { class: "n", text: Number(v).toLocaleString() }), el("span", { class: "k", text: k }))));
    chart(data.progress);
    const answers = Object.entries(s.answers);
    $("n-answers-title").hidden = !answers.length;
    const most = Math.max(1, ...answers.map(([, v]) => v));
    $("n-answers").replaceChildren(...answers.map(([choice, count]) => {
      const fill = el("span");
      fill.style.width = `${Math.round(100 * count / most)}%`;  // CSSOM: allowed by the CSP
      return el("div", { class: "answer" }, el("span", { class: "label", text: choice }),
        el("span", { class: "bar" }, fill), el("span", { class: "n", text: `${count}人` }));
    }));
    if (state.notice.notice.state !== s.state) open(id);
  }

  function chart(points) {
    const svg = $("n-chart");
    const ns = "http://www.w3.org/2000/svg";
    svg.replaceChildren();
    const W = 600, H = 200, L = 48, B = 24;
    const top = Math.max(1, ...points.map((p) => p.sent));
    const times = points.map((p) => Date.parse(p.at));
    const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1000);
    const x = (t) => L + (W - L - 8) * (t - t0) / (t1 - t0);
    const y = (v) => H - B - (H - B - 8) * v / top;
    const axis = document.createElementNS(ns, "path");
    axis.setAttribute("d", `M${L} 8 V${H - B} H${W - 8}`);
    axis.setAttribute("class", "axis");
    svg.append(axis);
    for (const [label, value] of [["0", 0], [top.toLocaleString(), top]]) {
      const text = document.createElementNS(ns, "text");
      text.setAttribute("x", String(L - 4)); text.setAttribute("y", String(y(value) + 4));
      text.setAttribute("text-anchor", "end"); text.textContent = label;
      svg.append(text);
    }
    if (points.length) {
      for (const [i, t] of [[0, t0], [1, t1]]) {
        const text = document.createElementNS(ns, "text");
        text.setAttribute("x", String(x(t))); text.setAttribute("y", String(H - 6));
        text.setAttribute("text-anchor", i ? "end" : "start");
        text.textContent = jst(points[i ? points.length - 1 : 0].at).split(" ")[1] || "";
        svg.append(text);
      }
    }
    for (const [key, , color] of SERIES) {
      if (!points.length) break;
      const line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", points.map((p, i) => `${x(times[i])},${y(p[key])}`).join(" "));
      line.setAttribute("fill", "none"); line.setAttribute("stroke", color); line.setAttribute("stroke-width", "2");
      line.setAttribute("data-series", key);
      svg.append(line);
    }
    $("n-legend").replaceChildren(...SERIES.map(([, label, color]) => {
      const swatch = el("i");
      swatch.style.background = color;
      return el("span", { class: "key" }, swatch, label);
    }));
  }

  async function act(path, message, body) {
    const { ok, data } = await api("POST", path, body);
    $("n-message").className = ok ? "" : "error";
    $("n-message").textContent = ok ? message : (data.message || "できませんでした。");
    if (ok) open(state.notice.notice.id);
    return ok;
  }

  $("n-approve").addEventListener("click", async () => {
    const n = state.notice.notice, s = state.notice.status;
    const sure = window.confirm(`「${n.title}」を承認し、${s.recipients.toLocaleString()}人に送信します。よろしいですか。`);
    if (sure) await act(`/staff/api/notices/${n.id}/approve`, "承認しました。送信を始めます。");
  });
  $("n-cancel").addEventListener("click", async () => {
    const n = state.notice.notice;
    if (window.confirm(`「${n.title}」の送信を中止します。まだ送っていない方には届きません。`)) {
      await act(`/staff/api/notices/${n.id}/cancel`, "中止しました。");
    }
  });
  $("n-test").addEventListener("submit", async (event) => {
    event.preventDefault();
    const n = state.notice.notice;
    if (await act(`/staff/api/notices/${n.id}/test`, "テスト送信しました。", { number: $("n-test-number").value })) {
      $("n-test-number").value = "";
    }
  });

  window.staffNotices = {
    async open(view, arg) {
      try { await options(); } catch (error) { return; }
      if (view === "notices") { state.notice = null; await list(); }
      else if (view === "notice-edit") { state.notice = null; await compose(arg); }
      else if (view === "notice") { await open(arg); }
    },
    refresh,
  };
})();
